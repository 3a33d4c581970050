"""Checks for 03 · the discriminator: the 70x70 PatchGAN and the receptive field.

`patchgan(patchgan_70)` builds the learner's discriminator at a small fixed size and at the
paper's (256 px, 64 filters) and compares it with `reference.patchgan_70`: two inputs, both
used, stacked source first (tested by feeding other sources and swapped pairs); every layer and
its settings, block by block, initialisers included; 2,770,433 parameters and a 30x30 map at
256 px; then the same logits with the library's weights copied in. `receptive_field(
receptive_field_of)` runs a few chains of (kernel, stride) layers against
`reference.receptive_field_of` and recognises the classic wrong recurrences.
"""

from __future__ import annotations

import numpy as np

from pix2pix_lib.checks import reference
from pix2pix_lib.checks.core import (
    CheckFailed,
    assert_close,
    call_learner,
    compare_layer_lists,
    layer_settings,
    passed,
)
from pix2pix_lib.checks.mistakes import planted_in
from pix2pix_lib.tf_quiet import keras

__all__ = ["MISTAKES", "patchgan", "receptive_field"]

PATCHGAN = "the PatchGAN patchgan_70"
FIELD = "receptive_field_of"

SMALL_SIZE, SMALL_FILTERS = 48, 8  # fixed: fast, the same on every profile (48 px -> 4x4 map)
PAPER_SIZE, PAPER_FILTERS, PAPER_PARAMETERS, PAPER_MAP = 256, 64, 2_770_433, 30
BLOCKS = ("C64 (block 1)", "C128 (block 2)", "C256 (block 3)", "C512 (block 4)",
          "the logits convolution")
CONVOLUTIONS = ("Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D")


# ---------------------------------------------------------------------------------------------
# The PatchGAN
# ---------------------------------------------------------------------------------------------


def _layers(model) -> list:
    """Every layer that computes something, nested models opened, inputs and Concatenate left
    out (the conditioning is checked by what the network does, not by how it is written)."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out += _layers(layer)
        elif type(layer).__name__ not in ("InputLayer", "Concatenate"):
            out.append(layer)
    return out


def _blocks(layers: list) -> list[list]:
    """The layers cut into blocks, one per convolution: a block ends before the next padding or
    convolution that follows a convolution (so it works with or without ZeroPadding2D)."""
    blocks: list[list] = [[]]
    for layer in layers:
        kind = type(layer).__name__
        if kind in ("ZeroPadding2D", *CONVOLUTIONS) and any(
                type(seen).__name__ in CONVOLUTIONS for seen in blocks[-1]):
            blocks.append([])
        blocks[-1].append(layer)
    return [block for block in blocks if block]


def _settings(block: list) -> list[tuple[str, dict]]:
    return [layer_settings(layer) for layer in block]


def _hint(name: str, yours: list, library: list, filters: int) -> str:
    """The known cause of a difference in one block, in the learner's words ('' if none)."""
    found = _settings(yours)
    expected = _settings(library)
    kinds = [kind for kind, _ in found]
    conv = next((s for k, s in found if k in CONVOLUTIONS), {})
    want = next(s for k, s in expected if k == "Conv2D")
    if any(s.get("activation") == "sigmoid" for _, s in found):
        return ("D outputs logits: no sigmoid at the end (the loss applies it, "
                "from_logits=True, which stays exact when D is very sure)")
    if "ReLU" in kinds:
        return "the PatchGAN's blocks end with LeakyReLU(negative_slope=0.2), not ReLU"
    if any(k == "LeakyReLU" and abs(s["negative_slope"] - 0.3) < 1e-6 for k, s in found):
        return ("keras.layers.LeakyReLU() has the slope 0.3 by default; the paper's is 0.2: "
                "LeakyReLU(negative_slope=0.2)")
    if "BatchNormalization" in kinds and name == BLOCKS[0]:
        return "the paper leaves BatchNorm out of C64, the first block"
    if "BatchNormalization" not in kinds and "BatchNormalization" in dict(expected):
        return "C128, C256 and C512 have BatchNorm after the convolution"
    if conv.get("padding") == "valid" and "ZeroPadding2D" not in kinds:
        return ("each 4x4 convolution needs one pixel of zeros on each side first: "
                "ZeroPadding2D(1), then Conv2D(..., padding='valid')")
    if conv.get("padding") == "same":
        return ("pad with ZeroPadding2D(1), then convolve with padding='valid', as the "
                "reference code does (padding='same' makes each side side/stride, rounded up: "
                "other map sizes)")
    if conv and conv.get("strides") != want["strides"]:
        return ("C64, C128 and C256 have stride 2; C512 and the logits convolution stride 1 "
                "(the authors' reference code)")
    if conv and conv.get("filters") != want["filters"]:
        return (f"C64, C128, C256 and C512 have filters x 1, 2, 4 and 8 filters: with "
                f"filters={filters}, {name} has {want['filters']}")
    if conv and conv.get("initial weights") != want["initial weights"]:
        return ("start the weights from N(0, 0.02): kernel_initializer="
                "keras.initializers.RandomNormal(mean=0.0, stddev=0.02), in every convolution")
    norm = next((s for k, s in found if k == "BatchNormalization"), None)
    if norm and norm != dict(expected).get("BatchNormalization"):
        return ("BatchNorm's scale starts from N(1, 0.02) in the reference code: "
                "gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02)")
    if conv and conv.get("bias") != want["bias"]:
        return ("a convolution followed by BatchNorm (and C64, as in the TF tutorial) has no "
                "bias: use_bias=False; only the logits convolution keeps its bias"
                if want["bias"] is False else "the logits convolution keeps its bias")
    return ""


