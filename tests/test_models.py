"""Tests for pix2pix_lib.models: shapes, parameter counts, receptive fields, inference modes."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import changed, snapshot

from pix2pix_lib import generation, models
from pix2pix_lib.tf_quiet import keras, tf

# The TF tutorial's generator has 54,425,859 parameters; ours drops the BatchNorm of the 1x1
# bottleneck (gamma, beta, moving mean, moving variance: 4 x 512 = 2,048), as the paper's
# reference code does.
TUTORIAL_GENERATOR_PARAMS = 54_425_859
PAPER_GENERATOR_PARAMS = TUTORIAL_GENERATOR_PARAMS - 4 * 512
# Parameter counts of the four PatchGANs with 3+3 input channels (independent of image size).
# The 70x70 one is the TF tutorial's 2,770,433 (the reference code adds 64 biases to C64).
PATCHGAN_PARAMS = {1: 9_217, 16: 139_777, 70: 2_770_433, 286: 11_163_137}


# ------------------------------------------------------------------------------------------
# Helpers and fixtures
# ------------------------------------------------------------------------------------------


def weights_snapshot(model) -> list[np.ndarray]:
    return snapshot(model.weights)


def same_weights(model, before) -> bool:
    return not any(changed(before, model.weights))


def rows_by_block(model) -> dict[str, dict]:
    return {row["block"]: row for row in models.model_summary_table(model)}


@pytest.fixture(scope="module")
def paper_generator():
    """The paper's U-Net at 256x256 (built once: ~54M parameters)."""
    keras.utils.set_random_seed(0)
    return models.unet_generator()


@pytest.fixture
def small_generator():
    keras.utils.set_random_seed(1)
    return models.unet_generator(32, base_filters=8, max_filters=32)


# ------------------------------------------------------------------------------------------
# Blocks
# ------------------------------------------------------------------------------------------


def test_downsample_block_halves_the_image():
    block = models.downsample(16)
    out = block(tf.zeros((2, 8, 8, 3)))
    assert out.shape == (2, 4, 4, 16)
    conv, norm, act = block.layers
    assert isinstance(conv, keras.layers.Conv2D) and conv.kernel_size == (4, 4)
    assert conv.strides == (2, 2) and not conv.use_bias  # it feeds a norm layer
    assert isinstance(norm, keras.layers.BatchNormalization)
    assert isinstance(act, keras.layers.LeakyReLU) and act.negative_slope == pytest.approx(0.2)
    init = conv.kernel_initializer.get_config()
    assert (init["mean"], init["stddev"]) == (0.0, 0.02)


def test_downsample_without_norm_has_a_bias_and_no_norm_layer():
    block = models.downsample(8, norm=False)
    block(tf.zeros((1, 8, 8, 3)))
    assert [type(layer).__name__ for layer in block.layers] == ["Conv2D", "LeakyReLU"]
    assert block.layers[0].use_bias


def test_upsample_block_doubles_the_image_with_optional_dropout():
    block = models.upsample(16, dropout=True)
    out = block(tf.zeros((2, 4, 4, 8)))
    assert out.shape == (2, 8, 8, 16)
    names = [type(layer).__name__ for layer in block.layers]
    assert names == ["Conv2DTranspose", "BatchNormalization", "Dropout", "ReLU"]
    assert block.layers[2].rate == 0.5
    assert not block.layers[0].use_bias
    plain = models.upsample(16)
    plain(tf.zeros((1, 4, 4, 8)))
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in plain.layers)


def test_instance_norm_is_group_normalization_with_one_group_per_channel():
    layer = models.norm_layer("instance")
    assert isinstance(layer, keras.layers.GroupNormalization) and layer.groups == -1
    x = tf.random.normal((2, 4, 4, 3), seed=0)
    y = layer(x).numpy()
    # Each image and channel is normalised on its own (gamma ~ 1, beta = 0 at initialisation).
    assert np.allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
    assert models.norm_layer("none") is None


# ------------------------------------------------------------------------------------------
# Generators: shapes, channels, architecture
# ------------------------------------------------------------------------------------------


