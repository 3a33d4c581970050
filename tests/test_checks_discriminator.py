"""The checks of notebook 03 (pix2pix_lib.checks.discriminator): the library's pieces pass, a
stub is "not written yet", and wrong pieces written here get the messages a learner needs.

Every catalogued mistake is planted in the course notebook by tests/test_exercises.py; these
tests build their wrong pieces directly, so they run without the notebook.
"""

from __future__ import annotations

import pytest
from helpers import check_failure as message
from helpers import stub

from pix2pix_lib.checks import discriminator, reference
from pix2pix_lib.checks.core import NOT_WRITTEN
from pix2pix_lib.tf_quiet import keras


def patchgan(image_size, filters=64, *, order="st", stride4=1, slope=0.2, init="normal",
             sigmoid=False, same=False):
    """A hand-written 70x70 PatchGAN with one knob per mistake under test."""
    kernel_init = (keras.initializers.RandomNormal(0.0, 0.02) if init == "normal"
                   else "glorot_uniform")
    source = keras.Input((image_size, image_size, 3))
    target = keras.Input((image_size, image_size, 3))
    stacked = {"st": [source, target], "ts": [target, source]}
    x = target if order == "t" else keras.layers.Concatenate()(stacked[order])
    for i, (multiplier, stride) in enumerate(((1, 2), (2, 2), (4, 2), (8, stride4))):
        if not same:
            x = keras.layers.ZeroPadding2D(1)(x)
        x = keras.layers.Conv2D(filters * multiplier, 4, strides=stride, use_bias=False,
                                padding="same" if same else "valid",
                                kernel_initializer=kernel_init)(x)
        if i:
            x = keras.layers.BatchNormalization(
                gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02))(x)
        x = keras.layers.LeakyReLU(negative_slope=slope)(x)
    x = keras.layers.ZeroPadding2D(1)(x)
    logits = keras.layers.Conv2D(1, 4, kernel_initializer=kernel_init,
                                 activation="sigmoid" if sigmoid else None)(x)
    return keras.Model([source, target], logits)


# ---------------------------------------------------------------------------------------------
# The PatchGAN
# ---------------------------------------------------------------------------------------------


def test_the_library_and_a_hand_written_patchgan_pass(capsys):
    discriminator.patchgan(reference.patchgan_70)
    discriminator.patchgan(patchgan)
    assert capsys.readouterr().out.count("2,770,433 parameters") == 2


def test_a_stub_is_not_written_yet():
    assert NOT_WRITTEN in message(discriminator.patchgan, stub)


@pytest.mark.parametrize("knobs, expected", [
    ({"order": "t"}, "D is not conditioned on the source"),
    ({"order": "ts"}, "inputs swapped"),
    ({"stride4": 2}, "gives 15x15 logits at 256 px"),
    ({"same": True}, "gives 31x31 logits at 256 px"),  # 'same' in the blocks, padded logits
    ({"slope": 0.3}, "slope 0.3 by default"),
    ({"init": "glorot"}, "should be N(0, 0.02), found GlorotUniform"),
    ({"sigmoid": True}, "no sigmoid at the end"),
])
def test_wrong_patchgans_get_their_message(knobs, expected):
    assert expected in message(discriminator.patchgan,
                               lambda size, filters=64: patchgan(size, filters, **knobs))


def test_one_input_is_not_conditioned():
    def one_input(image_size, filters=64):
        pair = keras.Input((image_size, image_size, 6))
        return keras.Model(pair, keras.layers.Conv2D(1, 4)(pair))

    assert "D is not conditioned on the source: patchgan_70(256, filters=64) has 1 input" in (
        message(discriminator.patchgan, one_input))


def test_ignoring_filters_is_caught_at_the_small_size():
    text = message(discriminator.patchgan, lambda size, filters=64: patchgan(size, 64))
    assert "C64 (block 1): the Conv2D's filters should be 8, found 64" in text


def test_a_sigmoid_outside_any_layer_is_named():
    def with_sigmoid(image_size, filters=64):
        model = reference.patchgan_70(image_size, filters)
        return keras.Model(model.inputs, keras.activations.sigmoid(model.outputs[0]))

    assert "no sigmoid at the end" in message(discriminator.patchgan, with_sigmoid)


# ---------------------------------------------------------------------------------------------
# The receptive field
# ---------------------------------------------------------------------------------------------


def test_the_library_receptive_field_passes():
    discriminator.receptive_field(reference.receptive_field_of)


def test_the_receptive_field_stub_is_not_written_yet():
    assert NOT_WRITTEN in message(discriminator.receptive_field, stub)


def walk(layers, start=1, forward=False, step=lambda r, k, s: s * r + (k - s)):
    r = start
    for kernel, stride in (layers if forward else list(reversed(layers))):
        r = step(r, kernel, stride)
    return r


@pytest.mark.parametrize("function, expected", [
    (lambda layers: walk(layers, forward=True), "yours is 28, the library's 70: you walked"),
    (lambda layers: walk(layers, step=lambda r, k, s: r + k - 1), "you ignored the stride"),
    (lambda layers: walk(layers, start=0), "you started from r = 0"),
    (lambda layers: walk(layers, step=lambda r, k, s: s * r + k - 1), "you added kernel - 1"),
    (lambda layers: layers.reverse(), "reverses the caller's list in place"),
    (lambda layers: None, "returned None"),
    (lambda layers: 70, "yours is 70, the library's 16"),
])
def test_wrong_receptive_fields_get_their_message(function, expected):
    assert expected in message(discriminator.receptive_field, function)


def test_the_catalogue_has_its_mistakes():
    exercises = {mistake.check for mistake in discriminator.MISTAKES}
    assert exercises == {"check_patchgan_70", "check_receptive_field_of"}
    assert len(discriminator.MISTAKES) >= 16
