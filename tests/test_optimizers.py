"""FusedAdam is Keras' Adam, update for update, only faster."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pix_lib.optimizers import FusedAdam
from pix2pix_lib.tf_quiet import keras, tf


def _trajectory(optimizer, steps=4, seed=0):
    rng = np.random.default_rng(seed)
    variables = [keras.Variable(rng.normal(size=shape).astype("float32"))
                 for shape in [(4, 4, 3, 8), (8,), (1,)]]
    gradients = [[tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables]
                 for _ in range(steps)]

    @tf.function
    def apply(grads):
        optimizer.apply_gradients(zip(grads, variables, strict=True))

    for grads in gradients:
        apply(grads)
    return [v.numpy() for v in variables], optimizer


@pytest.mark.parametrize("options", [
    {"learning_rate": 2e-4, "beta_1": 0.5},
    {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.99, "epsilon": 1e-3},
])
def test_fused_adam_follows_keras_adam(options):
    expected, keras_adam = _trajectory(keras.optimizers.Adam(**options))
    fused_result, fused = _trajectory(FusedAdam(**options))
    for want, got in zip(expected, fused_result, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for want, got in zip(keras_adam.variables, fused.variables, strict=True):  # m, v, step
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-7)


def test_fused_adam_really_moves_the_weights_it_is_given():
    before = _trajectory(FusedAdam(learning_rate=0.1), steps=0)[0]
    after = _trajectory(FusedAdam(learning_rate=0.1), steps=1)[0]
    assert all(np.abs(a - b).min() > 0.05 for a, b in zip(after, before, strict=True))


def test_amsgrad_falls_back_to_keras_update():
    expected, _ = _trajectory(keras.optimizers.Adam(learning_rate=0.1, amsgrad=True))
    got, _ = _trajectory(FusedAdam(learning_rate=0.1, amsgrad=True))
    for want, value in zip(expected, got, strict=True):
        np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-6)


def test_fused_adam_under_loss_scaling_and_round_trip_config():
    result, _ = _trajectory(keras.optimizers.LossScaleOptimizer(FusedAdam(learning_rate=0.01)))
    assert all(np.isfinite(v).all() for v in result)
    config = keras.optimizers.serialize(FusedAdam(learning_rate=0.01, beta_1=0.5))
    restored = keras.optimizers.deserialize(config)
    assert isinstance(restored, FusedAdam) and restored.beta_1 == 0.5
