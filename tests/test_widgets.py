"""The notebook widgets: built on tiny arrays and a tiny real generator, driven from Python
(setting a slider, an upload's value, the canvas's map) as the browser would."""

from __future__ import annotations

import datetime
import hashlib
import io

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from pix2pix_lib import paint, pairs, widgets
from pix2pix_lib.datasets import MAP_PALETTE
from pix2pix_lib.inference import translate
from pix2pix_lib.run_folder import RunFolder


def images(n=3, size=16, seed=0):
    """n distinct float images in [-1, 1] (each a different flat colour plus noise)."""
    rng = np.random.default_rng(seed)
    base = np.linspace(-0.9, 0.9, n, dtype=np.float32)[:, None, None, None]
    return np.clip(base + rng.normal(0, 0.1, (n, size, size, 3)), -1, 1).astype(np.float32)


def digest(png: bytes) -> str:
    return hashlib.sha256(png).hexdigest()


# --- image browser -------------------------------------------------------------------------
def test_image_browser_redraws_the_chosen_index():
    sources, generated, targets = images(seed=1), images(seed=2), images(seed=3)[::-1]
    browser = widgets.image_browser(sources, generated, targets,
                                    metrics={"L1": [0.1, 0.2, 0.3]})
    assert browser.shown == 0 and browser.png.startswith(b"\x89PNG")
    first = digest(browser.png)
    browser.slider.value = 2
    assert browser.shown == 2
    assert digest(browser.png) != first and browser.picture.value == browser.png
    browser.slider.value = 0
    assert digest(browser.png) == first  # the same index draws the same picture


def test_image_browser_css_classes_for_the_browser_test():
    browser = widgets.image_browser(images(), images(), images())
    assert "p2p-image-browser" in browser.slider._dom_classes
    assert "p2p-image-browser-output" in browser.output._dom_classes
    assert browser.slider.max == 2 and browser.children == (browser.slider, browser.output)


def test_image_browser_accepts_uint8_and_one_channel():
    gray = (np.arange(2 * 8 * 8).reshape(2, 8, 8, 1) % 256).astype(np.uint8)
    browser = widgets.image_browser(gray, gray, gray)
    browser.slider.value = 1
    assert browser.shown == 1


def test_image_browser_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="same number"):
        widgets.image_browser(images(3), images(2), images(3))
    with pytest.raises(ValueError, match="metrics"):
        widgets.image_browser(images(3), images(3), images(3), metrics={"L1": [1.0]})


def test_image_browser_static_figure():
    fig = widgets.image_browser_figure(images(5), images(5), images(5), max_rows=4)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4 * 3


# --- lambda explorer -------------------------------------------------------------------------
def lambda_runs():
    labels = ["lambda=1", "lambda=100", "L1 only"]
    generated = {label: images(2, seed=10 + k) for k, label in enumerate(labels)}
    terms = {"lambda=1": {"adversarial": 2.0, "l1": 0.3},
             "lambda=100": {"adversarial": 0.8, "l1": 30.0},
             "L1 only": {"adversarial": 0.0, "l1": 25.0}}
    return generated, images(2, seed=20), images(2, seed=21), terms


def test_lambda_explorer_redraws_for_each_setting():
    generated, sources, targets, terms = lambda_runs()
    explorer = widgets.lambda_explorer(generated, sources, targets, terms)
    assert explorer.shown == "lambda=100"  # starts in the middle
    assert "p2p-lambda-slider" in explorer.slider._dom_classes
    assert "p2p-lambda-output" in explorer.output._dom_classes
    pictures = {explorer.shown: digest(explorer.png)}
    for label in ("lambda=1", "L1 only"):
        explorer.slider.value = label
        assert explorer.shown == label and explorer.picture.value == explorer.png
        pictures[label] = digest(explorer.png)
    assert len(set(pictures.values())) == 3


def test_lambda_explorer_without_terms_and_with_a_start_value():
    generated, sources, targets, _ = lambda_runs()
    explorer = widgets.lambda_explorer(generated, sources, targets, value="L1 only")
    assert explorer.shown == "L1 only"
    with pytest.raises(ValueError, match="not one of"):
        widgets.lambda_explorer(generated, sources, targets, value="lambda=7")


