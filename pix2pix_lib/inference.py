"""Use a trained generator: load it and translate images (arrays) of any size.

A generator is trained on square `image_size` crops, but people bring photos of any size and
aspect ratio. `translate` returns, for every input image, an output of the SAME height and
width, with one of two strategies (`plan_translation` says which one an image gets):

    resize  the image is resized to image_size x image_size, translated, and the output resized
            back to the input's height and width (which also undoes any aspect distortion).
            Used when the longer side is at most RESIZE_LIMIT (4) x image_size, or tile=False.
            Cheap, and close to what the model saw in training: a whole image resized to about
            image_size (the paper resizes to 286 and crops 256).
    tile    the image is cut into overlapping image_size x image_size tiles at its own pixel
            resolution (times `scale`), the tiles are translated in batches, and the outputs are
            blended with a smooth (Hann) window so that no seam shows. Used when the longer side
            exceeds RESIZE_LIMIT x image_size, or tile=True. Squeezing a 2000-pixel photo into
            256 pixels would throw most of its detail away; tiles keep every pixel at the model's
            working resolution (one model pixel per image pixel unless `scale` says otherwise).
            Tiles go through the model a few dozen at a time, so memory grows with the image
            (about 55 bytes per pixel), never with its number of tiles.

Saved models: `generator.keras` (`generator.save`) is the format of a run folder and reloads
with `load_generator` in Keras's safe mode (no arbitrary code runs while loading).

Its neighbours: translating image files (reading, naming and writing them) is
`pix2pix_lib.inference_files`; exporting a generator for plain TensorFlow is
`pix2pix_lib.export`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pix2pix_lib.common import check_whole_number
from pix2pix_lib.config import TrainConfig
from pix2pix_lib.data import resize, to_float, to_uint8
from pix2pix_lib.generation import generate
from pix2pix_lib.pairs import (
    too_many_pixels,
)
from pix2pix_lib.run_folder import GENERATOR_FILE, RunFolder
from pix2pix_lib.tf_quiet import keras

__all__ = [
    "GENERATOR_FILE",
    "RESIZE_LIMIT",
    "TILE_OVERLAP",
    "blend_window",
    "describe_plan",
    "load_generator",
    "load_run",
    "model_geometry",
    "plan_translation",
    "scale_problem",
    "translate",
]

# Images whose longer side is at most this many times image_size are resized, larger ones tiled.
# 4, not 2: an official maps photo is 600 px and the models were trained on it resized to 256
# (2.3x); tiling it at its own resolution would show the model a scale it never saw.
RESIZE_LIMIT = 4.0
# Fraction of a tile shared with its neighbour: 0.5 puts every pixel within the central half of
# some tile, away from the borders where the U-Net's zero padding makes its output worse.
TILE_OVERLAP = 0.5
# Tiles sent to the generator per call while tiling (rounded to whole batches): the tiles and
# their outputs then take a few tens of MB at any image size, instead of 4 x 4 bytes per
# channel of every pixel (each pixel lies in about 4 overlapping tiles).
_TILES_PER_CALL = 64
# ITU-R 601 luma, the weights Pillow's convert("L") uses: RGB -> 1-channel models.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_generator(path) -> keras.Model:
    """Load a generator saved with `generator.save` (a .keras file, or a folder holding one).

    Safe mode refuses to run code stored in the file (a `Lambda` layer), so loading a model you
    were sent cannot execute anything; our generators contain only built-in layers. compile=False:
    a generator is only ever called, never fitted on its own.
    """
    path = _generator_file(Path(path).expanduser())
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises many types for a damaged or foreign file
        raise ValueError(
            f"cannot load the generator in {path}: {type(error).__name__}: {error}. The file may "
            "be incomplete (copy it again) or not a Keras 3 .keras model; re-export it with "
            "`export.export_generator` or `generator.save(...)`."
        ) from error
    model_geometry(model, where=str(path))
    return model


def _generator_file(path: Path) -> Path:
    """The .keras file meant by `path`: itself, or generator.keras inside a run/export folder."""
    if path.is_dir():
        inside = path / GENERATOR_FILE
        if not inside.is_file():
            raise FileNotFoundError(
                f"{path} is a folder without {GENERATOR_FILE}. Pass the .keras file itself, a "
                "run folder whose training has finished, or a folder from "
                "`export.export_generator`."
            )
        return inside
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such model file. A run folder holds {GENERATOR_FILE} once training "
            "reaches its last step; check the path, or finish the run with --resume."
        )
    return path


def load_run(run_dir) -> tuple[keras.Model, TrainConfig]:
    """The trained generator of a run folder and the TrainConfig it was trained with.

    The config says how to feed the generator (image size, channels, direction), so the two are
    loaded together and checked against each other.
    """
    run = RunFolder(Path(run_dir).expanduser())
    if not run.path.is_dir():
        raise FileNotFoundError(f"{run.path}: no such run folder (it should hold config.json).")
    config = TrainConfig.load(run.config_path)
    if not run.generator_path.is_file():
        raise FileNotFoundError(
            f"{run.generator_path} does not exist: the run has not finished (the generator is "
            "written when training reaches its last step). Finish it with `pix2pix train --out "
            f"{run.path} --resume`."
        )
    generator = load_generator(run.generator_path)
    size, in_channels, _ = model_geometry(generator, where=str(run.generator_path))
    if (size, in_channels) != (config.image_size, config.channels):
        raise ValueError(
            f"{run.generator_path} takes {size}x{size}x{in_channels} images but "
            f"{run.config_path} says image_size={config.image_size}, "
            f"channels={config.channels}; the run folder mixes files from different runs."
        )
    return generator, config


def model_geometry(model: keras.Model, where: str = "the generator") -> tuple[int, int, int]:
    """(image_size, input channels, output channels) of an image-to-image model."""
    in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    square = len(in_shape) == 4 and in_shape[1] is not None and in_shape[1] == in_shape[2]
    if not square or len(out_shape) != 4 or out_shape[-1] is None:
        raise ValueError(
            f"{where} is not a pix2pix generator: it maps {in_shape} to {out_shape}, expected "
            "(None, S, S, C_in) to (None, S, S, C_out)."
        )
    return int(in_shape[1]), int(in_shape[-1]), int(out_shape[-1])


# --------------------------------------------------------------------------------------------
# Translating arrays
# --------------------------------------------------------------------------------------------


def plan_translation(height: int, width: int, *, image_size: int, tile: bool | None = None) -> str:
    """How `translate` handles an image of this size: "resize" or "tile" (see the module doc).

    tile=None decides by size: tiles once the longer side exceeds RESIZE_LIMIT x image_size,
    where resizing would discard more than three quarters of the image's resolution.
    """
    if tile is not None:
        return "tile" if tile else "resize"
    return "tile" if max(height, width) > RESIZE_LIMIT * image_size else "resize"


def describe_plan(
    height: int, width: int, *, image_size: int, tile: bool | None = None, scale: float = 1.0
) -> str:
    """One line saying what happens to an image of this size, for the CLI and notebooks."""
    if plan_translation(height, width, image_size=image_size, tile=tile) == "resize":
        return f"{width}x{height}: resized to {image_size}x{image_size} and back"
    scaled_h, scaled_w = _scaled_size(height, width, scale)
    count = len(_tile_starts(scaled_h, image_size)) * len(_tile_starts(scaled_w, image_size))
    at = "its own resolution" if scale == 1.0 else f"scale {scale:g}"
    return f"{width}x{height}: {count} overlapping {image_size}x{image_size} tiles at {at}, blended"


def translate(
    generator: keras.Model,
    images,
    *,
    image_size: int | None = None,
    paper_mode: bool = True,
    tile: bool | None = None,
    scale: float = 1.0,
    batch_size: int = 8,
) -> list[np.ndarray]:
    """Translate uint8 images of any size; each output is uint8 with its input's height and width.

    images: a sequence of (H, W, C) or (H, W) uint8 arrays (one bare array counts as one
    image). Channels are matched to the model: gray is repeated to RGB, alpha dropped, RGB
    turned into gray (luma) for 1-channel models. The output has the model's output channels.
    Strategy per image (see `plan_translation`): resized to image_size and back when its longer
    side is at most RESIZE_LIMIT (4) x image_size, otherwise tiles with 50% overlap at the
    image's own resolution multiplied by `scale` (e.g. 0.5 for a photo with twice the ground
    resolution of the training photos); tile=True / tile=False force one strategy. image_size
    defaults to the generator's input size. paper_mode: see `pix2pix_lib.generation.generate`; in
    paper mode BatchNorm uses the statistics of each batch of `batch_size` images or tiles, so
    pass the training batch size (the paper: 1) to reproduce the conditions the model was
    trained in.
    """
    size, in_channels, _ = model_geometry(generator)
    if image_size is not None and int(image_size) != size:
        raise ValueError(
            f"image_size={image_size} but the generator takes {size}x{size} images; leave "
            "image_size out to use the generator's own size."
        )
    if not scale > 0:
        raise ValueError(f"scale={scale} must be positive (1.0 = the image's own resolution).")
    check_whole_number("batch_size", batch_size)
    images = _as_image_list(images)
    pixels = [
        _match_channels(_check_image(image, i), in_channels) for i, image in enumerate(images)
    ]
    plans = [plan_translation(*p.shape[:2], image_size=size, tile=tile) for p in pixels]
    for i, image in enumerate(pixels):
        problem = scale_problem(*image.shape[:2], image_size=size, tile=tile, scale=scale)
        if problem is not None:
            raise ValueError(f"image {i}: {problem}")
    outputs: list[np.ndarray | None] = [None] * len(pixels)
    resized = [i for i, plan in enumerate(plans) if plan == "resize"]
    run = _batch_runner(generator, paper_mode=paper_mode, batch_size=batch_size)
    for i, output in zip(
        resized, _translate_resized([pixels[i] for i in resized], size, run), strict=True
    ):
        outputs[i] = output
    tiles_per_call = batch_size * max(1, _TILES_PER_CALL // batch_size)
    for i, plan in enumerate(plans):
        if plan == "tile":
            outputs[i] = _translate_tiled(
                pixels[i], size, run, tiles_per_call=tiles_per_call, scale=scale
            )
    return outputs


def _as_image_list(images) -> list:
    if isinstance(images, np.ndarray) and images.ndim in (2, 3):
        return [images]
    return list(images)


def _check_image(image, index: int) -> np.ndarray:
    """uint8 (H, W, C); anything else is refused rather than guessed (is 1.0 white or 1/255?)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(
            f"image {index} has dtype {image.dtype}; translate takes uint8 pixels 0..255 "
            "(convert floats in [-1, 1] with pix2pix_lib.data.to_uint8)."
        )
    if image.ndim == 2:
        image = image[..., np.newaxis]
    if image.ndim != 3 or min(image.shape) < 1:
        raise ValueError(f"image {index} has shape {image.shape}; expected (H, W) or (H, W, C).")
    return image


