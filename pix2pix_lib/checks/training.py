"""Checks for 05 · training: the two optimizers, the two-tape step, the loop.

* `optimizers(make_optimizers)`: two distinct Adams with the paper's settings (section 3.3).
  Read from the optimizers themselves: a one-step comparison cannot see beta_1 (Adam's first
  step is the same for any beta_1) and barely sees a loss's scale (Adam divides each step by
  the gradient's own size).
* `train_step(train_step)`: the learner's step and the library's (`reference.train_step`, the
  "simultaneous" order) from the same small networks (32 px, 8 filters, float32, on the CPU),
  the same weights and the same dropout random state, each with two plain SGD optimizers. With
  SGD a weight's change is the learning rate times its gradient, so a loss's scale shows in
  full: D's loss not halved moves D twice as far, G's loss halved moves G half as far. Each
  network's change is compared with a relative tolerance with room, then the returned losses,
  then BatchNorm's moving statistics. Known causes are named: G run with training=False, D
  updated before G's loss (the paper's alternating order, compared with the library's
  alternating step), l1_weight ignored, a network not updated, swapped labels, one optimizer
  for both networks.
* `training_loop(train_by_hand)`: a fake step that records what it is given, on a small
  numbered dataset: exactly `steps` calls, the batches in order, one row of floats per step.
"""

from __future__ import annotations

import numbers

import numpy as np

from pix2pix_lib.checks import reference
from pix2pix_lib.checks.core import CheckFailed, call_learner, passed
from pix2pix_lib.checks.mistakes import Mistake

__all__ = ["MISTAKES", "optimizers", "train_step", "training_loop"]

LOSS_NAMES = ("d_loss", "g_gan", "g_l1")

# ---------------------------------------------------------------------------------------------
# 05 · the two optimizers
# ---------------------------------------------------------------------------------------------

OPTIMIZERS = "make_optimizers"


def _number(value) -> float:
    return float(np.asarray(value))


def optimizers(make_optimizers) -> None:
    """Two distinct Adams with learning rate 2e-4, beta_1 0.5, beta_2 0.999 (paper 3.3)."""
    from pix2pix_lib.tf_quiet import keras

    made = call_learner(OPTIMIZERS, make_optimizers)
    if not isinstance(made, (tuple, list)) or len(made) != 2:
        raise CheckFailed(OPTIMIZERS, f"expected a pair (g_optimizer, d_optimizer), got "
                                      f"{type(made).__name__}"
                                      + (f" of length {len(made)}" if hasattr(made, "__len__")
                                         else ""))
    if made[0] is made[1]:
        raise CheckFailed(OPTIMIZERS, "g_optimizer and d_optimizer are the same object: each "
                                      "network needs its own Adam (Adam keeps running means per "
                                      "weight, and a Keras optimizer serves one set of weights)")
    expected = reference.make_optimizers()
    for name, mine, library in zip(("g_optimizer", "d_optimizer"), made, expected, strict=True):
        if not isinstance(mine, keras.optimizers.Adam):
            raise CheckFailed(OPTIMIZERS, f"{name} is {type(mine).__name__}, expected "
                                          "keras.optimizers.Adam (paper section 3.3)")
        rate, paper_rate = _number(mine.learning_rate), _number(library.learning_rate)
        if not np.isclose(rate, paper_rate, rtol=1e-4, atol=0):
            hint = " (Keras' default)" if np.isclose(rate, 1e-3) else ""
            raise CheckFailed(OPTIMIZERS, f"{name}'s learning rate is {rate:g}{hint}, the "
                                          f"paper's is {paper_rate:g}: "
                                          "Adam(learning_rate=2e-4, beta_1=0.5)")
        for setting, keras_default in (("beta_1", 0.9), ("beta_2", 0.999)):
            value, paper = _number(getattr(mine, setting)), _number(getattr(library, setting))
            if not np.isclose(value, paper, rtol=1e-6, atol=0):
                hint = " (Keras' default)" if np.isclose(value, keras_default) else ""
                raise CheckFailed(
                    OPTIMIZERS,
                    f"{name}'s {setting} is {value:g}{hint}, the paper's is {paper:g} (section "
                    "3.3: beta1 = 0.5, beta2 = 0.999). A one-step comparison of the updates "
                    "cannot see it (Adam's first step is the same for any beta_1), so it is "
                    "read here from the optimizer itself")
        extras = {"amsgrad": bool(mine.amsgrad), "weight_decay": mine.weight_decay,
                  "clipnorm": mine.clipnorm, "clipvalue": mine.clipvalue,
                  "global_clipnorm": mine.global_clipnorm}
        extras = {key: value for key, value in extras.items() if value}
        if extras:
            setting, value = next(iter(extras.items()))
            raise CheckFailed(OPTIMIZERS, f"{name} sets {setting}={value}, which the paper's "
                                          "Adam does not use: leave it out")
    passed(OPTIMIZERS, "two separate Adams, learning rate 2e-4, beta_1 0.5, beta_2 0.999")