def test_lambda_explorer_refuses_bad_inputs():
    generated, sources, targets, terms = lambda_runs()
    with pytest.raises(ValueError, match="dict"):
        widgets.lambda_explorer({}, sources, targets)
    with pytest.raises(ValueError, match="no entry"):
        widgets.lambda_explorer(generated, sources, targets, {"lambda=1": terms["lambda=1"]})
    with pytest.raises(ValueError, match="same number"):
        widgets.lambda_explorer(generated, sources[:1], targets)


def test_lambda_static_figure_has_every_setting():
    generated, sources, targets, terms = lambda_runs()
    fig = widgets.lambda_figure(generated, sources, targets, terms)
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes]
    assert {"source", "target", *generated} <= set(titles)
    assert len(fig.axes) == 2 * (len(generated) + 2) + 1  # image grid + the bars
    assert len(widgets.lambda_figure(generated, sources, targets).axes) == 2 * 5


# --- translating an upload -------------------------------------------------------------------
SIZE = 32  # the tiny generator's image size


@pytest.fixture(scope="module")
def generator():
    """A real (untrained) Keras U-Net, small enough to translate in milliseconds."""
    from pix2pix_lib.models import unet_generator

    return unet_generator(image_size=SIZE, base_filters=4)


def photo(height=40, width=60, seed=0) -> np.ndarray:
    from pix2pix_lib.datasets import render_synthetic_pair

    image, _ = render_synthetic_pair(128, seed=seed)
    return np.ascontiguousarray(image[:height, :width])


def encode(pixels, image_format="PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def upload_value(data: bytes, name="photo.png", mime="image/png"):
    """What ipywidgets 8's FileUpload holds after one file was chosen."""
    return ({"name": name, "type": mime, "size": len(data), "content": memoryview(data),
             "last_modified": datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)},)


def test_decode_upload_reads_png_and_webp():
    pixels = photo()
    name, decoded = widgets.decode_upload(upload_value(encode(pixels)))
    assert name == "photo.png"
    np.testing.assert_array_equal(decoded, pixels)
    webp = encode(pixels, "WEBP", lossless=True)
    name, decoded = widgets.decode_upload(upload_value(webp, "shot.webp", "image/webp"))
    assert name == "shot.webp"
    np.testing.assert_array_equal(decoded, pixels)


@pytest.mark.parametrize("image_format", ["TIFF", "BMP", "GIF", "JPEG"])
def test_decode_upload_reads_other_formats(image_format):
    pixels = photo()
    name, decoded = widgets.decode_upload(upload_value(encode(pixels, image_format), "x.img"))
    assert decoded.shape == pixels.shape and decoded.dtype == np.uint8
    if image_format in ("TIFF", "BMP"):  # lossless
        np.testing.assert_array_equal(decoded, pixels)


def test_decode_upload_drops_alpha_and_takes_one_dict():
    rgba = np.dstack([photo(), np.full((40, 60), 128, np.uint8)])
    (item,) = upload_value(encode(rgba))
    name, decoded = widgets.decode_upload(item)
    assert decoded.shape == (40, 60, 3) and decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, rgba[..., :3])
    assert widgets.decode_upload(()) is None  # nothing chosen yet


def test_decode_upload_refuses_what_is_not_an_image():
    with pytest.raises(widgets.UploadError, match="notes.txt") as caught:
        widgets.decode_upload(upload_value(b"just some words", "notes.txt", "text/plain"))
    message = str(caught.value)
    assert "p2p-upload-" not in message  # the temporary file is not the user's
    assert message.count("notes.txt") == 1 and "PNG" in message
    with pytest.raises(widgets.UploadError, match="empty"):
        widgets.decode_upload(upload_value(b"", "blank.png"))


def test_an_upload_above_the_pixel_limit_gives_a_message(generator, tmp_path, monkeypatch):
    monkeypatch.setattr(pairs, "MAX_IMAGE_PIXELS", 2000)  # the course's limit, made tiny
    translator = widgets.upload_translator(generator, tmp_path)
    translator.upload.value = upload_value(encode(photo()), "huge.png")  # 60 x 40 = 2400 px
    assert translator.result is None
    assert translator.error.startswith("huge.png cannot be translated: 60 x 40 pixels")
    assert "MAX_IMAGE_PIXELS" in translator.error and "huge.png" in translator.message.value


def test_decode_upload_keeps_only_a_file_name():
    name, _ = widgets.decode_upload(upload_value(encode(photo()), "../../etc/evil.png"))
    assert "/" not in name and name.endswith("evil.png")