def _match_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """Give a uint8 (H, W, C) image the model's channel count (gray, RGB and RGBA inputs)."""
    have = image.shape[-1]
    if have in (2, 4):  # gray + alpha, RGBA: the alpha channel carries no content
        image, have = image[..., : have - 1], have - 1
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return np.repeat(image, 3, axis=-1)
    if have == 3 and channels == 1:
        luma = image.astype(np.float32) @ _LUMA
        return np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., np.newaxis]
    raise ValueError(
        f"an image with {image.shape[-1]} channels cannot feed a {channels}-channel generator; "
        "give gray, RGB or RGBA images."
    )


def _batch_runner(generator: keras.Model, *, paper_mode: bool, batch_size: int):
    """A function float32 (N, S, S, C) -> generator outputs (numpy), `batch_size` at a time."""

    def run(inputs: np.ndarray) -> np.ndarray:
        chunks = [
            generate(generator, inputs[start : start + batch_size], paper_mode=paper_mode).numpy()
            for start in range(0, len(inputs), batch_size)
        ]
        return np.concatenate(chunks) if chunks else inputs[:0]

    return run


def _translate_resized(images: list[np.ndarray], size: int, run) -> list[np.ndarray]:
    """The resize strategy for several images: one batched generator pass for all of them."""
    if not images:
        return []
    squares = np.stack([resize(to_float(image)[np.newaxis], size, size)[0] for image in images])
    generated = run(squares)
    return [
        to_uint8(resize(output[np.newaxis], *image.shape[:2])[0].numpy())
        for output, image in zip(generated, images, strict=True)
    ]


