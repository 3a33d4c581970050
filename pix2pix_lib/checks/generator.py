"""Checks for 02 · the generator: the encoder block Ck, the decoder block CDk and the U-Net.

Each check builds the learner's piece at small fixed sizes (16 filters for a block; a 64 px
U-Net with 8 filters doubling to 32), compares it layer by layer with the library's
(`reference.ck`, `reference.cdk`, `reference.build_unet`): the layers' order and every setting,
the initialisers included (`core.compare_layer_lists`), then, with the library's weights copied
into the learner's piece, their outputs. For the U-Net it also follows the skips (each
Concatenate must join a decoder block's output, first, with the encoder block of the same
size, second), builds a second U-Net (32 px, 4 filters doubling to 16) to see that depth and
widths follow the arguments, counts the parameters, runs both in training mode with dropout
switched off (BatchNorm on the batch's statistics) and checks that the learner's network is
random in training mode, where its dropout is.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from pix2pix_lib import models
from pix2pix_lib.checks import reference
from pix2pix_lib.checks.core import (
    CheckFailed,
    _short,
    assert_close,
    call_learner,
    compare_layer_lists,
    passed,
)
from pix2pix_lib.checks.mistakes import planted_in
from pix2pix_lib.tf_quiet import keras

__all__ = ["MISTAKES", "decoder_block", "encoder_block", "unet"]

ENCODER = "the encoder block ck"
DECODER = "the decoder block cdk"
UNET = "the U-Net build_unet"

BLOCK_FILTERS = 16  # k for the block checks
UNET_SIZE, UNET_BASE, UNET_MAX = 64, 8, 32  # 6 blocks down to 1x1, 8-16-32-32-32-32 filters
UNET_DEPTH = 6
DROPOUT_BLOCKS = 3  # the paper's CD512-CD1024-CD1024: the first three decoder blocks
# float32 outputs of the same network with the same weights agree to ~1e-7; the catalogued
# mistakes change them by far more (the U-Net's untrained outputs spread ~6e-3)
ATOL, RTOL = 1e-6, 1e-4


def _inputs(shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape).astype("float32")


def _leaves(block) -> list:
    """The layers inside a block (a Sequential or a small functional model), in order."""
    return [layer for layer in models.leaf_layers(block)
            if not isinstance(layer, keras.layers.InputLayer)]


def _chain(layers) -> str:
    return " -> ".join(_short(layer) for layer in layers)


def _compare_block(piece: str, where: str, yours, library, hint: str = "",
                   hint_when: str = "") -> None:
    """The layers of two blocks (or two lists of layers): the same kinds in the same order,
    with the same settings; `hint` is added to a message that mentions `hint_when`."""
    mine = yours if isinstance(yours, list) else _leaves(yours)
    theirs = library if isinstance(library, list) else _leaves(library)
    kinds, expected = [_short(layer) for layer in mine], [_short(layer) for layer in theirs]
    if kinds != expected and Counter(kinds) == Counter(expected):
        message = (f"{where}: the right layers in the wrong order: expected {_chain(theirs)}, "
                   f"found {_chain(mine)}")
        raise CheckFailed(piece, message + (hint if hint_when in message else ""))
    try:
        compare_layer_lists(piece, where, mine, theirs)
    except CheckFailed as failure:
        extra = hint if hint_when in failure.message else ""
        raise CheckFailed(piece, failure.message + extra) from None


def _learner_block(piece: str, function, call: str, x: np.ndarray, *args, **kwargs):
    """The learner's block for `call`, built on `x`; fails unless it is a chain of layers."""
    block = call_learner(piece, function, *args, **kwargs)
    if not isinstance(block, keras.Model):
        raise CheckFailed(piece, f"{call} returned {type(block).__name__}; expected a "
                                 "keras.Sequential of its layers: keras.Sequential(layers, "
                                 "name=name)")
    call_learner(piece, block, x, training=False)  # builds it
    name = kwargs.get("name")
    if name is not None and block.name != name:
        raise CheckFailed(piece, f"{call} returned a block named {block.name!r}: pass the name "
                                 "on, keras.Sequential(layers, name=name) (the U-Net names its "
                                 "blocks with it)")
    return block