# ---------------------------------------------------------------------------------------------
# 05 · the training step
# ---------------------------------------------------------------------------------------------

STEP = "train_step"
CHECK_SIZE, CHECK_FILTERS, CHECK_BATCH = 32, 8, 2
L1_WEIGHT = 10.0  # not the default 100: a step that ignores l1_weight shows
G_RATE, D_RATE = 1.0, 0.3  # plain SGD: a weight's change is -rate x its gradient
RELATIVE = 1e-3  # allowed |yours - library| / |library| of a network's whole change
LOSS_RTOL = 1e-4


class _Setup:
    """Small fixed networks and a batch, and everything needed to put them back to the start."""

    def __init__(self):
        from pix2pix_lib import trainer
        from pix2pix_lib.config import TrainConfig
        from pix2pix_lib.tf_quiet import keras, tf

        config = TrainConfig(image_size=CHECK_SIZE, g_filters=CHECK_FILTERS,
                             d_filters=CHECK_FILTERS, precision="fp32")
        keras.utils.set_random_seed(0)
        with trainer.precision_policy("fp32"):
            self.generator = trainer.build_generator(config)
            self.discriminator = trainer.build_discriminator(config)
        shape = [CHECK_BATCH, CHECK_SIZE, CHECK_SIZE, 3]
        self.source = tf.random.stateless_uniform(shape, [1, 2], -1.0, 1.0)
        self.target = tf.random.stateless_uniform(shape, [3, 4], -1.0, 1.0)
        self.nets = {"G": self.generator, "D": self.discriminator}
        self.rng = trainer.rng_variables(self.generator)  # dropout's random state
        self.start_weights = {name: net.get_weights() for name, net in self.nets.items()}
        self.start_rng = [v.numpy() for v in self.rng]
        self.start = {name: self.trainable(name) for name in self.nets}

    def restore(self):
        for name, net in self.nets.items():
            net.set_weights(self.start_weights[name])
        for variable, value in zip(self.rng, self.start_rng, strict=True):
            variable.assign(value)

    def trainable(self, name):
        return [v.numpy().astype(np.float64) for v in self.nets[name].trainable_variables]

    def moving(self, name):  # BatchNorm's moving statistics
        return [v.numpy().astype(np.float64) for v in self.nets[name].non_trainable_variables
                if v.dtype != "int64" and "seed" not in v.path]

    def optimizers(self):
        from pix2pix_lib.tf_quiet import keras

        return keras.optimizers.SGD(learning_rate=G_RATE), keras.optimizers.SGD(D_RATE)

    def run(self, step, l1_weight=L1_WEIGHT):
        """Put everything back to the start, take one step; what it left and returned."""
        self.restore()
        g_optimizer, d_optimizer = self.optimizers()
        losses = step(self.generator, self.discriminator, g_optimizer, d_optimizer,
                      self.source, self.target, l1_weight=l1_weight)
        return _Result(self, losses)

    def run_library(self, order="simultaneous", l1_weight=L1_WEIGHT):
        if order == "simultaneous":
            return self.run(reference.train_step, l1_weight)
        from pix2pix_lib.trainer import Pix2Pix

        def alternating(generator, discriminator, g_optimizer, d_optimizer, source, target,
                        l1_weight):
            model = Pix2Pix(generator, discriminator, l1_weight=l1_weight, update_order=order)
            model.compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer)
            return model.train_step((source, target))

        return self.run(alternating, l1_weight)