def _map_note(model) -> str:
    """' (your D gives 15x15 logits at 256 px, the library's 30x30)' when the sizes differ."""
    try:
        shape = tuple(model.outputs[0].shape)
    except (AttributeError, IndexError):
        return ""
    if len(shape) == 4 and shape[1:] == (PAPER_MAP, PAPER_MAP, 1):
        return ""
    side = "x".join(str(s) for s in shape[1:3]) if len(shape) == 4 else str(shape)
    return (f" (your D gives {side} logits at {PAPER_SIZE} px with {PAPER_FILTERS} filters, "
            f"the library's {PAPER_MAP}x{PAPER_MAP})")


def _build(function, size: int, filters: int):
    model = call_learner(PATCHGAN, function, size, filters=filters)
    call = f"patchgan_70({size}, filters={filters})"
    if not isinstance(model, keras.Model):
        raise CheckFailed(PATCHGAN, f"{call} returned {type(model).__name__}; return a "
                                    "keras.Model([source, target], logits)")
    if len(model.inputs) != 2:
        raise CheckFailed(PATCHGAN, f"D is not conditioned on the source: {call} has "
                                    f"{len(model.inputs)} input(s); it must take two, "
                                    "keras.Model([source, target], logits), and stack them with "
                                    "keras.layers.Concatenate()([source, target])")
    for tensor, what in zip(model.inputs, ("source", "target"), strict=True):
        if tuple(tensor.shape[1:]) != (size, size, 3):
            raise CheckFailed(PATCHGAN, f"{call}: the {what} input has shape "
                                        f"{tuple(tensor.shape)}, expected (None, {size}, {size}, "
                                        "3): use image_size for both inputs")
    return model


def _compare_structure(yours, library, paper_model, filters: int) -> None:
    mine, theirs = _blocks(_layers(yours)), _blocks(_layers(library))
    if len(mine) != len(theirs):
        count = sum(type(layer).__name__ in CONVOLUTIONS for layer in _layers(yours))
        raise CheckFailed(PATCHGAN, f"expected 5 convolutions (C64, C128, C256, C512, then the "
                                    f"1-filter logits convolution), found {count}"
                                    f"{_map_note(paper_model)}")
    for name, my_block, block in zip(BLOCKS, mine, theirs, strict=True):
        try:
            compare_layer_lists(PATCHGAN, name, my_block, block)
        except CheckFailed as failure:
            hint = _hint(name, my_block, block, filters)
            raise CheckFailed(PATCHGAN, failure.message + (f": {hint}" if hint else "")
                              + _map_note(paper_model)) from None


