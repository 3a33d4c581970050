"""Pixels for pix2pix: load pairs, split them into halves, jitter them, feed them to training.

The standard pix2pix format is one JPG/PNG file per pair, image A and image B side by side, so
width = 2 x height. `direction` says which half is the model's input: "AtoB" uses the left half
as the source and the right half as the target, "BtoA" the reverse. Which files to use (find,
check, split) is `pix2pix_lib.pairs`, which imports no TensorFlow; its names are importable from
here too (`data.resolve_dataset`, `data.check_pairs`, ...), as the notebooks use them.

Data flows in one direction:

    pairs.resolve_dataset           which files to use, every one validated up front
    load_image / split_pair         one file's pixels and its two halves (numpy)
    make_train_dataset              an infinite, exactly resumable tf.data pipeline with the
                                    paper's jitter (resize to 286, random crop 256, mirror)
    make_eval_dataset               a finite pipeline in file order, no jitter
    load_pairs_numpy                the same pixels as numpy arrays, for notebook cells

Pixels are uint8 (0..255) on disk and in the caches and float32 in [-1, 1] (the range of the
generator's tanh output) once they reach a model; `to_float` and `to_uint8` are the only places
that convert between the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from pix2pix_lib.common import check_whole_number
from pix2pix_lib.config import DIRECTIONS
from pix2pix_lib.pairs import (
    IMAGE_EXTENSIONS,
    LAYOUT_HINT,
    BadFile,
    BadPairsError,
    DataError,
    check_channels,
    check_pairs,
    find_splits,
    resolve_dataset,
    scan_pairs,
    train_val_split,
)
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
    "resize",
    "random_jitter",
    "make_train_dataset",
    "make_eval_dataset",
    "load_pairs_numpy",
    "steps_per_epoch",
]

# Decoded images (uint8) are rounded to whole values before they are cached, so the cached and
# the uncached training pipelines see the very same pixels.
_RESIZE_METHOD = "bilinear"
_RANDOM_ALG = "philox"  # a counter-based generator: the same stream on every device and machine
_SEED_STREAM_SHUFFLE = 1  # the two independent random streams drawn from one user seed
_SEED_STREAM_JITTER = 2
_DECODE_CHUNK = 64  # files decoded per step while the training cache is filled


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


def _path_strings(paths: Iterable) -> list[str]:
    strings = [str(path) for path in paths]
    if not strings:
        raise DataError(
            "no image pairs were given. Pass the files returned by scan_pairs() or "
            "resolve_dataset() for a folder of " + LAYOUT_HINT + "."
        )
    return strings


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
    check_channels(channels)
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


def resize(images, height: int, width: int | None = None):
    """Resize (..., H, W, C) to height x width (default: square), keeping the dtype (integers
    are rounded); numpy or tensor in, tensor out.

    Bilinear, antialiased when shrinking: plain bilinear would sample only a few source pixels
    of a 600x600 map half shrunk to 256 and alias; when enlarging both filters are the same and
    the plain one is 3x faster. A no-op when the static size already matches, so cached images
    are not resampled again. The course's one resize: the training pipeline and
    `inference.translate` use it alike.
    """
    images = tf.convert_to_tensor(images)
    width = height if width is None else width
    if images.shape[-3] == height and images.shape[-2] == width:
        return images

    def resized(antialias):
        return lambda: tf.image.resize(images, [height, width], _RESIZE_METHOD,
                                       antialias=antialias)

    shape = tf.shape(images)
    shrinking = tf.logical_or(shape[-3] > height, shape[-2] > width)
    result = tf.cond(shrinking, resized(True), resized(False))
    if images.dtype.is_integer:
        return tf.saturate_cast(tf.round(result), images.dtype)
    return tf.cast(result, images.dtype)


def random_jitter(source, target, image_size: int, seed):
    """Paper jitter: resize to jitter_size, random crop image_size, random mirror -- the SAME
    crop and mirror on source and target, so the pair stays aligned.

    `seed` is a shape-[2] integer tensor; the result depends only on it (stateless random ops),
    which is what makes the training pipeline exactly resumable. Works on (H, W, C) or
    (..., H, W, C) (one crop and mirror for the whole batch), any dtype.
    """
    size = jitter_size(image_size)
    source, target = tf.convert_to_tensor(source), tf.convert_to_tensor(target)
    source, target = resize(source, size), resize(target, size)
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
    return resize(source, size), resize(target, size)


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
    check_channels(channels)
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
    check_channels(channels)
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
