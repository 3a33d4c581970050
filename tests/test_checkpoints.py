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
from pix2pix_lib.tf_quiet import tf


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
    writer, log, gate = BackgroundWriter(), [], threading.Event()

    def slow(name):
        def job():
            log.append(f"start {name}")
            gate.wait(5)
            log.append(f"end {name}")
        return job

    writer.submit(slow("a"))
    time.sleep(0.05)
    assert writer.busy() and log == ["start a"]
    threading.Timer(0.2, gate.set).start()
    writer.submit(slow("b"))  # waits for a to end before b starts
    writer.wait()
    assert log == ["start a", "end a", "start b", "end b"] and not writer.busy()

    def failing():
        raise OSError(errno.ENOSPC, "No space left on device")

    writer.submit(failing)
    with pytest.raises(OSError, match="No space left"):
        writer.wait()
    writer.check()  # raised once, then cleared


# --- copies taken at the step ----------------------------------------------------------------
def test_a_background_checkpoint_holds_the_state_of_its_step(tiny_maps, tmp_path):
    """Training goes on while the copy is written: the file must still be the state at its
    step, identical to one written synchronously."""
    tf.config.experimental.enable_op_determinism()
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
def test_fp16_with_xla_trains_and_resumes_exactly(tiny_maps, tmp_path):
    """What `auto` means on a GPU (mixed_float16, jit_compile=True), run on the CPU: a smoke
    run, then the same run resumed from its middle checkpoint ends with every variable (the
    loss scale included) equal to the straight run's."""
    tf.config.experimental.enable_op_determinism()
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
