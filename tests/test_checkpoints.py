"""Checkpoints that never stall training and never strand a run: when they are taken, the
background writer, resuming past an unreadable checkpoint, a full disk, and the GPU default
(mixed float16 with XLA) trained and resumed exactly."""

from __future__ import annotations

import errno
import shutil
import threading
import time

import numpy as np
import pytest

from pix2pix_lib import run_folder
from pix2pix_lib.checkpointing import BackgroundWriter, Checkpointer, CheckpointWriteError
from pix2pix_lib.cli import main
from pix2pix_lib.config import profile
from pix2pix_lib.pairs import BadPairsError
from pix2pix_lib.runs import RunError, RunFolder, train
from pix2pix_lib.trainer import build_pix2pix


def smoke(**overrides):
    return profile("smoke", **overrides)


def steps_of(run: RunFolder) -> list[int]:
    return [step for step, _ in run.checkpoints()]


def arrays_of(path) -> dict[str, np.ndarray]:
    with np.load(path) as stored:
        return {key: stored[key] for key in stored.files}


# --- when ------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_checkpoints_fall_due_by_steps_or_minutes_whichever_comes_first(tmp_path):
    clock = FakeClock()
    run = RunFolder(tmp_path / "run")
    by_steps = Checkpointer(run, smoke(checkpoint_every=5, checkpoint_minutes=None), clock=clock)
    by_time = Checkpointer(run, smoke(checkpoint_every=None, checkpoint_minutes=2), clock=clock)
    both = Checkpointer(run, smoke(checkpoint_every=100, checkpoint_minutes=2), clock=clock)
    clock.now = 119.0
    assert [s for s in range(1, 12) if by_steps.due(s)] == [5, 10]
    assert not by_time.due(7) and not both.due(7) and both.due(100)
    clock.now = 120.0  # two minutes since the start
    assert by_time.due(7) and both.due(7) and not by_steps.due(7)


def test_checkpoint_intervals_are_checked_and_profiles_suit_their_runs():
    with pytest.raises(ValueError, match="checkpoint_minutes=0"):
        smoke(checkpoint_minutes=0)
    with pytest.raises(ValueError, match="checkpoint_every=0"):
        smoke(checkpoint_every=0)
    for name in ("smoke", "quick"):  # the same checkpoint files on every machine
        assert profile(name).checkpoint_minutes is None
    for name in ("paper", "seed"):  # long runs: by time, whatever the hardware's speed
        assert profile(name).checkpoint_every is None and profile(name).checkpoint_minutes > 0


# --- the background writer -------------------------------------------------------------------
def test_the_background_writer_holds_at_most_one_write_and_reports_a_failure_once():
    writer, log, gate, a_started = BackgroundWriter(), [], threading.Event(), threading.Event()

    def slow(name):
        def job():
            log.append(f"start {name}")
            a_started.set()
            assert gate.wait(30)
            log.append(f"end {name}")
        return job

    writer.submit(slow("a"))
    assert a_started.wait(30) and log == ["start a"]  # a is running, held by the gate
    opener = threading.Thread(target=lambda: (time.sleep(0.2), gate.set()))
    opener.start()
    writer.submit(slow("b"))  # returns only once a has ended, then starts b
    assert log[:2] == ["start a", "end a"]
    writer.wait()
    opener.join()
    assert log == ["start a", "end a", "start b", "end b"]

    def failing():
        raise OSError(errno.ENOSPC, "No space left on device")

    writer.submit(failing)
    with pytest.raises(OSError, match="No space left"):
        writer.wait()
    writer.check()  # raised once, then cleared


# --- copies taken at the step ----------------------------------------------------------------
def test_a_background_checkpoint_holds_the_state_of_its_step(tiny_maps, tmp_path,
                                                              op_determinism):
    """Training goes on while the copy is written: the file must still be the state at its
    step, identical to one written synchronously."""
    config = smoke(steps=6, checkpoint_every=3, log_every=3, sample_every=3)
    background = train(config, tiny_maps, tmp_path / "bg", verbose=0)
    waited = train(config.replace(async_checkpoints=False), tiny_maps, tmp_path / "sync",
                   verbose=0)
    assert steps_of(background.run) == steps_of(waited.run) == [3, 6]
    for (_, a), (_, b) in zip(background.run.checkpoints(), waited.run.checkpoints(),
                              strict=True):
        first, second = arrays_of(a), arrays_of(b)
        assert first.keys() == second.keys()
        for key in first:
            np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    assert not list((tmp_path / "bg").rglob(".tmp-*"))


# --- resuming past a bad checkpoint ----------------------------------------------------------
def every_2(steps: int):
    return smoke(steps=steps, checkpoint_every=2, log_every=2, sample_every=2)


@pytest.fixture(scope="module")
def four_steps(tiny_maps, tmp_path_factory):
    """A finished 4-step run with checkpoints at steps 2 and 4 (copy it before changing it)."""
    out = tmp_path_factory.mktemp("four") / "run"
    train(every_2(4), tiny_maps, out, verbose=0)
    return out


