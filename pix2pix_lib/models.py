"""The pix2pix networks: U-Net / encoder-decoder generators and the PatchGAN discriminator.

Everything here follows Isola et al. 2017 ("Image-to-Image Translation with Conditional
Adversarial Networks", appendix 6.1 and section 3.2) as its reference code
(junyanz/pytorch-CycleGAN-and-pix2pix, `networks.py`) builds it, written for Keras 3:

* `downsample` / `upsample`: the paper's Ck / CDk blocks (4x4 convolution, stride 2, norm,
  LeakyReLU 0.2 on the way down, ReLU on the way up, dropout 0.5 in CDk).
* `unet_generator`: the encoder-decoder with skip connections (section 3.2.1), and
  `encoder_decoder_generator`, the same without skips (the paper's ablation, figure 5).
* `patchgan_discriminator`: the Markovian discriminator (section 3.2.2) in the paper's four patch
  sizes 1 (PixelGAN), 16, 70 and 286 (ImageGAN); `receptive_field` computes its patch size.
* `model_summary_table` / `format_table`: block-by-block summaries for the notebooks.

Running a generator in the paper's test-time mode (`generate`) is `pix2pix_lib.generation`.

Every builder validates its arguments and raises ValueError naming the bad value and the allowed
ones. Models build under any mixed-precision policy: the last layer of each network computes in
float32 (the standard Keras recipe), so logits and images leave the networks in float32.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator

from pix2pix_lib.common import check_whole_number, text_table
from pix2pix_lib.config import NORMS, RECEPTIVE_FIELDS, UNET_IMAGE_SIZES
from pix2pix_lib.tf_quiet import keras

# Number of decoder blocks, counted from the bottleneck, that carry dropout (paper appendix 6.1.1:
# CD512-CD1024-CD1024 then plain C blocks).
DROPOUT_DECODER_BLOCKS = 3

# PatchGAN layouts: (filter multiplier of base_filters, kernel, stride, normalised) per block,
# then the 1-channel logit convolution's kernel. They are the reference code's
# NLayerDiscriminator with n_layers = 1 (16x16), 3 (70x70, the default) and 5 (286x286), and its
# PixelDiscriminator (1x1 convolutions only).
_PATCHGAN_LAYOUTS = {
    1: (((1, 1, 1, False), (2, 1, 1, True)), 1),
    16: (((1, 4, 2, False), (2, 4, 1, True)), 4),
    70: (((1, 4, 2, False), (2, 4, 2, True), (4, 4, 2, True), (8, 4, 1, True)), 4),
    286: (
        (
            (1, 4, 2, False),
            (2, 4, 2, True),
            (4, 4, 2, True),
            (8, 4, 2, True),
            (8, 4, 2, True),
            (8, 4, 1, True),
        ),
        4,
    ),
}

__all__ = [
    "DROPOUT_DECODER_BLOCKS",
    "NORMS",
    "RECEPTIVE_FIELDS",
    "UNET_IMAGE_SIZES",
    "min_discriminator_size",
    "count_params",
    "downsample",
    "encoder_decoder_generator",
    "format_table",
    "leaf_layers",
    "model_summary_table",
    "norm_layer",
    "patchgan_discriminator",
    "receptive_field",
    "unet_generator",
    "upsample",
]


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _resolve_norm(norm: bool | str | None) -> str:
    """Map `norm` to one of NORMS: True means "batch" (the paper), False/None mean "none"."""
    if norm is True:
        return "batch"
    if norm is False or norm is None:
        return "none"
    if isinstance(norm, str) and norm in NORMS:
        return norm
    raise ValueError(f"norm must be one of {NORMS} (or True/False); got {norm!r}")


def _is_int(value) -> bool:
    """int or numpy integer, but not bool (True would otherwise pass as 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_unet_image_size(image_size) -> int:
    """Return the U-Net depth log2(image_size): the encoder halves the image down to 1x1."""
    if not _is_int(image_size) or image_size not in UNET_IMAGE_SIZES:
        raise ValueError(
            "image_size must be a power of two between 32 and 512 "
            f"(one of {UNET_IMAGE_SIZES}); got {image_size!r}"
        )
    return int(image_size).bit_length() - 1


def _dropout_rate(dropout) -> float:
    """Accept a rate in [0, 1) or a bool (True = the paper's 0.5)."""
    if dropout is True:
        return 0.5
    if dropout is False or dropout is None:
        return 0.0
    if isinstance(dropout, numbers.Real) and 0.0 <= float(dropout) < 1.0:
        return float(dropout)
    raise ValueError(f"dropout must be a rate in [0, 1) or a bool; got {dropout!r}")


def _weights_init() -> keras.initializers.Initializer:
    """N(0, 0.02): the paper's weight initialisation (appendix 6.2, after DCGAN)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


# --------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------


def norm_layer(
    norm: bool | str = "batch", *, synchronized_batchnorm: bool = False, name: str = "norm"
) -> keras.layers.Layer | None:
    """Return the normalisation layer for `norm`, or None for "none".

    "batch" is the paper's choice. At batch size 1 it is instance normalisation in training, and
    with larger batches "instance" is often better because each image keeps its own statistics
    (`GroupNormalization(groups=-1)` is instance norm in Keras 3). The scale starts at N(1, 0.02),
    as the reference code's `init_weights` does. `synchronized_batchnorm` averages the batch
    statistics over replicas under a tf.distribute strategy; without it each replica's moving
    statistics drift apart (measured: docs/architecture.md).
    """
    norm = _resolve_norm(norm)
    gamma_init = keras.initializers.RandomNormal(mean=1.0, stddev=0.02)
    if norm == "batch":
        return keras.layers.BatchNormalization(
            synchronized=synchronized_batchnorm, gamma_initializer=gamma_init, name=name
        )
    if norm == "instance":
        return keras.layers.GroupNormalization(groups=-1, gamma_initializer=gamma_init, name=name)
    return None


def downsample(
    filters: int,
    kernel_size: int = 4,
    norm: bool | str = True,
    *,
    strides: int = 2,
    padding: str | int = "same",
    use_bias: bool | None = None,
    synchronized_batchnorm: bool = False,
    name: str | None = None,
) -> keras.Sequential:
    """The encoder block Ck: Conv(kernel_size, stride 2) -> norm -> LeakyReLU(0.2).

    `norm` is True/"batch" (paper), "instance", or False/"none". A convolution that feeds a norm
    layer carries no bias (the norm's own offset replaces it); by default the others do, and
    `use_bias` overrides that. `padding` is "same", or an int p for the reference code's explicit
    zero padding (ZeroPadding2D(p) + a 'valid' convolution), which the PatchGAN needs to give
    the paper's 30x30 map at 256x256.
    """
    check_whole_number("filters", filters)
    check_whole_number("kernel_size", kernel_size)
    norm = _resolve_norm(norm)
    if use_bias is None:
        use_bias = norm == "none"
    layers = []
    if isinstance(padding, int) and not isinstance(padding, bool):
        if padding > 0:
            layers.append(keras.layers.ZeroPadding2D(padding, name="pad"))
        conv_padding = "valid"
    elif padding in ("same", "valid"):
        conv_padding = padding
    else:
        raise ValueError(f"padding must be 'same', 'valid' or an int >= 0; got {padding!r}")
    layers.append(
        keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=conv_padding,
            kernel_initializer=_weights_init(),
            use_bias=use_bias,
            name="conv",
        )
    )
    normalisation = norm_layer(norm, synchronized_batchnorm=synchronized_batchnorm)
    if normalisation is not None:
        layers.append(normalisation)
    layers.append(keras.layers.LeakyReLU(negative_slope=0.2, name="leaky_relu"))
    return keras.Sequential(layers, name=name)


def upsample(
    filters: int,
    kernel_size: int = 4,
    dropout: bool | float = False,
    *,
    norm: bool | str = True,
    use_bias: bool | None = None,
    synchronized_batchnorm: bool = False,
    name: str | None = None,
) -> keras.Sequential:
    """The decoder block Ck / CDk: ConvTranspose(stride 2) -> norm -> [Dropout] -> ReLU.

    `dropout` is True (the paper's 0.5), False, or a rate. The dropout is the generator's only
    source of noise (the paper found input noise ignored, section 3.1), which is why it also runs
    at inference (see `generate`).
    """
    check_whole_number("filters", filters)
    check_whole_number("kernel_size", kernel_size)
    norm = _resolve_norm(norm)
    rate = _dropout_rate(dropout)
    if use_bias is None:
        use_bias = norm == "none"
    layers = [
        keras.layers.Conv2DTranspose(
            filters,
            kernel_size,
            strides=2,
            padding="same",
            kernel_initializer=_weights_init(),
            use_bias=use_bias,
            name="conv_transpose",
        )
    ]
    normalisation = norm_layer(norm, synchronized_batchnorm=synchronized_batchnorm)
    if normalisation is not None:
        layers.append(normalisation)
    if rate > 0.0:
        layers.append(keras.layers.Dropout(rate, name="dropout"))
    layers.append(keras.layers.ReLU(name="relu"))
    return keras.Sequential(layers, name=name)


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------


def _encoder_filters(depth: int, base_filters: int, max_filters: int) -> list[int]:
    """C64-C128-C256-C512-C512-... : doubling from base_filters, capped at max_filters."""
    return [min(base_filters * 2**i, max_filters) for i in range(depth)]


def _build_generator(
    *,
    skips: bool,
    image_size: int,
    in_channels: int,
    out_channels: int,
    base_filters: int,
    max_filters: int,
    norm: str,
    dropout: float,
    synchronized_batchnorm: bool,
    name: str,
) -> keras.Model:
    """Build the U-Net (skips=True) or the plain encoder-decoder (skips=False).

    As in the reference code's UnetGenerator (batch norm), the outermost and the innermost
    encoder convolutions carry neither a norm nor a bias. The innermost one must not be
    normalised: its output is 1x1, so at batch size 1 BatchNorm would subtract the only value
    there is and output the constant beta for every input (the TF tutorial's bottleneck does
    this and so carries no information). With norm="none" every convolution gets a bias instead.
    """
    depth = _check_unet_image_size(image_size)
    image_size = int(image_size)
    for arg_name, value in (
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("base_filters", base_filters),
        ("max_filters", max_filters),
    ):
        check_whole_number(arg_name, value)
    norm = _resolve_norm(norm)
    rate = _dropout_rate(dropout)
    filters = _encoder_filters(depth, base_filters, max_filters)
    outer_bias = norm == "none"

    inputs = keras.Input(shape=(image_size, image_size, in_channels), name="source")
    x = inputs
    encoder_outputs = []
    for i, block_filters in enumerate(filters):
        innermost = i == depth - 1
        x = downsample(
            block_filters,
            norm="none" if i == 0 or innermost else norm,
            use_bias=outer_bias if i == 0 or innermost else None,
            synchronized_batchnorm=synchronized_batchnorm,
            name=f"down{i + 1}_bottleneck" if innermost else f"down{i + 1}",
        )(x)
        encoder_outputs.append(x)

    for j in range(depth - 1):
        mirror = depth - 2 - j  # the encoder block of the same resolution
        x = upsample(
            filters[mirror],
            dropout=rate if j < DROPOUT_DECODER_BLOCKS else 0.0,
            norm=norm,
            synchronized_batchnorm=synchronized_batchnorm,
            name=f"up{j + 1}",
        )(x)
        if skips:
            x = keras.layers.Concatenate(name=f"skip{j + 1}")([x, encoder_outputs[mirror]])

    x = keras.layers.Conv2DTranspose(
        out_channels,
        4,
        strides=2,
        padding="same",
        kernel_initializer=_weights_init(),
        name="output_conv",
    )(x)
    # float32 so that images leave the network in float32 under a mixed-precision policy.
    outputs = keras.layers.Activation("tanh", dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def unet_generator(
    image_size: int = 256,
    in_channels: int = 3,
    out_channels: int = 3,
    base_filters: int = 64,
    max_filters: int = 512,
    norm: str = "batch",
    dropout: float = 0.5,
    *,
    synchronized_batchnorm: bool = False,
) -> keras.Model:
    """The pix2pix U-Net generator (paper section 3.2.1 and appendix 6.1.1).

    depth = log2(image_size) encoder blocks take the image down to 1x1 (8 at 256:
    C64-C128-C256-C512-C512-C512-C512-C512); the decoder mirrors them, each block's output
    concatenated with the encoder output of the same resolution (the skips let low-level detail
    such as edge positions bypass the bottleneck). Dropout `dropout` in the first three decoder
    blocks, tanh output in [-1, 1]. The input is named "source".
    """
    return _build_generator(
        skips=True, image_size=image_size, in_channels=in_channels, out_channels=out_channels,
        base_filters=base_filters, max_filters=max_filters, norm=norm, dropout=dropout,
        synchronized_batchnorm=synchronized_batchnorm, name="unet_generator",
    )


def encoder_decoder_generator(
    image_size: int = 256,
    in_channels: int = 3,
    out_channels: int = 3,
    base_filters: int = 64,
    max_filters: int = 512,
    norm: str = "batch",
    dropout: float = 0.5,
    *,
    synchronized_batchnorm: bool = False,
) -> keras.Model:
    """The U-Net without its skip connections: the paper's encoder-decoder ablation (figure 5).

    Everything must pass through the 1x1 bottleneck, which is why its results are blurrier.
    """
    return _build_generator(
        skips=False, image_size=image_size, in_channels=in_channels, out_channels=out_channels,
        base_filters=base_filters, max_filters=max_filters, norm=norm, dropout=dropout,
        synchronized_batchnorm=synchronized_batchnorm, name="encoder_decoder_generator",
    )


# --------------------------------------------------------------------------------------------
# Discriminator
# --------------------------------------------------------------------------------------------


def _patch_map_size(image_size: int, layout, final_kernel: int) -> int:
    """Side of the logit map: each block is ZeroPadding(p) + a 'valid' conv (p = 1 for 4x4)."""
    size = image_size
    for _, kernel, stride, _ in layout:
        pad = 1 if kernel == 4 else 0
        size = (size + 2 * pad - kernel) // stride + 1
    pad = 1 if final_kernel == 4 else 0
    return size + 2 * pad - final_kernel + 1


def min_discriminator_size(receptive_field: int) -> int:
    """The smallest image the receptive_field x receptive_field discriminator can judge (its
    stride-2 layers must leave at least one patch): 96 px for the 286x286 ImageGAN."""
    layout, final_kernel = _PATCHGAN_LAYOUTS[receptive_field]
    return next(s for s in range(1, 4096) if _patch_map_size(s, layout, final_kernel) >= 1)


def patchgan_discriminator(
    receptive_field: int = 70,
    image_size: int = 256,
    in_channels: int = 3,
    out_channels: int = 3,
    base_filters: int = 64,
    norm: str = "batch",
    *,
    conditional: bool = True,
    synchronized_batchnorm: bool = False,
) -> keras.Model:
    """The conditional PatchGAN (paper 3.2.2, appendix 6.1.2), called as D([source, target]).

    It classifies each receptive_field x receptive_field patch of the (source, target) pair as
    real or fake and returns the raw logits, one per patch (no sigmoid: the losses work from
    logits, which is numerically stable). 70x70 at 256x256 gives a 30x30 map: C64-C128-C256
    (stride 2) - C512 (stride 1) - a 1-channel conv (stride 1), each conv after a 1-pixel zero
    padding as in the reference code; no norm on C64. The logit conv computes in float32.

    Biases: as in the generator, a normalised network has none but on its last layer. C64 has
    no norm and, unlike the reference code, no bias either (as in the TF tutorial: 2,770,433
    parameters). Its 64 offsets matter little before a LeakyReLU, and TF 2.21's graph optimiser
    logs a spurious "remapper failed" error when it compiles a training step through a biased
    Conv2D + LeakyReLU. With norm="none" every convolution has a bias.

    conditional=False gives the paper's unconditional D (the "GAN" rows of table 1): it is
    still called as D([source, target]), so the training step is the same, but it ignores the
    source and judges the target alone, so it can only ask "is this a real-looking map?", not
    "is this the map of this photo?".
    """
    if not _is_int(receptive_field) or receptive_field not in _PATCHGAN_LAYOUTS:
        raise ValueError(
            f"receptive_field must be one of {RECEPTIVE_FIELDS}; got {receptive_field!r}"
        )
    for arg_name, value in (
        ("image_size", image_size),
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("base_filters", base_filters),
    ):
        check_whole_number(arg_name, value)
    image_size = int(image_size)
    norm = _resolve_norm(norm)
    layout, final_kernel = _PATCHGAN_LAYOUTS[receptive_field]
    if image_size < min_discriminator_size(receptive_field):
        raise ValueError(
            f"image_size={image_size} is too small for the {receptive_field}x{receptive_field} "
            f"PatchGAN: it needs image_size >= {min_discriminator_size(receptive_field)}"
        )

    source = keras.Input(shape=(image_size, image_size, in_channels), name="source")
    target = keras.Input(shape=(image_size, image_size, out_channels), name="target")
    # Conditional GAN: D judges the pair, so it sees the source next to the target (eq. 1).
    x = keras.layers.Concatenate(name="source_target")([source, target]) if conditional else target
    for i, (multiplier, kernel, stride, normalised) in enumerate(layout):
        x = downsample(
            base_filters * multiplier,
            kernel,
            norm=norm if normalised else "none",
            use_bias=None if normalised else norm == "none",
            strides=stride,
            padding=1 if kernel == 4 else 0,
            synchronized_batchnorm=synchronized_batchnorm,
            name=f"block{i + 1}",
        )(x)
    if final_kernel == 4:
        x = keras.layers.ZeroPadding2D(1, name="logits_pad")(x)
    logits = keras.layers.Conv2D(
        1,
        final_kernel,
        strides=1,
        padding="valid",
        kernel_initializer=_weights_init(),
        dtype="float32",  # logits in float32 under mixed precision
        name="logits",
    )(x)
    name = f"patchgan_{receptive_field}x{receptive_field}{'' if conditional else '_unconditional'}"
    return keras.Model([source, target], logits, name=name)


# --------------------------------------------------------------------------------------------
# Receptive field
# --------------------------------------------------------------------------------------------


def leaf_layers(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    """The layers of a (nested) model in call order; our models are chains of blocks."""
    if isinstance(layer, keras.Model):
        for sub in layer.layers:
            yield from leaf_layers(sub)
    else:
        yield layer


def _square(layer: keras.layers.Layer, attribute: str) -> int:
    value = getattr(layer, attribute)
    values = tuple(value) if isinstance(value, list | tuple) else (value,)
    if len(set(values)) != 1:
        raise ValueError(
            f"receptive_field() handles square windows only; layer {layer.name!r} has "
            f"{attribute}={values}"
        )
    return int(values[0])


def _window(layer: keras.layers.Layer) -> tuple[int, int] | None:
    """(effective kernel, stride) of a layer that looks at a window, None if it does not."""
    if isinstance(layer, keras.layers.Conv2DTranspose | keras.layers.UpSampling2D):
        raise ValueError(
            f"receptive_field() is defined for convolutional encoders such as the PatchGAN; "
            f"layer {layer.name!r} ({type(layer).__name__}) upsamples"
        )
    if isinstance(layer, keras.layers.Conv2D):
        kernel = _square(layer, "kernel_size")
        dilation = _square(layer, "dilation_rate")
        return dilation * (kernel - 1) + 1, _square(layer, "strides")
    if isinstance(layer, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D):
        return _square(layer, "pool_size"), _square(layer, "strides")
    return None


def _receptive_field_steps(layer: keras.layers.Layer, field: int, jump: int) -> tuple[int, int]:
    """Advance (receptive field, jump) through `layer`.

    Forward form of the standard recurrence: a window of k units, each `jump` input pixels apart,
    widens the field by (k - 1) * jump, and the stride multiplies the jump. It equals the
    backward form r_in = r_out * stride + (kernel - stride) walked from the output. Padding
    shifts the window but never changes its size.
    """
    for leaf in leaf_layers(layer):
        window = _window(leaf)
        if window is not None:
            kernel, stride = window
            field += (kernel - 1) * jump
            jump *= stride
    return field, jump


def receptive_field(model: keras.Model) -> int:
    """The side, in input pixels, of the patch one output unit of `model` sees.

    Computed analytically from every convolution's kernel, stride and dilation: 1, 16, 70 or 286
    for the four PatchGANs (the "patch size" of the paper's table 3).
    """
    field, _ = _receptive_field_steps(model, 1, 1)
    return field


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------


def count_params(model: keras.Model) -> int:
    """All weights, trainable or not, as Keras counts them (BatchNorm's moving statistics too)."""
    return int(model.count_params())


def _has_upsampling(model: keras.Model) -> bool:
    return any(
        isinstance(leaf, keras.layers.Conv2DTranspose | keras.layers.UpSampling2D)
        for leaf in leaf_layers(model)
    )


def model_summary_table(model: keras.Model) -> list[dict]:
    """One row per block of `model`: {"block", "output_shape", "params"}, in call order.

    For a convolutional encoder such as the PatchGAN each row also has "receptive_field": the
    patch of the input the block's output units see so far, which shows how the 70x70 grows
    block by block. Inputs are listed too (0 parameters) so the table starts from the image.
    """
    with_field = not _has_upsampling(model)
    field, jump = 1, 1
    rows = []
    for layer in model.layers:
        row = {
            "block": layer.name,
            "output_shape": tuple(layer.output.shape),
            "params": int(layer.count_params()) if layer.built else 0,
        }
        if with_field:
            field, jump = _receptive_field_steps(layer, field, jump)
            row["receptive_field"] = field
        rows.append(row)
    return rows


def _format_cell(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, tuple):
        return "(" + ", ".join("None" if v is None else str(v) for v in value) + ")"
    return str(value)


def format_table(rows: list[dict]) -> str:
    """Render `model_summary_table` rows as an aligned text table with a total line."""
    if not rows:
        return ""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_format_cell(row.get(column, "")) for column in columns] for row in rows]
    lines = text_table([columns, None, *cells])
    if "params" in columns:
        total = sum(int(row.get("params", 0)) for row in rows)
        lines.append(f"total params: {total:,}")
    return "\n".join(lines)