def expected_generator_shapes(size: int, base: int, cap: int, skips: bool) -> dict[str, tuple]:
    depth = size.bit_length() - 1
    filters = [min(base * 2**i, cap) for i in range(depth)]
    shapes = {}
    for i in range(depth):
        name = f"down{i + 1}_bottleneck" if i == depth - 1 else f"down{i + 1}"
        side = size // 2 ** (i + 1)
        shapes[name] = (None, side, side, filters[i])
    for j in range(depth - 1):
        mirror = depth - 2 - j
        side = size // 2 ** (mirror + 1)
        shapes[f"up{j + 1}"] = (None, side, side, filters[mirror])
        if skips:
            shapes[f"skip{j + 1}"] = (None, side, side, 2 * filters[mirror])
    shapes["output"] = (None, size, size, 3)
    return shapes


@pytest.mark.parametrize("skips", [True, False], ids=["unet", "encoder_decoder"])
@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_generator_shapes_at_every_depth(size, skips):
    builder = models.unet_generator if skips else models.encoder_decoder_generator
    generator = builder(size, base_filters=4, max_filters=16)
    rows = rows_by_block(generator)
    expected = expected_generator_shapes(size, 4, 16, skips)
    assert {name: rows[name]["output_shape"] for name in expected} == expected
    assert any(name.startswith("skip") for name in rows) == skips
    out = generator(tf.zeros((1, size, size, 3)), training=False)
    assert out.shape == (1, size, size, 3) and out.dtype == tf.float32


@pytest.mark.slow
def test_paper_generator_at_512():
    generator = models.unet_generator(512)
    rows = rows_by_block(generator)
    assert rows["down9_bottleneck"]["output_shape"] == (None, 1, 1, 512)
    assert rows["output"]["output_shape"] == (None, 512, 512, 3)
    # One more 512-filter level than at 256: a down block and an up block (with its BatchNorm).
    assert models.count_params(generator) == 67_010_819
    out = generator(tf.zeros((1, 512, 512, 3)), training=False)
    assert out.shape == (1, 512, 512, 3)


@pytest.mark.parametrize(("in_channels", "out_channels"), [(1, 1), (1, 3), (4, 2)])
def test_generator_and_discriminator_take_any_channel_counts(in_channels, out_channels):
    generator = models.unet_generator(
        32, in_channels=in_channels, out_channels=out_channels, base_filters=4, max_filters=16
    )
    source = tf.random.uniform((2, 32, 32, in_channels), -1, 1, seed=3)
    fake = generator(source, training=True)
    assert fake.shape == (2, 32, 32, out_channels)
    assert float(tf.reduce_max(tf.abs(fake))) <= 1.0  # tanh
    disc = models.patchgan_discriminator(
        16, 32, in_channels=in_channels, out_channels=out_channels, base_filters=4
    )
    assert disc([source, fake]).shape == (2, 14, 14, 1)


def test_paper_generator_parameter_count(paper_generator):
    assert models.count_params(paper_generator) == PAPER_GENERATOR_PARAMS == 54_423_811
    table = models.format_table(models.model_summary_table(paper_generator))
    assert "total params: 54,423,811" in table


def test_paper_generator_architecture(paper_generator):
    """Paper appendix 6.1.1 as the reference code builds it."""
    rows = rows_by_block(paper_generator)
    encoder = [rows[f"down{i}"]["output_shape"][-1] for i in range(1, 8)]
    encoder.append(rows["down8_bottleneck"]["output_shape"][-1])
    assert encoder == [64, 128, 256, 512, 512, 512, 512, 512]
    # Decoder channel counts after concatenation: CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128.
    decoder_inputs = [512] + [rows[f"skip{j}"]["output_shape"][-1] for j in range(1, 8)]
    assert decoder_inputs == [512, 1024, 1024, 1024, 1024, 512, 256, 128]

    def has(block_name, layer_type):
        block = paper_generator.get_layer(block_name)
        return any(isinstance(layer, layer_type) for layer in block.layers)

    bn = keras.layers.BatchNormalization
    assert not has("down1", bn) and not has("down8_bottleneck", bn)
    assert all(has(f"down{i}", bn) for i in range(2, 8))
    assert [has(f"up{j}", keras.layers.Dropout) for j in range(1, 8)] == [True] * 3 + [False] * 4
    assert paper_generator.get_layer("output").activation is keras.activations.tanh


