"""The library's version of every exercise, in the exercise's own signature.

Each function here is what a learner's piece must equal: the graded checks compare against
it, and a learner who is stuck at one exercise can carry on with it, e.g. in notebook 02::

    from pix2pix_lib.checks import reference
    ck = reference.ck  # the library's encoder block, so the U-Net exercise can go on

They are thin adapters over the library (`data`, `models`, `losses`, `trainer`), never a
second implementation: a change there changes what the exercises are checked against.
"""

from __future__ import annotations

from pix2pix_lib import data, losses, models
from pix2pix_lib.config import TrainConfig
from pix2pix_lib.tf_quiet import keras

__all__ = [
    "build_unet",
    "cdk",
    "ck",
    "discriminator_loss",
    "generator_loss",
    "make_optimizers",
    "patchgan_70",
    "random_jitter",
    "receptive_field_of",
    "split_pair",
    "to_float",
    "train_by_hand",
    "train_step",
]

# ---------------------------------------------------------------------------------------------
# 01 · the input pipeline
# ---------------------------------------------------------------------------------------------


def split_pair(pair, direction="AtoB"):
    """(source, target) halves of a side-by-side pair (H, 2H, C): AtoB's source is the left."""
    return data.split_pair(pair, direction)


def to_float(image):
    """uint8 0..255 -> float32 -1..1."""
    return data.to_float(image)


def random_jitter(source, target, image_size, seed):
    """The paper's jitter: enlarge to jitter_size(image_size), the same random crop of
    image_size and the same random mirror on both images; the result depends on `seed` only."""
    return data.random_jitter(source, target, image_size, seed=[int(seed), 0])


# ---------------------------------------------------------------------------------------------
# 02 · the generator
# ---------------------------------------------------------------------------------------------


def ck(k, norm=True, name=None):
    """The encoder block Ck: 4x4 conv (stride 2, no bias, N(0, 0.02)), BatchNorm, LeakyReLU(0.2);
    norm=False leaves the BatchNorm out (the U-Net's first and innermost blocks)."""
    return models.downsample(k, norm="batch" if norm else "none", use_bias=False, name=name)


def cdk(k, dropout=False, name=None):
    """The decoder block CDk: 4x4 transposed conv (stride 2, no bias, N(0, 0.02)), BatchNorm,
    Dropout(0.5) when `dropout`, ReLU."""
    return models.upsample(k, dropout=0.5 if dropout else 0.0, name=name)


def build_unet(image_size, base_filters=64, max_filters=512):
    """The U-Net generator for image_size x image_size x 3 images."""
    return models.unet_generator(image_size, base_filters=base_filters, max_filters=max_filters)


# ---------------------------------------------------------------------------------------------
# 03 · the discriminator
# ---------------------------------------------------------------------------------------------


def patchgan_70(image_size, filters=64):
    """The 70x70 PatchGAN, called as D([source, target]) -> one logit per patch."""
    return models.patchgan_discriminator(70, image_size=image_size, base_filters=filters)


def receptive_field_of(layers):
    """The receptive field of a chain of (kernel, stride) convolutions, first layer first."""
    chain = keras.Sequential([keras.layers.Conv2D(1, kernel, strides=stride)
                              for kernel, stride in layers])
    return models.receptive_field(chain)


# ---------------------------------------------------------------------------------------------
# 04 · the objective
# ---------------------------------------------------------------------------------------------


def discriminator_loss(real_logits, fake_logits):
    """D's loss from logits: BCE of real pairs against 1 and generated pairs against 0, halved."""
    return losses.discriminator_loss(real_logits, fake_logits)


def generator_loss(fake_logits, generated, target, l1_weight=100.0):
    """(total, gan, l1): G's non-saturating adversarial loss plus l1_weight x the L1 distance."""
    parts = losses.generator_loss(fake_logits, generated, target, l1_weight=l1_weight)
    return parts.total, parts.gan, parts.l1


# ---------------------------------------------------------------------------------------------
# 05 · training
# ---------------------------------------------------------------------------------------------


def make_optimizers():
    """(g_optimizer, d_optimizer): two Adams with the paper's settings (section 3.3)."""
    paper = TrainConfig()
    return tuple(keras.optimizers.Adam(learning_rate=rate, beta_1=paper.beta1, beta_2=paper.beta2)
                 for rate in (paper.g_learning_rate, paper.d_learning_rate))


_STEP_MODEL: dict = {"parts": (), "model": None}  # the Pix2Pix train_step built last


def train_step(generator, discriminator, g_optimizer, d_optimizer, source, target,
               l1_weight=100.0):
    """One update of both networks from one forward pass (the library's "simultaneous" order);
    returns {"d_loss", "g_gan", "g_l1"} as float32 scalars.

    The Pix2Pix around the networks is built once for the same networks, optimizers and
    l1_weight, and reused: so the step also runs inside tf.function, which lets a function
    create variables (the model's step counter and loss trackers) on its first trace only.
    """
    from pix2pix_lib.trainer import Pix2Pix

    parts = (generator, discriminator, g_optimizer, d_optimizer, float(l1_weight))
    cached = _STEP_MODEL["parts"]
    same = len(cached) == len(parts) and cached[4] == parts[4] and all(
        mine is theirs for mine, theirs in zip(cached[:4], parts[:4], strict=True))
    if not same:
        model = Pix2Pix(generator, discriminator, l1_weight=l1_weight,
                        update_order="simultaneous")
        model.compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer)
        _STEP_MODEL.update(parts=parts, model=model)
    model = _STEP_MODEL["model"]
    model.reset_metrics()  # the step's own losses, not a running mean over calls
    logs = model.train_step((source, target))
    return {name: logs[name] for name in ("d_loss", "g_gan", "g_l1")}


def train_by_hand(step, dataset, steps):
    """Run `step(source, target)` on the first `steps` batches of `dataset`, in order; return
    one dict of float losses per step."""
    history = []
    for source, target in dataset.take(steps):
        history.append({name: float(value) for name, value in step(source, target).items()})
    return history
