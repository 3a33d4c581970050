"""Translate image files: read them, translate them (`inference.translate`), write them back.

Any image Pillow reads in the formats of `pairs.IMAGE_FORMATS` (JPEG, PNG, WebP, TIFF including
16-bit, BMP, the first frame of a GIF), named or in folders; other files in a folder are skipped
and named one line each. Images above `pairs.MAX_IMAGE_PIXELS` are refused, from their header,
with an error naming the file and the limit. Each output has its input's name and format (8 bits
per channel).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from pix2pix_lib.common import write_atomically
from pix2pix_lib.config import TrainConfig
from pix2pix_lib.data import load_image, split_pair
from pix2pix_lib.inference import describe_plan, scale_problem, translate
from pix2pix_lib.pairs import (
    IMAGE_EXTENSIONS,
    DataError,
    folder_files,
    format_for_name,
    is_image_file,
    report_skipped,
)
from pix2pix_lib.tf_quiet import keras

__all__ = ["JPEG_QUALITY", "input_files", "translate_files"]

JPEG_QUALITY = 95
# How an output file is written, by the format its name says: an output has its input's name,
# so it has its input's format too. Lossless except JPEG, so that a generated map keeps its exact
# colours (map accuracy counts them): WebP lossless, TIFF deflate-compressed. A GIF holds at most
# 256 colours, so the output is reduced to its own 256-colour palette (`_gif_palette`).
_SAVE_OPTIONS = {
    "JPEG": {"quality": JPEG_QUALITY},
    "PNG": {},
    "WEBP": {"lossless": True},
    "TIFF": {"compression": "tiff_deflate"},
    "BMP": {},
    "GIF": {},
}

def input_files(inputs: Iterable, report: Callable[[str], None] | None = None) -> list[Path]:
    """The image files named by `inputs`: files as given, folders expanded (not recursively).

    Every input must exist; a named file must be an image file (`pairs.IMAGE_EXTENSIONS`, of
    any case: JPEG, PNG, WebP, TIFF, BMP, GIF) and a folder must hold one. The other files in a
    folder (notes, a GeoTIFF's .aux.xml sidecar) are skipped, each named in one line through
    `report` (e.g. `print`), or as a warning without one; hidden files and subfolders silently.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    extensions = " ".join(IMAGE_EXTENSIONS)
    files: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found, others = folder_files(path)
            report_skipped(others, report)
            if not found:
                raise ValueError(
                    f"{path} holds no image files (those end in {extensions}); subfolders are "
                    "not searched."
                )
            files.extend(found)
        elif path.is_file():
            if not is_image_file(path):
                raise ValueError(
                    f"{path} is not an image file: give files ending in {extensions} (a "
                    "hidden file, starting with '.', does not count)."
                )
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder.")
    if not files:
        raise ValueError("no input images given.")
    return files


def _output_paths(files: list[Path], out_dir: Path, overwrite: bool) -> list[Path]:
    """out_dir / same name for each input; checked so that nothing is lost by writing them."""
    by_name: dict[str, list[Path]] = {}
    for path in files:
        by_name.setdefault(path.name, []).append(path)
    clashes = [paths for paths in by_name.values() if len(paths) > 1]
    if clashes:
        listed = "; ".join(", ".join(map(str, paths)) for paths in clashes)
        raise ValueError(
            f"several inputs share a file name and would write the same output: "
            f"{listed}. Translate them into different --out folders."
        )
    outputs = [out_dir / path.name for path in files]
    inputs_replaced = [
        out for out, path in zip(outputs, files, strict=True) if out.resolve() == path.resolve()
    ]
    if inputs_replaced:
        raise ValueError(
            f"the output folder {out_dir} holds the inputs themselves; writing "
            f"would replace {inputs_replaced[0]}. Choose another --out folder."
        )
    existing = [out for out in outputs if out.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{len(existing)} output file(s) already exist and nothing was written: "
            + ", ".join(map(str, existing))
            + ". Pass --overwrite (overwrite=True) to replace them, or choose another --out."
        )
    return outputs


def _read_source(path: Path, *, channels: int, pairs: bool, direction: str) -> np.ndarray:
    """One input's pixels: the whole image, or the source half of a side-by-side pair."""
    pixels = load_image(path, channels=channels)  # a DataError naming the file if unreadable
    return split_pair(pixels, direction)[0] if pairs else pixels


def _gif_palette(image: Image.Image) -> Image.Image:
    """An RGB image as the palette image a GIF holds: its own 256 colours (median cut) and no
    dithering, so that the flat colours of a map stay flat (a photo loses some shades)."""
    if image.mode != "RGB":
        return image  # gray fits a GIF's palette exactly
    return image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def _write_image(path: Path, pixels: np.ndarray) -> None:
    """Write uint8 pixels in the format of the file's extension, atomically (tmp, rename).

    The options are `_SAVE_OPTIONS`': JPEG at quality JPEG_QUALITY, the others lossless,
    except that a GIF is reduced to 256 colours. Outputs are 8 bits per channel whatever the
    input had (a 16-bit TIFF in, an 8-bit TIFF out), and a GeoTIFF's georeferencing tags are
    not copied.
    """
    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    image_format = format_for_name(path)
    if image_format == "GIF":
        image = _gif_palette(image)
    options = _SAVE_OPTIONS[image_format]
    write_atomically(path, lambda tmp: image.save(tmp, format=image_format, **options))


def translate_files(
    generator: keras.Model,
    inputs,
    out_dir,
    *,
    config: TrainConfig,
    overwrite: bool = False,
    paper_mode: bool = True,
    pairs: bool = False,
    direction: str | None = None,
    tile: bool | None = None,
    scale: float = 1.0,
    batch_size: int | None = None,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    """Translate image files (or folders of them) into `out_dir`; return the written paths.

    Each output has its input's file name, format and pixel size (see `translate` for how sizes
    are handled: resize up to 4 x image_size on the longer side, tiles beyond). Any format of
    `pairs.IMAGE_FORMATS` is read (JPEG, PNG, WebP, TIFF including 16-bit, BMP, the first frame
    of a GIF) and written back in the same format, 8 bits per channel (see `_write_image`).
    Inputs are single images, e.g. your own satellite photo; pairs=True instead takes the source
    half (`direction`, default config.direction) of standard side-by-side pairs and the output
    has that half's size. Everything is checked BEFORE anything is written: missing or
    unreadable inputs, images above `pairs.MAX_IMAGE_PIXELS`, two inputs with the same name,
    and existing outputs (FileExistsError unless overwrite=True). batch_size defaults to the
    training batch size in paper mode (BatchNorm then normalises as in training) and 8
    otherwise. `report`, e.g. `print`, receives one line per skipped non-image file in a folder
    and one line per file saying which strategy was used; without it, skipped files are warned
    about.
    """
    files = input_files(inputs, report=report)
    out_dir = Path(out_dir).expanduser()
    outputs = _output_paths(files, out_dir, overwrite)
    direction = direction or config.direction
    read = functools.partial(
        _read_source, channels=config.channels, pairs=pairs, direction=direction
    )
    shapes = [read(path).shape for path in files]  # every input readable before any write
    for path, shape in zip(files, shapes, strict=True):
        problem = scale_problem(*shape[:2], image_size=config.image_size, tile=tile, scale=scale)
        if problem is not None:
            raise DataError(f"{path}: {problem}")
    if batch_size is None:
        batch_size = config.batch_size if paper_mode else 8
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, output, shape in zip(files, outputs, shapes, strict=True):
        (translated,) = translate(
            generator,
            [read(path)],
            paper_mode=paper_mode,
            tile=tile,
            scale=scale,
            batch_size=batch_size,
        )
        _write_image(output, translated)
        if report is not None:
            plan = describe_plan(*shape[:2], image_size=config.image_size, tile=tile, scale=scale)
            report(f"{path} -> {output} ({plan})")
    return outputs
