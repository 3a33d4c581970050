"""The training step and the run folder: updates, learning, exact resume, kill -9, NaN guard."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pix2pix_lib.config import PRECISION_POLICIES, profile
from pix2pix_lib.data import load_pairs_numpy, resolve_dataset
from pix2pix_lib.hardware import plan_hardware
from pix2pix_lib.losses import generator_loss
from pix2pix_lib.runs import (
    RunError,
    RunFolder,
    TrainingDiverged,
    fit_segments,
    tensorboard_available,
    train,
)
from pix2pix_lib.tf_quiet import keras, tf
from pix2pix_lib.trainer import LinearDecay, Pix2Pix, build_pix2pix, rng_variables


def smoke(**overrides):
    return profile("smoke", **overrides)


def random_batch(size=64, batch=1, seed=0):
    rng = np.random.default_rng(seed)
    shape = (batch, size, size, 3)
    return (tf.constant(rng.uniform(-1, 1, shape), tf.float32),
            tf.constant(rng.uniform(-1, 1, shape), tf.float32))


def snapshot(variables):
    return [v.numpy().copy() for v in variables]


def changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables, strict=True)]


ORDERS = ["simultaneous", "alternating"]


# --- the step --------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ORDERS)
def test_one_step_gives_finite_losses_and_updates_every_weight_of_both_networks(order):
    keras.utils.set_random_seed(0)
    model = build_pix2pix(smoke(update_order=order), total_steps=10)
    g_before = snapshot(model.generator.trainable_variables)
    d_before = snapshot(model.discriminator.trainable_variables)
    logs = model.train_step(random_batch())
    assert all(np.isfinite(float(value)) for value in logs.values())
    assert set(logs) == {"d_loss", "g_gan", "g_l1", "g_total"}
    assert all(changed(g_before, model.generator.trainable_variables))
    assert all(changed(d_before, model.discriminator.trainable_variables))
    assert int(model.step_counter.numpy()) == 1


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_each_update_touches_only_its_own_network(frozen, order):
    """With one optimizer's learning rate at 0, that network must not move at all, and the other
    must still learn every weight: G's update reaches only G, D's only D. (The classic Keras
    port gets this wrong: its D silently stops learning.)"""
    keras.utils.set_random_seed(0)
    config = smoke(update_order=order,
                   **{("g_learning_rate" if frozen == "generator" else "d_learning_rate"): 0.0})
    model = build_pix2pix(config, total_steps=10)
    nets = {"generator": model.generator, "discriminator": model.discriminator}
    before = {name: snapshot(net.trainable_variables) for name, net in nets.items()}
    for seed in range(2):
        model.train_step(random_batch(seed=seed))
    for name, net in nets.items():
        moved = changed(before[name], net.trainable_variables)
        assert (not any(moved)) if name == frozen else all(moved), name


@pytest.mark.parametrize("order", ORDERS)
def test_g_is_judged_by_d_before_or_after_its_update(order):
    """Simultaneous: G's adversarial loss is D's verdict before D's step. Alternating (the
    paper's order): D steps first, and G's loss is the updated D's verdict on the same fake."""
    keras.utils.set_random_seed(0)
    model = build_pix2pix(smoke(update_order=order, d_learning_rate=1e-2), total_steps=10)
    source, target = random_batch()
    g_before = model.generator.get_weights()
    rng = rng_variables(model.generator)
    rng_state = [v.numpy() for v in rng]

    def restore_g():  # G's weights and dropout masks as at the start of the step
        model.generator.set_weights(g_before)
        for variable, value in zip(rng, rng_state, strict=True):
            variable.assign(value)

    def verdict_on_the_step_fake():
        restore_g()
        fake = model.generator(source, training=True)
        logits = model.discriminator([source, fake], training=True)
        return float(generator_loss(logits, fake, target).gan)

    d_before = verdict_on_the_step_fake()
    restore_g()
    g_gan = float(model.train_step((source, target))["g_gan"])
    d_after = verdict_on_the_step_fake()
    expected, other = (d_before, d_after) if order == "simultaneous" else (d_after, d_before)
    assert g_gan == pytest.approx(expected, rel=1e-4)
    assert g_gan != pytest.approx(other, rel=1e-3)


def test_fp16_step_uses_loss_scaling_and_stays_finite():
    keras.utils.set_random_seed(0)
    model = build_pix2pix(smoke(precision="fp16"), total_steps=10)  # as on a GPU: auto = fp16
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.generator.layers[-1].compute_dtype == "float32"
    logs = model.train_step(random_batch())
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert keras.config.dtype_policy().name == "float32"  # the global policy was restored


def test_auto_precision_is_resolved_as_train_resolves_it():
    """build_pix2pix and runs.train agree: both resolve "auto" for the devices found."""
    plan = plan_hardware("auto", None)
    model = build_pix2pix(smoke(), total_steps=10)
    conv = model.generator.get_layer("down1").layers[0]
    assert conv.dtype_policy.name == PRECISION_POLICIES[plan.precision]
    assert model.jit_compile == plan.jit_compile
    assert keras.config.dtype_policy().name == "float32"  # the global policy was restored


def test_linear_decay_is_constant_then_reaches_zero():
    schedule = LinearDecay(2e-4, total_steps=100, decay_fraction=0.5)
    values = [float(schedule(step)) for step in (0, 49, 50, 75, 100, 120)]
    assert values[:3] == pytest.approx([2e-4, 2e-4, 2e-4])
    assert values[3] == pytest.approx(1e-4)
    assert values[4:] == [0.0, 0.0]


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
def test_resume_continues_exactly(tiny_maps, tmp_path, order):
    """N steps straight == N/2, stop, resume, N/2 more: every variable equal (dropout RNG,
    optimizer moments and data position included), in both update orders."""
    tf.config.experimental.enable_op_determinism()
    config = smoke(steps=8, checkpoint_every=4, log_every=4, sample_every=4, update_order=order)
    straight = train(config, tiny_maps, tmp_path / "straight", verbose=0)
    train(config.replace(steps=4), tiny_maps, tmp_path / "split", verbose=0)
    resumed = train(config, tiny_maps, tmp_path / "split", resume=True, verbose=0)
    assert (resumed.start_step, resumed.final_step) == (4, 8)
    for a, b in zip(all_variables(straight.model), all_variables(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [r["step"] for r in resumed.run.read_history()] == ["4", "8"]


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
def test_a_killed_run_resumes(tiny_maps, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "pix2pix_lib", "train", "--data", str(tiny_maps),
               "--profile", "smoke", "--out", str(out), "--quiet",
               "--set", "checkpoint_every=2", "--set", "log_every=2"]
    process = subprocess.Popen([*command, "--steps", "400"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not RunFolder(out).checkpoints() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    killed_at = RunFolder(out).checkpoints()[-1][0]
    assert 0 < killed_at < 400
    done = subprocess.run([*command, "--steps", str(killed_at + 4), "--resume"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run = RunFolder(out)
    assert run.checkpoints()[-1][0] == killed_at + 4
    with open(run.history_path, newline="") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps[-1] == killed_at + 4 and steps == sorted(set(steps))
    assert not list(out.rglob(".tmp-*"))
