"""Tests for pix2pix_lib.losses: hand-computed values, stability, float32 under mixed precision."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pix2pix_lib import losses
from pix2pix_lib.tf_quiet import keras, tf


def softplus(x: float) -> float:
    """log(1 + exp(x)): BCE(x, label 1) = softplus(-x), BCE(x, label 0) = softplus(x)."""
    return math.log1p(math.exp(x))


# ------------------------------------------------------------------------------------------
# Discriminator loss
# ------------------------------------------------------------------------------------------


def test_discriminator_loss_vanilla_at_zero_logits_is_log2():
    # D undecided on both: 0.5 * (ln 2 + ln 2) = ln 2.
    loss = losses.discriminator_loss(tf.zeros((1, 30, 30, 1)), tf.zeros((1, 30, 30, 1)))
    assert loss.shape == ()
    assert float(loss) == pytest.approx(math.log(2.0), rel=1e-6)


def test_discriminator_loss_vanilla_hand_computed():
    real = np.array([2.0, -1.0], np.float32)
    fake = np.array([0.5], np.float32)
    expected = 0.5 * ((softplus(-2.0) + softplus(1.0)) / 2 + softplus(0.5))
    assert float(losses.discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-6)


def test_discriminator_loss_lsgan_hand_computed():
    # 0.5 * (mean((1-1)^2, (3-1)^2) + mean(0^2, 2^2)) = 0.5 * (2 + 2) = 2.
    real = np.array([1.0, 3.0], np.float32)
    fake = np.array([0.0, 2.0], np.float32)
    loss = losses.discriminator_loss(real, fake, gan_mode="lsgan")
    assert float(loss) == pytest.approx(2.0)


def test_discriminator_loss_is_a_mean_over_every_element_of_the_batch():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(2, 6, 6, 1)).astype(np.float32)
    fake = rng.normal(size=(2, 6, 6, 1)).astype(np.float32)
    real_term = np.mean(np.log1p(np.exp(-real.astype(np.float64))))
    fake_term = np.mean(np.log1p(np.exp(fake.astype(np.float64))))
    expected = 0.5 * (real_term + fake_term)
    assert float(losses.discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-5)


def test_perfect_discriminator_has_near_zero_loss():
    loss = losses.discriminator_loss(tf.fill((4,), 30.0), tf.fill((4,), -30.0))
    assert 0.0 <= float(loss) < 1e-12


# ------------------------------------------------------------------------------------------
# Generator loss and L1
# ------------------------------------------------------------------------------------------


def test_l1_loss_hand_computed():
    generated = np.array([[0.0, 0.5], [-1.0, 1.0]], np.float32)
    target = np.array([[1.0, 0.5], [-0.5, 1.0]], np.float32)
    assert float(losses.l1_loss(generated, target)) == pytest.approx((1.0 + 0 + 0.5 + 0) / 4)


def test_generator_loss_vanilla_hand_computed():
    fake = np.array([0.0, 1.0], np.float32)
    generated = np.full((1, 2, 2, 3), 0.25, np.float32)
    target = np.zeros((1, 2, 2, 3), np.float32)
    result = losses.generator_loss(fake, generated, target)
    gan = (softplus(0.0) + softplus(-1.0)) / 2  # -log sigmoid(x), the non-saturating loss
    assert isinstance(result, losses.GeneratorLoss)
    assert float(result.gan) == pytest.approx(gan, rel=1e-6)
    assert float(result.l1) == pytest.approx(0.25)
    assert float(result.total) == pytest.approx(gan + 100.0 * 0.25, rel=1e-6)


def test_generator_loss_lsgan_hand_computed():
    fake = np.array([0.0, 3.0], np.float32)  # mean((0-1)^2, (3-1)^2) = 2.5
    generated = np.full((1, 2, 2, 1), 0.5, np.float32)
    target = np.full((1, 2, 2, 1), -0.5, np.float32)
    total, gan, l1 = losses.generator_loss(
        fake, generated, target, l1_weight=10.0, gan_mode="lsgan"
    )
    assert float(gan) == pytest.approx(2.5)
    assert float(l1) == pytest.approx(1.0)
    assert float(total) == pytest.approx(12.5)


def test_perfect_generator_has_zero_l1():
    rng = np.random.default_rng(1)
    image = rng.uniform(-1, 1, size=(2, 8, 8, 3)).astype(np.float32)
    result = losses.generator_loss(tf.zeros((2, 2, 2, 1)), image, image)
    assert float(result.l1) == 0.0
    assert float(result.total) == pytest.approx(float(result.gan))


def test_l1_weight_zero_is_the_gan_alone():
    result = losses.generator_loss(
        tf.zeros((1, 4)), tf.ones((1, 2, 2, 1)), -tf.ones((1, 2, 2, 1)), l1_weight=0.0
    )
    assert float(result.l1) == pytest.approx(2.0)
    assert float(result.total) == pytest.approx(math.log(2.0), rel=1e-6)


def test_gan_weight_scales_the_adversarial_term_of_the_total():
    args = (tf.zeros((1, 4)), tf.ones((1, 2, 2, 1)), -tf.ones((1, 2, 2, 1)))
    result = losses.generator_loss(*args, l1_weight=10.0, gan_weight=0.5)
    assert float(result.total) == pytest.approx(0.5 * math.log(2.0) + 10.0 * 2.0, rel=1e-6)
    l1_only = losses.generator_loss(*args, l1_weight=10.0, gan_weight=0.0)
    assert float(l1_only.total) == pytest.approx(20.0)  # the paper's "L1 alone"
    with pytest.raises(ValueError, match="gan_weight"):
        losses.generator_loss(*args, gan_weight=-1.0)


# ------------------------------------------------------------------------------------------
# Numerical stability and dtypes
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1e4, 1e30, 3e38])
def test_huge_logits_stay_finite_and_exact(size):
    """Logits saturating the sigmoid: BCE from logits is |x| where log(sigmoid) would be inf."""
    big = tf.constant([size], tf.float32)
    confident_right = losses.discriminator_loss(big, -big)
    confident_wrong = losses.discriminator_loss(-big, big)
    fooled = losses.generator_loss(-big, tf.zeros((1, 2)), tf.zeros((1, 2)))
    assert float(confident_right) == 0.0
    assert math.isfinite(float(confident_wrong))
    assert float(confident_wrong) == pytest.approx(size, rel=1e-6)  # 0.5 * (|x| + |x|)
    assert float(fooled.gan) == pytest.approx(size, rel=1e-6)
    assert math.isfinite(float(fooled.total))


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_half_precision_inputs_give_float32_losses(dtype):
    # lsgan squares the logit: 1000^2 overflows float16 (max 65504) but not float32.
    logits = tf.constant([1000.0, -1000.0], dtype)
    image = tf.constant([[0.5, -0.5]], dtype)
    d_loss = losses.discriminator_loss(logits, logits, gan_mode="lsgan")
    g_loss = losses.generator_loss(logits, image, tf.zeros_like(image), gan_mode="lsgan")
    vanilla = losses.discriminator_loss(logits, logits)
    for value in (d_loss, vanilla, *g_loss, losses.l1_loss(image, image)):
        assert value.dtype == tf.float32
        assert math.isfinite(float(value))
    expected_d = 0.5 * ((999.0**2 + 1001.0**2) / 2 + 1000.0**2)
    assert float(d_loss) == pytest.approx(expected_d, rel=1e-6)
    assert float(vanilla) == pytest.approx(0.5 * (500.0 + 500.0), rel=1e-6)


@pytest.mark.parametrize("mixed_policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
def test_mixed_precision_policy_gives_float32_losses(mixed_policy):
    """A layer computing in half precision feeds the losses; they come out in float32."""
    layer = keras.layers.Dense(1, kernel_initializer="ones")
    logits = layer(tf.fill((3, 4), 100.0))  # 400 per element, in half precision
    assert logits.dtype != tf.float32
    d_loss = losses.discriminator_loss(logits, -logits, gan_mode="lsgan")
    g_loss = losses.generator_loss(logits, logits, tf.zeros_like(logits), gan_mode="lsgan")
    assert d_loss.dtype == tf.float32
    assert all(value.dtype == tf.float32 for value in g_loss)
    # 0.5 * ((400-1)^2 + 400^2): the squares are beyond float16's range.
    assert float(d_loss) == pytest.approx(0.5 * (399.0**2 + 400.0**2), rel=1e-3)


def test_losses_work_inside_tf_function():
    @tf.function
    def step(real, fake, generated, target):
        return losses.discriminator_loss(real, fake), losses.generator_loss(fake, generated, target)

    d_loss, g_loss = step(tf.zeros((1, 3)), tf.zeros((1, 3)), tf.ones((1, 2)), tf.ones((1, 2)))
    assert float(d_loss) == pytest.approx(math.log(2.0), rel=1e-6)
    assert float(g_loss.l1) == 0.0


# ------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["wgan", "LSGAN", None, ""])
def test_unknown_gan_mode_is_refused_with_the_allowed_values(bad):
    with pytest.raises(ValueError, match="vanilla.*lsgan") as error:
        losses.discriminator_loss(tf.zeros(1), tf.zeros(1), gan_mode=bad)
    assert repr(bad) in str(error.value)
    with pytest.raises(ValueError, match="gan_mode"):
        losses.generator_loss(tf.zeros(1), tf.zeros(1), tf.zeros(1), gan_mode=bad)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "100", True])
def test_bad_l1_weight_is_refused(bad):
    with pytest.raises(ValueError, match="l1_weight"):
        losses.generator_loss(tf.zeros(1), tf.zeros(1), tf.zeros(1), l1_weight=bad)


def test_l1_weight_accepts_numpy_numbers():
    result = losses.generator_loss(tf.zeros(1), tf.ones(1), tf.zeros(1), l1_weight=np.float32(2.0))
    assert float(result.total) == pytest.approx(math.log(2.0) + 2.0, rel=1e-6)


def test_mismatched_image_shapes_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        losses.l1_loss(tf.zeros((1, 4, 4, 3)), tf.zeros((1, 4, 4, 1)))
