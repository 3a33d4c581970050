"""The checks of notebook 05 (pix2pix_lib.checks.training): the library's pieces pass, a stub
is "not written yet", and wrong pieces written here get the messages that name the mistake.

Every catalogued mistake is planted in the course notebook by tests/test_exercises.py; these
tests need no notebook.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_failure as fails
from helpers import stub

from pix2pix_lib import checks, trainer
from pix2pix_lib.checks import reference, training
from pix2pix_lib.checks.core import NOT_WRITTEN
from pix2pix_lib.config import TrainConfig
from pix2pix_lib.tf_quiet import keras, tf

# --- the optimizers --------------------------------------------------------------------------


def test_the_library_optimizers_pass(capsys):
    checks.optimizers(reference.make_optimizers)
    assert "\u2713 make_optimizers" in capsys.readouterr().out


def test_optimizers_stub_is_not_written_yet():
    fails(checks.optimizers, stub, NOT_WRITTEN)


@pytest.mark.parametrize("make, expect", [
    (lambda: (keras.optimizers.Adam(2e-4), keras.optimizers.Adam(2e-4, beta_1=0.5)),
     "g_optimizer's beta_1 is 0.9 (Keras' default)"),
    (lambda: (keras.optimizers.Adam(beta_1=0.5), keras.optimizers.Adam(beta_1=0.5)),
     "learning rate is 0.001 (Keras' default)"),
    (lambda: (keras.optimizers.Adam(2e-4, beta_1=0.5),) * 2, "the same object"),
    (lambda: keras.optimizers.Adam(2e-4, beta_1=0.5), "expected a pair"),
    (lambda: (keras.optimizers.Adam(2e-4, beta_1=0.5),
              keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.99)), "beta_2 is 0.99"),
    (lambda: (keras.optimizers.Adam(2e-4, beta_1=0.5),
              keras.optimizers.Adam(2e-4, beta_1=0.5, amsgrad=True)), "sets amsgrad=True"),
])
def test_wrong_optimizers_are_named(make, expect):
    fails(checks.optimizers, make, expect)


# --- the step: a learner's step written here, with one mistake at a time ---------------------


def make_step(d_scale=0.5, g_scale=1.0, g_training=True, fixed_l1=None, labels=(1.0, 0.0),
              update_d=True):
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def step(generator, discriminator, g_optimizer, d_optimizer, source, target,
             l1_weight=100.0):
        weight = l1_weight if fixed_l1 is None else fixed_l1
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            generated = generator(source, training=g_training)
            real = discriminator([source, target], training=True)
            fake = discriminator([source, generated], training=True)
            d_loss = d_scale * (bce(tf.fill(tf.shape(real), labels[0]), real)
                                + bce(tf.fill(tf.shape(fake), labels[1]), fake))
            g_gan = bce(tf.ones_like(fake), fake)
            g_l1 = tf.reduce_mean(tf.abs(target - generated))
            g_loss = g_scale * (g_gan + weight * g_l1)
        g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables
        g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars, strict=True))
        if update_d:
            d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars,
                                            strict=True))
        return {"d_loss": d_loss, "g_gan": g_gan, "g_l1": g_l1}

    return step


def test_the_library_step_and_a_learners_correct_step_pass(capsys):
    checks.train_step(reference.train_step)
    checks.train_step(make_step())
    assert capsys.readouterr().out.count("\u2713 train_step") == 2


def test_step_stub_is_not_written_yet():
    fails(checks.train_step, stub, NOT_WRITTEN)


@pytest.mark.parametrize("options, expect", [
    ({"d_scale": 1.0}, "D's change is 2.00x the library's"),
    ({"g_scale": 0.5}, "G's change is 0.50x the library's"),
    ({"g_training": False}, "G ran in inference mode"),
    ({"fixed_l1": 100.0}, "l1_weight=100 although"),
    ({"labels": (0.0, 1.0)}, "Check the labels"),
    ({"update_d": False}, "D's weights did not change at all"),
])
def test_wrong_steps_are_named(options, expect):
    fails(checks.train_step, make_step(**options), expect)


def test_a_step_returning_no_dict_is_named():
    def step(*args, **kwargs):
        return make_step()(*args, **kwargs)["d_loss"]

    fails(checks.train_step, step, "expected a dict")


@pytest.mark.slow  # ~10 s: tracing the step
def test_the_library_step_runs_inside_tf_function_like_eagerly():
    """reference.train_step reuses its Pix2Pix, so a stuck learner's tf.function works."""
    results = []
    for wrap in (False, True):
        keras.utils.set_random_seed(0)
        small = TrainConfig(image_size=32, g_filters=8, d_filters=8)
        generator = trainer.build_generator(small)
        discriminator = trainer.build_discriminator(small)
        g_optimizer, d_optimizer = reference.make_optimizers()

        def step(source, target, generator=generator, discriminator=discriminator,
                 g_optimizer=g_optimizer, d_optimizer=d_optimizer):
            return reference.train_step(generator, discriminator, g_optimizer, d_optimizer,
                                        source, target)

        step = tf.function(step) if wrap else step
        losses = []
        for seed in range(3):
            source = tf.random.stateless_uniform([1, 32, 32, 3], [seed, 1], -1.0, 1.0)
            target = tf.random.stateless_uniform([1, 32, 32, 3], [seed, 2], -1.0, 1.0)
            losses.append([float(value) for value in step(source, target).values()])
        results.append(losses)
    assert np.allclose(results[0], results[1], rtol=1e-4)


# --- the loop --------------------------------------------------------------------------------


def test_the_library_loop_passes(capsys):
    checks.training_loop(reference.train_by_hand)
    assert "\u2713 train_by_hand" in capsys.readouterr().out


def test_loop_stub_is_not_written_yet():
    fails(checks.training_loop, stub, NOT_WRITTEN)


def loop_same_first_batch(step, dataset, steps):
    return [{k: float(v) for k, v in step(*next(iter(dataset))).items()} for _ in range(steps)]


def loop_one_too_many(step, dataset, steps):
    return [{k: float(v) for k, v in step(s, t).items()} for s, t in dataset.take(steps + 1)]


def loop_tensors(step, dataset, steps):
    return [step(s, t) for s, t in dataset.take(steps)]


def loop_last_only(step, dataset, steps):
    return reference.train_by_hand(step, dataset, steps)[-1]


@pytest.mark.parametrize("loop, expect", [
    (loop_same_first_batch, "the same batch every time"),
    (loop_one_too_many, "one too many (off by one)"),
    (loop_tensors, "not a number: store plain numbers"),
    (loop_last_only, "expected a list"),
])
def test_wrong_loops_are_named(loop, expect):
    fails(checks.training_loop, loop, expect)


def test_every_catalogued_mistake_names_an_existing_solution_and_check():
    ids = {(m.solution, m.check) for m in training.MISTAKES}
    assert ids == {(name, f"check_{name}")
                   for name in ("make_optimizers", "train_step", "train_by_hand")}
    assert len(training.MISTAKES) >= 10
