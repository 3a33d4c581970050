"""The classic Keras pix2pix recipe, ported to Keras 3 as-is: a museum piece to learn from.

Before custom `train_step`s were common, Keras GANs (the Keras-2-era blog posts and tutorials
that many pix2pix ports still copy) were trained with three `train_on_batch` calls per step:

    fake = generator.predict(source)                           # 1. G makes fakes
    discriminator.train_on_batch([source, target], ones)       # 2. D learns real -> 1
    discriminator.train_on_batch([source, fake], zeros)        #    ... and fake -> 0
    combined.train_on_batch(source, [ones, target])            # 3. G learns through a frozen D

where `combined` is the model source -> [D(source, G(source)), G(source)] compiled with the
losses [BCE, MAE] weighted [1, lambda], and D is "frozen" inside it so that G's update does not
also change D. In Keras 2 the recipe reads

    discriminator.compile(...)             # D's training function captured D's weights HERE
    discriminator.trainable = False        # ... so freezing afterwards only affected `combined`
    combined = Model(...); combined.compile(...)

Keras 3 reads the trainable flags later, when a model's train function is first built (its first
`train_on_batch`). By then D is frozen, so D's own `train_on_batch` gets no trainable weights:
D's convolutions never move (nor its BatchNorm statistics: a frozen BatchNorm runs in inference
mode), the loss it reports stays at log 2 / 2, the step looks "faster" because part of the work
is gone (the README's "Speed" has the numbers), and the only hint is one `UserWarning` ("The
model does not have any trainable weights") that training logs easily bury.
`classic_models(freeze_after_compile=True)` builds exactly that naive port;
`tests/test_classic.py` proves D's kernels stay unchanged.

The working variant (`freeze_after_compile=False`) sets the flag right before each model trains:
`discriminator.trainable = True` before D's `train_on_batch`, `False` before the combined
model's. Each train function is traced (built) on its first call, and a retrace (e.g. for a new
batch shape) happens at the same call site with the same flag, so each gets the variables it
should: D's own step updates D, the combined step updates G only (both tested). (Building D's
train function by one `train_on_batch` while D is still trainable and freezing it afterwards
works too, at the cost of one extra step; the toggle is what many Keras 2 tutorials already
wrote, and stays right if a function is ever rebuilt.) Two more
Keras 3 traps of the recipe are kept here to be shown, not fixed:

* `generator.predict(...)` runs G with training=False: dropout off and BatchNorm on moving
  statistics, even where a layer was called with `training=True` inside a functional model
  (the model-level flag wins in Keras 3). So D learns from fakes of another generator than the
  one the combined model trains, and `predict` adds its overhead to every call (measured by
  `predict_overhead`; the README's "Speed").
* Inside `combined`, the frozen D's BatchNorm runs in inference mode (moving statistics), unlike
  D's own training pass: G's adversarial gradient comes from a differently-normalised D.

The course's trainer (`pix2pix_lib.trainer.Pix2Pix`) has none of this: two gradient tapes, each
optimizer applied to its own network's variables, no trainable flags at all.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from pix2pix_lib.config import TrainConfig
from pix2pix_lib.tf_quiet import keras, tf
from pix2pix_lib.trainer import build_discriminator, build_generator

__all__ = [
    "ClassicGAN",
    "classic_models",
    "classic_train_step",
    "kernel_changes",
    "kernel_snapshot",
    "kernels_changed",
    "predict_overhead",
]

LOSS_NAMES = ("d_real", "d_fake", "g_total", "g_gan", "g_l1")


@dataclass
class ClassicGAN:
    """The three models of the classic recipe and how D is frozen.

    freeze_after_compile=True is the naive Keras 3 port (D never trains). `warnings` collects,
    once each, the messages Keras emitted during `classic_train_step` (the naive port's only
    symptom), so a notebook can show them instead of letting them scroll past on stderr.
    """

    generator: keras.Model
    discriminator: keras.Model
    combined: keras.Model
    freeze_after_compile: bool
    l1_weight: float
    patch_shape: tuple[int, ...]
    warnings: list[str] = field(default_factory=list)


def _as_config(config_or_sizes) -> TrainConfig:
    """A TrainConfig as is, or a mapping of TrainConfig fields (e.g. {"image_size": 32, ...})."""
    if isinstance(config_or_sizes, TrainConfig):
        return config_or_sizes
    if isinstance(config_or_sizes, Mapping):
        return TrainConfig(**dict(config_or_sizes))
    raise ValueError(
        "config_or_sizes must be a TrainConfig or a dict of its fields, e.g. "
        f"{{'image_size': 32, 'g_filters': 8, 'd_filters': 8}}; got {type(config_or_sizes)}."
    )


def _adam(learning_rate: float, config: TrainConfig) -> keras.optimizers.Optimizer:
    # The Keras 2 recipes wrote Adam(lr=0.0002, beta_1=0.5); Keras 3 refuses `lr`
    # ("Argument(s) not recognized: {'lr': 0.0002}").
    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=config.beta1)


def classic_models(config_or_sizes, freeze_after_compile: bool = True) -> ClassicGAN:
    """Build G, D and the combined model of the classic recipe on the course's architecture.

    `config_or_sizes`: a TrainConfig or a dict of its fields (image_size, g_filters, d_filters,
    receptive_field, l1_weight, gan_weight, ... ; the rest keep TrainConfig's defaults). G and D
    are the course's `unet_generator`/`encoder_decoder_generator` and `patchgan_discriminator`.
    D's loss is BCE on its logits weighted 0.5 (the paper's halved D loss), the combined loss
    gan_weight * BCE + l1_weight * MAE. In both variants D is compiled, then frozen, then the
    combined model is built and compiled, in the recipe's order; they differ in
    `classic_train_step` (see the module docstring).
    """
    config = _as_config(config_or_sizes)
    generator = build_generator(config)
    discriminator = build_discriminator(config)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)  # our D returns logits
    discriminator.compile(
        optimizer=_adam(config.d_learning_rate, config), loss=bce, loss_weights=0.5
    )
    discriminator.trainable = False  # the recipe's freeze, AFTER compiling D
    source = keras.Input(shape=generator.input_shape[1:], name="source")
    generated = generator(source)
    judgement = discriminator([source, generated])
    combined = keras.Model(source, [judgement, generated], name="combined")
    combined.compile(
        optimizer=_adam(config.g_learning_rate, config),
        loss=[bce, "mae"],
        loss_weights=[config.gan_weight, config.l1_weight],
    )
    return ClassicGAN(
        generator=generator,
        discriminator=discriminator,
        combined=combined,
        freeze_after_compile=bool(freeze_after_compile),
        l1_weight=float(config.l1_weight),
        patch_shape=tuple(discriminator.output_shape[1:]),
    )


def _record(gan: ClassicGAN, caught) -> None:
    for item in caught:
        message = f"{item.category.__name__}: {item.message}"
        if message not in gan.warnings:
            gan.warnings.append(message)


def classic_train_step(gan: ClassicGAN, source, target) -> dict[str, float]:
    """One step of the classic recipe; returns its LOSS_NAMES: d_real, d_fake, g_total, g_gan,
    g_l1.

    source, target: float32 batches in [-1, 1] (numpy or tensors). d_real / d_fake are D's
    halved BCE on each call (log 2 / 2 = 0.347 for a D that cannot tell), g_gan and g_l1 the
    combined model's unweighted terms, g_total = gan_weight * g_gan + l1_weight * g_l1. Keras
    warnings are collected into `gan.warnings` instead of being printed.
    """
    source = np.asarray(source, dtype=np.float32)
    target = np.asarray(target, dtype=np.float32)
    batch = source.shape[0]
    real = np.ones((batch, *gan.patch_shape), np.float32)
    fake_labels = np.zeros_like(real)
    discriminator = gan.discriminator
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fake = gan.generator.predict(source, verbose=0)
        if not gan.freeze_after_compile:
            discriminator.trainable = True  # the flag D's train function is built with
        d_real = discriminator.train_on_batch([source, target], real)
        d_fake = discriminator.train_on_batch([source, fake], fake_labels)
        if not gan.freeze_after_compile:
            discriminator.trainable = False  # ... and the combined model's
        logs = gan.combined.train_on_batch(source, [real, target], return_dict=True)
    _record(gan, caught)
    gan_name, l1_name = (f"{name}_loss" for name in gan.combined.output_names)
    values = (d_real, d_fake, logs["loss"], logs[gan_name], logs[l1_name])
    return {name: float(value) for name, value in zip(LOSS_NAMES, values, strict=True)}


# --------------------------------------------------------------------------------------------
# Checking and timing
# --------------------------------------------------------------------------------------------


def kernel_snapshot(model: keras.Model) -> dict[str, np.ndarray]:
    """Copies of every convolution kernel of `model`, by variable path ("block1/conv/kernel")."""
    return {v.path: np.array(v.numpy()) for v in model.weights if v.path.endswith("kernel")}


def kernel_changes(before: dict[str, np.ndarray], model: keras.Model) -> dict[str, float]:
    """For each kernel in `before` (a `kernel_snapshot`): |now - before| / |before| (L2 norms)."""
    now = {v.path: v.numpy() for v in model.weights}
    return {path: float(np.linalg.norm(now[path] - value) / max(np.linalg.norm(value), 1e-12))
            for path, value in before.items()}


def kernels_changed(before: dict[str, np.ndarray], model: keras.Model) -> dict[str, bool]:
    """For each kernel in `before` (a `kernel_snapshot`), whether `model` now holds other values."""
    now = {v.path: v for v in model.weights}
    return {path: not np.array_equal(value, now[path].numpy()) for path, value in before.items()}


def predict_overhead(model: keras.Model, x, calls: int = 10) -> dict[str, float]:
    """Median ms per call of model.predict(x) vs a compiled call tf.function(model)(x).

    Both run the model with training=False on the same batch; the difference is `predict`'s
    overhead (it builds a tf.data pipeline and an iterator on every call), paid once per step
    by the classic recipe.
    """
    x = np.asarray(x, dtype=np.float32)
    compiled = tf.function(lambda inputs: model(inputs, training=False))

    def median_ms(function) -> float:
        function()  # trace / warm up
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        return 1000.0 * statistics.median(times)

    predict_ms = median_ms(lambda: model.predict(x, verbose=0))
    compiled_ms = median_ms(lambda: compiled(tf.constant(x)).numpy())
    return {"predict_ms": predict_ms, "compiled_ms": compiled_ms,
            "overhead_ms": predict_ms - compiled_ms}
