"""Pair files and image files, without TensorFlow: find them, check them, split them.

The standard pix2pix format is one image file per pair, image A and image B side by side, so
width = 2 x height. A folder given to this module is either a flat folder of pairs or a dataset
root holding `train/`, `val/` and/or `test/`:

    find_splits / resolve_dataset   which folders and files to use
    check_pairs / scan_pairs        every file validated up front, all problems reported at once
    train_val_split                 a split that depends on file names only (reproducible)

What counts as an image file is defined here once, for training, evaluation and translation
alike: the formats of IMAGE_FORMATS (JPEG, PNG, WebP, TIFF including 16-bit, BMP and the first
frame of a GIF), told by the extension when a folder is listed and by the content when a file
is opened. `folder_files` lists a folder's images and the other files it holds, which
`report_skipped` names one line each; hidden files and subfolders are neither. `open_image` is
the one way a file is opened: it refuses images above MAX_IMAGE_PIXELS from their header, before
any pixel is decoded, with an error that names the file and the limit.

Also the small facts other modules ask of a folder (`is_image_file`, `folder_files`,
`count_images`, `held_out_split`). The pixels themselves, and the tf.data pipelines that feed
them to a model, are `pix2pix_lib.data`. This module imports no TensorFlow: checking a dataset,
or generating one (`pix2pix_lib.datasets`), does not wait for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from pix2pix_lib.config import CHANNEL_COUNTS

__all__ = [
    "IMAGE_EXTENSIONS",
    "IMAGE_FORMATS",
    "LAYOUT_HINT",
    "MAX_IMAGE_PIXELS",
    "ON_BAD_POLICIES",
    "HELD_OUT_SPLITS",
    "SPLIT_NAMES",
    "BadFile",
    "BadPairsError",
    "DataError",
    "check_channels",
    "check_pairs",
    "count_images",
    "find_splits",
    "folder_files",
    "format_for_name",
    "held_out_split",
    "is_image_file",
    "open_image",
    "report_skipped",
    "resolve_dataset",
    "scan_pairs",
    "too_many_pixels",
    "train_val_split",
]

# The image formats the course reads (Pillow's names) and the extensions they go by, of any case.
# An explicit list rather than everything Pillow registers (`Image.registered_extensions()`):
# that also holds formats that need an outside program (EPS: Ghostscript), containers of several
# images of which one would be picked silently (ICO, ICNS, PSD layers) and formats nobody brings
# for pix2pix; its contents change with the Pillow version and build. These are the formats
# photos, maps and satellite images come in, each one tested, the same with every Pillow >= 10.
IMAGE_FORMATS = {
    "JPEG": (".jpg", ".jpeg"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "TIFF": (".tif", ".tiff"),
    "BMP": (".bmp",),
    "GIF": (".gif",),
}
IMAGE_EXTENSIONS = tuple(ext for extensions in IMAGE_FORMATS.values() for ext in extensions)
# What a file's content may be: the formats above, and MPO, the JPEG with extra pictures (depth,
# a second view) that phone cameras write; Pillow and TensorFlow read its first picture.
_READABLE_FORMATS = (*IMAGE_FORMATS, "MPO")
_TIFF_EXTENSIONS = IMAGE_FORMATS["TIFF"]
_FORMATS_TEXT = "JPEG, PNG, WebP, TIFF, BMP or GIF"
_EXTENSIONS_TEXT = " ".join(IMAGE_EXTENSIONS)

# The largest image (width x height) any reader opens: 150 Mpx, e.g. a whole 10980 x 10980
# Sentinel-2 tile (121 Mpx), not 30000 x 15000 (450 Mpx); what translating one that large takes
# in memory is measured in the README ("Translating your own images"). Pillow's own
# "decompression bomb" guard (a warning above 89 Mpx, a traceback above 179 Mpx) is off while we
# read (`_PillowReading`): this limit is checked from the header, before any pixel is decoded,
# with an error that names the file and says what to do.
MAX_IMAGE_PIXELS = 150_000_000

SPLIT_NAMES = ("train", "val", "test")
HELD_OUT_SPLITS = ("val", "test")  # validation pairs: val/, else test/
ON_BAD_POLICIES = ("raise", "skip")
LAYOUT_HINT = (
    f"image files ({_FORMATS_TEXT}) each holding one pair, images A and B side by side "
    "(width = 2 x height), the standard pix2pix layout; or a dataset root with train/ and val/ "
    "(or test/) subfolders of such files"
)


class DataError(ValueError):
    """A problem with the user's data: the message says what was expected and what to do."""


