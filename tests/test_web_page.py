"""The exported web page's folder: what it holds, the palette it shares with notebook 06's
widget, and refusals. The page itself runs in Chromium in
tests/e2e/test_exported_page_in_browser.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pix2pix_lib import paint
from pix2pix_lib.config import profile
from pix2pix_lib.portable import check_images
from pix2pix_lib.trainer import build_generator
from pix2pix_lib.web_page import PAGE_ASSETS, write_web_page
from pix2pix_lib.web_runtime import ONNXRUNTIME_WEB

pytest.importorskip("onnxruntime", reason="pip install -e '.[export]' installs the runtimes")


@pytest.fixture
def fake_runtime(tmp_path):
    folder = tmp_path / "runtime"
    folder.mkdir()
    for name in ONNXRUNTIME_WEB.files:
        (folder / name.split("/")[-1]).write_bytes(b"runtime")
    return folder


@pytest.fixture(scope="module")
def generator():
    return build_generator(profile("smoke"))


def test_a_map_to_photo_page_paints_with_the_widgets_palette(generator, fake_runtime, tmp_path):
    inputs, where = check_images(generator, count=2)
    start = np.full((64, 64, 3), 200, np.uint8)
    page = write_web_page(generator, tmp_path / "web", inputs, direction="BtoA", about="a test",
                          inputs_from=where, start_image=start, runtime_dir=fake_runtime)
    names = {path.name for path in page.files}
    assert names == {*PAGE_ASSETS, "generator.onnx", "parity.json", "model.json", "start.png",
                     *(name.split("/")[-1] for name in ONNXRUNTIME_WEB.files)}
    assert {path.name for path in page.folder.iterdir()} == names
    settings = json.loads((page.folder / "model.json").read_text())
    assert settings["mode"] == "paint" and settings["size"] == 64
    assert settings["parity"]["ok"] and settings["start_image"] == "start.png"
    assert [brush["name"] for brush in settings["brushes"]] == list(paint.BRUSHES)
    for brush in settings["brushes"]:
        fill, outline = paint.brush_colours(brush["name"])
        assert brush["fill"] == "#{:02x}{:02x}{:02x}".format(*fill)
        assert bool(brush["outline"]) == (outline is not None)
    assert settings["outline_width"] == paint.OUTLINE_WIDTH
    # one source for the drawing code: the widget runs the very file the page ships
    shared = (page.folder / "paint_canvas.js").read_text()
    assert paint.canvas_module().startswith(shared) and "createPaintCanvas" in shared


def test_a_photo_to_map_page_takes_uploads(generator, fake_runtime, tmp_path):
    inputs, _ = check_images(generator, count=1)
    page = write_web_page(generator, tmp_path / "web", inputs, direction="AtoB", about="x",
                          runtime_dir=fake_runtime)
    settings = json.loads((page.folder / "model.json").read_text())
    assert settings["mode"] == "upload" and "brushes" not in settings
    assert settings["start_image"] is None


def test_the_page_refuses_what_it_cannot_show(generator, fake_runtime, tmp_path):
    inputs, _ = check_images(generator, count=1)
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        write_web_page(generator, tmp_path / "web", inputs, direction="BtoA", about="x",
                       runtime_dir=fake_runtime)
    write_web_page(generator, tmp_path / "web", inputs, direction="BtoA", about="x",
                   runtime_dir=fake_runtime, overwrite=True)
    assert (tmp_path / "web" / "notes.txt").read_text() == "mine"  # other files stay
    gray = build_generator(profile("smoke", channels=1))
    with pytest.raises(ValueError, match="RGB images"):
        write_web_page(gray, tmp_path / "gray", check_images(gray, count=1)[0],
                       direction="BtoA", about="x", runtime_dir=fake_runtime)
    with pytest.raises(FileNotFoundError, match="pix2pix web-runtime"):
        write_web_page(generator, tmp_path / "new", inputs, direction="BtoA", about="x",
                       runtime_dir=tmp_path)
