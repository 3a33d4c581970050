"""The pix2pix training step as a `keras.Model`, and the builders that turn a config into one.

`Pix2Pix` holds the generator G and the discriminator D and trains both with plain
`model.fit(dataset)`, so Keras' progress bar, callbacks and History work as for any model
(the keras-io "GAN overriding train_step" pattern). The run folder around it (checkpoints,
samples, history, resume) is `pix2pix_lib.runs`.
"""

from __future__ import annotations

import contextlib

from pix2pix_lib.config import PRECISION_POLICIES, UPDATE_ORDERS, TrainConfig
from pix2pix_lib.generation import call_restoring, generate
from pix2pix_lib.hardware import resolve_for_devices
from pix2pix_lib.losses import discriminator_loss, generator_loss
from pix2pix_lib.models import (
    encoder_decoder_generator,
    patchgan_discriminator,
    unet_generator,
)
from pix2pix_lib.optimizers import FusedAdam
from pix2pix_lib.tf_quiet import keras, tf

METRIC_NAMES = ("d_loss", "g_gan", "g_l1", "g_total")


@keras.saving.register_keras_serializable(package="pix2pix")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant learning rate, then linear decay to zero over the last `decay_fraction` of steps.

    The paper trains maps/facades for 100 epochs at 2e-4 and 100 more decaying linearly to 0
    (the reference code's `--n_epochs 100 --n_epochs_decay 100`); with `decay_fraction=0.5`
    this is the same shape for any total. The schedule reads the optimizer's own step counter,
    which the checkpoints restore, so a resumed run continues on the same curve.
    """

    def __init__(self, initial_learning_rate: float, total_steps: int, decay_fraction: float = 0.5):
        self.initial_learning_rate = float(initial_learning_rate)
        self.total_steps = int(total_steps)
        self.decay_fraction = float(decay_fraction)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        total = tf.cast(self.total_steps, tf.float32)
        decay_start = total * (1.0 - self.decay_fraction)
        remaining = tf.maximum(total - step, 0.0) / tf.maximum(total - decay_start, 1.0)
        return self.initial_learning_rate * tf.minimum(1.0, remaining)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "total_steps": self.total_steps,
            "decay_fraction": self.decay_fraction,
        }


class Pix2Pix(keras.Model):
    """Conditional GAN of Isola et al. (2017): G(source) -> target, D judges (source, target).

    Two update orders (`update_order`), both optimising the same objective:

    * "alternating", the paper's (section 3.3: "we alternate between one gradient descent step
      on D, then one step on G") and its reference code's (`backward_D`, then `backward_G`):
      G makes the fake; D takes its step on (real, fake); then D, already updated, judges the
      fake again and G takes its step on that verdict plus lambda * L1.
    * "simultaneous", the TF tutorial's: G makes the fake, D scores the real and the fake pair
      once, and both gradients come from that one pass. It saves one D forward pass per step;
      G's gradient comes from D before its update instead of after.

    Only G's variables receive G's gradients and only D's variables D's: separate tapes and
    optimizers never share a variable, which avoids the classic Keras recipe's frozen-D trap
    (see notebook 08, section 4, and tests/test_trainer.py).
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        *,
        l1_weight: float = 100.0,
        gan_weight: float = 1.0,
        gan_mode: str = "vanilla",
        update_order: str = "simultaneous",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.l1_weight = float(l1_weight)
        self.gan_weight = float(gan_weight)
        self.gan_mode = gan_mode
        if update_order not in UPDATE_ORDERS:
            raise ValueError(f"update_order={update_order!r} is not one of {UPDATE_ORDERS}.")
        self.update_order = update_order
        self.trackers = {name: keras.metrics.Mean(name=name) for name in METRIC_NAMES}
        # Steps taken, kept in a variable so checkpoints carry it; it also drives the data
        # position on resume. (Optimizer.iterations is not enough: a loss-scaled fp16 optimizer
        # does not count the steps it skips.)
        self.step_counter = tf.Variable(
            0, dtype=tf.int64, trainable=False, name="step_counter",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,  # one count per global step
        )

    # -- Keras plumbing -------------------------------------------------------------------------
    def compile(self, g_optimizer, d_optimizer, **kwargs):
        """Keep both optimizers and build them now (not lazily on the first step).

        Building up front makes their variables exist before any checkpoint is restored into
        them and before `fit` traces the step (lazy building inside a distribution strategy
        fails; see docs/architecture.md).
        """
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        g_optimizer.build(self.generator.trainable_variables)
        d_optimizer.build(self.discriminator.trainable_variables)
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _maybe_symbolic_build(self, *args, **kwargs):
        """Skip Keras' build-by-peeking under a distribution strategy: `compile` built everything.

        Keras 3 builds a model under a strategy by pulling one batch from the training iterator
        (a batch that is then never trained on, which would shift the data position of an
        exactly resumed run) and reducing it, which fails under MultiWorkerMirroredStrategy
        (keras-team/keras#20585; docs/architecture.md). G, D and both optimizers are built in
        `compile`, so there is nothing left to build.
        """
        if self.built and self.g_optimizer.built and self.d_optimizer.built:
            return
        super()._maybe_symbolic_build(*args, **kwargs)

    def call(self, source, training=False):
        return self.generator(source, training=training)

    # -- the pix2pix objective -------------------------------------------------------------------
    def pix2pix_losses(self, source, target, generated, training):
        """Both networks' losses from one pass of D over the real and the generated pair."""
        real_logits = self.discriminator([source, target], training=training)
        fake_logits = self.discriminator([source, generated], training=training)
        d_loss = discriminator_loss(real_logits, fake_logits, gan_mode=self.gan_mode)
        return {"d_loss": d_loss, **self.generator_losses(fake_logits, generated, target)}

    def generator_losses(self, fake_logits, generated, target):
        """G's adversarial and L1 terms, and its total: gan_weight x gan + l1_weight x l1."""
        g = generator_loss(fake_logits, generated, target, l1_weight=self.l1_weight,
                           gan_mode=self.gan_mode, gan_weight=self.gan_weight)
        return {"g_gan": g.gan, "g_l1": g.l1, "g_total": g.total}

    def _update_trackers(self, values):
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3 cannot reduce 0-d logs across workers ("Invalid reduction dimension 0");
            # shape (1,) reduces fine (docs/architecture.md).
            results = {name: tf.reshape(value, (1,)) for name, value in results.items()}
        return results

    def train_step(self, data):
        source, target = data
        if self.update_order == "alternating":
            values = self._alternating_step(source, target)
        else:
            values = self._simultaneous_step(source, target)
        self.step_counter.assign_add(1)
        return self._update_trackers(values)

    def _simultaneous_step(self, source, target):
        """One forward pass; G's and D's gradients both come from it."""
        # Keras sums gradients over replicas, so each replica's mean loss is divided by their
        # number: the update then equals a single device's on the whole batch.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            generated = self.generator(source, training=True)
            values = self.pix2pix_losses(source, target, generated, training=True)
            g_loss = _scaled(self.g_optimizer, values["g_total"] / replicas)
            d_loss = _scaled(self.d_optimizer, values["d_loss"] / replicas)
        _apply(self.g_optimizer, g_tape, g_loss, self.generator)
        _apply(self.d_optimizer, d_tape, d_loss, self.discriminator)
        return values

    def _alternating_step(self, source, target):
        """D's step on (real, fake), then G's step judged by the updated D (the paper's order)."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as g_tape:
            generated = self.generator(source, training=True)
            with g_tape.stop_recording():  # D's step is no part of G's gradient
                with tf.GradientTape() as d_tape:
                    real_logits = self.discriminator([source, target], training=True)
                    fake_logits = self.discriminator([source, generated], training=True)
                    d_loss = discriminator_loss(real_logits, fake_logits, gan_mode=self.gan_mode)
                    scaled = _scaled(self.d_optimizer, d_loss / replicas)
                _apply(self.d_optimizer, d_tape, scaled, self.discriminator)
            fake_logits = self.discriminator([source, generated], training=True)
            values = {"d_loss": d_loss, **self.generator_losses(fake_logits, generated, target)}
            g_loss = _scaled(self.g_optimizer, values["g_total"] / replicas)
        _apply(self.g_optimizer, g_tape, g_loss, self.generator)
        return values

    def test_step(self, data):
        """The same losses on held-out pairs; G runs in the course's inference mode, no update."""
        source, target = data
        generated = self.generate_preserving_rng(source)
        values = self.pix2pix_losses(source, target, generated, training=False)
        return self._update_trackers(values)

    def generate_preserving_rng(self, source):
        """G's output in the course's inference mode, leaving G's dropout RNG where it was.

        Validation and sample grids draw dropout masks too (paper-mode inference); if they
        advanced the training RNG, a run resumed from a checkpoint taken just before them would
        draw different training masks than the uninterrupted run. Works eagerly and traced.
        """
        return call_restoring(rng_variables(self.generator), generate, self.generator, source,
                              paper_mode=True)


def rng_variables(model: keras.Model) -> list:
    """The random-number states a model carries (dropout seeds): variables that are not weights."""
    weight_ids = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weight_ids]