def _scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    return max(1, round(height * scale)), max(1, round(width * scale))


def scale_problem(height: int, width: int, *, image_size: int, tile, scale: float) -> str | None:
    """Tiling at a scale above 1 works on an enlarged copy of the image, which must stay within
    `pairs.MAX_IMAGE_PIXELS` as the file itself did; None when it does (or is not tiled)."""
    if scale <= 1 or plan_translation(height, width, image_size=image_size, tile=tile) != "tile":
        return None
    scaled_h, scaled_w = _scaled_size(height, width, scale)
    problem = too_many_pixels(scaled_w, scaled_h, advice="give a smaller scale")
    return None if problem is None else f"tiled at scale {scale:g} it would become {problem}"


def _tile_starts(length: int, tile: int, overlap: float = TILE_OVERLAP) -> list[int]:
    """Offsets of tiles covering 0..length, `overlap` apart, the last one flush with the end."""
    if length <= tile:
        return [0]
    stride = max(1, int(tile * (1 - overlap)))
    return [*range(0, length - tile, stride), length - tile]


def blend_window(size: int) -> np.ndarray:
    """A (size, size, 1) Hann window, positive everywhere, for blending overlapping tiles.

    Each output pixel is the window-weighted mean of the tiles covering it: weights fall
    smoothly to almost zero at a tile's border, so one tile fades into the next with no seam,
    and tile borders (where zero padding spoils the output) count least wherever tiles overlap.
    """
    ramp = np.sin(np.pi * (np.arange(size, dtype=np.float64) + 0.5) / size) ** 2
    return np.outer(ramp, ramp).astype(np.float32)[..., np.newaxis]


