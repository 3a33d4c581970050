"""Paired images for pix2pix: find, validate, split, load and feed them to training.

The standard pix2pix format is one JPG/PNG file per pair, image A and image B side by side, so
width = 2 x height. `direction` says which half is the model's input: "AtoB" uses the left half
as the source and the right half as the target, "BtoA" the reverse. A folder given to this module
is either a flat folder of pairs or a dataset root holding `train/`, `val/` and/or `test/`.

Data flows through this module in one direction:

    find_splits / resolve_dataset   which folders and files to use
    check_pairs / scan_pairs        every file validated up front, all problems reported at once
    train_val_split                 a split that depends on file names only (reproducible)
    make_train_dataset              an infinite, exactly resumable tf.data pipeline with the
                                    paper's jitter (resize to 286, random crop 256, mirror)
    make_eval_dataset               a finite pipeline in file order, no jitter
    load_pairs_numpy                the same pixels as numpy arrays, for notebook cells

Pixels are uint8 (0..255) on disk and in the caches and float32 in [-1, 1] (the range of the
generator's tanh output) once they reach a model; `to_float` and `to_uint8` are the only places
that convert between the two.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from pix2pix_lib.common import check_whole_number
from pix2pix_lib.config import CHANNEL_COUNTS, DIRECTIONS
from pix2pix_lib.tf_quiet import tf

__all__ = [
    "IMAGE_EXTENSIONS",
    "DIRECTIONS",
    "DataError",
    "BadFile",
    "BadPairsError",
    "find_splits",
    "check_pairs",
    "scan_pairs",
    "train_val_split",
    "resolve_dataset",
    "load_image",
    "split_pair",
    "to_float",
    "to_uint8",
    "jitter_size",
    "random_jitter",
    "make_train_dataset",
    "make_eval_dataset",
    "load_pairs_numpy",
    "steps_per_epoch",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
SPLIT_NAMES = ("train", "val", "test")
ON_BAD_POLICIES = ("raise", "skip")

# What tf.io.decode_image reads with any channel count. A GIF or WebP renamed to .png opens in
# Pillow but would break (or silently change) the training pipeline, so it is reported instead.
_DECODABLE_FORMATS = ("JPEG", "MPO", "PNG")
_LAYOUT_HINT = (
    "JPG/PNG files each holding one pair, images A and B side by side (width = 2 x height), "
    "the standard pix2pix layout; or a dataset root with train/ and val/ (or test/) subfolders "
    "of such files"
)
# Decoded images (uint8) are rounded to whole values before they are cached, so the cached and
# the uncached training pipelines see the very same pixels.
_RESIZE_METHOD = "bilinear"
_RANDOM_ALG = "philox"  # a counter-based generator: the same stream on every device and machine
_SEED_STREAM_SHUFFLE = 1  # the two independent random streams drawn from one user seed
_SEED_STREAM_JITTER = 2
_DECODE_CHUNK = 64  # files decoded per step while the training cache is filled


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
# Argument checks shared by the public functions
# ---------------------------------------------------------------------------------------------


def _check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(
            f"direction must be one of {DIRECTIONS} (AtoB: the left half is the input), "
            f"got {direction!r}"
        )
    return direction


def _check_channels(channels: int) -> int:
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
            f"{what} {folder} does not exist. Expected a folder of {_LAYOUT_HINT}. Check the "
            "path, or create a dataset with `pix2pix synth-maps` or `pix2pix download`."
        )
    if not folder.is_dir():
        raise DataError(
            f"{what} {folder} is a file, not a folder. Expected a folder of {_LAYOUT_HINT}."
        )
    return folder


def _path_strings(paths: Iterable) -> list[str]:
    strings = [str(path) for path in paths]
    if not strings:
        raise DataError(
            "no image pairs were given. Pass the files returned by scan_pairs() or "
            "resolve_dataset() for a folder of " + _LAYOUT_HINT + "."
        )
    return strings


# ---------------------------------------------------------------------------------------------
# Finding and validating files
# ---------------------------------------------------------------------------------------------


def _is_image_file(path: Path) -> bool:
    """Image extension of any case; hidden files (".DS_Store", macOS "._x.jpg") do not count."""
    return (
        path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".") and path.is_file()
    )


def _image_files(folder: Path) -> list[Path]:
    """The image files directly inside `folder`, sorted by name (not recursive)."""
    return sorted((path for path in folder.iterdir() if _is_image_file(path)), key=_name_key)


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
        if folder.is_dir() and any(_is_image_file(path) for path in folder.iterdir()):
            splits[name] = folder
    return splits


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
    _check_channels(channels)
    folder = _check_folder(folder)
    files = _image_files(folder)
    if not files:
        raise DataError(
            f"no images in {folder}. Expected {_LAYOUT_HINT}. Point to the folder that holds "
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
            f"Expected {_LAYOUT_HINT}."
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
    splits = find_splits(val_data)
    for name in ("val", "test"):
        if name in splits:
            return splits[name]
    return Path(val_data).expanduser()


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
            f"images. Expected {_LAYOUT_HINT}."
        )
    train_folder = splits.get("train", Path(data).expanduser())
    train = scan_pairs(train_folder, on_bad=on_bad, channels=channels)
    if val_data is not None:
        folder = _validation_folder(val_data)
        return train, scan_pairs(folder, on_bad=on_bad, channels=channels)
    for name in ("val", "test"):
        if name in splits:
            return train, scan_pairs(splits[name], on_bad=on_bad, channels=channels)
    return train_val_split(train, val_fraction=val_fraction, seed=seed)


# ---------------------------------------------------------------------------------------------
# Pixels: loading, halves and value ranges (numpy or TensorFlow)
# ---------------------------------------------------------------------------------------------


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    if image.mode.startswith("I"):  # 16-bit PNG (0..65535): Pillow's convert() would clip it
        pixels = np.asarray(image, dtype=np.float64) / 257
        image = Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8), "L")
    return image.convert("RGB" if channels == 3 else "L")


def load_image(path, channels: int = 3) -> np.ndarray:
    """A whole image file as uint8 (H, W, channels); alpha is dropped, gray/palette converted.

    Pillow's conversion to gray can differ from TensorFlow's decoder by 1 level; the training
    pipeline decodes with TensorFlow.
    """
    _check_channels(channels)
    path = Path(path)
    try:
        with Image.open(path) as image:
            pixels = np.asarray(_to_mode(image, channels))
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(
            f"cannot read image {path}: {error}. Check it with `pix2pix check`."
        ) from error
    return pixels.reshape(pixels.shape[0], pixels.shape[1], channels)


def split_pair(image, direction: str = "AtoB"):
    """(source, target) halves of a side-by-side pair: numpy (H, W, C) or tf (..., H, W, C).

    AtoB: source = left half. An odd width leaves out the last column.
    """
    _check_direction(direction)
    if tf.is_tensor(image):
        half = tf.shape(image)[-2] // 2
    else:
        image = np.asarray(image)
        half = image.shape[-2] // 2
    left, right = image[..., :half, :], image[..., half : 2 * half, :]
    return (left, right) if direction == "AtoB" else (right, left)


def to_float(images_uint8):
    """uint8 0..255 -> float32 -1..1 (numpy in, numpy out; tensor in, tensor out)."""
    if tf.is_tensor(images_uint8):
        return tf.cast(images_uint8, tf.float32) / 127.5 - 1.0
    return np.asarray(images_uint8).astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def to_uint8(images_float):
    """float -1..1 -> uint8 0..255, clipped and rounded (numpy in, numpy out; tensor in, tensor).

    The one place the inverse of `to_float` is written.
    """
    if tf.is_tensor(images_float):
        scaled = (tf.cast(images_float, tf.float32) + 1.0) / 2.0 * 255.0
        return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)
    scaled = (np.asarray(images_float, dtype=np.float32) + 1.0) / 2.0 * 255.0
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# The paper's jitter (TensorFlow, stateless: the same seed always gives the same result)
# ---------------------------------------------------------------------------------------------


def jitter_size(image_size: int) -> int:
    """The size images are enlarged to before the random crop: the paper's 286 for 256.

    image_size * 286 / 256 rounded half up (64 -> 71.5 -> 72), in integers so it is exact.
    """
    image_size = check_whole_number("image_size", image_size)
    return (image_size * 286 + 128) // 256


def _resize(image, size: int):
    """Resize (..., H, W, C) to size x size, keeping the dtype (integers are rounded).

    Bilinear, antialiased when shrinking: plain bilinear would sample only a few source pixels
    of a 600x600 map half shrunk to 256 and alias; when enlarging both filters are the same and
    the plain one is 3x faster. A no-op when the static size already matches, so cached images
    are not resampled again.
    """
    if image.shape[-3] == size and image.shape[-2] == size:
        return image

    def resize(antialias):
        return lambda: tf.image.resize(image, [size, size], _RESIZE_METHOD, antialias=antialias)

    shape = tf.shape(image)
    shrinking = tf.logical_or(shape[-3] > size, shape[-2] > size)
    resized = tf.cond(shrinking, resize(True), resize(False))
    if image.dtype.is_integer:
        return tf.saturate_cast(tf.round(resized), image.dtype)
    return tf.cast(resized, image.dtype)


def random_jitter(source, target, image_size: int, seed):
    """Paper jitter: resize to jitter_size, random crop image_size, random mirror -- the SAME
    crop and mirror on source and target, so the pair stays aligned.

    `seed` is a shape-[2] integer tensor; the result depends only on it (stateless random ops),
    which is what makes the training pipeline exactly resumable. Works on (H, W, C) or
    (..., H, W, C) (one crop and mirror for the whole batch), any dtype.
    """
    size = jitter_size(image_size)
    source, target = tf.convert_to_tensor(source), tf.convert_to_tensor(target)
    source, target = _resize(source, size), _resize(target, size)
    draws = tf.random.stateless_uniform([3], seed=seed, alg=_RANDOM_ALG)
    room = size - image_size + 1
    top = tf.minimum(tf.cast(draws[0] * room, tf.int32), room - 1)
    left = tf.minimum(tf.cast(draws[1] * room, tf.int32), room - 1)
    mirror = draws[2] < 0.5

    def crop_and_mirror(image):
        cropped = image[..., top : top + image_size, left : left + image_size, :]
        cropped = tf.ensure_shape(cropped, [*image.shape[:-3], image_size, image_size, None])
        return tf.cond(mirror, lambda: tf.reverse(cropped, axis=[-2]), lambda: cropped)

    return crop_and_mirror(source), crop_and_mirror(target)


# ---------------------------------------------------------------------------------------------
# tf.data pipelines
# ---------------------------------------------------------------------------------------------


def _decode_pair(file_bytes, *, size: int, direction: str, channels: int):
    """File bytes -> (source, target) uint8 (size, size, channels); used by every pipeline.

    decode_image handles gray, palette and RGBA files; both halves are resized to a square.
    """
    image = tf.io.decode_image(file_bytes, channels=channels, expand_animations=False)
    source, target = split_pair(image, direction)
    return _resize(source, size), _resize(target, size)


def _stream_seed(seed: int, stream: int, counter):
    """An independent shape-[2] stateless seed for (seed, stream, counter)."""
    base = tf.constant([seed, stream], dtype=tf.int64)
    return tf.random.experimental.stateless_fold_in(base, counter, alg=_RANDOM_ALG)


def _epoch_order(n: int, seed: int, epoch):
    """A permutation of range(n) that depends only on (seed, epoch).

    argsort of 64-bit stateless random keys (ties practically impossible, and stable anyway).
    """
    keys = tf.random.stateless_uniform(
        [n],
        seed=_stream_seed(seed, _SEED_STREAM_SHUFFLE, epoch),
        minval=None,
        maxval=None,
        dtype=tf.int64,
        alg=_RANDOM_ALG,
    )
    return tf.argsort(keys, stable=True)


def _sample_schedule(n: int, seed: int, first_sample: int) -> tf.data.Dataset:
    """Infinite (sample number, file index) from global sample `first_sample` on.

    Sample i belongs to epoch i // n and uses file `_epoch_order(epoch)[i % n]`: a pure
    function of i, so starting at any i gives what a run from 0 would have given there, with
    no replay. One permutation is computed per epoch, not per sample.
    """
    first_epoch, offset = divmod(first_sample, n)

    def epoch_samples(epoch):
        start = tf.where(epoch == first_epoch, tf.constant(offset, tf.int64), 0)
        samples = epoch * n + tf.range(n, dtype=tf.int64)
        files = _epoch_order(n, seed, epoch)
        return tf.data.Dataset.from_tensor_slices((samples[start:], files[start:]))

    last_epoch = (2**62) // n  # sample numbers stay far below int64's limit
    return tf.data.Dataset.range(first_epoch, last_epoch).flat_map(epoch_samples)


def _cache_bytes_needed(n: int, size: int, channels: int) -> int:
    return n * 2 * size * size * channels


def _decoded_pairs(paths: list[str], *, size: int, direction: str, channels: int):
    """Dataset of (source, target) uint8 pairs in file order, decoded in parallel."""

    def decode(path):
        file_bytes = tf.io.read_file(path)
        return _decode_pair(file_bytes, size=size, direction=direction, channels=channels)

    files = tf.data.Dataset.from_tensor_slices(paths)
    return files.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _build_cache(paths: list[str], *, size: int, direction: str, channels: int):
    """Decode every file ONCE into a uint8 variable of shape (n, 2, size, size, channels).

    A variable rather than a constant: tf.data's graph optimisations copy captured constants
    (twice the memory, and a 2 GB limit), while a variable is shared by handle. It is filled in
    place chunk by chunk and lives in host memory, where tf.data runs.
    """
    shape = (len(paths), 2, size, size, channels)
    with tf.device("/CPU:0"):
        cache = tf.Variable(tf.zeros(shape, tf.uint8), trainable=False, name="pix2pix_pair_cache")
        pairs = _decoded_pairs(paths, size=size, direction=direction, channels=channels)
        start = 0
        for source, target in pairs.batch(_DECODE_CHUNK).prefetch(1):
            chunk = tf.stack([source, target], axis=1)
            rows = tf.range(start, start + chunk.shape[0])
            cache.scatter_update(tf.IndexedSlices(chunk, rows))
            start += chunk.shape[0]
    return cache


def _pair_loader(paths: list[str], *, size: int, direction: str, channels: int, cache_bytes: int):
    """A function file index -> (source, target) uint8 at `size`.

    Cache where it fits in memory: decoding and resizing a 1200x600 JPEG costs ~10 ms of CPU,
    every epoch again. On a GPU, whose 256x256 step takes milliseconds, that would starve the
    model; on a CPU it would steal cores from the training step. Copying a cached pair out
    costs microseconds. Datasets too big for `cache_bytes` are read and decoded from disk for
    each sample instead (in parallel).
    """
    if _cache_bytes_needed(len(paths), size, channels) <= cache_bytes:
        cache = _build_cache(paths, size=size, direction=direction, channels=channels)

        def from_cache(file_index):
            pair = tf.gather(cache, file_index)
            return pair[0], pair[1]

        return from_cache
    path_table = tf.constant(paths)

    def from_disk(file_index):
        file_bytes = tf.io.read_file(tf.gather(path_table, file_index))
        return _decode_pair(file_bytes, size=size, direction=direction, channels=channels)

    return from_disk


def _pair_to_float(source, target):
    return to_float(source), to_float(target)


def make_train_dataset(
    paths,
    *,
    image_size: int,
    batch_size: int,
    direction: str = "AtoB",
    channels: int = 3,
    seed: int = 0,
    start_step: int = 0,
    jitter: bool = True,
    cache_bytes: int = 1 << 30,
) -> tf.data.Dataset:
    """Infinite batches of (source, target), float32 in [-1, 1], shape (batch, S, S, channels).

    Exactly resumable without replaying data: batch k of `start_step=s` is bit for bit batch
    s + k of `start_step=0`. Every sample i (counted globally from 0) is a pure function of
    (seed, i): its file comes from a per-epoch permutation seeded by (seed, i // n) and its
    jitter from a stateless seed made of (seed, i). Batches are always full (an epoch boundary
    may fall inside a batch), so their shapes are static.

    Decoded pairs are cached where they fit in `cache_bytes` (see `_pair_loader`); the cache is
    built here, before the first batch, so creating the dataset can take a few seconds.
    Build it outside a `tf.distribute` strategy scope, like any tf.data input.
    """
    paths = _path_strings(paths)
    image_size = check_whole_number("image_size", image_size)
    batch_size = check_whole_number("batch_size", batch_size)
    _check_direction(direction)
    _check_channels(channels)
    if start_step < 0:
        raise ValueError(f"start_step must be >= 0, got {start_step!r}")
    stored_size = jitter_size(image_size) if jitter else image_size
    load = _pair_loader(
        paths, size=stored_size, direction=direction, channels=channels, cache_bytes=cache_bytes
    )

    def make_sample(sample, file_index):
        source, target = load(file_index)
        if jitter:
            jitter_seed = _stream_seed(seed, _SEED_STREAM_JITTER, sample)
            source, target = random_jitter(source, target, image_size, jitter_seed)
        return source, target

    samples = _sample_schedule(len(paths), seed, int(start_step) * batch_size)
    pairs = samples.map(make_sample, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    batches = pairs.batch(batch_size, drop_remainder=True)
    # Scaling to float after batching: one vectorised op, and uint8 buffers are 4x smaller.
    batches = batches.map(_pair_to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)


def make_eval_dataset(
    paths, *, image_size: int, batch_size: int, direction: str = "AtoB", channels: int = 3
) -> tf.data.Dataset:
    """Finite batches of (source, target) in file order, no jitter, float32 in [-1, 1].

    The last batch may be smaller. Decoded pairs are cached (as uint8) after the first pass,
    so repeated validation does not decode the files again.
    """
    paths = _path_strings(paths)
    image_size = check_whole_number("image_size", image_size)
    batch_size = check_whole_number("batch_size", batch_size)
    _check_direction(direction)
    _check_channels(channels)
    pairs = _decoded_pairs(paths, size=image_size, direction=direction, channels=channels)
    batches = pairs.cache().batch(batch_size)
    batches = batches.map(_pair_to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)


def _iterate_numpy(dataset: tf.data.Dataset) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for source, target in dataset:
        yield source.numpy(), target.numpy()


def load_pairs_numpy(
    paths, *, image_size: int, direction: str = "AtoB", channels: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """(sources, targets) float32 in [-1, 1], shape (N, S, S, channels), no jitter.

    For notebook cells; decoded by the same TensorFlow code as training, so what a cell shows
    is what the model sees.
    """
    dataset = make_eval_dataset(
        paths, image_size=image_size, batch_size=32, direction=direction, channels=channels
    )
    sources, targets = zip(*_iterate_numpy(dataset), strict=True)
    return np.concatenate(sources), np.concatenate(targets)


def steps_per_epoch(n_pairs: int, batch_size: int) -> int:
    """Full batches in one pass over `n_pairs` (at least 1, so tiny datasets still train)."""
    batch_size = check_whole_number("batch_size", batch_size)
    return max(1, int(n_pairs) // batch_size)