def copy_run(source, tmp_path):
    target = tmp_path / "run"
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target)
    return RunFolder(target)


def test_resume_passes_over_a_truncated_newest_checkpoint_with_a_warning(
        four_steps, tiny_maps, tmp_path):
    run = copy_run(four_steps, tmp_path)
    newest = run.checkpoint_path(4)
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a crash mid-write
    with pytest.warns(UserWarning, match="step-00000004.npz is incomplete") as caught:
        result = train(every_2(6), tiny_maps, run.path, resume=True, verbose=0)
    assert "Trying the checkpoint before it" in str(caught[0].message)
    assert (result.start_step, result.final_step) == (2, 6)
    assert steps_of(run)[-1] == 6
    arrays_of(run.checkpoint_path(4))  # rewritten whole on the way past step 4


def test_resume_passes_over_a_checkpoint_of_another_configuration(four_steps, tiny_maps,
                                                                  tmp_path):
    run = copy_run(four_steps, tmp_path)
    arrays = arrays_of(run.checkpoint_path(4))
    arrays.pop(sorted(key for key in arrays if key.startswith("generator/"))[-1])
    run.write_checkpoint(4, arrays, keep=3)
    with pytest.warns(UserWarning, match="another configuration"):
        result = train(every_2(4), tiny_maps, run.path, resume=True, verbose=0)
    assert (result.start_step, result.final_step) == (2, 4)