def _same_output(piece: str, where: str, yours, library, x: np.ndarray, training: bool) -> None:
    try:
        yours.set_weights(library.get_weights())
    except ValueError as error:
        raise CheckFailed(piece, f"{where}: the library's weights do not fit yours: {error}"
                          ) from None
    mode = "training" if training else "inference"
    assert_close(piece, f"{where}, output in {mode} mode with the library's weights",
                 call_learner(piece, yours, x, training=training),
                 library(x, training=training), atol=ATOL, rtol=RTOL)


# ---------------------------------------------------------------------------------------------
# The blocks
# ---------------------------------------------------------------------------------------------


def encoder_block(ck) -> None:
    """ck(k, norm=True, name=None): Conv2D(k, 4, strides 2, same, no bias, N(0, 0.02)),
    BatchNormalization (scale N(1, 0.02); left out when norm=False), LeakyReLU(0.2)."""
    x = _inputs((2, 16, 16, 8), seed=2)
    k = BLOCK_FILTERS
    for norm in (True, False):
        call = f"ck({k})" if norm else f"ck({k}, norm=False)"
        mine = _learner_block(ENCODER, ck, call, x, k, norm=norm, name="down2")
        library = reference.ck(k, norm=norm, name="down2")
        library(x, training=False)
        hint = "" if norm else " (norm=False leaves the BatchNormalization out, nothing else)"
        _compare_block(ENCODER, call, mine, library, hint, "BatchNormalization")
        _same_output(ENCODER, call, mine, library, x, training=True)
    passed(ENCODER, "Conv2D -> BatchNormalization -> LeakyReLU(0.2), every setting and "
           "initialiser as the library's; the same output with its weights; norm=False leaves "
           "the BatchNormalization out")


def decoder_block(cdk) -> None:
    """cdk(k, dropout=False, name=None): Conv2DTranspose(k, 4, strides 2, same, no bias,
    N(0, 0.02)), BatchNormalization (scale N(1, 0.02)), Dropout(0.5) if dropout, ReLU."""
    x = _inputs((2, 8, 8, 8), seed=3)
    k = BLOCK_FILTERS
    for dropout in (True, False):
        call = f"cdk({k}, dropout=True)" if dropout else f"cdk({k})"
        mine = _learner_block(DECODER, cdk, call, x, k, dropout=dropout, name="up2")
        library = reference.cdk(k, dropout=dropout, name="up2")
        library(x, training=False)
        hint = (" (the paper's CDk is Convolution-BatchNorm-Dropout-ReLU)" if dropout
                else " (dropout=False leaves the Dropout out, nothing else)")
        _compare_block(DECODER, call, mine, library, hint, "Dropout")
        # inference mode: dropout off, so both are deterministic; without dropout also training
        _same_output(DECODER, call, mine, library, x, training=False)
        if not dropout:
            _same_output(DECODER, call, mine, library, x, training=True)
        else:
            first, second = (np.asarray(mine(x, training=True)) for _ in range(2))
            if np.allclose(first, second):
                raise CheckFailed(DECODER, f"{call}: two calls in training mode gave the same "
                                           "output; its Dropout(0.5) should zero different "
                                           "values each time")
    passed(DECODER, "Conv2DTranspose -> BatchNormalization -> [Dropout(0.5)] -> ReLU, every "
           "setting and initialiser as the library's; the same output with its weights; "
           "random in training mode with dropout=True")


# ---------------------------------------------------------------------------------------------
# The U-Net
# ---------------------------------------------------------------------------------------------


def _parts(model) -> tuple[list, list, list, list]:
    """(encoder blocks, decoder blocks, Concatenates, other layers) of a U-Net, in graph order.

    A block is a nested model; an encoder block starts with a Conv2D, a decoder block with a
    Conv2DTranspose.
    """
    encoder, decoder, joins, others = [], [], [], []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            first = _leaves(layer)[:1]
            kind = type(first[0]).__name__ if first else ""
            (decoder if kind == "Conv2DTranspose" else encoder).append(layer)
        elif isinstance(layer, keras.layers.Concatenate):
            joins.append(layer)
        else:
            others.append(layer)
    return encoder, decoder, joins, others


def _producers(layer) -> list:
    """The layers whose outputs `layer` reads in the model (its first call), in argument order."""
    return [tensor._keras_history.operation for tensor in keras.tree.flatten(layer.input)]


def _encoder_name(i: int) -> str:
    return f"encoder block {i + 1} (down{i + 1})"


