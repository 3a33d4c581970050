"""Inference on anyone's images: sizes kept, files never clobbered, exports that round-trip."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_uint8, snapshot
from PIL import Image

from pix2pix_lib.config import TrainConfig
from pix2pix_lib.data import DataError, to_float
from pix2pix_lib.export import export_generator
from pix2pix_lib.inference import (
    _batch_runner,
    _translate_tiled,
    describe_plan,
    load_generator,
    load_run,
    plan_translation,
    translate,
)
from pix2pix_lib.inference_files import translate_files
from pix2pix_lib.models import unet_generator
from pix2pix_lib.tf_quiet import keras, tf

SIZE = 32


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(0)
    return unet_generator(image_size=SIZE, base_filters=8)


@pytest.fixture(scope="module")
def config():
    return TrainConfig(image_size=SIZE, g_filters=8, d_filters=8)


def _identity_model(channels_in: int = 3, channels_out: int = 3) -> keras.Model:
    """out = in (first channels_out channels): makes resampling and blending errors visible."""
    inputs = keras.Input((SIZE, SIZE, channels_in))
    outputs = keras.layers.Identity()(inputs[..., :channels_out])
    return keras.Model(inputs, outputs)


def _smooth_image(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    red, green = 127 + 120 * np.sin(x / 9.0), 127 + 120 * np.cos(y / 13.0)
    return np.stack([red, green, (x + y) % 256], axis=-1).astype(np.uint8)


# --- strategy ---------------------------------------------------------------------------------


def test_plan_resizes_up_to_four_times_the_model_size_and_tiles_beyond():
    assert plan_translation(64, 40, image_size=SIZE) == "resize"
    assert plan_translation(10, 4 * SIZE + 1, image_size=SIZE) == "tile"
    assert plan_translation(10, 4 * SIZE, image_size=SIZE) == "resize"
    assert plan_translation(300, 200, image_size=SIZE, tile=False) == "resize"
    assert plan_translation(20, 20, image_size=SIZE, tile=True) == "tile"
    assert "resized to 32x32" in describe_plan(50, 40, image_size=SIZE)
    assert "tiles" in describe_plan(300, 200, image_size=SIZE)


# --- translate --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [(50, 90, 3), (50, 90), (40, 30, 1), (37, 61, 4), (300, 200, 3)],
    ids=["non-square", "gray-2d", "gray-1ch", "rgba", "large-tiled"],
)
def test_translate_keeps_height_and_width(generator, shape):
    (output,) = translate(generator, [random_uint8(shape)])
    assert output.shape == (*shape[:2], 3) and output.dtype == np.uint8


def test_translate_batches_mixed_images_and_keeps_order(generator):
    images = [
        random_uint8(shape, seed)
        for seed, shape in enumerate([(20, 20, 3), (200, 70, 3), (33, 17, 3)])
    ]
    outputs = translate(generator, images, paper_mode=False, tile=None)
    assert [o.shape for o in outputs] == [i.shape for i in images]
    alone = translate(generator, images[2], paper_mode=False)[0]  # one bare array = one image
    # a batch of one and a batch of three may run other CPU kernels (other summation orders):
    # equal to one uint8 level, not bit for bit
    np.testing.assert_allclose(alone.astype(int), outputs[2].astype(int), atol=1)


def test_paper_mode_translate_leaves_the_weights_unchanged(generator):
    before = snapshot(generator.weights)
    translate(generator, [random_uint8((100, 70, 3))], paper_mode=True)
    for old, new in zip(before, generator.weights, strict=True):
        np.testing.assert_array_equal(old, new.numpy())


def test_tiles_blend_without_seams():
    """With an identity 'generator' the blended tiles must rebuild the image exactly."""
    image = _smooth_image(150, 100)
    (tiled,) = translate(_identity_model(), [image], tile=True)
    np.testing.assert_allclose(tiled.astype(int), image.astype(int), atol=1)
    (scaled,) = translate(_identity_model(), [image], tile=True, scale=0.5)
    assert scaled.shape == image.shape


def test_tiles_go_to_the_model_a_few_at_a_time(generator):
    """Memory stays bounded: tiles reach the model `tiles_per_call` at a time, with the same
    result as all at once (whole batches, so paper mode would see the same batches)."""
    image = random_uint8((150, 100, 3))
    run = _batch_runner(generator, paper_mode=False, batch_size=2)
    calls = []

    def counted(tiles):
        calls.append(len(tiles))
        return run(tiles)

    few = _translate_tiled(image, SIZE, counted, tiles_per_call=4)
    assert max(calls) == 4 and sum(calls) == 9 * 6  # 9 x 6 overlapping 32 px tiles
    at_once = _translate_tiled(image, SIZE, run, tiles_per_call=1000)
    np.testing.assert_array_equal(few, at_once)


def test_resize_strategy_undoes_the_aspect_distortion():
    image = _smooth_image(24, 56)  # resized to 32x32 and back
    (output,) = translate(_identity_model(), [image], tile=False)
    assert output.shape == image.shape
    assert np.abs(output.astype(int) - image.astype(int)).mean() < 12


def test_channels_are_matched_to_the_model():
    gray_model = _identity_model(channels_in=1, channels_out=1)
    (output,) = translate(gray_model, [random_uint8((20, 30, 3))])
    assert output.shape == (20, 30, 1)
    with pytest.raises(ValueError, match="dtype float32"):
        translate(gray_model, [np.zeros((20, 30, 3), np.float32)])
    with pytest.raises(ValueError, match="image_size=64"):
        translate(gray_model, [random_uint8((20, 30, 3))], image_size=64)


# --- translate_files --------------------------------------------------------------------------


def _write_inputs(folder):
    folder.mkdir()
    Image.fromarray(random_uint8((50, 90, 3), 1)).save(folder / "photo.jpg")
    Image.fromarray(random_uint8((40, 40), 2), "L").save(folder / "GRAY.PNG")
    Image.fromarray(random_uint8((30, 60, 4), 3), "RGBA").save(folder / "alpha.png")
    (folder / "notes.txt").write_text("not an image")
    return {"photo.jpg": (90, 50), "GRAY.PNG": (40, 40), "alpha.png": (60, 30)}


def test_translate_files_keeps_names_and_sizes(generator, config, tmp_path):
    sizes = _write_inputs(tmp_path / "in")
    lines = []
    written = translate_files(
        generator, [tmp_path / "in"], tmp_path / "out", config=config, report=lines.append
    )
    assert sorted(path.name for path in written) == sorted(sizes)
    for path in written:
        with Image.open(path) as image:
            assert image.size == sizes[path.name]
    assert lines[0].startswith(f"skipped {tmp_path / 'in' / 'notes.txt'}: not an image file")
    plans = {line.split(" -> ")[0].rsplit("/", 1)[-1]: line for line in lines[1:]}
    assert set(plans) == set(sizes)
    assert "resized" in plans["photo.jpg"]  # 90 px <= 4 x 32: resized
    assert "resized to 32x32" in plans["GRAY.PNG"] and "resized" in plans["alpha.png"]


@pytest.mark.filterwarnings("ignore:skipped .*notes.txt")  # named in the test above
def test_translate_files_never_overwrites_unless_asked(generator, config, tmp_path):
    _write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    translate_files(generator, [tmp_path / "in" / "photo.jpg"], out, config=config)
    before = (out / "photo.jpg").read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite") as error:
        translate_files(generator, [tmp_path / "in"], out, config=config)
    assert "photo.jpg" in str(error.value)
    assert sorted(p.name for p in out.iterdir()) == ["photo.jpg"]  # nothing else was written
    assert (out / "photo.jpg").read_bytes() == before
    written = translate_files(
        generator, [tmp_path / "in"], out, config=config, overwrite=True, paper_mode=False
    )
    assert len(written) == 3


@pytest.mark.filterwarnings("ignore:skipped .*notes.txt")  # named in the test above
def test_translate_files_names_an_unreadable_input_and_writes_nothing(generator, config, tmp_path):
    _write_inputs(tmp_path / "in")
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        translate_files(generator, [tmp_path / "in"], tmp_path / "out", config=config)
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        translate_files(generator, [tmp_path / "missing.jpg"], tmp_path / "out", config=config)


def test_translate_files_takes_the_source_half_of_pairs(generator, config, tmp_path):
    (tmp_path / "pairs").mkdir()
    Image.fromarray(random_uint8((40, 80, 3))).save(tmp_path / "pairs" / "1.png")
    (path,) = translate_files(
        generator, [tmp_path / "pairs"], tmp_path / "out", config=config, pairs=True
    )
    with Image.open(path) as image:
        assert image.size == (40, 40)


# --- loading and export -----------------------------------------------------------------------


def test_export_round_trip_matches_the_generator(generator, tmp_path, capfd, caplog):
    with caplog.at_level("INFO", logger="tensorflow"):
        paths = export_generator(generator, tmp_path / "export")
    printed = capfd.readouterr()
    assert "Assets written" not in printed.out + printed.err + caplog.text  # a notebook's red box
    x = to_float(random_uint8((2, SIZE, SIZE, 3)))
    expected = generator(x, training=False).numpy()
    reloaded = load_generator(paths["keras"])
    np.testing.assert_allclose(reloaded(x, training=False).numpy(), expected, atol=1e-5)
    served = tf.saved_model.load(str(paths["saved_model"]))  # keep a reference (docs)
    np.testing.assert_allclose(served.serve(tf.constant(x)).numpy(), expected, atol=1e-5)
    readme = paths["readme"].read_text()
    assert 'm = tf.saved_model.load("saved_model"); y = m.serve(x)' in readme
    assert "training=False" in readme
    with pytest.raises(FileExistsError, match="overwrite"):
        export_generator(generator, tmp_path / "export")


def test_load_generator_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.keras"):
        load_generator(tmp_path / "nothere.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="corrupt.keras"):
        load_generator(corrupt)


def test_load_run_returns_generator_and_config(generator, config, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    config.save(run / "config.json")
    with pytest.raises(FileNotFoundError, match="--resume"):
        load_run(run)
    generator.save(run / "generator.keras")
    loaded, loaded_config = load_run(run)
    assert loaded_config == config and loaded.input_shape == (None, SIZE, SIZE, 3)
    config.replace(image_size=64).save(run / "config.json")
    with pytest.raises(ValueError, match="image_size=64"):
        load_run(run)


def test_tiling_at_a_larger_scale_stays_within_the_pixel_limit(generator, config, tmp_path,
                                                               monkeypatch):
    """--scale 2 enlarges the image before tiling: the copy is held to the file's limit."""
    from pix2pix_lib import pairs

    monkeypatch.setattr(pairs, "MAX_IMAGE_PIXELS", 20_000)
    image = random_uint8((100, 150, 3))  # 15,000 pixels: readable; at scale 2, 60,000
    with pytest.raises(ValueError, match=r"image 0: tiled at scale 2 it would become 300 x 200 "
                                         r"pixels = 0.06 Mpx, above the limit of 0.02 Mpx"):
        translate(generator, [image], tile=True, scale=2.0)
    assert translate(generator, [image], tile=True, scale=1.0)[0].shape == image.shape
    assert translate(generator, [image], tile=False, scale=2.0)[0].shape == image.shape

    Image.fromarray(image).save(tmp_path / "field.png")
    with pytest.raises(DataError, match="field.png: tiled at scale 2 .*give a smaller scale"):
        translate_files(generator, [tmp_path / "field.png"], tmp_path / "out", config=config,
                        tile=True, scale=2.0)
    assert not (tmp_path / "out").exists()