def test_upload_translator_translates_an_upload(generator, tmp_path):
    translator = widgets.upload_translator(generator, tmp_path / "run", example=photo(seed=1),
                                           example_name="the example")
    assert translator.name == "the example" and translator.png.startswith(b"\x89PNG")
    assert "p2p-upload" in translator.upload._dom_classes
    assert "p2p-upload-output" in translator.output._dom_classes
    assert translator.picture.value == translator.png
    first = digest(translator.png)
    upload = photo(50, 90, seed=2)
    translator.upload.value = upload_value(encode(upload, "WEBP", lossless=True), "mine.webp")
    assert translator.name == "mine.webp" and translator.error is None
    np.testing.assert_array_equal(translator.source, upload)
    assert translator.result.shape == (50, 90, 3) and translator.result.dtype == np.uint8
    assert digest(translator.png) != first
    assert not translator.save_button.disabled
    assert "mine.webp" in translator.message.value and "90x50" in translator.message.value


def test_upload_translator_shows_a_result_translated_before(generator, tmp_path):
    source, result = photo(), photo(seed=5)
    translator = widgets.upload_translator(generator, tmp_path, example=source,
                                           example_result=result)
    assert translator.result is result and translator.error is None
    translator = widgets.upload_translator(generator, tmp_path, example=source,
                                           example_result=result[:10])
    assert translator.result is None and "10x10" not in translator.error
    assert "60x10" in translator.error


def test_upload_translator_shows_a_message_for_a_bad_file(generator, tmp_path):
    translator = widgets.upload_translator(generator, tmp_path, example=photo())
    before = digest(translator.png)
    translator.upload.value = upload_value(b"%PDF-1.4 not a photo", "paper.pdf")
    assert "paper.pdf" in translator.error
    assert "paper.pdf" in translator.message.value and "#b00020" in translator.message.value
    assert digest(translator.png) == before and translator.name == "example"


def test_upload_translator_tiles_a_large_upload(generator, tmp_path):
    translator = widgets.upload_translator(generator, tmp_path, batch_size=16)
    assert translator.result is None and translator.save_button.disabled
    large = np.tile(photo(48, 48), (3, 3, 1))  # 144 px: more than 4 x 32, so tiled
    translator.upload.value = upload_value(encode(large))
    assert translator.result.shape == large.shape
    assert "tiles" in translator.message.value


def test_upload_translator_saves_without_overwriting(generator, tmp_path):
    translator = widgets.upload_translator(generator, tmp_path / "run")
    translator.upload.value = upload_value(encode(photo()), "field.jpg")
    folder = RunFolder(tmp_path / "run").translations_dir
    folder.mkdir(parents=True)
    (folder / "field-translated.png").write_bytes(b"the user's own file")
    translator.save_button.click()
    translator.save_button.click()
    assert [path.name for path in translator.saved] == ["field-translated-2.png",
                                                        "field-translated-3.png"]
    assert (folder / "field-translated.png").read_bytes() == b"the user's own file"
    with Image.open(translator.saved[0]) as saved:
        np.testing.assert_array_equal(np.asarray(saved), translator.result)
    assert str(translator.saved[-1]) in translator.message.value


def test_translation_figure_titles_the_sizes():
    fig = widgets.translation_figure(photo(), photo(seed=3), "mine.png")
    assert [ax.get_title() for ax in fig.axes] == ["mine.png (60x40)", "translated (60x40)"]


# --- painting a map --------------------------------------------------------------------------
def flat_map(brush="land", size=SIZE) -> np.ndarray:
    fill, _ = paint.brush_colours(brush)
    return np.tile(np.array(fill, np.uint8), (size, size, 1))


def colour_count(image, key) -> int:
    return int(np.all(image == np.array(MAP_PALETTE[key], np.uint8), axis=-1).sum())


def test_brushes_are_colours_of_the_map_palette():
    assert {"road", "street", "water", "park", "forest", "field", "building"} <= set(paint.BRUSHES)
    for brush, (fill, outline) in paint.BRUSHES.items():
        assert fill in MAP_PALETTE and (outline is None or outline in MAP_PALETTE), brush
    assert paint.brush_colours("water") == (MAP_PALETTE["water"], None)
    assert paint.brush_colours("street") == (MAP_PALETTE["road"], MAP_PALETTE["road_casing"])
    with pytest.raises(ValueError, match="not one of"):
        paint.brush_colours("lava")


