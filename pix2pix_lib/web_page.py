"""A static web page that runs the generator in the visitor's browser: paint a map, get a photo
(a map -> photo model), or drop an image, get its translation (any other model).

`write_web_page` writes one folder that any static host serves (`python -m http.server`,
GitHub Pages, a USB stick opened through a local server):

    index.html, page.css, page.js   the page (pix2pix_lib/web/)
    paint_canvas.js                 the painting canvas, the same file notebook 06's widget runs
    generator.onnx                  the model, checked against Keras when written (portable.py)
    ort.wasm.bundle.min.mjs, ort-wasm-simd-threaded.wasm
                                    onnxruntime-web's WebAssembly build (web_runtime.py)
    model.json                      what the page needs: size, mode, brushes, labels, provenance
    start.png                       an image to start from (a val map to paint on), if given
    parity.json                     the ONNX file against Keras: max / mean difference, size

The palette comes from `paint.BRUSHES` / `datasets.MAP_PALETTE`, written into model.json, so the
page and the widget paint the same colours. Browsers refuse to run ES modules and WebAssembly
from file:// pages, hence a server, even a local one.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from pix2pix_lib.inference import model_geometry
from pix2pix_lib.paint import BRUSHES, OUTLINE_WIDTH, brush_colours, hex_colour
from pix2pix_lib.portable import PORTABLE_FORMATS, ParityReport, export_portable
from pix2pix_lib.tf_quiet import keras
from pix2pix_lib.web_runtime import ONNXRUNTIME_WEB, runtime_folder

__all__ = ["PAGE_ASSETS", "WebPage", "page_settings", "write_web_page"]

WEB_ASSETS = Path(__file__).resolve().parent / "web"
PAGE_ASSETS = ("index.html", "page.css", "page.js", "paint_canvas.js")
PAGE_CONFIG = "model.json"
START_IMAGE = "start.png"
PAINT_BRUSH = "road"  # selected when the page opens
BLANK_BRUSH = "land"  # a blank canvas is bare land


@dataclass(frozen=True)
class WebPage:
    folder: Path
    files: tuple[Path, ...]
    parity: ParityReport

    @property
    def size_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.files)


def page_settings(*, size: int, direction: str, about: str, start_image: bool) -> dict:
    """model.json without the parity numbers. A BtoA model of the maps dataset takes maps (A is
    the photo, B the map), so it gets the painting canvas; every other model an upload box."""
    paint = direction == "BtoA"
    settings = {
        "model": PORTABLE_FORMATS["onnx"].file_name,
        "size": size,
        "direction": direction,
        "mode": "paint" if paint else "upload",
        "title": "Paint a map, get a satellite photo" if paint else "Drop a photo, get a map",
        "input_label": "your map" if paint else "your photo",
        "output_label": "photo" if paint else "map",
        "start_image": START_IMAGE if start_image else None,
        "runtime": f"{ONNXRUNTIME_WEB.label} (WebAssembly)",
        "about": about,
        "exported": date.today().isoformat(),
    }
    if paint:
        brushes = []
        for name in BRUSHES:
            fill, outline = brush_colours(name)
            brushes.append({"name": name, "fill": hex_colour(fill),
                            "outline": hex_colour(outline)})
        settings.update(brushes=brushes, default_brush=PAINT_BRUSH,
                        blank=hex_colour(brush_colours(BLANK_BRUSH)[0]),
                        outline_width=OUTLINE_WIDTH)
    return settings


def _check_folder(folder: Path, overwrite: bool) -> None:
    if folder.is_file():
        raise NotADirectoryError(f"{folder} is a file; choose a folder for the web page.")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{folder} is not empty; nothing was written. Choose a new folder, or pass "
            "overwrite=True (--overwrite) to replace the page's files in it (other files stay)."
        )


def write_web_page(generator: keras.Model, folder, inputs: np.ndarray, *, direction: str,
                   about: str, inputs_from: str = "inputs", start_image: np.ndarray | None = None,
                   overwrite: bool = False, runtime_dir=None) -> WebPage:
    """Write the page for `generator` into `folder` (see the module docstring).

    inputs: float32 images for the ONNX parity check (portable.check_images). direction: the
    run's ("BtoA" paints maps). about: one line on where the model comes from, shown on the
    page. start_image: uint8 (S, S, 3), the first input the page shows. runtime_dir: a folder
    holding onnxruntime-web's files (default: the cache of web_runtime, downloaded if missing).
    """
    size, in_channels, out_channels = model_geometry(generator)
    if (in_channels, out_channels) != (3, 3):
        raise ValueError(
            f"The web page shows RGB images, but this generator maps {in_channels} to "
            f"{out_channels} channel(s); export it with --format onnx and run it yourself.")
    folder = Path(folder).expanduser()
    _check_folder(folder, overwrite)
    runtime = Path(runtime_dir) if runtime_dir is not None else runtime_folder()
    missing = [name for name in ONNXRUNTIME_WEB.files if not (runtime / Path(name).name).is_file()]
    if missing:
        raise FileNotFoundError(f"{runtime} lacks {', '.join(missing)} of "
                                f"{ONNXRUNTIME_WEB.label}; run `pix2pix web-runtime`.")
    parity = export_portable(generator, folder, "onnx", inputs, inputs_from=inputs_from,
                             overwrite=True)
    files = [Path(parity.path), folder / "parity.json"]
    for name in PAGE_ASSETS:
        files.append(Path(shutil.copyfile(WEB_ASSETS / name, folder / name)))
    for name in ONNXRUNTIME_WEB.files:
        files.append(Path(shutil.copyfile(runtime / Path(name).name, folder / Path(name).name)))
    if start_image is not None:
        image = np.asarray(start_image)
        if image.dtype != np.uint8 or image.shape != (size, size, 3):
            raise ValueError(f"start_image must be uint8 ({size}, {size}, 3), got "
                             f"{image.dtype} {image.shape}.")
        Image.fromarray(image).save(folder / START_IMAGE)
        files.append(folder / START_IMAGE)
    settings = page_settings(size=size, direction=direction, about=about,
                             start_image=start_image is not None)
    settings["parity"] = parity.to_dict() | {"path": Path(parity.path).name}
    (folder / PAGE_CONFIG).write_text(json.dumps(settings, indent=2) + "\n")
    files.append(folder / PAGE_CONFIG)
    return WebPage(folder, tuple(files), parity)