class _Result:
    """What one step left: each network's change, its moving statistics, dropout's state."""

    def __init__(self, setup: _Setup, losses):
        self.losses = losses
        self.change = {name: [after - before for after, before
                              in zip(setup.trainable(name), setup.start[name], strict=True)]
                       for name in setup.nets}
        self.moving = {name: setup.moving(name) for name in setup.nets}
        self.rng_draws = [int(v.numpy()[1] - start[1])
                          for v, start in zip(setup.rng, setup.start_rng, strict=True)]
        self.paths = {name: [v.path for v in net.trainable_variables]
                      for name, net in setup.nets.items()}


def _flat(arrays) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in arrays])


def _relative(yours, library) -> float:
    return float(np.linalg.norm(yours - library) / np.linalg.norm(library))


def _same_change(yours: _Result, library: _Result, name: str) -> bool:
    return _relative(_flat(yours.change[name]), _flat(library.change[name])) <= RELATIVE


def _scale_of(yours, library):
    """(ratio, parallel): yours = ratio x library up to the tolerance?"""
    ratio = float(yours @ library / (library @ library))
    parallel = ratio != 0 and np.linalg.norm(yours - ratio * library) <= (
        RELATIVE * abs(ratio) * np.linalg.norm(library))
    return ratio, parallel


def _compare_network(name: str, yours: _Result, library: _Result, diagnose) -> None:
    """Fail at the first way `name`'s change in `yours` differs from the library's."""
    network, rate = name, {"G": G_RATE, "D": D_RATE}[name]
    mine, theirs = _flat(yours.change[name]), _flat(library.change[name])
    size = np.linalg.norm(theirs)
    numbers_ = (f"(size of the change: yours {np.linalg.norm(mine):.4g}, the library's "
                f"{size:.4g})")
    if not np.any(mine):
        own = "g" if name == "G" else "d"
        raise CheckFailed(STEP, f"{network}'s weights did not change at all: apply "
                                f"{own}_optimizer to the gradient of {network}'s loss with "
                                f"respect to {'generator' if name == 'G' else 'discriminator'}"
                                ".trainable_variables")
    gap = _relative(mine, theirs)
    if gap <= RELATIVE:
        for path, one, other in zip(yours.paths[name], yours.change[name],
                                    library.change[name], strict=True):
            if not np.any(one) and np.any(other):
                raise CheckFailed(STEP, f"{network}'s weight {path} did not change; the "
                                        "library's step changes it: apply the optimizer to "
                                        "all of the network's trainable_variables")
        return
    ratio, parallel = _scale_of(mine, theirs)
    sgd = (f"with plain SGD (learning rate {rate:g}) a weight's change is the learning rate "
           "times its gradient, so a loss k times the library's moves the network k times as "
           "far")
    if parallel and np.isclose(ratio, 2.0, rtol=0.01) and name == "D":
        raise CheckFailed(STEP, f"D's change is 2.00x the library's: {sgd}: your D loss is "
                                "twice the library's. Halve it: 0.5 * (BCE of the real pairs "
                                "against 1 + BCE of the generated pairs against 0), paper "
                                f"section 3.3 {numbers_}")
    if parallel and np.isclose(ratio, 0.5, rtol=0.01):
        what = ("your G loss is half the library's: only D's loss is halved; G's is "
                "gan + l1_weight * l1" if name == "G"
                else "your D loss is half the library's: halve it once, 0.5 * (real + fake)")
        raise CheckFailed(STEP, f"{network}'s change is 0.50x the library's: {sgd}: {what} "
                                f"{numbers_}")
    if parallel:
        raise CheckFailed(STEP, f"{network}'s change is {ratio:.3g}x the library's: {sgd}: "
                                f"your {network} loss is {ratio:.3g}x the library's "
                                f"{numbers_}")
    cosine = float(mine @ theirs / (np.linalg.norm(mine) * size))
    if cosine < -0.5:
        raise CheckFailed(STEP, f"{network}'s change points against the library's (cosine "
                                f"{cosine:.2f}): {network} learns the opposite of what it "
                                "should. Check the labels: for D real pairs score 1 "
                                "(tf.ones_like) and generated pairs 0 (tf.zeros_like); for "
                                "G's adversarial loss its fakes score 1; and each gradient "
                                "is taken of its own network's loss")
    diagnose(gap, cosine)
    raise CheckFailed(STEP, f"{network}'s change differs from the library's by {gap:.1%} of "
                            f"its size (cosine {cosine:.3f}) {numbers_}. Check that "
                            f"{network}'s gradient is taken of {network}'s own loss, from "
                            "one forward pass: G run once (training=True), D run once on "
                            "(source, target) and once on (source, generated), both "
                            "training=True")


