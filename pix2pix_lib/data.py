"""Pixels for pix2pix: load pairs, split them into halves, jitter them, feed them to training.

The standard pix2pix format is one image file per pair, image A and image B side by side, so
width = 2 x height. `direction` says which half is the model's input: "AtoB" uses the left half
as the source and the right half as the target, "BtoA" the reverse. Which files to use (find,
check, split) and which formats count as images is `pix2pix_lib.pairs`, which imports no
TensorFlow; its names are importable from here too (`data.resolve_dataset`,
`data.check_pairs`, ...), as the notebooks use them.

Data flows in one direction:

    pairs.resolve_dataset           which files to use, every one validated up front
    load_image / split_pair         one file's pixels and its two halves (numpy)
    make_train_dataset              an infinite, exactly resumable tf.data pipeline with the
                                    paper's jitter (resize to 286, random crop 256, mirror)
    make_eval_dataset               a finite pipeline in file order, no jitter
    load_pairs_numpy                the same pixels as numpy arrays, for notebook cells

The pipelines decode JPEG and PNG files with TensorFlow (`tf.io.decode_image`, in C++, in
parallel) and the other formats of `pairs.IMAGE_FORMATS` (WebP, TIFF, BMP, GIF) with Pillow
through `load_image`, deciding per file from its first bytes, to the same pixels. 16-bit images
(PNG, TIFF) keep the high byte of each value (v // 256, as TensorFlow does): scaled, not clipped.

Pixels are uint8 (0..255) on disk and in the caches and float32 in [-1, 1] (the range of the
generator's tanh output) once they reach a model; `to_float` and `to_uint8` are the only places
that convert between the two.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from pix2pix_lib.common import check_whole_number
from pix2pix_lib.config import DIRECTIONS
from pix2pix_lib.pairs import (
    IMAGE_EXTENSIONS,
    LAYOUT_HINT,
    MAX_IMAGE_PIXELS,
    BadFile,
    BadPairsError,
    DataError,
    check_channels,
    check_pairs,
    find_splits,
    open_image,
    resolve_dataset,
    scan_pairs,
    train_val_split,
)
from pix2pix_lib.tf_quiet import tf

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
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
]

# Decoded images (uint8) are rounded to whole values before they are cached, so the cached and
# the uncached training pipelines see the very same pixels.
_RESIZE_METHOD = "bilinear"
_RANDOM_ALG = "philox"  # a counter-based generator: the same stream on every device and machine
_SEED_STREAM_SHUFFLE = 1  # the two independent random streams drawn from one user seed
_SEED_STREAM_JITTER = 2
_DECODE_CHUNK = 64  # files decoded per step while the training cache is filled
# How a file starts when tf.io.decode_image reads it as JPEG (MPO included) or PNG, the test
# decode_image makes itself. These files are decoded by TensorFlow, as they always were; files in
# the other formats by Pillow (TensorFlow reads WebP only in newer releases, TIFF never).
_TF_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


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
    """8-bit gray or RGB; 16 bits become 8 by keeping each value's high byte (v // 256).

    That is what TensorFlow's PNG decoder does with 16-bit PNGs and what Pillow does when it
    opens 16-bit RGB (it gives mode "RGB"), so every decoder here agrees to the level. 16-bit
    gray (PNG, TIFF) opens as mode "I;16" or "I", which Pillow's convert() would clip to 255.
    """
    if image.mode.startswith("I"):
        high_bytes = np.asarray(image) >> 8  # uint16 or int32: no wider copy
        image = Image.fromarray(np.clip(high_bytes, 0, 255).astype(np.uint8), "L")
    return image.convert("RGB" if channels == 3 else "L")


def load_image(path, channels: int = 3) -> np.ndarray:
    """A whole image file as uint8 (H, W, channels); alpha is dropped, gray/palette converted.

    Any format of `pairs.IMAGE_FORMATS` (the first frame of a GIF or multi-page TIFF), at most
    `pairs.MAX_IMAGE_PIXELS` pixels; anything else is a DataError naming the file and saying
    why (see `pairs.open_image`). Pillow's conversion to gray can differ from TensorFlow's
    decoder by 1 level; the training pipeline decodes JPEG and PNG with TensorFlow.
    """
    check_channels(channels)
    path = Path(path)
    with open_image(path) as image:
        pixels = np.asarray(_to_mode(image, channels))
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


def _decoded_by_tf(path: str) -> bool:
    """Whether the pipelines decode this file with TensorFlow: JPEG or PNG, by its first bytes."""
    with open(path, "rb") as file:
        return file.read(len(_TF_SIGNATURES[1])).startswith(_TF_SIGNATURES)


def _pillow_pixels(path: bytes, channels: int) -> np.ndarray:
    """`load_image` for tf.numpy_function, which passes the path as bytes."""
    return load_image(os.fsdecode(path), channels)


def _pair_reader(paths: list[str], *, size: int, direction: str, channels: int):
    """A function file index -> (source, target) uint8 (size, size, channels) of that file.

    Used by every pipeline. JPEG and PNG files are decoded by tf.io.decode_image (which handles
    gray, palette and RGBA files, and scales 16-bit PNG to 8 bits); the other formats by Pillow
    (`load_image`) inside tf.numpy_function. Which file is which is decided here, once, from
    its first bytes: a dataset of JPEG and PNG files only never calls Python and decodes as it
    always did. Either way a pair is a pure function of its file, as exact resuming needs.
    Both halves are resized to a square.
    """
    path_table = tf.constant(paths)
    by_pillow = [not _decoded_by_tf(path) for path in paths]
    pillow_table = tf.constant(by_pillow)
    pillow_pixels = functools.partial(_pillow_pixels, channels=channels)

    def with_tf(path):
        file_bytes = tf.io.read_file(path)
        return tf.io.decode_image(file_bytes, channels=channels, expand_animations=False)

    def with_pillow(path):
        pixels = tf.numpy_function(pillow_pixels, [path], tf.uint8, stateful=False)
        return tf.ensure_shape(pixels, [None, None, channels])

    def read(file_index):
        path = tf.gather(path_table, file_index)
        if any(by_pillow):
            use_pillow = tf.gather(pillow_table, file_index)
            image = tf.cond(use_pillow, lambda: with_pillow(path), lambda: with_tf(path))
        else:
            image = with_tf(path)
        source, target = split_pair(image, direction)
        return resize(source, size), resize(target, size)

    return read


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
    read = _pair_reader(paths, size=size, direction=direction, channels=channels)
    files = tf.data.Dataset.range(len(paths))
    return files.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


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
    return _pair_reader(paths, size=size, direction=direction, channels=channels)


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