@dataclass(frozen=True)
class BadFile:
    """One image file that cannot be used, and why (e.g. "truncated image")."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class BadPairsError(DataError):
    """Raised when some image files are unusable; lists every one of them, not just the first.

    Reporting all bad files at once saves the fix-one-rerun-find-the-next loop on big datasets.
    `.bad` holds the `BadFile` records for code that wants to act on them.
    """

    def __init__(self, bad: list[BadFile]):
        self.bad = list(bad)
        super().__init__(_bad_files_message(self.bad))

    def __reduce__(self):  # keep `.bad` when the error crosses a process boundary (pickling)
        return (type(self), (self.bad,))


def _bad_files_message(bad: list[BadFile]) -> str:
    lines = [
        f"{len(bad)} bad image file(s), each must be a {_FORMATS_TEXT} pair with "
        "width = 2 x height:"
    ]
    lines += [str(item) for item in bad]
    lines.append(
        "Fix or remove these files and run again, or leave them out (with a warning) and use "
        'the valid pairs only: --on-bad skip on the command line, on_bad="skip" in Python.'
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------------


def check_channels(channels: int) -> int:
    if channels not in CHANNEL_COUNTS:
        raise ValueError(
            f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}; every image is "
            "converted to that many channels when it is loaded"
        )
    return channels


def _check_folder(folder, what: str = "data folder") -> Path:
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise DataError(
            f"{what} {folder} does not exist. Expected a folder of {LAYOUT_HINT}. Check the "
            "path, or create a dataset with `pix2pix synth-maps` or `pix2pix download`."
        )
    if not folder.is_dir():
        raise DataError(
            f"{what} {folder} is a file, not a folder. Expected a folder of {LAYOUT_HINT}."
        )
    return folder


# ---------------------------------------------------------------------------------------------
# Image files in a folder
# ---------------------------------------------------------------------------------------------


def _is_hidden(name: str) -> bool:
    """".DS_Store", macOS "._x.jpg" resource forks, ".tmp-" files being written."""
    return name.startswith(".")


def _is_image_name(name: str) -> bool:
    """Image extension of any case; hidden files do not count."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS and not _is_hidden(name)


def format_for_name(path) -> str | None:
    """The IMAGE_FORMATS name a file's extension says ("JPEG", "TIFF", ...), None if none."""
    extension = os.path.splitext(str(path))[1].lower()
    return next((name for name, exts in IMAGE_FORMATS.items() if extension in exts), None)


def is_image_file(path: Path) -> bool:
    """A file (not a folder) with an image extension of any case, and not a hidden file."""
    return _is_image_name(path.name) and path.is_file()


def _name_key(path: Path) -> tuple[str, str]:
    return (path.name, str(path))