def train_step(train_step) -> None:
    """The learner's step against the library's simultaneous step, network by network."""
    from pix2pix_lib.tf_quiet import tf

    with tf.device("/CPU:0"):  # exact float32 everywhere (a GPU's TF32 would round products)
        setup = _Setup()
        yours = setup.run(lambda *args, **kwargs: _call_step(train_step, *args, **kwargs))
        library = setup.run_library()

        def diagnose_d(gap, cosine):
            numbers_ = f"(D's change differs by {gap:.1%}, cosine {cosine:.3f})"
            start = _start_moving(setup)
            if all(np.array_equal(a, b) for a, b in zip(yours.moving["D"], start, strict=True)):
                raise CheckFailed(STEP, "D ran in inference mode: its BatchNorm moving "
                                        "statistics did not update. Call "
                                        "discriminator([source, target], training=True) and "
                                        "discriminator([source, generated], training=True) "
                                        + numbers_)
            if not all(np.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b
                       in zip(yours.moving["D"], library.moving["D"], strict=True)):
                raise CheckFailed(STEP, "D's BatchNorm moving statistics moved differently from "
                                        "the library's: run D in training mode "
                                        "(training=True) on the real and on the generated "
                                        "pair, once each, separately " + numbers_)

        def diagnose_g(gap, cosine):
            if _same_change(yours, setup.run_library("alternating"), "G"):
                raise CheckFailed(STEP, "G's change equals the library's *alternating* step "
                                        "(update_order='alternating'): you updated D before "
                                        "computing G's loss, so G learned from the updated D. "
                                        "That is the paper's order (notebook 05 section 4 "
                                        "compares both); this exercise asks for the one-pass "
                                        "order: both gradients from the same forward pass, "
                                        "then both updates "
                                        f"(G's change differs from the one-pass step by "
                                        f"{gap:.1%})")
            if _same_change(yours, setup.run_library(l1_weight=100.0), "G"):
                raise CheckFailed(STEP, f"G's change equals the library's with l1_weight=100 "
                                        f"although the check called your step with "
                                        f"l1_weight={L1_WEIGHT:g}: use the l1_weight argument "
                                        "in G's loss, gan + l1_weight * l1, not a fixed 100")

        _check_returned(yours.losses)
        draws = yours.rng_draws
        if max(draws) == 0:
            raise CheckFailed(STEP, "G ran in inference mode: its dropout random state did not "
                                    "move (no dropout masks were drawn), so dropout was off and "
                                    "BatchNorm used its moving statistics. Call "
                                    "generator(source, training=True)")
        if draws != library.rng_draws:
            raise CheckFailed(STEP, f"G drew dropout masks {max(draws)} times, the library's "
                                    f"step {max(library.rng_draws)} time: run G once per step, "
                                    "training=True, and use that one output for both losses")
        _compare_network("D", yours, library, diagnose_d)
        _compare_network("G", yours, library, diagnose_g)
        for name in LOSS_NAMES:
            mine, theirs = _number(yours.losses[name]), _number(library.losses[name])
            if not np.isclose(mine, theirs, rtol=LOSS_RTOL, atol=1e-6):
                hint = ""
                if name == "d_loss" and np.isclose(mine, 2 * theirs, rtol=1e-3):
                    hint = ": twice the library's, not halved (paper section 3.3)"
                elif name == "g_gan" and np.isclose(mine, _number(library.losses["g_gan"])
                                                    + L1_WEIGHT * _number(library.losses["g_l1"]),
                                                    rtol=1e-3):
                    hint = ": that is G's total loss; report the adversarial term alone"
                raise CheckFailed(STEP, f"the returned {name} is {mine:.6g}, the library's "
                                        f"{theirs:.6g}{hint}")
        for name in ("D", "G"):
            for a, b in zip(yours.moving[name], library.moving[name], strict=True):
                if not np.allclose(a, b, rtol=1e-4, atol=1e-6):
                    raise CheckFailed(STEP, f"{name}'s BatchNorm moving statistics differ from "
                                            "the library's after the step: run G once and D "
                                            "once on each pair per step, all training=True")
    passed(STEP, "one step moves G and D exactly as the library's one-pass step (plain SGD, "
                 "so also the losses' scale), with the same returned losses")