def _decoder_name(j: int) -> str:
    return f"decoder block {j + 1} (up{j + 1})"


def _namer(encoder, decoder, joins):
    names = {id(block): _encoder_name(i) for i, block in enumerate(encoder)}
    names |= {id(block): _decoder_name(j) for j, block in enumerate(decoder)}

    def name(layer) -> str:
        if id(layer) in names:
            return names[id(layer)]
        if isinstance(layer, keras.layers.InputLayer):
            return "the input"
        if isinstance(layer, keras.layers.Concatenate):
            return f"a Concatenate ({layer.name})"
        return f"{type(layer).__name__} {layer.name!r}"

    return name


def _check_blocks(encoder, decoder, lib_encoder, lib_decoder) -> None:
    if len(encoder) != UNET_DEPTH:
        raise CheckFailed(UNET, f"build_unet({UNET_SIZE}, {UNET_BASE}, {UNET_MAX}) has "
                                f"{len(encoder)} encoder blocks (ck); expected {UNET_DEPTH}: "
                                f"log2({UNET_SIZE}) halvings take {UNET_SIZE} px down to 1x1")
    if len(decoder) != UNET_DEPTH - 1:
        raise CheckFailed(UNET, f"build_unet({UNET_SIZE}, {UNET_BASE}, {UNET_MAX}) has "
                                f"{len(decoder)} decoder blocks (cdk); expected "
                                f"{UNET_DEPTH - 1}: one per encoder block but the innermost, "
                                "then the output convolution")
    for i, (mine, library) in enumerate(zip(encoder, lib_encoder, strict=True)):
        where = _encoder_name(i)
        has_norm = any(isinstance(layer, keras.layers.BatchNormalization)
                       for layer in _leaves(mine))
        if has_norm and i == 0:
            raise CheckFailed(UNET, f"{where}: found a BatchNormalization; the paper applies "
                                    "none to the first C64 layer (appendix 6.1.1): "
                                    "ck(k, norm=False)")
        if has_norm and i == UNET_DEPTH - 1:
            raise CheckFailed(UNET, f"{where}, the 1x1 bottleneck: found a BatchNormalization; "
                                    "at 1x1 and batch size 1 it outputs the same constant for "
                                    "every photo (section 6): ck(k, norm=False)")
        _compare_block(UNET, where, mine, library)
    for j, (mine, library) in enumerate(zip(decoder, lib_decoder, strict=True)):
        hint = (" (the first three decoder blocks counted from the bottleneck, up1-up3, carry "
                "dropout: the paper's CD512-CD1024-CD1024)")
        _compare_block(UNET, _decoder_name(j), mine, library, hint, "Dropout")


def _check_skips(model, encoder, decoder, joins, others) -> None:
    """Each decoder block's output goes to a Concatenate([its output, the mirror encoder
    block's output]) that the next block reads; the encoder is a chain from the input."""
    name = _namer(encoder, decoder, joins)
    for i, block in enumerate(encoder):
        expected = encoder[i - 1] if i else model.layers[0]
        found = _producers(block)
        if found != [expected]:
            raise CheckFailed(UNET, f"{_encoder_name(i)} reads {', '.join(map(name, found))}; "
                                    f"expected {name(expected)}")
    if _producers(decoder[0]) != [encoder[-1]]:
        raise CheckFailed(UNET, f"{_decoder_name(0)} reads "
                                f"{', '.join(map(name, _producers(decoder[0])))}; expected the "
                                f"innermost {_encoder_name(len(encoder) - 1)}")
    out_conv = next((layer for layer in others
                     if isinstance(layer, keras.layers.Conv2DTranspose)), None)
    for j, block in enumerate(decoder):
        mirror = len(encoder) - 2 - j  # the encoder block of the same size
        skip = f"skip {j + 1}"
        want = f"Concatenate([{_decoder_name(j)}'s output, {_encoder_name(mirror)}'s output])"
        readers = [join for join in joins if block in _producers(join)]
        if not readers:
            nxt = decoder[j + 1] if j + 1 < len(decoder) else out_conv
            raise CheckFailed(UNET, f"{skip} is missing: {_decoder_name(j)}'s output goes "
                                    f"straight on, with no Concatenate; expected {want}, read "
                                    f"by {name(nxt) if nxt is not None else 'the next layer'}: "
                                    "x = keras.layers.Concatenate()([x, skip])")
        join = readers[0]
        found = _producers(join)
        if found == [encoder[mirror], block]:
            raise CheckFailed(UNET, f"{skip} concatenates [{name(found[0])}, {name(found[1])}]: "
                                    "the decoder block's output comes first and the skip second, "
                                    "Concatenate()([x, skip]), as in the library and the TF "
                                    "tutorial (the reference code's torch.cat puts the skip "
                                    "first: the order only decides which channels each weight "
                                    "of the next convolution sees, but it must match to compare)")
        if found != [block, encoder[mirror]]:
            raise CheckFailed(UNET, f"{skip} concatenates [{', '.join(map(name, found))}]; "
                                    f"expected {want} (the encoder block of the same size)")
        nxt = decoder[j + 1] if j + 1 < len(decoder) else out_conv
        if nxt is not None and _producers(nxt) != [join]:
            raise CheckFailed(UNET, f"{name(nxt)} reads {', '.join(map(name, _producers(nxt)))}; "
                                    f"expected the output of {skip}")