def _pad_to(image: np.ndarray, size: int) -> np.ndarray:
    """Mirror-pad an image shorter or narrower than one tile up to `size` (cropped off later)."""
    pad_h, pad_w = max(0, size - image.shape[0]), max(0, size - image.shape[1])
    if pad_h == pad_w == 0:
        return image  # np.pad would copy the whole image for nothing
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")


def _translate_tiled(
    image: np.ndarray, size: int, run, *, tiles_per_call: int, scale: float = 1.0
) -> np.ndarray:
    """The tile strategy for one image: overlapping tiles, translated in batches, blended.

    Tiles go to `run` `tiles_per_call` at a time (a multiple of the batch size, so that paper
    mode sees the same batches as in one call) and are blended into the output as they come
    back, so memory grows with the image (float32 input, sums and weights), not with its tiles.
    """
    height, width = image.shape[:2]
    pixels = to_float(image)
    if scale != 1.0:
        pixels = resize(pixels[np.newaxis], *_scaled_size(height, width, scale))[0].numpy()
    scaled_h, scaled_w = pixels.shape[:2]
    pixels = _pad_to(pixels, size)
    corners = [
        (top, left)
        for top in _tile_starts(pixels.shape[0], size)
        for left in _tile_starts(pixels.shape[1], size)
    ]
    window = blend_window(size)
    total, weight = None, np.zeros((*pixels.shape[:2], 1), np.float32)
    for start in range(0, len(corners), tiles_per_call):
        chunk = corners[start : start + tiles_per_call]
        tiles = np.stack([pixels[top : top + size, left : left + size] for top, left in chunk])
        generated = run(tiles)
        if total is None:
            total = np.zeros((*pixels.shape[:2], generated.shape[-1]), np.float32)
        for (top, left), output in zip(chunk, generated, strict=True):
            total[top : top + size, left : left + size] += output * window
            weight[top : top + size, left : left + size] += window
    del pixels
    total /= weight  # in place: the blended output, without another full-size array
    blended = total[:scaled_h, :scaled_w]
    if (scaled_h, scaled_w) != (height, width):
        blended = resize(blended[np.newaxis], height, width)[0].numpy()
    return to_uint8(blended)
