"""The run folder around training: its layout, exact resume, kill -9, the NaN guard."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from pix2pix_lib.cli import main
from pix2pix_lib.common import ProgressLine
from pix2pix_lib.config import profile
from pix2pix_lib.data import load_pairs_numpy, resolve_dataset
from pix2pix_lib.run_folder import GENERATOR_FILE, history_differences
from pix2pix_lib.runs import (
    RunError,
    RunFolder,
    RunInUse,
    TrainingDiverged,
    fit_segments,
    tensorboard_available,
    train,
)
from pix2pix_lib.tf_quiet import keras, tf
from pix2pix_lib.trainer import Pix2Pix, build_pix2pix


def smoke(**overrides):
    return profile("smoke", **overrides)


ORDERS = ["simultaneous", "alternating"]


# --- the folder ------------------------------------------------------------------------------
def test_the_folder_layout_is_runfolders_alone(tmp_path):
    run = RunFolder(tmp_path / "run")
    assert not run.is_run() and run.checkpoints() == [] and run.read_history() == []
    run.create(smoke())
    assert run.is_run() and run.generator_path.name == GENERATOR_FILE
    assert run.checkpoint_path(500).name == "step-00000500.npz"
    grid = np.zeros((4, 6, 3), np.uint8)
    written = [run.save_sample(step, grid) for step in (20, 10)]
    assert run.samples() == written[::-1] == [run.sample_path(10), run.sample_path(20)]
    run.write_history([{"step": 10, "g_l1": 0.5}])
    assert run.read_history() == [{"step": "10", "g_l1": "0.5"}]
    (run.checkpoints_dir / ".tmp-123-step-00000030.npz").write_bytes(b"half")
    run.remove_partial_files()
    assert not list(run.path.rglob(".tmp-*"))


@pytest.mark.parametrize("start, total, length, expected", [
    (0, 30, 10, [(0, 3, 10)]),
    (20, 30, 10, [(20, 1, 10)]),
    (0, 25, 10, [(0, 2, 10), (20, 1, 5)]),
    (7, 35, 10, [(7, 1, 3), (10, 2, 10), (30, 1, 5)]),
    (30, 30, 10, []),
])
def test_segments_cover_every_step_once(start, total, length, expected):
    assert fit_segments(start, total, length) == expected


# --- runs ------------------------------------------------------------------------------------
def l1_on(generator, sources, targets):
    return float(np.mean(np.abs(generator(sources, training=False).numpy() - targets)))


@pytest.mark.slow
def test_a_smoke_run_lowers_l1_on_its_pairs(tiny_maps, tmp_path):
    config = smoke(steps=60, g_learning_rate=1e-3, checkpoint_every=30, sample_every=30,
                   log_every=30)
    train_paths, _ = resolve_dataset(tiny_maps)
    sources, targets = load_pairs_numpy(train_paths[:8], image_size=64)
    keras.utils.set_random_seed(config.seed)
    before = l1_on(build_pix2pix(config, 60).generator, sources, targets)
    result = train(config, tiny_maps, tmp_path / "run", verbose=0)
    after = l1_on(result.model.generator, sources, targets)
    assert after < 0.8 * before, (before, after)
    run = result.run
    assert [step for step, _ in run.checkpoints()] == [30, 60]
    assert sorted(p.name for p in run.samples_dir.glob("*.png")) == [
        "step-00000030.png", "step-00000060.png"]
    assert [int(row["step"]) for row in run.read_history()] == [30, 60]
    assert run.generator_path.exists()
    assert any(run.logs_dir.iterdir()) == tensorboard_available()


def all_variables(model: Pix2Pix):
    return [v.numpy() for v in (*model.generator.variables, *model.discriminator.variables,
                                *model.g_optimizer.variables, *model.d_optimizer.variables)]


@pytest.mark.slow
@pytest.mark.parametrize("order", ORDERS)
def test_resume_continues_exactly(tiny_maps, tmp_path, order, op_determinism):
    """N steps straight == N/2, stop, resume, N/2 more: every variable equal (dropout RNG,
    optimizer moments and data position included), in both update orders; the logged losses
    equal to float32 precision (`history_differences`: what TensorFlow promises for them)."""
    config = smoke(steps=8, checkpoint_every=4, log_every=4, sample_every=4, update_order=order)
    straight = train(config, tiny_maps, tmp_path / "straight", verbose=0)
    train(config.replace(steps=4), tiny_maps, tmp_path / "split", verbose=0)
    resumed = train(config, tiny_maps, tmp_path / "split", resume=True, verbose=0)
    assert (resumed.start_step, resumed.final_step) == (4, 8)
    for a, b in zip(all_variables(straight.model), all_variables(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [r["step"] for r in resumed.run.read_history()] == ["4", "8"]
    assert history_differences(straight.run.read_history(), resumed.run.read_history()) == []


def test_existing_run_is_never_overwritten(tiny_maps, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="already holds files; nothing was overwritten"):
        train(smoke(steps=2), tiny_maps, out, verbose=0)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    with pytest.raises(RunError, match="no run to resume"):
        train(smoke(steps=2), tiny_maps, tmp_path / "absent", resume=True, verbose=0)


def test_resume_refuses_a_changed_architecture(tiny_maps, tmp_path):
    train(smoke(steps=2, checkpoint_every=2, log_every=2), tiny_maps, tmp_path / "run", verbose=0)
    with pytest.raises(RunError, match="g_filters: 16 -> 32"):
        train(smoke(steps=4, g_filters=32), tiny_maps, tmp_path / "run", resume=True, verbose=0)


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tiny_maps, tmp_path,
                                                                     monkeypatch):
    original = Pix2Pix.pix2pix_losses

    def poisoned(self, *args, **kwargs):
        values = original(self, *args, **kwargs)
        nan = tf.constant(float("nan"))
        return {k: tf.where(self.step_counter >= 6, nan, v) for k, v in values.items()}

    monkeypatch.setattr(Pix2Pix, "pix2pix_losses", poisoned)
    config = smoke(steps=20, checkpoint_every=5, log_every=10, sample_every=5)
    with pytest.raises(TrainingDiverged, match="last good checkpoint is step 5"):
        train(config, tiny_maps, tmp_path / "run", verbose=0)
    run = RunFolder(tmp_path / "run")
    assert [step for step, _ in run.checkpoints()] == [5]
    assert not run.generator_path.exists()


@pytest.mark.slow
def test_a_second_training_is_refused_and_a_killed_run_resumes(tiny_maps, tmp_path, capsys):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "pix2pix_lib", "train", "--data", str(tiny_maps),
               "--profile", "smoke", "--out", str(out), "--quiet",
               "--set", "checkpoint_every=2", "--set", "log_every=2"]
    process = subprocess.Popen([*command, "--steps", "400"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not RunFolder(out).checkpoints() and time.monotonic() < deadline:
            time.sleep(0.2)  # polling another process's files (no thread of ours to join)
        assert process.poll() is None, "the first training ended too early"
        # One training per folder: a second one while the first trains is refused, naming it,
        # and changes nothing
        config = smoke(steps=400, checkpoint_every=2, log_every=2)
        with pytest.raises(RunInUse, match=rf"process {process.pid} on \S+ is training into "
                                           rf"it\. .*kill {process.pid}"):
            train(config, tiny_maps, out, resume=True, verbose=0)
        assert main(["train", "--data", str(tiny_maps), "--profile", "smoke", "--out",
                     str(out), "--quiet", "--set", "checkpoint_every=2", "--set",
                     "log_every=2", "--steps", "400", "--resume"]) == 1
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # holding the lock: the kernel releases it
        process.wait()
    assert f"kill {process.pid}" in capsys.readouterr().err
    killed_at = RunFolder(out).checkpoints()[-1][0]
    assert 0 < killed_at < 400
    assert (out / "training.lock").exists()  # left behind, and nobody has to delete it
    done = subprocess.run([*command, "--steps", str(killed_at + 4), "--resume"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run = RunFolder(out)
    assert run.checkpoints()[-1][0] == killed_at + 4
    with open(run.history_path, newline="") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps[-1] == killed_at + 4 and steps == sorted(set(steps))
    assert not list(out.rglob(".tmp-*"))


def test_training_shows_steps_of_the_whole_run_and_never_an_epoch(tiny_maps, tmp_path, capsys):
    """fit is called once per log interval; the display must count the run's steps, not
    "Epoch k/N" of display intervals, and its ETA is for the run."""
    config = profile("smoke", steps=6, log_every=2, checkpoint_every=6, sample_every=6)
    train(config, tiny_maps, tmp_path / "run", verbose=2)
    out = capsys.readouterr().out
    assert "Epoch" not in out
    lines = [line for line in out.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["2/6", "4/6", "6/6"]
    assert "d_loss" in lines[0] and "val_d_loss" in lines[0]
    assert "ETA 0:00" in lines[-1] and "ms/step" in lines[-1]


# --- one training per run folder ---------------------------------------------------------------
def test_a_run_folder_is_held_by_one_training_at_a_time(tmp_path):
    run = RunFolder(tmp_path / "run")
    with run.lock():
        with pytest.raises(RunInUse, match=rf"process {os.getpid()} on .*`kill {os.getpid()}`"):
            run.lock()
    with run.lock():  # released at the end of the block
        pass
    run.check_new()  # the lock file alone does not make the folder a run


# --- the progress line ends before anything else is printed ------------------------------------
def test_a_warning_during_the_progress_line_starts_on_a_line_of_its_own(capsys):
    line = ProgressLine()
    with pytest.warns(UserWarning, match="disk"), line.ended_before_warnings():
        line.show("step 3/10  g_total 75.13  (ETA --)")
        warnings.warn("disk nearly full", UserWarning, stacklevel=1)
        assert not line.open
    assert capsys.readouterr().out == "\rstep 3/10  g_total 75.13  (ETA --)\n"


def test_an_error_during_training_ends_the_progress_line(tiny_maps, tmp_path, capsys):
    class FailsAtStep2(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                raise OSError("Could not write somewhere")

    with pytest.raises(RunError, match="Could not write somewhere"):
        train(smoke(steps=4, log_every=4), tiny_maps, tmp_path / "run", verbose=1,
              callbacks=(FailsAtStep2(),))
    out = capsys.readouterr().out
    assert "\rstep 1/4" in out and out.endswith("\n")