def _check_other_size(build_unet) -> None:
    """A second, smaller U-Net: the depth and widths must follow the arguments."""
    size, base, top = 32, 4, 16
    call = f"build_unet({size}, {base}, {top})"
    try:
        mine = call_learner(UNET, build_unet, size, base, top)
    except CheckFailed as failure:
        raise CheckFailed(UNET, f"{call}, a second size, failed where build_unet({UNET_SIZE}, "
                                f"{UNET_BASE}, {UNET_MAX}) worked: does everything follow the "
                                "arguments (depth = log2(image_size))? "
                                f"{failure.message}") from failure.__cause__
    library = reference.build_unet(size, base, top)
    found, expected = (len(_parts(model)[0]) for model in (mine, library))
    if found != expected:
        raise CheckFailed(UNET, f"{call} has {found} encoder blocks; expected {expected}, "
                                f"log2({size}): compute the depth from image_size")
    if mine.count_params() != library.count_params():
        raise CheckFailed(UNET, f"{call} has {mine.count_params():,} parameters, the "
                                f"library's {library.count_params():,}: the widths should "
                                "double from base_filters and stop at max_filters")


def _stub_called(error) -> str | None:
    """The function whose stub raised `error`, when it is a NotImplementedError."""
    if not isinstance(error, NotImplementedError) or error.__traceback__ is None:
        return None
    frame = error.__traceback__
    while frame.tb_next is not None:
        frame = frame.tb_next
    return frame.tb_frame.f_code.co_name


def _set_dropout(model, rates) -> list[float]:
    """Set every Dropout's rate in `model` to `rates` (one number or a list); the old rates."""
    layers = [layer for layer in models.leaf_layers(model)
              if isinstance(layer, keras.layers.Dropout)]
    old = [layer.rate for layer in layers]
    for layer, rate in zip(layers, rates if isinstance(rates, list) else [rates] * len(layers),
                           strict=True):
        layer.rate = rate
    return old