def _pairs(seed: int):
    rng = np.random.default_rng(seed)
    shape = (2, SMALL_SIZE, SMALL_SIZE, 3)
    return [rng.uniform(-1, 1, shape).astype("float32") for _ in range(3)]


def _logits(model, source, target):
    out = call_learner(PATCHGAN, model, [source, target], training=False)
    return np.asarray(out, dtype=np.float64)


def _check_conditioning(model) -> None:
    source, target, other = _pairs(3)
    base = _logits(model, source, target)
    scale = max(float(np.abs(base).max()), 1e-3)
    if np.abs(_logits(model, other, target) - base).max() <= 1e-6 * scale:
        raise CheckFailed(PATCHGAN, "D is not conditioned on the source: with another source "
                                    "and the same target your logits did not change, so D never "
                                    "sees the photo; stack both: "
                                    "keras.layers.Concatenate()([source, target])")
    if np.abs(_logits(model, source, other) - base).max() <= 1e-6 * scale:
        raise CheckFailed(PATCHGAN, "D ignores the target: with another target and the same "
                                    "source your logits did not change; stack both: "
                                    "keras.layers.Concatenate()([source, target])")


def _library_with_random_weights(seed: int):
    """The library's D at the small size with every weight drawn from a seeded generator:
    kernels scaled to give logits of order 1, random BatchNorm statistics and offsets and a
    random logit bias, so that every weight matters when copied into the learner's."""
    library = reference.patchgan_70(SMALL_SIZE, filters=SMALL_FILTERS)
    rng = np.random.default_rng(seed)
    weights = []
    for variable, value in zip(library.weights, library.get_weights(), strict=True):
        name, shape = variable.path, value.shape
        if "moving_variance" in name:
            value = rng.uniform(0.5, 2.0, shape)
        elif "gamma" in name:
            value = rng.uniform(0.8, 1.2, shape)
        elif value.ndim == 4:  # a kernel
            value = rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[:-1])), shape)
        else:  # moving means, offsets, the logit bias
            value = rng.normal(0.0, 0.1, shape)
        weights.append(np.asarray(value, dtype="float32"))
    library.set_weights(weights)
    return library


def patchgan(patchgan_70) -> None:
    """Check the learner's `patchgan_70(image_size, filters=64)` against the library's."""
    paper = _build(patchgan_70, PAPER_SIZE, PAPER_FILTERS)
    _compare_structure(paper, reference.patchgan_70(PAPER_SIZE, filters=PAPER_FILTERS), paper,
                       PAPER_FILTERS)
    yours = _build(patchgan_70, SMALL_SIZE, SMALL_FILTERS)
    library = _library_with_random_weights(0)
    _compare_structure(yours, library, paper, SMALL_FILTERS)
    _check_conditioning(yours)

    map_note = _map_note(paper)
    if map_note:
        raise CheckFailed(PATCHGAN, "wrong map size" + map_note)
    count = paper.count_params()
    if count != PAPER_PARAMETERS:
        raise CheckFailed(PATCHGAN, f"at {PAPER_SIZE} px with {PAPER_FILTERS} filters yours has "
                                    f"{count:,} parameters, the library's {PAPER_PARAMETERS:,} "
                                    "(6 input channels in C64: the source and the target)")

    try:
        yours.set_weights(library.get_weights())
    except ValueError as error:
        raise CheckFailed(PATCHGAN, f"the library's weights do not fit yours: {error}") from None
    source, target, _ = _pairs(1)
    expected = _logits(library, source, target)
    mine = _logits(yours, source, target)
    tolerance = 1e-4 * float(np.abs(expected).max()) + 1e-6
    if np.abs(mine - expected).max() > tolerance:
        if np.abs(mine - _logits(library, target, source)).max() <= tolerance:
            raise CheckFailed(PATCHGAN, "inputs swapped: with the library's weights your D "
                                        "gives the library's logits for [target, source]; "
                                        "stack the source first: Concatenate()([source, target]) "
                                        "and keras.Model([source, target], logits)")
        if np.abs(mine - 1.0 / (1.0 + np.exp(-expected))).max() <= 1e-4:
            raise CheckFailed(PATCHGAN, "your D gives sigmoid(the library's logits): D outputs "
                                        "logits, no sigmoid at the end (the loss applies it)")
    assert_close(PATCHGAN, f"logits with the library's weights (training=False, "
                           f"{SMALL_SIZE} px, filters={SMALL_FILTERS})", mine, expected,
                 atol=tolerance, rtol=1e-4)
    passed(PATCHGAN, f"two inputs stacked source first, every layer and its settings (N(0, 0.02) "
                     f"weights included), {PAPER_PARAMETERS:,} parameters and {PAPER_MAP}x"
                     f"{PAPER_MAP} logits at {PAPER_SIZE} px, the library's logits with its "
                     "weights")


