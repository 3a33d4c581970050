"""Pair files, without TensorFlow: find them, check them, split them into train and val.

The standard pix2pix format is one JPG/PNG file per pair, image A and image B side by side, so
width = 2 x height. A folder given to this module is either a flat folder of pairs or a dataset
root holding `train/`, `val/` and/or `test/`:

    find_splits / resolve_dataset   which folders and files to use
    check_pairs / scan_pairs        every file validated up front, all problems reported at once
    train_val_split                 a split that depends on file names only (reproducible)

and the small facts every other module asks of a folder (`is_image_file`, `image_files`,
`count_images`, `held_out_split`). The pixels themselves, and the tf.data pipelines that feed
them to a model, are `pix2pix_lib.data`. This module imports no TensorFlow: checking a dataset,
or generating one (`pix2pix_lib.datasets`), does not wait for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from pix2pix_lib.config import CHANNEL_COUNTS

__all__ = [
    "IMAGE_EXTENSIONS",
    "JPEG_EXTENSIONS",
    "LAYOUT_HINT",
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
    "held_out_split",
    "image_files",
    "is_image_file",
    "resolve_dataset",
    "scan_pairs",
    "train_val_split",
]

JPEG_EXTENSIONS = (".jpg", ".jpeg")
IMAGE_EXTENSIONS = (*JPEG_EXTENSIONS, ".png")  # of any case
SPLIT_NAMES = ("train", "val", "test")
HELD_OUT_SPLITS = ("val", "test")  # validation pairs: val/, else test/
ON_BAD_POLICIES = ("raise", "skip")

# What tf.io.decode_image reads with any channel count. A GIF or WebP renamed to .png opens in
# Pillow but would break (or silently change) the training pipeline, so it is reported instead.
_DECODABLE_FORMATS = ("JPEG", "MPO", "PNG")
LAYOUT_HINT = (
    "JPG/PNG files each holding one pair, images A and B side by side (width = 2 x height), "
    "the standard pix2pix layout; or a dataset root with train/ and val/ (or test/) subfolders "
    "of such files"
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
    lines = [f"{len(bad)} bad image file(s), each must be a JPG/PNG pair with width = 2 x height:"]
    lines += [str(item) for item in bad]
    lines.append(
        'Fix or remove these files and run again, or pass on_bad="skip" to leave them out '
        "(with a warning) and use the valid pairs only."
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
# Finding and validating files
# ---------------------------------------------------------------------------------------------


def _is_image_name(name: str) -> bool:
    """Image extension of any case; hidden files (".DS_Store", macOS "._x.jpg") do not count."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS and not name.startswith(".")


def is_image_file(path: Path) -> bool:
    """A file (not a folder) with an image extension of any case, and not a hidden file."""
    return _is_image_name(path.name) and path.is_file()


def image_files(folder: Path) -> list[Path]:
    """The image files directly inside `folder`, sorted by name (not recursive)."""
    return sorted((path for path in folder.iterdir() if is_image_file(path)), key=_name_key)


def count_images(folder) -> int:
    """How many image files `folder` holds directly (0 when it is not a folder)."""
    if not os.path.isdir(folder):
        return 0
    with os.scandir(folder) as entries:
        return sum(1 for entry in entries if _is_image_name(entry.name) and entry.is_file())


def _name_key(path: Path) -> tuple[str, str]:
    return (path.name, str(path))


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


@contextlib.contextmanager
def _pillow_strict():
    """Make Pillow raise on truncated files for the duration of a check.

    `ImageFile.LOAD_TRUNCATED_IMAGES` is process-wide and some libraries set it to True, which
    would let half-written files pass the check and then fail in the middle of training.
    """
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _decode_problem(error: Exception) -> str:
    message = str(error)
    if isinstance(error, EOFError) or "truncated" in message.lower():
        return "truncated image"
    return f"cannot decode: {message or type(error).__name__}"