def folder_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(image files, other files) directly inside `folder`, each sorted by name.

    Hidden files and subfolders are in neither: they are never meant as inputs. The other files
    (notes.txt, a GeoTIFF's .aux.xml sidecar, a .pdf) are what `report_skipped` names.
    """
    images, others = [], []
    for path in Path(folder).iterdir():
        if _is_hidden(path.name) or not path.is_file():
            continue
        (images if _is_image_name(path.name) else others).append(path)
    return sorted(images, key=_name_key), sorted(others, key=_name_key)


def report_skipped(paths: Iterable[Path], report: Callable[[str], None] | None = None) -> None:
    """Name each skipped non-image file in one line: through `report` (e.g. `print`) when given,
    else as a warning, so that nothing a user put in a folder is left out without a word."""
    for path in paths:
        line = f"skipped {path}: not an image file (those end in {_EXTENSIONS_TEXT})"
        if report is None:
            warnings.warn(line, stacklevel=3)
        else:
            report(line)


def count_images(folder) -> int:
    """How many image files `folder` holds directly (0 when it is not a folder)."""
    if not os.path.isdir(folder):
        return 0
    with os.scandir(folder) as entries:
        return sum(1 for entry in entries if _is_image_name(entry.name) and entry.is_file())


def find_splits(root) -> dict[str, Path]:
    """The `train/`, `val/` and `test/` subfolders of `root` that exist and hold images.

    An empty dict means `root` is (meant to be) a flat folder of pairs.
    """
    root = _check_folder(root)
    splits = {}
    for name in SPLIT_NAMES:
        folder = root / name
        if folder.is_dir() and any(is_image_file(path) for path in folder.iterdir()):
            splits[name] = folder
    return splits


def held_out_split(splits: dict[str, Path]) -> Path | None:
    """The validation folder among `find_splits`' answer: val/, else test/, else None."""
    return next((splits[name] for name in HELD_OUT_SPLITS if name in splits), None)


# ---------------------------------------------------------------------------------------------
# Opening one image file
# ---------------------------------------------------------------------------------------------


class _PillowReading:
    """Pillow's settings for reading users' files, in force while any reader is inside.

    LOAD_TRUNCATED_IMAGES off: some libraries turn it on, which would let half-written files
    load (their missing part gray) and fail, or train, unnoticed. MAX_IMAGE_PIXELS (Pillow's
    decompression bomb guard) off: `open_image` checks the size against our MAX_IMAGE_PIXELS
    itself, from the header, with an error that says what to do, where Pillow would print a
    warning above 89 Mpx and raise an unexplained DecompressionBombError above 179 Mpx.

    Both are process-wide, and readers run in several threads at once (the check's thread pool,
    tf.data's decoders), so the first reader to enter saves them and the last to leave restores
    them: restoring per reader could leave them changed when two readers interleave.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._readers = 0
        self._saved = (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS)

    def __enter__(self):
        with self._lock:
            if self._readers == 0:
                self._saved = (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS)
                ImageFile.LOAD_TRUNCATED_IMAGES = False
                Image.MAX_IMAGE_PIXELS = None
            self._readers += 1
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._readers -= 1
            if self._readers == 0:
                ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = self._saved
        return False


# One instance for the process, like the Pillow settings it guards.
_PILLOW_READING = _PillowReading()


# What Pillow raises for a file it cannot open or decode (UnidentifiedImageError is an OSError;
# SyntaxError, IndexError and ValueError come from plugins parsing damaged headers).
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, IndexError)


class _Unreadable(Exception):
    """Internal: why a file cannot be read; `open_image` and `_check_file` word it for users."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _not_an_image(path: Path) -> str:
    """Pillow found no format it reads; for a TIFF, say which TIFFs it does read."""
    if path.suffix.lower() not in _TIFF_EXTENSIONS:
        return "cannot decode: not an image"
    return (
        "cannot decode: not a TIFF Pillow can read, either damaged (cut short) or of a kind it "
        "does not read: it reads gray, RGB, RGBA and CMYK of 8 or 16 bits per band, not e.g. "
        "16 bits in 5 bands (multispectral); export 3 bands as 8-bit first, e.g. "
        "`gdal_translate -b 1 -b 2 -b 3 -ot Byte -scale in.tif out.tif`"
    )


def _decode_problem(error: Exception) -> str:
    message = str(error)
    if isinstance(error, EOFError) or "truncated" in message.lower():
        return "truncated image"
    return f"cannot decode: {message or type(error).__name__}"


def _mpx(pixels: int) -> str:
    """Pixels in megapixels for messages, 3 significant digits: 450 Mpx, 89.5 Mpx, 0.02 Mpx."""
    value = pixels / 1e6
    return (f"{value:.3g}" if value < 1000 else f"{value:.0f}") + " Mpx"


def too_many_pixels(
    width: int, height: int, advice: str = "downscale it or cut it into parts first"
) -> str | None:
    """Why an image of width x height cannot be read (above MAX_IMAGE_PIXELS), or None.

    The one wording of the limit, for files (`open_image`) and for the enlarged copy an image
    becomes when it is tiled at a scale above 1 (`pix2pix_lib.inference`).
    """
    if width * height <= MAX_IMAGE_PIXELS:
        return None
    return (
        f"{width} x {height} pixels = {_mpx(width * height)}, above the limit of "
        f"{_mpx(MAX_IMAGE_PIXELS)} that keeps memory bounded "
        f"(pix2pix_lib.pairs.MAX_IMAGE_PIXELS); {advice}"
    )


def _content_problem(image: Image.Image) -> str | None:
    """Why an opened image cannot be used whatever its size, or None."""
    if image.format not in _READABLE_FORMATS:
        return f"{image.format} data, not {_FORMATS_TEXT} (convert the file)"
    if image.mode == "F":  # e.g. a GeoTIFF of elevations or reflectances
        return (
            "32-bit floating-point pixels, which have no fixed mapping to 0..255; convert "
            "the file to 8-bit (or 16-bit) integers first"
        )
    return None


def _open_checked(path: Path) -> Image.Image:
    """The image, opened (its header read) and checked; else _Unreadable saying why.

    The caller closes the image (`with`). Only the header is read here, so an image above
    MAX_IMAGE_PIXELS is refused before any of its pixels are decoded.
    """
    try:
        if path.stat().st_size == 0:
            raise _Unreadable("empty file (0 bytes)")
        image = Image.open(path)
    except UnidentifiedImageError as error:
        raise _Unreadable(_not_an_image(path)) from error
    except _DECODE_ERRORS as error:
        raise _Unreadable(_decode_problem(error)) from error
    problem = too_many_pixels(*image.size) or _content_problem(image)
    if problem is not None:
        image.close()
        raise _Unreadable(problem)
    return image


@contextlib.contextmanager
def open_image(path) -> Iterator[Image.Image]:
    """Open an image file for reading its pixels (Pillow, lazily: `load()` decodes them).

    The one way the course opens a user's image: the file must be one of IMAGE_FORMATS (by
    content; GIF, TIFF and MPO give their first frame) and at most MAX_IMAGE_PIXELS, checked
    from the header before any pixel is decoded; otherwise a DataError naming the file says
    why. Decoding errors inside the `with` (a truncated or corrupt file: Pillow's settings
    for it are `_PillowReading`) become such a DataError too.
    """
    path = Path(path)
    with _PILLOW_READING:
        try:
            image = _open_checked(path)
        except _Unreadable as problem:
            raise DataError(str(BadFile(path, problem.reason))) from problem.__cause__
        with image:
            try:
                yield image
            except DataError:
                raise
            except _DECODE_ERRORS as error:
                raise DataError(str(BadFile(path, _decode_problem(error)))) from error


# ---------------------------------------------------------------------------------------------
# Validating pair files
# ---------------------------------------------------------------------------------------------


def _pair_problem(path: Path) -> str | None:
    """Why `path` cannot be used as a pair, or None; _Unreadable when it cannot be read."""
    with _PILLOW_READING:
        with _open_checked(path) as image:
            image.verify()  # structure and checksums (PNG CRCs) without decoding pixels
        with _open_checked(path) as image:
            width, height = image.size
            if image.format in ("JPEG", "MPO"):
                image.draft(None, (max(1, width // 8), max(1, height // 8)))
            try:
                image.load()
            except _DECODE_ERRORS as error:
                raise _Unreadable(_decode_problem(error)) from error
    if width != 2 * height:
        return f"width {width} is not 2 x height {height}"
    return None


def _check_file(path: Path) -> BadFile | None:
    """Why `path` cannot be used as a pair, or None when it can.

    The file is fully decoded (a truncated file only fails at its end), but JPEGs are decoded
    in libjpeg's draft mode at 1/8 scale: all of the data is still read, at a fraction of the
    cost, which keeps a thousand 1200x600 maps within a few seconds. Every format of
    IMAGE_FORMATS is accepted whatever its extension says: `pix2pix_lib.data` decodes each file
    by its content too.
    """
    try:
        problem = _pair_problem(path)
    except _Unreadable as unreadable:
        problem = unreadable.reason
    except _DECODE_ERRORS as error:  # from verify()
        problem = _decode_problem(error)
    return None if problem is None else BadFile(path, problem)


def check_pairs(
    folder, channels: int = 3, report: Callable[[str], None] | None = None
) -> tuple[list[Path], list[BadFile]]:
    """Validate every image file in ONE folder; return (good files sorted by name, bad files).

    Checks each file for: zero bytes, truncation, data that is not an image of IMAGE_FORMATS,
    more than MAX_IMAGE_PIXELS pixels, and width != 2 x height. Grayscale, palette, RGBA and
    16-bit images are valid: loading converts them to `channels` channels of 8 bits. Other
    files (notes.txt, a .xml sidecar) are named one line each by `report_skipped` (through
    `report`, else a warning); hidden files and subfolders are ignored silently. Files are
    checked in threads, since Pillow decodes without holding the GIL.
    """
    check_channels(channels)
    folder = _check_folder(folder)
    files, others = folder_files(folder)
    if not files:
        raise DataError(
            f"no images in {folder}. Expected {LAYOUT_HINT}. Point to the folder that holds "
            "the image files (or to the dataset root)."
        )
    report_skipped(others, report)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        problems = list(pool.map(_check_file, files))
    good = [path for path, problem in zip(files, problems, strict=True) if problem is None]
    bad = [problem for problem in problems if problem is not None]
    return good, bad


def scan_pairs(
    folder,
    on_bad: str = "raise",
    channels: int = 3,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    """The valid pairs in `folder`, with a policy for bad files.

    on_bad="raise" (default) raises one BadPairsError listing every bad file; "skip" warns once,
    listing them all, and returns the good files. A folder with no good file is a DataError.
    Files that are not images at all are named by `check_pairs` (through `report`).
    """
    if on_bad not in ON_BAD_POLICIES:
        raise ValueError(f"on_bad must be one of {ON_BAD_POLICIES}, got {on_bad!r}")
    good, bad = check_pairs(folder, channels=channels, report=report)
    if bad and on_bad == "raise":
        raise BadPairsError(bad)
    if bad:
        warnings.warn(
            f"skipping {len(bad)} bad image file(s) in {folder}:\n"
            + "\n".join(str(item) for item in bad),
            stacklevel=2,
        )
    if not good:
        raise DataError(
            f"no valid pairs left in {folder}: all {len(bad)} image files are bad. "
            f"Expected {LAYOUT_HINT}."
        )
    return good


# ---------------------------------------------------------------------------------------------
# Splitting and choosing the training / validation files
# ---------------------------------------------------------------------------------------------


def _split_rank(path: Path, seed: int) -> str:
    return hashlib.sha256(f"{seed}/{path.name}".encode()).hexdigest()


def train_val_split(
    paths, val_fraction: float = 0.1, seed: int = 0
) -> tuple[list[Path], list[Path]]:
    """Split pairs into (train, val), both sorted by name, determined by the FILE NAMES only.

    Files are ranked by a SHA-256 hash of (seed, file name) and the lowest ranks go to
    validation. Unlike a shuffled list, that gives the same split whatever the input order,
    folder, machine or numpy version, and adding files to a folder moves few existing ones.
    With val_fraction > 0 and at least 2 files, validation gets at least 1 file and training
    keeps at least 1; val_fraction=0 puts everything in training.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    ordered = sorted((Path(path) for path in paths), key=_name_key)
    count = len(ordered)
    n_val = 0
    if count >= 2 and val_fraction > 0:
        n_val = min(count - 1, max(1, int(count * val_fraction + 0.5)))
    ranked = sorted(ordered, key=lambda path: (_split_rank(path, seed), *_name_key(path)))
    val_set = set(ranked[:n_val])
    train = [path for path in ordered if path not in val_set]
    val = [path for path in ordered if path in val_set]
    return train, val


def _validation_folder(val_data) -> Path:
    """A validation folder may be given as a dataset root: use its val/ (else test/)."""
    return held_out_split(find_splits(val_data)) or Path(val_data).expanduser()


def resolve_dataset(
    data,
    val_data=None,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    on_bad: str = "raise",
    channels: int = 3,
    report: Callable[[str], None] | None = None,
) -> tuple[list[Path], list[Path]]:
    """The (train, val) pair files for a `--data DIR [--val-data DIR]` argument.

    `data` is a dataset root with train/ (validation from its val/, else test/) or a flat folder
    of pairs. Without a validation folder the training files are split by `train_val_split`.
    `val_data`, when given, always wins. Every file used is validated (see `scan_pairs`), and
    every other file in those folders named through `report` (else a warning).
    """
    splits = find_splits(data)
    if splits and "train" not in splits:
        raise DataError(
            f"{data} has {', '.join(name + '/' for name in splits)} but no train/ folder with "
            f"images. Expected {LAYOUT_HINT}."
        )
    scan = dict(on_bad=on_bad, channels=channels, report=report)
    train_folder = splits.get("train", Path(data).expanduser())
    train = scan_pairs(train_folder, **scan)
    if val_data is not None:
        return train, scan_pairs(_validation_folder(val_data), **scan)
    held_out = held_out_split(splits)
    if held_out is not None:
        return train, scan_pairs(held_out, **scan)
    return train_val_split(train, val_fraction=val_fraction, seed=seed)