def test_a_stroke_paints_its_colour_at_the_brush_width():
    start = flat_map()
    painted = paint.paint_stroke(start, [(4, 16), (28, 16)], "water", width=5)
    column = painted[:, 16]
    assert colour_count(column, "water") == 5
    assert colour_count(painted, "water") + colour_count(painted, "background") == SIZE * SIZE
    assert colour_count(start, "water") == 0  # the input is not changed
    wider = paint.paint_stroke(start, [(4, 16), (28, 16)], "water", width=9)
    assert colour_count(wider[:, 16], "water") == 9


def test_a_street_gets_its_outline_on_each_side():
    painted = paint.paint_stroke(flat_map(), [(2, 10), (30, 10)], "street", width=3)
    column = painted[:, 16]
    assert colour_count(column, "road") == 3
    assert colour_count(column, "road_casing") == 2 * paint.OUTLINE_WIDTH
    dot = paint.paint_stroke(flat_map(), [(16, 16)], "park", width=4)  # a click paints a dot
    assert 9 <= colour_count(dot, "grass") <= 16


def test_paint_stroke_refuses_bad_input():
    with pytest.raises(ValueError, match="width"):
        paint.paint_stroke(flat_map(), [(1, 1)], "water", width=0)
    with pytest.raises(ValueError, match="uint8"):
        paint.paint_stroke(flat_map().astype(np.float32), [(1, 1)], "water", width=2)
    with pytest.raises(ValueError, match="point"):
        paint.paint_stroke(flat_map(), [], "water", width=2)


def test_the_painter_translates_each_new_map_from_the_canvas(generator):
    start = flat_map("field")
    painter = paint.map_painter(generator, start, paper_mode=False)
    assert painter.translations == 1 and painter.photo.shape == (SIZE, SIZE, 3)
    assert painter.photo_image.value == painter.png
    before = painter.photo.copy()
    edited = paint.paint_stroke(start, [(0, 20), (31, 8)], "water", width=6)
    painter.canvas.map_url = paint.png_data_url(edited)  # what the browser sends after a stroke
    assert painter.translations == 2
    np.testing.assert_array_equal(painter.map, edited)
    (expected,) = translate(generator, [edited], paper_mode=False)
    np.testing.assert_array_equal(painter.photo, expected)  # the photo of the NEW map
    assert not np.array_equal(painter.photo, before)
    assert painter.photo_image.value == painter.png and len(painter.seconds) == 2
    assert "→ photo in" in painter.status.value


def test_the_palette_and_brush_size_reach_the_canvas(generator):
    painter = paint.map_painter(generator, flat_map(), brush="road", width=3)
    assert painter.canvas.fill == "#{:02x}{:02x}{:02x}".format(*MAP_PALETTE["major_road"])
    painter.buttons["water"].click()
    assert painter.brush == "water" and painter.canvas.outline == ""
    assert painter.canvas.fill == "#{:02x}{:02x}{:02x}".format(*MAP_PALETTE["water"])
    borders = {name: button.layout.border for name, button in painter.buttons.items()}
    assert [name for name, border in borders.items() if border == borders["water"]] == ["water"]
    painter.brush_size.value = 7
    assert painter.canvas.brush == 7
    for part, css in [(painter, "p2p-paint-box"), (painter.canvas, "p2p-paint-canvas"),
                      (painter.photo_image, "p2p-paint-photo"),
                      (painter.status, "p2p-paint-status")]:
        assert css in part._dom_classes


def test_the_painter_paints_from_python_and_starts_again(generator):
    start = flat_map()
    painter = paint.map_painter(generator, start)
    painter.paint([(2, 2), (30, 30)], "building", width=4)
    assert painter.translations == 2 and colour_count(painter.map, "building") > 0
    painter.reset()
    np.testing.assert_array_equal(painter.map, start)
    fig = painter.figure()
    assert [ax.get_title() for ax in fig.axes] == ["the val map", "its photo", "painted map",
                                                   "its photo"]


def test_the_painter_reports_a_bad_canvas_message(generator):
    painter = paint.map_painter(generator, flat_map())
    painter.canvas.map_url = "data:image/png;base64,not-base64!"
    assert painter.translations == 1 and "paint again" in painter.status.value
    painter.canvas.map_url = paint.png_data_url(flat_map(size=16))
    assert painter.translations == 1 and "expected 32x32" in painter.status.value
    with pytest.raises(ValueError, match="image_size"):
        paint.map_painter(generator, flat_map(size=16))