def unet(build_unet) -> None:
    """build_unet(image_size, base_filters=64, max_filters=512) -> the U-Net as a keras.Model."""
    call = f"build_unet({UNET_SIZE}, {UNET_BASE}, {UNET_MAX})"
    try:
        mine = call_learner(UNET, build_unet, UNET_SIZE, UNET_BASE, UNET_MAX)
    except CheckFailed as failure:
        stub = _stub_called(failure.__cause__)
        if stub not in (None, getattr(build_unet, "__name__", None)):
            raise CheckFailed(UNET, f"it calls {stub}, which is not written yet: write {stub} "
                                    f"first (and pass its check), or run {stub} = "
                                    f"reference.{stub} to build the U-Net from the library's "
                                    "blocks") from failure.__cause__
        raise
    if not isinstance(mine, keras.Model) or len(mine.inputs) != 1 or len(mine.outputs) != 1:
        raise CheckFailed(UNET, f"{call} returned {type(mine).__name__}; expected a "
                                "keras.Model(inputs, outputs) with one input and one output")
    shape = (None, UNET_SIZE, UNET_SIZE, 3)
    for what, tensor in (("input", mine.inputs[0]), ("output", mine.outputs[0])):
        if tuple(tensor.shape) != shape:
            raise CheckFailed(UNET, f"{call}: its {what} has shape {tuple(tensor.shape)}; "
                                    f"expected {shape}, a {UNET_SIZE} px colour image")
    library = reference.build_unet(UNET_SIZE, UNET_BASE, UNET_MAX)
    encoder, decoder, joins, others = _parts(mine)
    lib_encoder, lib_decoder, _, lib_others = _parts(library)
    _check_blocks(encoder, decoder, lib_encoder, lib_decoder)
    _check_skips(mine, encoder, decoder, joins, others)
    _compare_block(UNET, "the output layers after the last skip", others, lib_others,
                   " (a Conv2DTranspose to 3 channels, with a bias and N(0, 0.02), then tanh)")
    _check_other_size(build_unet)
    if mine.count_params() != library.count_params():
        raise CheckFailed(UNET, f"{call} has {mine.count_params():,} parameters, the library's "
                                f"{library.count_params():,}")
    # the library's weights, block by block; then the same output, dropout off
    for yours, theirs in zip([*encoder, *decoder, *others], [*lib_encoder, *lib_decoder,
                                                             *lib_others], strict=True):
        yours.set_weights(theirs.get_weights())
    x = _inputs((2, UNET_SIZE, UNET_SIZE, 3), seed=4)
    assert_close(UNET, "the output in inference mode with the library's weights",
                 call_learner(UNET, mine, x, training=False), library(x, training=False),
                 atol=ATOL, rtol=RTOL)
    rates = _set_dropout(mine, 0.0), _set_dropout(library, 0.0)
    try:  # training mode, dropout off: BatchNorm normalises with the batch's statistics
        assert_close(UNET, "the output in training mode (dropout switched off for the "
                           "comparison) with the library's weights",
                     call_learner(UNET, mine, x, training=True), library(x, training=True),
                     atol=ATOL, rtol=RTOL)
    finally:
        _set_dropout(mine, rates[0])
        _set_dropout(library, rates[1])
    first, second = (np.asarray(mine(x, training=True)) for _ in range(2))
    if np.allclose(first, second, atol=ATOL):
        raise CheckFailed(UNET, "two calls in training mode gave the same output: the dropout "
                                "of decoder blocks 1-3 should make them differ")
    passed(UNET, f"{UNET_DEPTH} encoder and {UNET_DEPTH - 1} decoder blocks with the library's "
           f"layers and initialisers, every skip in place, {mine.count_params():,} parameters, "
           "the same output with its weights (inference and training mode), random in training "
           "mode")


# ---------------------------------------------------------------------------------------------
# The mistakes these checks must catch, planted in notebook 02's solutions
# ---------------------------------------------------------------------------------------------

NB = "02_encoder_decoder_blocks"
_ck = planted_in(NB, "ck", "check_ck")
_cdk = planted_in(NB, "cdk", "check_cdk")
_unet = planted_in(NB, "build_unet", "check_build_unet")


_CK_BN = "if norm:\n        gamma_init"
_CDK_DROPOUT = "    if dropout:\n        layers.append(keras.layers.Dropout(0.5))\n"
_CDK_BN = "              keras.layers.BatchNormalization(gamma_initializer=gamma_init)]\n"

