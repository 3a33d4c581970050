"""The training step: updates, their order, precision, the learning-rate schedule.

The run folder around it (exact resume, kill -9, NaN guard) is tests/test_runs.py."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import changed, random_pair, snapshot

from pix2pix_lib.config import PRECISION_POLICIES, profile
from pix2pix_lib.hardware import plan_hardware
from pix2pix_lib.losses import generator_loss
from pix2pix_lib.tf_quiet import keras, tf
from pix2pix_lib.trainer import LinearDecay, build_pix2pix, rng_variables


def smoke(**overrides):
    return profile("smoke", **overrides)


def random_batch(seed=0):
    """One (source, target) batch of 64 px noise, as tensors."""
    return tuple(tf.constant(images) for images in random_pair((1, 64, 64, 3), seed))


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


def test_pix2pix_precision_reaches_build_pix2pix(monkeypatch):
    monkeypatch.setenv("PIX2PIX_PRECISION", "fp32")
    model = build_pix2pix(smoke(), total_steps=10)
    assert model.generator.get_layer("down1").layers[0].dtype_policy.name == "float32"


def test_linear_decay_is_constant_then_reaches_zero():
    schedule = LinearDecay(2e-4, total_steps=100, decay_fraction=0.5)
    values = [float(schedule(step)) for step in (0, 49, 50, 75, 100, 120)]
    assert values[:3] == pytest.approx([2e-4, 2e-4, 2e-4])
    assert values[3] == pytest.approx(1e-4)
    assert values[4:] == [0.0, 0.0]


def test_fit_still_reaches_the_override_of_keras_private_build(monkeypatch):
    """`Pix2Pix._maybe_symbolic_build` overrides a private Keras method (which would consume a
    batch and fails under MultiWorkerMirroredStrategy): a Keras that stops calling it from
    `fit` must fail here, not skip it without a sound."""
    from pix2pix_lib.trainer import Pix2Pix

    calls = []
    original = Pix2Pix._maybe_symbolic_build

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Pix2Pix, "_maybe_symbolic_build", counted)
    model = build_pix2pix(smoke(), total_steps=1)
    model.fit(tf.data.Dataset.from_tensors(random_batch()).repeat(), steps_per_epoch=1,
              epochs=1, verbose=0, shuffle=False)
    assert calls, ("keras.Model.fit no longer calls _maybe_symbolic_build; check what this "
                   f"Keras ({keras.__version__}) does instead (docs/architecture.md).")


def test_keras_versions_outside_the_tested_range_are_said_on_import():
    from types import SimpleNamespace

    from pix2pix_lib import tf_quiet

    with pytest.raises(ImportError, match="needs Keras >= 3.8"):
        tf_quiet._check_keras(SimpleNamespace(__version__="3.5.0"))
    with pytest.warns(UserWarning, match="tested with Keras 3 .* 'keras>=3.8,<4'"):
        tf_quiet._check_keras(SimpleNamespace(__version__="4.0.0"))
    tf_quiet._check_keras(keras)  # this one: silent