def _apply(optimizer, tape, loss, network: keras.Model) -> None:
    """One optimizer step on `network`'s trainable variables from `tape`'s gradient of `loss`."""
    variables = network.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))


def _scaled(optimizer, loss):
    """Scale the loss for a LossScaleOptimizer (fp16); forgetting it shrinks every update."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.scale_loss(loss)
    return loss


@contextlib.contextmanager
def precision_policy(precision: str):
    """Build layers under fp32 / mixed bf16 / mixed fp16, restoring the global policy after.

    Keras reads the dtype policy when a layer is created, so only the model construction needs
    it; restoring keeps a notebook's later cells (and other tests) in float32.
    """
    if precision not in PRECISION_POLICIES:
        raise ValueError(
            f"precision={precision!r} is not one of {', '.join(PRECISION_POLICIES)}."
        )
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISION_POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_generator(config: TrainConfig, synchronized_batchnorm: bool = False) -> keras.Model:
    """The generator the config asks for: U-Net (paper) or plain encoder-decoder (ablation)."""
    builder = unet_generator if config.generator == "unet" else encoder_decoder_generator
    return builder(
        synchronized_batchnorm=synchronized_batchnorm,
        image_size=config.image_size,
        in_channels=config.channels,
        out_channels=config.channels,
        base_filters=config.g_filters,
        max_filters=config.generator_max_filters,
        norm=config.norm,
        dropout=config.dropout,
    )


def build_discriminator(config: TrainConfig, synchronized_batchnorm: bool = False) -> keras.Model:
    return patchgan_discriminator(
        synchronized_batchnorm=synchronized_batchnorm,
        receptive_field=config.receptive_field,
        image_size=config.image_size,
        in_channels=config.channels,
        out_channels=config.channels,
        base_filters=config.d_filters,
        norm=config.norm,
        conditional=config.conditional,
    )


def build_optimizer(learning_rate: float, config: TrainConfig, total_steps: int,
                    precision: str = "fp32"):
    """Adam(lr, beta1=0.5) as in the paper, optionally on the linear-decay schedule.

    `FusedAdam` is Keras' Adam, update for update, with TensorFlow's one-pass kernel per
    variable (pix2pix_lib.optimizers; what it saves is in the README's "Speed")."""
    if config.lr_schedule == "linear_decay":
        learning_rate = LinearDecay(learning_rate, total_steps, config.lr_decay_fraction)
    optimizer = FusedAdam(
        learning_rate=learning_rate, beta_1=config.beta1, beta_2=config.beta2
    )
    if precision == "fp16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def build_pix2pix(
    config: TrainConfig,
    total_steps: int,
    *,
    precision: str | None = None,
    jit_compile: bool | None = None,
    replicas: int = 1,
) -> Pix2Pix:
    """G, D and both optimizers for `config`, compiled and ready for `fit`.

    precision / jit_compile: the resolved choices; by default the config's own, with "auto"
    resolved for this machine's devices exactly as `runs.train` resolves it
    (`hardware.resolve_for_devices`: mixed fp16 and XLA on a GPU; on a CPU no XLA, and mixed
    bf16 where it has bf16 instructions, float32 elsewhere). Call inside `strategy.scope()` to
    train on several replicas; `replicas` > 1 switches BatchNorm to synchronized statistics,
    without which each replica's moving statistics drift apart.
    """
    if precision is None or jit_compile is None:
        resolved = resolve_for_devices(config.precision, config.jit_compile)
        precision = precision or resolved[0]
        jit_compile = resolved[1] if jit_compile is None else jit_compile
    sync = replicas > 1
    with precision_policy(precision):
        model = Pix2Pix(
            build_generator(config, sync),
            build_discriminator(config, sync),
            l1_weight=config.l1_weight,
            gan_weight=config.gan_weight,
            gan_mode=config.gan_mode,
            update_order=config.update_order,
        )
    model.compile(
        g_optimizer=build_optimizer(config.g_learning_rate, config, total_steps, precision),
        d_optimizer=build_optimizer(config.d_learning_rate, config, total_steps, precision),
        jit_compile=jit_compile,
    )
    return model


def current_learning_rates(model: Pix2Pix) -> dict[str, float]:
    """The learning rates G and D would use for their next step (for logs and resume checks)."""
    rates = {}
    for name, optimizer in (("g_lr", model.g_optimizer), ("d_lr", model.d_optimizer)):
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        rate = inner.learning_rate
        value = rate(inner.iterations) if callable(rate) else rate
        rates[name] = float(tf.convert_to_tensor(value).numpy())
    return rates