def test_no_readable_checkpoint_is_one_clear_error_on_the_command_line(four_steps, tiny_maps,
                                                                        tmp_path, capsys):
    run = copy_run(four_steps, tmp_path)
    for _, path in run.checkpoints():
        path.write_bytes(b"not a checkpoint")
    argv = ["train", "--data", str(tiny_maps), "--profile", "smoke", "--out", str(run.path),
            "--resume", "--steps", "6", "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "No checkpoint in" in err and "step-00000002.npz" in err and "step-00000004.npz" in err
    assert "Traceback" not in err
    assert err.count("pix2pix train: warning:") == 2  # each one named as it was passed over


# --- arrays matched by name, never by position -----------------------------------------------
def model_for(config):
    """A fresh model of `config`'s run, as `train` builds it on this (CPU) machine."""
    return build_pix2pix(config, total_steps=config.steps)


def test_each_variable_gets_its_own_array_whatever_order_keras_lists_them_in(
        four_steps, monkeypatch):
    """The paper U-Net has five (4,4,512,512) kernels: matched by position, a Keras that lists
    the variables in another order would load the wrong weights and pass the shape check."""
    run = RunFolder(four_steps)
    stored = arrays_of(run.checkpoint_path(4))
    model = model_for(every_2(4))
    in_keras_order = run_folder.checkpoint_names(model)
    monkeypatch.setattr(run_folder, "checkpoint_names", lambda model: {
        group: named[::-1] for group, named in in_keras_order.items()})
    assert run.restore_checkpoint(run.checkpoint_path(4), model) == 4
    for group, named in in_keras_order.items():
        for name, variable in named:
            np.testing.assert_array_equal(variable.numpy(), stored[f"{group}/{name}"],
                                          err_msg=f"{group}/{name}")


def test_checkpoint_names_are_unique_and_do_not_depend_on_earlier_models():
    first, second = model_for(every_2(4)), model_for(every_2(4))  # Keras numbers: adam_1, ...
    names = {g: [n for n, _ in named] for g, named in run_folder.checkpoint_names(first).items()}
    again = {g: [n for n, _ in named] for g, named in run_folder.checkpoint_names(second).items()}
    assert names == again
    assert all(len(set(group)) == len(group) for group in names.values())
    assert "up1/dropout/seed_generator_state" in names["generator"]
    assert {"iteration", "down1_conv_kernel_momentum"} <= set(names["g_optimizer"])


def test_a_checkpoint_whose_names_differ_is_refused_naming_the_first(four_steps, tmp_path):
    run = copy_run(four_steps, tmp_path)
    arrays = arrays_of(run.checkpoint_path(4))
    arrays["generator/down1/conv/kernel_renamed"] = arrays.pop("generator/down1/conv/kernel")
    run.write_checkpoint(4, arrays, keep=3)
    model = model_for(every_2(4))
    before = [v.numpy() for v in model.generator.variables]
    with pytest.raises(RunError, match=r"generator variable 'down1/conv/kernel' is not in it; "
                                       r"1 missing, 1 unknown\); it belongs to a run with "
                                       "another configuration"):
        run.restore_checkpoint(run.checkpoint_path(4), model)
    for old, variable in zip(before, model.generator.variables, strict=True):
        np.testing.assert_array_equal(old, variable.numpy())  # nothing was assigned


def test_a_checkpoint_written_by_position_before_names_still_resumes_exactly(
        four_steps, tiny_maps, tmp_path, op_determinism):
    """Run folders from before names were stored ("generator/00012", in Keras' order) resume
    as they did: the same final state as resuming from the same checkpoint stored by name."""
    named_run = copy_run(four_steps, tmp_path / "named")
    legacy_run = copy_run(four_steps, tmp_path / "legacy")
    arrays = arrays_of(legacy_run.checkpoint_path(2))
    legacy = {"meta/step": arrays["meta/step"]}
    for group, named in run_folder.checkpoint_names(model_for(every_2(4))).items():
        for index, (name, _) in enumerate(named):
            legacy[f"{group}/{index:05d}"] = arrays[f"{group}/{name}"]
    legacy_run.write_checkpoint(2, legacy, keep=3)
    for run in (named_run, legacy_run):
        run.checkpoint_path(4).unlink()
        assert train(every_2(4), tiny_maps, run.path, resume=True, verbose=0).start_step == 2
    resumed, expected = (arrays_of(legacy_run.checkpoint_path(4)),
                         arrays_of(named_run.checkpoint_path(4)))
    assert resumed.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(resumed[key], expected[key], err_msg=key)


# --- a full disk -----------------------------------------------------------------------------
@pytest.mark.parametrize("in_background", [True, False])
def test_a_full_disk_stops_training_and_names_the_last_good_checkpoint(
        tiny_maps, tmp_path, monkeypatch, in_background):
    original, calls = np.savez, []

    def savez_on_a_filling_disk(handle, **arrays):
        calls.append(1)
        if len(calls) >= 2:  # the second checkpoint finds the disk full halfway through
            handle.write(b"x" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        original(handle, **arrays)

    monkeypatch.setattr(run_folder.np, "savez", savez_on_a_filling_disk)
    out = tmp_path / "run"
    config = smoke(steps=6, checkpoint_every=2, log_every=2, sample_every=2,
                   async_checkpoints=in_background)
    with pytest.raises(CheckpointWriteError) as caught:
        train(config, tiny_maps, out, verbose=0)
    message = str(caught.value)
    assert "checkpoint of step 4" in message and "No space left on device" in message
    assert "last good checkpoint is step 2" in message and "--resume" in message
    run = RunFolder(out)
    assert steps_of(run) == [2]
    assert int(arrays_of(run.checkpoint_path(2))["meta/step"]) == 2
    assert not list(out.rglob(".tmp-*"))
    if in_background:  # space freed: the run continues from its last good checkpoint
        monkeypatch.setattr(run_folder.np, "savez", original)
        assert train(config, tiny_maps, out, resume=True, verbose=0).start_step == 2


# --- refused before anything is created ------------------------------------------------------
def test_a_refused_run_leaves_nothing_behind_and_runs_once_fixed(tiny_maps, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(tiny_maps, data)
    bad = sorted((data / "train").iterdir())[0]
    good_bytes = bad.read_bytes()
    bad.write_bytes(good_bytes[:100])  # truncated
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--profile", "smoke", "--out", str(out), "--steps", "2",
            "--quiet"]
    with pytest.raises(BadPairsError):
        train(smoke(steps=2), data, out, verbose=0)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert bad.name in err and "--on-bad skip" in err and "Traceback" not in err
    assert not out.exists()
    bad.write_bytes(good_bytes)
    assert main(argv) == 0
    assert steps_of(RunFolder(out)) == [2]


def test_an_existing_run_is_refused_before_the_data_is_read(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(RunError, match="already holds files"):
        train(smoke(steps=2), tmp_path / "no-such-data", out, verbose=0)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


# --- the GPU default: mixed float16 with XLA ---------------------------------------------------
@pytest.mark.slow
def test_fp16_with_xla_trains_and_resumes_exactly(tiny_maps, tmp_path, op_determinism):
    """What `auto` means on a GPU (mixed_float16, jit_compile=True), run on the CPU: a smoke
    run, then the same run resumed from its middle checkpoint ends with every variable (the
    loss scale included) equal to the straight run's."""
    straight = tmp_path / "straight"
    argv = ["train", "--data", str(tiny_maps), "--profile", "smoke", "--precision", "fp16",
            "--xla", "on", "--steps", "6", "--quiet", "--set", "checkpoint_every=3",
            "--set", "log_every=3", "--set", "sample_every=3"]
    assert main([*argv, "--out", str(straight)]) == 0
    run = RunFolder(straight)
    assert steps_of(run) == [3, 6] and run.generator_path.exists()
    assert any(key.startswith("g_optimizer/") for key in arrays_of(run.checkpoint_path(6)))
    split = copy_run(straight, tmp_path)
    run.checkpoint_path(6).rename(tmp_path / "straight-6.npz")
    split.checkpoint_path(6).unlink()
    assert main([*argv, "--out", str(split.path), "--resume"]) == 0
    resumed, expected = arrays_of(split.checkpoint_path(6)), arrays_of(tmp_path / "straight-6.npz")
    assert resumed.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(resumed[key], expected[key], err_msg=key)