MISTAKES = (
    _ck("kernel 3x3 instead of 4x4", "Conv2D(k, 4, strides", "Conv2D(k, 3, strides",
        "kernel should be (4, 4), found (3, 3)"),
    _ck("stride 1: the block does not halve the image", "strides=2", "strides=1",
        "strides should be (2, 2), found (1, 1)"),
    _ck("padding 'valid' instead of 'same'", 'padding="same"', 'padding="valid"',
        "padding should be same, found valid"),
    _ck("bias left in the convolution", "use_bias=False", "use_bias=True",
        "bias should be False, found True"),
    _ck("Keras' default weights instead of N(0, 0.02)", ",\n                                  "
        "kernel_initializer=init)]", ")]", "initial weights should be N(0, 0.02)"),
    _ck("BatchNorm's scale from Keras' default (1) instead of N(1, 0.02)",
        "BatchNormalization(gamma_initializer=gamma_init)", "BatchNormalization()",
        "initial scale should be N(1, 0.02)"),
    _ck("LeakyReLU with Keras' default slope 0.3", "LeakyReLU(negative_slope=0.2)",
        "LeakyReLU()", "expected LeakyReLU(0.2) after BatchNormalization, found LeakyReLU(0.3)"),
    _ck("plain ReLU in the encoder", "LeakyReLU(negative_slope=0.2)", "ReLU()",
        "expected LeakyReLU(0.2) after BatchNormalization, found ReLU"),
    _ck("norm=False ignored: BatchNorm always added", _CK_BN, "if True:\n        gamma_init",
        "ck(16, norm=False): found an extra BatchNormalization"),
    _cdk("Dropout missing", _CDK_DROPOUT, "",
         "cdk(16, dropout=True): expected Dropout(0.5) after BatchNormalization, found ReLU"),
    _cdk("dropout rate 0.2 instead of 0.5", "layers.Dropout(0.5)", "layers.Dropout(0.2)",
         "expected Dropout(0.5) after BatchNormalization, found Dropout(0.2)"),
    _cdk("Dropout before BatchNorm", _CDK_BN + _CDK_DROPOUT,
         "]\n" + _CDK_DROPOUT + "    layers.append(keras.layers.BatchNormalization("
         "gamma_initializer=gamma_init))\n", "the right layers in the wrong order"),
    _cdk("LeakyReLU in the decoder", "keras.layers.ReLU()", "keras.layers.LeakyReLU(0.2)",
         "expected ReLU after Dropout(0.5), found LeakyReLU(0.2)"),
    _cdk("Conv2D instead of Conv2DTranspose", "layers.Conv2DTranspose(", "layers.Conv2D(",
         "expected Conv2DTranspose first, found Conv2D"),
    _cdk("bias left in the transposed convolution", "use_bias=False", "use_bias=True",
         "bias should be False, found True"),
    _cdk("Keras' default weights instead of N(0, 0.02)",
         "use_bias=False,\n                                           kernel_initializer=init)",
         "use_bias=False)", "initial weights should be N(0, 0.02)"),
    _unet("BatchNorm on the first C64", "norm=0 < i < depth - 1", "norm=i < depth - 1",
          "encoder block 1 (down1): found a BatchNormalization"),
    _unet("BatchNorm on the 1x1 bottleneck (the TF tutorial's)", "norm=0 < i < depth - 1",
          "norm=0 < i", "encoder block 6 (down6), the 1x1 bottleneck: found a BatchNorm"),
    _unet("dropout in every decoder block", "dropout=j < 3", "dropout=True",
          "decoder block 4 (up4): found an extra Dropout(0.5)"),
    _unet("dropout in decoder blocks 2-4 (the reference code's placement at 256 px)",
          "dropout=j < 3", "dropout=0 < j < 4",
          "decoder block 1 (up1): expected Dropout(0.5) after BatchNormalization, found ReLU"),
    _unet("no dropout in the U-Net", "dropout=j < 3", "dropout=False",
          "decoder block 1 (up1): expected Dropout(0.5)"),
    _unet("depth typed in for 64 px", "depth = int(np.log2(image_size))", "depth = 6",
          "build_unet(32, 4, 16), a second size, failed"),
    _unet("widths not capped at max_filters", "min(base_filters * 2**i, max_filters)",
          "base_filters * 2**i", "should be 32, found"),
    _unet("decoder widths off by one block", "cdk(widths[mirror],", "cdk(widths[mirror + 1],",
          "decoder block 4 (up4): the Conv2DTranspose's filters should be 16, found 32"),
    _unet("skips missing (the plain encoder-decoder)",
          '        x = keras.layers.Concatenate(name=f"skip{j + 1}")([x, skips[mirror]])\n', "",
          "skip 1 is missing"),
    _unet("skip concatenated in the wrong order (skip first)", "[x, skips[mirror]]",
          "[skips[mirror], x]", "the decoder block's output comes first and the skip second"),
    _unet("output convolution with 1 channel", "Conv2DTranspose(3, 4, strides",
          "Conv2DTranspose(1, 4, strides", "expected (None, 64, 64, 3)"),
    _unet("output convolution with Keras' default weights",
          'kernel_initializer=init, name="output_conv"', 'name="output_conv"',
          "initial weights should be N(0, 0.02)"),
    _unet("tanh missing", 'keras.layers.Activation("tanh", name="output")(x)', "x",
          "expected Activation after Conv2DTranspose, found nothing there"),
    _unet("sigmoid instead of tanh", '"tanh"', '"sigmoid"',
          "the Activation's activation should be tanh, found sigmoid"),
)