def test_bottleneck_varies_with_the_input_at_batch_size_1(paper_generator):
    """The TF tutorial's BatchNorm'ed 1x1 bottleneck outputs one constant; ours does not."""
    bottleneck = keras.Model(
        paper_generator.input, paper_generator.get_layer("down8_bottleneck").output
    )
    first = bottleneck(tf.random.uniform((1, 256, 256, 3), -1, 1, seed=1), training=True)
    second = bottleneck(tf.random.uniform((1, 256, 256, 3), -1, 1, seed=2), training=True)
    assert first.shape == (1, 1, 1, 512)
    assert float(tf.reduce_max(tf.abs(first - second))) > 1e-4

    # The trap: BatchNorm on a 1x1 map at batch size 1 subtracts the only value there is.
    trap = keras.layers.BatchNormalization()
    a = trap(tf.random.normal((1, 1, 1, 512), seed=1), training=True)
    b = trap(tf.random.normal((1, 1, 1, 512), seed=2), training=True)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_encoder_decoder_has_no_skips_and_fewer_parameters():
    unet = models.unet_generator(64, base_filters=8, max_filters=32)
    plain = models.encoder_decoder_generator(64, base_filters=8, max_filters=32)
    assert not any(isinstance(layer, keras.layers.Concatenate) for layer in plain.layers)
    assert models.count_params(plain) < models.count_params(unet)
    assert plain.output.shape == unet.output.shape


def test_norm_choices_change_the_norm_layers_and_biases():
    instance = models.unet_generator(32, base_filters=4, max_filters=16, norm="instance")
    leaves = list(models.leaf_layers(instance))
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in leaves)
    assert sum(isinstance(layer, keras.layers.GroupNormalization) for layer in leaves) == 3 + 4
    plain = models.unet_generator(32, base_filters=4, max_filters=16, norm="none")
    convs = [
        layer
        for layer in models.leaf_layers(plain)
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)
    ]
    assert len(convs) == 10 and all(conv.use_bias for conv in convs)


def test_normalised_networks_have_a_bias_on_their_last_layer_only():
    """As the reference code with BatchNorm: a norm's offset makes a conv bias redundant."""
    generator = models.unet_generator(32, base_filters=4, max_filters=16)
    disc = models.patchgan_discriminator(70, 64, base_filters=4)
    for model, last in ((generator, "output_conv"), (disc, "logits")):
        biased = [
            layer.name
            for layer in models.leaf_layers(model)
            if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)
            and layer.use_bias
        ]
        assert biased == [last]


def test_synchronized_batchnorm_is_passed_to_every_batchnorm():
    generator = models.unet_generator(32, base_filters=4, synchronized_batchnorm=True)
    disc = models.patchgan_discriminator(70, 64, base_filters=4, synchronized_batchnorm=True)
    for model in (generator, disc):
        norms = [
            layer
            for layer in models.leaf_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization)
        ]
        assert norms and all(layer.synchronized for layer in norms)
    default = models.unet_generator(32, base_filters=4)
    assert not any(getattr(layer, "synchronized", False) for layer in models.leaf_layers(default))


# ------------------------------------------------------------------------------------------
# Discriminator
# ------------------------------------------------------------------------------------------


def test_patchgan_70_gives_a_30x30_logit_map_at_256():
    disc = models.patchgan_discriminator()
    assert [tensor.name for tensor in disc.inputs] == ["source", "target"]
    source = tf.random.uniform((2, 256, 256, 3), -1, 1, seed=0)
    logits = disc([source, source], training=False)
    assert logits.shape == (2, 30, 30, 1) and logits.dtype == tf.float32
    assert models.count_params(disc) == PATCHGAN_PARAMS[70]
    rows = rows_by_block(disc)
    shapes = [rows[f"block{i}"]["output_shape"][1:] for i in range(1, 5)]
    assert shapes == [(128, 128, 64), (64, 64, 128), (32, 32, 256), (31, 31, 512)]
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in disc.get_layer("block1").layers
    )
    assert [rows[f"block{i}"]["receptive_field"] for i in range(1, 5)] == [4, 10, 22, 46]
    assert rows["logits"]["receptive_field"] == 70