# ---------------------------------------------------------------------------------------------
# The receptive field
# ---------------------------------------------------------------------------------------------

CHAINS = (
    [(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)],  # the 70x70 PatchGAN -> 70
    [(4, 2), (4, 1), (4, 1)],  # the 16x16 PatchGAN -> 16
    [(1, 1), (1, 1), (1, 1)],  # the PixelGAN -> 1
    [(4, 2), (4, 2), (4, 2), (4, 2), (4, 1), (4, 1)],  # the classic tutorial's D -> 142
    [(3, 1), (3, 1)],  # two 3x3 convolutions -> 5
    [(7, 2), (3, 2), (3, 1)],  # mixed kernels and strides -> 19
)


def _walk(layers, start=1, forward=False, recurrence=lambda r, k, s: s * r + (k - s)):
    r = start
    for kernel, stride in (layers if forward else reversed(layers)):
        r = recurrence(r, kernel, stride)
    return r


WRONG_RECURRENCES = (
    ("you walked forward, first layer first; the recurrence walks back from the output: "
     "for kernel, stride in reversed(layers)", lambda c: _walk(c, forward=True)),
    ("you ignored the stride (r = r + kernel - 1); each stride multiplies what the layers "
     "after it see: r = stride * r + (kernel - stride)",
     lambda c: _walk(c, recurrence=lambda r, k, s: r + k - 1)),
    ("you started from r = 0; one output unit is 1 pixel wide: start from r = 1",
     lambda c: _walk(c, start=0)),
    ("you added kernel - 1 (the forward formula's step); walking back it is "
     "r = stride * r + (kernel - stride)", lambda c: _walk(c, recurrence=lambda r, k, s:
                                                           s * r + k - 1)),
    ("you added kernel instead of kernel - stride: r = stride * r + (kernel - stride)",
     lambda c: _walk(c, recurrence=lambda r, k, s: s * r + k)),
)


def receptive_field(receptive_field_of) -> None:
    """Check the learner's `receptive_field_of(layers)` on several chains of (kernel, stride)."""
    answers = []
    for chain in CHAINS:
        given = list(chain)  # a copy: the learner's function must leave it as it is
        answer = call_learner(FIELD, receptive_field_of, given)
        if given != chain:
            raise CheckFailed(FIELD, f"it changed the list it was given (now {given}): "
                                     "layers.reverse() reverses the caller's list in place; "
                                     "use reversed(layers), which leaves it as it is")
        if answer is None:
            raise CheckFailed(FIELD, f"for {chain} it returned None: return r at the end")
        answers.append(answer)
    expected = [reference.receptive_field_of(chain) for chain in CHAINS]
    for chain, answer, right in zip(CHAINS, answers, expected, strict=True):
        if not isinstance(answer, int | float | np.integer | np.floating) or answer != right:
            cause = next((why for why, wrong in WRONG_RECURRENCES
                          if all(a == wrong(c) for a, c in zip(answers, CHAINS, strict=True))),
                         "walk back from r = 1, last layer first: "
                         "r = stride * r + (kernel - stride)")
            raise CheckFailed(FIELD, f"for the layers {chain} (first layer first) yours is "
                                     f"{answer!r}, the library's {right}: {cause}")
    passed(FIELD, f"{len(CHAINS)} chains of (kernel, stride), the 70x70 PatchGAN's (70), the "
                  "PixelGAN's (1) and the classic tutorial's (142) among them")