def _check_file(path: Path) -> BadFile | None:
    """Why `path` cannot be used as a pair, or None when it can.

    The file is fully decoded (a truncated file only fails at its end), but JPEGs are decoded
    in libjpeg's draft mode at 1/8 scale: all of the data is still read, at a fraction of the
    cost, which keeps a thousand 1200x600 maps within a few seconds.
    """
    try:
        if path.stat().st_size == 0:
            return BadFile(path, "empty file (0 bytes)")
        with Image.open(path) as image:
            image.verify()  # structure and checksums (PNG CRCs) without decoding pixels
        with Image.open(path) as image:
            image_format, (width, height) = image.format, image.size
            if image_format in ("JPEG", "MPO"):
                image.draft(None, (max(1, width // 8), max(1, height // 8)))
            image.load()
    except UnidentifiedImageError:
        return BadFile(path, "cannot decode: not an image")
    except Image.DecompressionBombError as error:
        return BadFile(path, f"cannot decode: {error}")
    except (OSError, SyntaxError, EOFError, ValueError, IndexError) as error:
        return BadFile(path, _decode_problem(error))
    if image_format not in _DECODABLE_FORMATS:
        return BadFile(path, f"{image_format} data, not JPEG or PNG (convert the file)")
    if width != 2 * height:
        return BadFile(path, f"width {width} is not 2 x height {height}")
    return None


def check_pairs(folder, channels: int = 3) -> tuple[list[Path], list[BadFile]]:
    """Validate every image file in ONE folder; return (good files sorted by name, bad files).

    Checks each file for: zero bytes, truncation, data that is not a JPEG/PNG image, and
    width != 2 x height. Grayscale, palette and RGBA images are valid: loading converts them
    to `channels` channels. Other files (.txt, .DS_Store, subfolders) are ignored silently.
    Files are checked in threads, since Pillow decodes without holding the GIL.
    """
    check_channels(channels)
    folder = _check_folder(folder)
    files = image_files(folder)
    if not files:
        raise DataError(
            f"no images in {folder}. Expected {LAYOUT_HINT}. Point to the folder that holds "
            "the image files (or to the dataset root)."
        )
    with _pillow_strict(), ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        problems = list(pool.map(_check_file, files))
    good = [path for path, problem in zip(files, problems, strict=True) if problem is None]
    bad = [problem for problem in problems if problem is not None]
    return good, bad


def scan_pairs(folder, on_bad: str = "raise", channels: int = 3) -> list[Path]:
    """The valid pairs in `folder`, with a policy for bad files.

    on_bad="raise" (default) raises one BadPairsError listing every bad file; "skip" warns once,
    listing them all, and returns the good files. A folder with no good file is a DataError.
    """
    if on_bad not in ON_BAD_POLICIES:
        raise ValueError(f"on_bad must be one of {ON_BAD_POLICIES}, got {on_bad!r}")
    good, bad = check_pairs(folder, channels=channels)
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
) -> tuple[list[Path], list[Path]]:
    """The (train, val) pair files for a `--data DIR [--val-data DIR]` argument.

    `data` is a dataset root with train/ (validation from its val/, else test/) or a flat folder
    of pairs. Without a validation folder the training files are split by `train_val_split`.
    `val_data`, when given, always wins. Every file used is validated (see `scan_pairs`).
    """
    splits = find_splits(data)
    if splits and "train" not in splits:
        raise DataError(
            f"{data} has {', '.join(name + '/' for name in splits)} but no train/ folder with "
            f"images. Expected {LAYOUT_HINT}."
        )
    train_folder = splits.get("train", Path(data).expanduser())
    train = scan_pairs(train_folder, on_bad=on_bad, channels=channels)
    if val_data is not None:
        folder = _validation_folder(val_data)
        return train, scan_pairs(folder, on_bad=on_bad, channels=channels)
    held_out = held_out_split(splits)
    if held_out is not None:
        return train, scan_pairs(held_out, on_bad=on_bad, channels=channels)
    return train_val_split(train, val_fraction=val_fraction, seed=seed)