def _call_step(train_step, *args, **kwargs):
    """The learner's step through call_learner; an optimizer handed the other network's
    variables gets a short message (Keras' own prints every value of the variable)."""
    try:
        return call_learner(STEP, train_step, *args, **kwargs)
    except CheckFailed as failure:
        if "originally built with" in str(failure.__cause__):
            raise CheckFailed(STEP, "an optimizer was handed the other network's variables "
                                    "(Keras: \"This optimizer can only be called for the "
                                    "variables it was originally built with\"): apply "
                                    "g_optimizer to generator.trainable_variables and "
                                    "d_optimizer to discriminator.trainable_variables") from None
        raise


def _start_moving(setup: _Setup):
    """BatchNorm's moving statistics of D at the start (from the saved weights)."""
    setup.restore()
    return setup.moving("D")


def _check_returned(losses) -> None:
    if not isinstance(losses, dict):
        raise CheckFailed(STEP, f"expected a dict {{'d_loss', 'g_gan', 'g_l1'}}, got "
                                f"{type(losses).__name__}")
    missing = [name for name in LOSS_NAMES if name not in losses]
    if missing:
        raise CheckFailed(STEP, f"the returned dict has no {', '.join(map(repr, missing))}; "
                                f"expected the keys {', '.join(LOSS_NAMES)}")
    for name in LOSS_NAMES:
        if np.size(losses[name]) != 1:
            raise CheckFailed(STEP, f"the returned {name} has shape {np.shape(losses[name])}: "
                                    "expected a scalar, the mean over the batch")


# ---------------------------------------------------------------------------------------------
# 05 · the loop
# ---------------------------------------------------------------------------------------------

LOOP = "train_by_hand"
LOOP_BATCHES, LOOP_STEPS = 10, 4


def _fake_losses(batch: int) -> dict[str, float]:
    return {"d_loss": 0.5 + batch, "g_gan": 1.25 + batch, "g_l1": 0.125 * (batch + 1)}