# ---------------------------------------------------------------------------------------------
# The mistakes these checks catch, each planted in notebook 03's solutions
# ---------------------------------------------------------------------------------------------

_NB = "03_patchgan_discriminator"
_d = planted_in(_NB, "patchgan_70", "check_patchgan_70")
_r = planted_in(_NB, "receptive_field_of", "check_receptive_field_of")


MISTAKES = (
    _d("D not conditioned on the source (judges the map alone)",
       'x = keras.layers.Concatenate(name="source_target")([source, target])',
       "x = target", "D is not conditioned on the source"),
    _d("inputs swapped: [target, source] stacked",
       "([source, target])  # 6 channels", "([target, source])  # 6 channels",
       "inputs swapped"),
    _d("the source stacked twice, the target never",
       "([source, target])  # 6 channels", "([source, source])  # 6 channels",
       "D ignores the target"),
    _d("BatchNorm on C64",
       "stride=2, batchnorm=False", "stride=2, batchnorm=True",
       "leaves BatchNorm out of C64"),
    _d("all four blocks at stride 2 (C512 too)",
       "filters * 8, stride=1", "filters * 8, stride=2",
       "gives 15x15 logits at 256 px"),
    _d("padding='same' instead of ZeroPadding2D(1) + 'valid'",
       'x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)\n'
       '    x = keras.layers.Conv2D(filters, 4, strides=stride, padding="valid"',
       'x = keras.layers.Conv2D(filters, 4, strides=stride, padding="same"',
       "gives 31x31 logits at 256 px"),
    _d("no ZeroPadding2D before the 'valid' convolutions",
       '    x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)\n', "",
       "gives 26x26 logits at 256 px"),
    _d("a sigmoid on the logits",
       'name="logits")(x)', 'activation="sigmoid", name="logits")(x)',
       "no sigmoid at the end"),
    _d("ReLU instead of LeakyReLU",
       'keras.layers.LeakyReLU(negative_slope=0.2, name=f"{name}_leaky_relu")(x)',
       'keras.layers.ReLU(name=f"{name}_relu")(x)',
       "LeakyReLU(negative_slope=0.2), not ReLU"),
    _d("LeakyReLU's default slope (0.3 in Keras 3)",
       "LeakyReLU(negative_slope=0.2, ", "LeakyReLU(",
       "slope 0.3 by default"),
    _d("convolution weights not initialised from N(0, 0.02)",
       "kernel_initializer=init, ", "",
       "initial weights should be N(0, 0.02), found GlorotUniform"),
    _d("BatchNorm's scale not initialised from N(1, 0.02)",
       "gamma_initializer=scale_init, ", "",
       "N(1, 0.02)"),
    _d("bias kept in the normalised convolutions",
       "use_bias=False,", "use_bias=True,",
       "use_bias=False"),
    _d("no bias in the logits convolution",
       'name="logits")(x)', 'use_bias=False, name="logits")(x)',
       "the logits convolution keeps its bias"),
    _d("C256 given `filters` filters instead of filters * 4",
       "x = c_block(x, filters * 4,", "x = c_block(x, filters,",
       "filters should be 256, found 64"),
    _d("C64 hard-coded to 64 filters, ignoring `filters`",
       "x = c_block(x, filters, stride=2", "x = c_block(x, 64, stride=2",
       "filters should be 8, found 64"),
    _r("walked forward (first layer first) instead of back from the output",
       "in reversed(layers)", "in layers", "you walked forward"),
    _r("ignored the stride",
       "r = stride * r + (kernel - stride)", "r = r + (kernel - 1)",
       "you ignored the stride"),
    _r("started from r = 0",
       "r = 1\n", "r = 0\n", "you started from r = 0"),
    _r("added kernel - 1 instead of kernel - stride",
       "(kernel - stride)", "(kernel - 1)", "you added kernel - 1"),
    _r("reversed the caller's list in place (layers.reverse())",
       "for kernel, stride in reversed(layers):",
       "layers.reverse()\n    for kernel, stride in layers:", "reverses the caller's list"),
    _r("forgot to return the result",
       "return r", "print(r)", "return r at the end"),
)