def test_the_unconditional_patchgan_judges_the_target_alone():
    """The paper's "GAN" rows: the same D, called the same way, but blind to the source."""
    conditional = models.patchgan_discriminator(70, 64, base_filters=8)
    unconditional = models.patchgan_discriminator(70, 64, base_filters=8, conditional=False)
    first_conv = 4 * 4 * 3 * 8  # the source's 3 channels into C8 (no bias on the first block)
    assert models.count_params(conditional) - models.count_params(unconditional) == first_conv
    rng = np.random.default_rng(0)
    target = rng.uniform(-1, 1, (1, 64, 64, 3)).astype("float32")
    sources = rng.uniform(-1, 1, (2, 1, 64, 64, 3)).astype("float32")
    verdicts = [unconditional([source, target], training=False).numpy() for source in sources]
    np.testing.assert_array_equal(verdicts[0], verdicts[1])
    assert models.receptive_field(unconditional) == 70


@pytest.mark.parametrize(
    ("field", "image_size", "map_side"),
    [(1, 32, 32), (16, 32, 14), (70, 64, 6), (286, 128, 2)],
)
def test_patchgan_variants_parameters_and_map_sizes(field, image_size, map_side):
    disc = models.patchgan_discriminator(field, image_size)
    assert disc.output.shape == (None, map_side, map_side, 1)
    assert models.count_params(disc) == PATCHGAN_PARAMS[field]
    assert models.receptive_field(disc) == field


def test_receptive_field_is_only_defined_for_encoders(small_generator):
    with pytest.raises(ValueError, match="upsamples"):
        models.receptive_field(small_generator)


def input_window(disc, index: int) -> tuple[int, int]:
    """First and last input row that output row `index` of `disc` sees (before clipping).

    Maps an interval back through each layer: a conv output row i reads rows [i*s, i*s + k - 1]
    of its input, and zero padding p shifts rows by -p. Independent of receptive_field().
    """
    low, high = index, index
    for layer in reversed(list(models.leaf_layers(disc))):
        if isinstance(layer, keras.layers.ZeroPadding2D):
            pad = layer.padding[0][0]
            low, high = low - pad, high - pad
        elif isinstance(layer, keras.layers.Conv2D):
            (kernel, _), (stride, _) = layer.kernel_size, layer.strides
            low, high = low * stride, high * stride + kernel - 1
    return low, high


def measure_field(field: int, image_size: int):
    """Gradient of one central logit w.r.t. both inputs: where it is non-zero is the patch."""
    keras.utils.set_random_seed(field)
    # norm="none": BatchNorm's batch statistics would couple every pixel to every other.
    disc = models.patchgan_discriminator(field, image_size, base_filters=8, norm="none")
    source = tf.random.normal((1, image_size, image_size, 3), seed=1)
    target = tf.random.normal((1, image_size, image_size, 3), seed=2)
    with tf.GradientTape() as tape:
        tape.watch([source, target])
        logits = disc([source, target], training=False)
        center = logits.shape[1] // 2
        unit = logits[0, center, center, 0]
    grads = tape.gradient(unit, [source, target])
    seen = np.abs(grads[0].numpy()[0]).sum(-1) + np.abs(grads[1].numpy()[0]).sum(-1) > 0
    return disc, center, seen


@pytest.mark.parametrize(
    ("field", "image_size", "clipped"),
    [(1, 32, False), (16, 32, False), (70, 128, False), (286, 256, True)],
)
def test_receptive_field_measured_from_gradients(field, image_size, clipped):
    disc, center, seen = measure_field(field, image_size)
    low, high = input_window(disc, center)
    assert high - low + 1 == field == models.receptive_field(disc)
    assert (low < 0 or high >= image_size) == clipped
    rows = np.flatnonzero(seen.any(axis=1))
    cols = np.flatnonzero(seen.any(axis=0))
    window = np.arange(max(low, 0), min(high, image_size - 1) + 1)
    np.testing.assert_array_equal(rows, window)
    np.testing.assert_array_equal(cols, window)
    assert seen[np.ix_(window, window)].all()  # the whole patch, not just its outline
    if not clipped:
        assert seen.sum() == field * field


