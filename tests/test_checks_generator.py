"""The graded checks of notebook 02 (pix2pix_lib.checks.generator): the library's pieces pass,
a stub is "not written yet", and wrong blocks and U-Nets get the message a learner should read.
(tests/test_exercises.py plants the catalogued mistakes in the notebook itself.)"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_failure as fails
from helpers import stub

from pix2pix_lib.checks import generator, reference
from pix2pix_lib.tf_quiet import keras


def normal(mean=0.0):
    return keras.initializers.RandomNormal(mean=mean, stddev=0.02)


def encoder(k, norm=True, name=None, init=True, slope=0.2):
    conv = dict(kernel_initializer=normal()) if init else {}
    layers = [keras.layers.Conv2D(k, 4, strides=2, padding="same", use_bias=False, **conv)]
    if norm:
        layers.append(keras.layers.BatchNormalization(gamma_initializer=normal(1.0)))
    layers.append(keras.layers.LeakyReLU(negative_slope=slope))
    return keras.Sequential(layers, name=name)


def decoder(k, dropout=False, name=None, with_dropout=True, keep_name=True):
    layers = [keras.layers.Conv2DTranspose(k, 4, strides=2, padding="same", use_bias=False,
                                           kernel_initializer=normal()),
              keras.layers.BatchNormalization(gamma_initializer=normal(1.0))]
    if dropout and with_dropout:
        layers.append(keras.layers.Dropout(0.5))
    layers.append(keras.layers.ReLU())
    return keras.Sequential(layers, name=name if keep_name else None)


def unet_builder(first_norm=False, dropout_blocks=(0, 1, 2), skip_first=False, no_skip=()):
    """build_unet as the notebook's solution, with one thing changed."""

    def build_unet(image_size, base_filters=64, max_filters=512):
        depth = int(np.log2(image_size))
        widths = [min(base_filters * 2**i, max_filters) for i in range(depth)]
        inputs = keras.Input((image_size, image_size, 3))
        x, skips = inputs, []
        for i, k in enumerate(widths):
            x = reference.ck(k, norm=(i == 0 and first_norm) or 0 < i < depth - 1)(x)
            skips.append(x)
        for j in range(depth - 1):
            mirror = depth - 2 - j
            x = reference.cdk(widths[mirror], dropout=j in dropout_blocks)(x)
            if j not in no_skip:
                pair = [skips[mirror], x] if skip_first else [x, skips[mirror]]
                x = keras.layers.Concatenate()(pair)
        x = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same",
                                         kernel_initializer=normal())(x)
        return keras.Model(inputs, keras.layers.Activation("tanh")(x))

    return build_unet


def test_the_library_passes(capsys):
    generator.encoder_block(reference.ck)
    generator.decoder_block(reference.cdk)
    generator.unet(reference.build_unet)
    lines = capsys.readouterr().out.splitlines()
    assert [line[:1] for line in lines] == ["\u2713"] * 3


def test_the_notebook_solution_shape_passes():
    generator.unet(unet_builder())


@pytest.mark.parametrize("check", [generator.encoder_block, generator.decoder_block,
                                   generator.unet])
def test_a_stub_is_not_written_yet(check):
    fails(check, stub, "not written yet", "# YOUR CODE HERE")


def test_an_error_in_the_learners_code_is_named():
    message = fails(generator.encoder_block, lambda k, norm=True, name=None: 1 / 0,
                    "the encoder block ck", "raised ZeroDivisionError")
    assert "division by zero" in message


def test_encoder_block_messages():
    fails(generator.encoder_block, lambda k, norm=True, name=None: encoder(k, norm, name, False),
          "ck(16): the Conv2D's initial weights should be N(0, 0.02), found GlorotUniform")
    fails(generator.encoder_block,
          lambda k, norm=True, name=None: encoder(k, norm, name, slope=0.3),
          "ck(16): expected LeakyReLU(0.2) after BatchNormalization, found LeakyReLU(0.3)")
    fails(generator.encoder_block, lambda k, norm=True, name=None: encoder(k, True, name),
          "ck(16, norm=False): found an extra BatchNormalization")
    fails(generator.encoder_block, lambda k, norm=True, name=None: [encoder(k, norm, name)],
          "returned list", "keras.Sequential")


def test_decoder_block_messages():
    fails(generator.decoder_block,
          lambda k, dropout=False, name=None: decoder(k, dropout, name, with_dropout=False),
          "the decoder block cdk: cdk(16, dropout=True): expected Dropout(0.5) after "
          "BatchNormalization, found ReLU")
    fails(generator.decoder_block,
          lambda k, dropout=False, name=None: decoder(k, dropout, name, keep_name=False),
          "pass the name on")
    fails(generator.decoder_block,
          lambda k, dropout=False, name=None: encoder(k, True, name),
          "expected Conv2DTranspose first, found Conv2D")


def test_unet_messages():
    fails(generator.unet, unet_builder(first_norm=True),
          "encoder block 1 (down1): found a BatchNormalization", "first C64")
    fails(generator.unet, unet_builder(dropout_blocks=(1, 2, 3)),
          "decoder block 1 (up1): expected Dropout(0.5) after BatchNormalization, found ReLU",
          "up1-up3")
    fails(generator.unet, unet_builder(no_skip=(2,)),
          "skip 3 is missing", "decoder block 3 (up3)", "encoder block 3 (down3)")
    fails(generator.unet, unet_builder(skip_first=True),
          "skip 1 concatenates [encoder block 5 (down5), decoder block 1 (up1)]")


def test_unet_names_the_block_that_is_not_written_yet():
    def ck(k, norm=True, name=None):
        raise NotImplementedError()

    def build_unet(image_size, base_filters=64, max_filters=512):
        return ck(base_filters)

    fails(generator.unet, build_unet, "it calls ck, which is not written yet",
          "ck = reference.ck")
