"""The classic Keras recipe's trap under Keras 3, proved on a tiny model (32 px, 8 filters).

Naive port (freeze D after compiling it): D's own train_on_batch no longer moves D's kernels.
Working variant (flag set right before each model trains): D learns, the combined model still
leaves D alone, G learns in both.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_pair

from pix2pix_lib import classic
from pix2pix_lib.config import profile
from pix2pix_lib.tf_quiet import keras

SIZES = {"image_size": 32, "g_filters": 8, "d_filters": 8}


def batch(seed=0):
    return random_pair((1, 32, 32, 3), seed)


def stepped(freeze_after_compile):
    """A fresh classic GAN, its kernels before, and the losses of one classic step."""
    keras.utils.set_random_seed(0)
    gan = classic.classic_models(SIZES, freeze_after_compile=freeze_after_compile)
    d_before = classic.kernel_snapshot(gan.discriminator)
    g_before = classic.kernel_snapshot(gan.generator)
    losses = classic.classic_train_step(gan, *batch())
    return gan, d_before, g_before, losses


@pytest.fixture(scope="module")
def naive():
    return stepped(freeze_after_compile=True)


@pytest.fixture(scope="module")
def fixed():
    return stepped(freeze_after_compile=False)


def test_naive_port_never_trains_the_discriminator(naive):
    gan, d_before, g_before, losses = naive
    changed = classic.kernels_changed(d_before, gan.discriminator)
    assert len(changed) == 5 and not any(changed.values()), changed  # 4 convs + logits
    assert set(classic.kernel_changes(d_before, gan.discriminator).values()) == {0.0}
    assert gan.discriminator.trainable_weights == []
    assert all(classic.kernels_changed(g_before, gan.generator).values())  # G still learns
    assert any("does not have any trainable weights" in w for w in gan.warnings)
    assert set(losses) == set(classic.LOSS_NAMES)
    assert all(np.isfinite(list(losses.values())))


def test_working_variant_trains_the_discriminator(fixed):
    gan, d_before, g_before, losses = fixed
    changed = classic.kernels_changed(d_before, gan.discriminator)
    assert len(changed) == 5 and all(changed.values()), changed
    assert all(0 < c < 0.5 for c in classic.kernel_changes(d_before, gan.discriminator).values())
    assert all(classic.kernels_changed(g_before, gan.generator).values())
    assert gan.warnings == []
    # the combined loss is gan_weight * BCE + l1_weight * MAE, as in the paper's objective
    assert losses["g_total"] == pytest.approx(losses["g_gan"] + 100.0 * losses["g_l1"], rel=1e-4)


@pytest.mark.parametrize("variant", ["naive", "fixed"])
def test_the_combined_model_leaves_the_discriminator_alone(variant, request):
    gan = request.getfixturevalue(variant)[0]
    source, target = batch(seed=1)
    before = classic.kernel_snapshot(gan.discriminator)
    gan.combined.train_on_batch(source, [np.ones((1, *gan.patch_shape)), target])
    assert not any(classic.kernels_changed(before, gan.discriminator).values())


def test_working_variant_keeps_training_the_discriminator_step_after_step(fixed):
    gan = fixed[0]
    for seed in (2, 3):
        before = classic.kernel_snapshot(gan.discriminator)
        classic.classic_train_step(gan, *batch(seed))
        assert all(classic.kernels_changed(before, gan.discriminator).values())


def test_accepts_a_train_config():
    gan = classic.classic_models(profile("smoke", image_size=32, g_filters=4, d_filters=4,
                                         l1_weight=10.0))
    assert gan.l1_weight == 10.0 and gan.patch_shape == (2, 2, 1)
    with pytest.raises(ValueError, match="TrainConfig"):
        classic.classic_models(32)


def test_predict_overhead_is_in_milliseconds(fixed):
    gan = fixed[0]
    overhead = classic.predict_overhead(gan.generator, batch()[0], calls=2)
    assert set(overhead) == {"predict_ms", "compiled_ms", "overhead_ms"}
    assert overhead["predict_ms"] > 0 and overhead["compiled_ms"] > 0


# --- the recipe's other Keras 3 traps, as the notebook states them -----------------------------
def test_keras3_refuses_adam_lr():
    with pytest.raises(ValueError, match="lr"):
        keras.optimizers.Adam(lr=2e-4)


def test_predict_overrides_training_true_inside_a_functional_model():
    inputs = keras.Input((1000,))
    model = keras.Model(inputs, keras.layers.Dropout(0.5)(inputs, training=True))
    ones = np.ones((1, 1000), np.float32)
    assert not np.any(model.predict(ones, verbose=0) == 0)  # dropout silently off
    assert np.any(model(ones).numpy() == 0)  # a direct call keeps the layer's training=True