@pytest.mark.slow
def test_receptive_field_286_measured_unclipped_at_512():
    disc, center, seen = measure_field(286, 512)
    low, high = input_window(disc, center)
    assert 0 <= low and high < 512
    assert seen.sum() == 286 * 286
    assert np.flatnonzero(seen.any(axis=1)).tolist() == list(range(low, high + 1))


# ------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [16, 48, 1024, 256.0, "256", True])
def test_unet_refuses_unsupported_image_sizes(bad):
    with pytest.raises(ValueError, match="power of two between 32 and 512") as error:
        models.unet_generator(bad)
    assert repr(bad) in str(error.value)


@pytest.mark.parametrize("bad", ["Batch", "layer", "group", 1])
def test_unknown_norm_is_refused_with_the_allowed_values(bad):
    with pytest.raises(ValueError, match="'batch', 'instance', 'none'"):
        models.unet_generator(32, norm=bad)
    with pytest.raises(ValueError, match="norm must be one of"):
        models.patchgan_discriminator(70, 64, norm=bad)


@pytest.mark.parametrize("bad", [0, 34, 70.5, "70", True])
def test_unknown_receptive_field_is_refused(bad):
    with pytest.raises(ValueError, match=r"receptive_field must be one of \(1, 16, 70, 286\)"):
        models.patchgan_discriminator(bad)


def test_too_small_image_for_the_patchgan_is_refused():
    with pytest.raises(ValueError, match="needs image_size >= "):
        models.patchgan_discriminator(286, 32)


@pytest.mark.parametrize(
    "kwargs",
    [{"dropout": 1.0}, {"dropout": -0.1}, {"in_channels": 0}, {"base_filters": 2.5}],
)
def test_bad_generator_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        models.unet_generator(32, **kwargs)


# ------------------------------------------------------------------------------------------
# Inference modes
# ------------------------------------------------------------------------------------------


def test_calling_with_training_true_changes_moving_statistics(small_generator):
    """The trap `generate` avoids: a plain training=True call rewrites BatchNorm's statistics."""
    before = weights_snapshot(small_generator)
    small_generator(tf.random.normal((1, 32, 32, 3)), training=True)
    assert not same_weights(small_generator, before)


def test_paper_mode_runs_dropout_and_leaves_every_weight_unchanged(small_generator):
    source = tf.random.uniform((2, 32, 32, 3), -1, 1, seed=4)
    before = weights_snapshot(small_generator)
    first = generation.generate(small_generator, source)
    second = generation.generate(small_generator, source)
    assert first.dtype == tf.float32 and first.shape == (2, 32, 32, 3)
    assert float(tf.reduce_max(tf.abs(first - second))) > 1e-4  # a fresh dropout mask each call
    assert same_weights(small_generator, before)

    traced = tf.function(lambda batch: generation.generate(small_generator, batch))
    for _ in range(3):
        traced(source)
    assert same_weights(small_generator, before)


def test_paper_mode_normalises_with_the_batch_statistics():
    keras.utils.set_random_seed(5)
    generator = models.unet_generator(32, base_filters=8, max_filters=32, dropout=0.0)
    image = tf.random.uniform((1, 32, 32, 3), -1, 1, seed=5)
    other = tf.random.uniform((1, 32, 32, 3), -1, 1, seed=6)
    alone = generation.generate(generator, image)
    with_other = generation.generate(generator, tf.concat([image, other], 0))[:1]
    # Without dropout it is deterministic and equals the training-mode forward pass ...
    np.testing.assert_allclose(alone, generation.generate(generator, image), atol=1e-6)
    np.testing.assert_allclose(alone, generator(image, training=True), atol=1e-6)
    # ... whose BatchNorm uses the batch: the same image translates differently next to another.
    assert float(tf.reduce_max(tf.abs(alone - with_other))) > 1e-4
    conventional = generation.generate(generator, image, paper_mode=False)
    assert float(tf.reduce_max(tf.abs(alone - conventional))) > 1e-4


