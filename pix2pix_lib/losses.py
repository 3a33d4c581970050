"""The pix2pix objective (paper section 3.1, equation 4): G* = arg min_G max_D L_cGAN + lambda L_L1.

* `discriminator_loss`: the cGAN loss on D, halved as in the paper (section 3.3: "to slow down
  the rate at which D learns relative to G"). Under Adam, which divides each step by the
  gradient's own running size, the halving barely changes D's updates; a lower
  `d_learning_rate` is what slows D (notebook 05 measures both).
* `generator_loss`: the non-saturating GAN loss on G (maximise log D(x, G(x)), as the paper
  recommends after Goodfellow et al.) plus lambda = 100 times the L1 distance to the target, which
  keeps the output close to the ground truth at low frequencies while the PatchGAN handles the
  high ones (section 3.2.2). Its `total` is what G minimises, everywhere in the course (the
  trainer, the benchmark): gan_weight x GAN + l1_weight x L1.
* gan_mode "lsgan": the least-squares variant offered by the reference code (MSE to 1 / 0 on D's
  raw output), which does not saturate when D gets confident.

All losses work from D's raw logits (D has no sigmoid), cast every input to float32 first, and are
means over all elements of the batch. So they are numerically stable (no log(sigmoid) of a
saturated logit), correct under a mixed_float16/mixed_bfloat16 policy (no float16 overflow of a
squared logit, no float16 rounding of the mean), and a distribution strategy can rescale them by
1 / replicas later.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

from pix2pix_lib.config import GAN_MODES
from pix2pix_lib.tf_quiet import tf

__all__ = [
    "GAN_MODES",
    "GeneratorLoss",
    "discriminator_loss",
    "generator_loss",
    "l1_loss",
]


class GeneratorLoss(NamedTuple):
    """The generator's total loss and its parts, so each can be logged (all float32 scalars)."""

    total: tf.Tensor
    gan: tf.Tensor
    l1: tf.Tensor


def _check_gan_mode(gan_mode) -> str:
    if gan_mode not in GAN_MODES:
        raise ValueError(f"gan_mode must be one of {GAN_MODES}; got {gan_mode!r}")
    return gan_mode


def _float32(value) -> tf.Tensor:
    """Cast to float32 before any arithmetic: float16 logits or images would overflow or round."""
    return tf.cast(tf.convert_to_tensor(value), tf.float32)


def _gan_term(logits: tf.Tensor, real: bool, gan_mode: str) -> tf.Tensor:
    """Mean loss for `logits` judged as real (label 1) or fake (label 0).

    vanilla: binary cross-entropy from logits. tf.nn.sigmoid_cross_entropy_with_logits computes
    max(x, 0) - x*z + log(1 + exp(-|x|)), which stays finite for any finite logit, where
    -log(sigmoid(x)) would give inf once sigmoid(x) rounds to 0. lsgan: mean((x - z)^2).
    """
    labels = tf.ones_like(logits) if real else tf.zeros_like(logits)
    if gan_mode == "vanilla":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
    return tf.reduce_mean(tf.square(logits - labels))


def discriminator_loss(real_logits, fake_logits, gan_mode: str = "vanilla") -> tf.Tensor:
    """0.5 * (loss(D(x, y), real) + loss(D(x, G(x)), fake)), a float32 scalar.

    The factor 0.5 is the paper's (section 3.3); the logged value then reads as the paper's.
    It slows D under plain SGD, not under Adam (see the module docstring).
    """
    gan_mode = _check_gan_mode(gan_mode)
    real = _gan_term(_float32(real_logits), True, gan_mode)
    fake = _gan_term(_float32(fake_logits), False, gan_mode)
    return 0.5 * real + 0.5 * fake  # halve each term first: no overflow even near float32 max


def l1_loss(generated, target) -> tf.Tensor:
    """Mean absolute error between the generated and the target images, a float32 scalar.

    L1 rather than L2 because it blurs less (paper section 3.1).
    """
    generated = _float32(generated)
    target = _float32(target)
    if not generated.shape.is_compatible_with(target.shape):
        raise ValueError(
            f"generated and target must have the same shape; got {generated.shape} and "
            f"{target.shape}"
        )
    return tf.reduce_mean(tf.abs(target - generated))


def _check_weight(name: str, weight) -> float:
    is_number = isinstance(weight, numbers.Real) and not isinstance(weight, bool)
    if not is_number or not weight >= 0:  # `not >=` also refuses NaN
        raise ValueError(f"{name} must be a number >= 0; got {weight!r}")
    return float(weight)


def generator_loss(
    fake_logits,
    generated,
    target,
    l1_weight: float = 100.0,
    gan_mode: str = "vanilla",
    gan_weight: float = 1.0,
) -> GeneratorLoss:
    """GeneratorLoss(total = gan_weight * gan + l1_weight * l1, gan, l1), all float32 scalars.

    gan is the non-saturating loss of D's logits on the generated pair judged as real (vanilla:
    -log D(x, G(x)); lsgan: mean((D(x, G(x)) - 1)^2)); l1 is `l1_loss`, unweighted, so logs show
    it in image units; l1_weight is the paper's lambda = 100 (0 gives the "cGAN alone" row of
    table 1) and gan_weight the adversarial term's weight (0 gives the "L1 alone" row).
    """
    gan_mode = _check_gan_mode(gan_mode)
    l1_weight = _check_weight("l1_weight", l1_weight)
    gan_weight = _check_weight("gan_weight", gan_weight)
    gan = _gan_term(_float32(fake_logits), True, gan_mode)
    l1 = l1_loss(generated, target)
    return GeneratorLoss(total=gan_weight * gan + l1_weight * l1, gan=gan, l1=l1)