def training_loop(train_by_hand) -> None:
    """A recording fake step on a numbered dataset: `steps` calls, in order, floats back."""
    from pix2pix_lib.tf_quiet import tf

    calls = []

    def step(source, target):
        """Records the batch numbers it is given; returns losses made from them."""
        number, other = int(np.asarray(source).flat[0]), int(np.asarray(target).flat[0])
        calls.append((number, other))
        return {name: tf.constant(value, tf.float32)
                for name, value in _fake_losses(number).items()}

    numbers_ = tf.data.Dataset.range(LOOP_BATCHES)
    dataset = numbers_.map(lambda i: (tf.fill([1, 2, 2, 3], tf.cast(i, tf.float32)),
                                      tf.fill([1, 2, 2, 3], tf.cast(100 + i, tf.float32))))
    history = call_learner(LOOP, train_by_hand, step, dataset, LOOP_STEPS)
    sources = [number for number, _ in calls]
    if len(calls) != LOOP_STEPS:
        hint = ""
        if len(calls) == LOOP_STEPS + 1:
            hint = ": one too many (off by one)"
        elif len(calls) == LOOP_STEPS - 1:
            hint = ": one too few (off by one)"
        elif len(calls) == LOOP_BATCHES:
            hint = ": it ran over the whole dataset; stop after `steps` batches"
        raise CheckFailed(LOOP, f"with steps={LOOP_STEPS} on a dataset of {LOOP_BATCHES} "
                                f"batches, your loop called the step {len(calls)} times, "
                                f"expected {LOOP_STEPS}{hint}")
    if all(number >= 100 and other == number - 100 for number, other in calls):
        raise CheckFailed(LOOP, "the step got (target, source) instead of (source, target): "
                                "call step(source, target), in the dataset's order")
    if sources != list(range(LOOP_STEPS)):
        hint = ""
        if len(set(sources)) == 1:
            hint = (": the same batch every time. `next(iter(dataset))` inside the loop makes "
                    "a new iterator at every step, and a new iterator starts at the first "
                    "batch; loop over `dataset.take(steps)` (or make one iterator before the "
                    "loop)")
        raise CheckFailed(LOOP, f"the step got the batches numbered {sources}, expected "
                                f"{list(range(LOOP_STEPS))}{hint}")
    if any(other != 100 + number for number, other in calls):
        raise CheckFailed(LOOP, "the step got (target, source) instead of (source, target): "
                                "call step(source, target), in the dataset's order")
    if not isinstance(history, list):
        raise CheckFailed(LOOP, f"it returned a {type(history).__name__}, expected a list with "
                                "one dict of losses per step (not only the last step's)")
    if len(history) != LOOP_STEPS:
        raise CheckFailed(LOOP, f"it returned {len(history)} rows for {LOOP_STEPS} steps: "
                                "append one dict per step")
    for row_number, (row, batch) in enumerate(zip(history, sources, strict=True)):
        if not isinstance(row, dict) or set(row) != set(LOSS_NAMES):
            raise CheckFailed(LOOP, f"row {row_number} is {row!r}: expected a dict with "
                                    f"the keys {', '.join(LOSS_NAMES)}")
        for name, value in row.items():
            if not isinstance(value, numbers.Real) or isinstance(value, np.ndarray):
                raise CheckFailed(LOOP, f"row {row_number}'s {name} is of type "
                                        f"{type(value).__name__}, not a number: store plain "
                                        "numbers, float(value), so the history holds no "
                                        "tensors")
            if not np.isclose(value, _fake_losses(batch)[name]):
                raise CheckFailed(LOOP, f"row {row_number}'s {name} is {value:g}, but the "
                                        f"step returned {_fake_losses(batch)[name]:g} at that "
                                        "step: keep each step's own losses")
    passed(LOOP, f"{LOOP_STEPS} steps on the first {LOOP_STEPS} batches in order, one row of "
                 "floats per step")


# ---------------------------------------------------------------------------------------------
# The mistakes these checks must catch
# ---------------------------------------------------------------------------------------------

NOTEBOOK = "05_training_on_gpu"


def _mistake(solution, mistake, old, new, expect):
    return Mistake(NOTEBOOK, solution, f"check_{solution}", mistake, old, new, expect)


_D_UPDATE = ("    d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_variables), "
             "d_variables))\n")

_G_LOSS_AND_UPDATES = (
    "        g_gan = bce(tf.ones_like(fake_logits), fake_logits)\n"
    "        g_l1 = tf.reduce_mean(tf.abs(target - generated))\n"
    "        g_loss = g_gan + l1_weight * g_l1\n"
    "    g_variables, d_variables = generator.trainable_variables, "
    "discriminator.trainable_variables\n"
    "    g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_variables), g_variables))\n"
    + _D_UPDATE)
_ALTERNATING = (  # D's step inside the tapes, then G's loss from the updated D
    "        d_variables = discriminator.trainable_variables\n"
    "        d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_variables), "
    "d_variables))\n"
    "        fake_logits = discriminator([source, generated], training=True)  # updated D\n"
    "        g_gan = bce(tf.ones_like(fake_logits), fake_logits)\n"
    "        g_l1 = tf.reduce_mean(tf.abs(target - generated))\n"
    "        g_loss = g_gan + l1_weight * g_l1\n"
    "    g_variables = generator.trainable_variables\n"
    "    g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_variables), g_variables))\n")