def test_conventional_mode_is_deterministic_and_uses_moving_statistics(small_generator):
    image = tf.random.uniform((1, 32, 32, 3), -1, 1, seed=7)
    other = tf.random.uniform((1, 32, 32, 3), -1, 1, seed=8)
    before = weights_snapshot(small_generator)
    first = generation.generate(small_generator, image, paper_mode=False)
    again = generation.generate(small_generator, image, paper_mode=False)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, small_generator(image, training=False), atol=1e-6)
    in_batch = generation.generate(small_generator, tf.concat([image, other], 0), paper_mode=False)
    np.testing.assert_allclose(first, in_batch[:1], atol=1e-5)
    assert same_weights(small_generator, before)


def test_instance_norm_paper_mode_does_not_depend_on_the_batch():
    keras.utils.set_random_seed(9)
    generator = models.unet_generator(32, base_filters=8, norm="instance", dropout=0.0)
    image = tf.random.uniform((1, 32, 32, 3), -1, 1, seed=9)
    other = tf.random.uniform((1, 32, 32, 3), -1, 1, seed=10)
    alone = generation.generate(generator, image)
    together = generation.generate(generator, tf.concat([image, other], 0))[:1]
    np.testing.assert_allclose(alone, together, atol=1e-5)


def test_generate_accepts_one_image_without_batch_axis(small_generator):
    image = np.random.default_rng(0).uniform(-1, 1, (32, 32, 3)).astype(np.float32)
    out = generation.generate(small_generator, image, paper_mode=False)
    assert out.shape == (32, 32, 3) and out.dtype == tf.float32
    np.testing.assert_allclose(
        out, generation.generate(small_generator, image[None], paper_mode=False)[0], atol=1e-6
    )


# ------------------------------------------------------------------------------------------
# Mixed precision and saving
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mixed_policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
def test_models_build_under_mixed_precision_with_float32_outputs(mixed_policy):
    generator = models.unet_generator(32, base_filters=8, max_filters=32)
    disc = models.patchgan_discriminator(70, 64, base_filters=8)
    assert generator.get_layer("down2").layers[0].compute_dtype != "float32"
    source = tf.random.uniform((2, 32, 32, 3), -1, 1, seed=11)
    fake = generator(source, training=True)
    assert fake.dtype == tf.float32
    assert generation.generate(generator, source).dtype == tf.float32
    pair = tf.random.uniform((1, 64, 64, 3), -1, 1, seed=12)
    assert disc([pair, pair], training=True).dtype == tf.float32


# Keras 3.15's own saving code converts variables with np.array(), which numpy 2 warns about.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_models_round_trip_through_keras_files(tmp_path, small_generator):
    disc = models.patchgan_discriminator(16, 32, base_filters=4)
    image = tf.random.uniform((1, 32, 32, 3), -1, 1, seed=13)
    for model, inputs in ((small_generator, image), (disc, [image, image])):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.models.load_model(path, safe_mode=True)
        np.testing.assert_array_equal(
            model(inputs, training=False).numpy(), loaded(inputs, training=False).numpy()
        )


# ------------------------------------------------------------------------------------------
# Summaries
# ------------------------------------------------------------------------------------------


def test_summary_table_lists_every_block_and_adds_up(small_generator):
    rows = models.model_summary_table(small_generator)
    assert rows[0] == {"block": "source", "output_shape": (None, 32, 32, 3), "params": 0}
    assert [row["block"] for row in rows[1:6]] == [
        "down1",
        "down2",
        "down3",
        "down4",
        "down5_bottleneck",
    ]
    assert rows[-1]["block"] == "output"
    assert all(set(row) == {"block", "output_shape", "params"} for row in rows)
    assert sum(row["params"] for row in rows) == models.count_params(small_generator)
    text = models.format_table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["block", "output_shape", "params"]
    assert "down5_bottleneck" in text and "(None, 1, 1, 32)" in text
    assert lines[-1] == f"total params: {models.count_params(small_generator):,}"
    assert models.format_table([]) == ""