MISTAKES = (
    _mistake("make_optimizers", "beta_1 left at Keras' default 0.9",
             "g_optimizer = keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)",
             "g_optimizer = keras.optimizers.Adam(learning_rate=2e-4)",
             "beta_1 is 0.9 (Keras' default)"),
    _mistake("make_optimizers", "learning rate left at Keras' default 1e-3",
             "d_optimizer = keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)",
             "d_optimizer = keras.optimizers.Adam(beta_1=0.5)",
             "learning rate is 0.001 (Keras' default)"),
    _mistake("make_optimizers", "one optimizer shared by G and D",
             "return g_optimizer, d_optimizer", "return g_optimizer, g_optimizer",
             "the same object"),
    _mistake("make_optimizers", "SGD instead of Adam",
             "d_optimizer = keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)",
             "d_optimizer = keras.optimizers.SGD(learning_rate=2e-4)",
             "expected keras.optimizers.Adam"),
    _mistake("train_step", "D's loss not halved", "d_loss = 0.5 * (", "d_loss = (",
             "D's change is 2.00x the library's"),
    _mistake("train_step", "G's loss halved too", "g_loss = g_gan + l1_weight * g_l1",
             "g_loss = 0.5 * (g_gan + l1_weight * g_l1)", "G's change is 0.50x the library's"),
    _mistake("train_step", "G called with training=False",
             "generator(source, training=True)", "generator(source, training=False)",
             "G ran in inference mode"),
    _mistake("train_step", "D called without training=True on the real pair",
             "discriminator([source, target], training=True)",
             "discriminator([source, target])", "D's change differs"),
    _mistake("train_step", "l1_weight ignored (a fixed 100)",
             "g_gan + l1_weight * g_l1", "g_gan + 100.0 * g_l1", "l1_weight=100 although"),
    _mistake("train_step", "D updated before G's loss (the paper's alternating order)",
             _G_LOSS_AND_UPDATES, _ALTERNATING, "equals the library's *alternating* step"),
    _mistake("train_step", "D not updated (its apply_gradients forgotten)", _D_UPDATE, "",
             "D's weights did not change at all"),
    _mistake("train_step", "labels swapped in D's loss (real 0, generated 1)",
             "bce(tf.ones_like(real_logits), real_logits)\n"
             "                        + bce(tf.zeros_like(fake_logits), fake_logits)",
             "bce(tf.zeros_like(real_logits), real_logits)\n"
             "                        + bce(tf.ones_like(fake_logits), fake_logits)",
             "Check the labels"),
    _mistake("train_step", "both of D's terms labelled 0",
             "bce(tf.ones_like(real_logits), real_logits)",
             "bce(tf.zeros_like(real_logits), real_logits)", "D's change differs"),
    _mistake("train_step", "D's gradient taken of G's loss", "d_tape.gradient(d_loss,",
             "d_tape.gradient(g_loss,", "D's change"),
    _mistake("train_step", "D's gradients applied with G's optimizer",
             "    d_optimizer.apply_gradients(", "    g_optimizer.apply_gradients(",
             "handed the other network's variables"),
    _mistake("train_step", "G's total loss reported as g_gan", '"g_gan": g_gan',
             '"g_gan": g_loss', "that is G's total loss"),
    _mistake("train_by_hand", "a new iterator at every step (next(iter(dataset)) in the loop)",
             "for source, target in dataset.take(steps):",
             "for _ in range(steps):\n        source, target = next(iter(dataset))",
             "the same batch every time"),
    _mistake("train_by_hand", "off by one: steps + 1 batches", "dataset.take(steps)",
             "dataset.take(steps + 1)", "one too many (off by one)"),
    _mistake("train_by_hand", "tensors kept in the history", "float(value)", "value",
             "store plain numbers"),
    _mistake("train_by_hand", "only the last step's losses returned", "return history",
             "return history[-1]", "expected a list"),
    _mistake("train_by_hand", "source and target swapped", "step(source, target)",
             "step(target, source)", "(target, source) instead of (source, target)"),
)
