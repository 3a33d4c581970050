"""Synthetic maps: a procedural aerial photo -> web map dataset, offline and in seconds.

:func:`make_synthetic_maps` writes pairs in the standard pix2pix layout (one image per pair,
photo | map side by side, in ``train/`` and ``val/``); it needs no network and is the course's
offline default (CI, classrooms, ``make train``). :func:`render_synthetic_pair` draws one pair
for a notebook cell.

Each tile is laid out by `pix2pix_lib.datasets.map_scene` as a label image. The map is that
label image looked up in MAP_PALETTE (flat colours, crisp edges); the photo, rendered here,
gives each class its own texture, plus things the map ignores (shadows, single trees, road
markings). numpy and Pillow only: no TensorFlow.
"""

from __future__ import annotations

import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from pix2pix_lib.common import ProgressLine, check_whole_number
from pix2pix_lib.datasets.map_scene import (
    BACKGROUND,
    BUILDING,
    BUILDING_OUTLINE,
    FARMLAND,
    FOREST,
    GRASS,
    MAJOR_CASING,
    MAJOR_ROAD,
    MAP_PALETTE,
    ROAD,
    ROAD_CASING,
    WATER,
    Scene,
    erode,
    fbm,
    layout,
    shift,
)
from pix2pix_lib.pairs import count_images

__all__ = ["MAP_PALETTE", "make_synthetic_maps", "render_synthetic_pair"]

_PALETTE_ARRAY = np.array(list(MAP_PALETTE.values()), dtype=np.uint8)

_SPLIT_CODES = {"train": 1, "val": 2, "test": 3}

# Photo colours: (colour A, colour B) per class; a low-frequency noise mixes the two per pixel.
_PHOTO_COLOURS = {
    "rural": {BACKGROUND: ((150, 143, 108), (124, 126, 92))},
    "suburban": {BACKGROUND: ((120, 124, 94), (142, 138, 112))},
    "urban": {BACKGROUND: ((150, 148, 142), (122, 122, 118))},
}
_CLASS_COLOURS = {
    FARMLAND: ((160, 150, 100), (140, 135, 90)),  # replaced per field (map_scene's crops)
    GRASS: ((104, 130, 72), (84, 112, 60)),
    FOREST: ((46, 72, 40), (34, 56, 34)),
    WATER: ((32, 58, 68), (44, 72, 76)),
    ROAD_CASING: ((160, 157, 150), (146, 144, 138)),
    ROAD: ((112, 112, 111), (100, 100, 100)),
    MAJOR_CASING: ((164, 161, 154), (152, 150, 144)),
    MAJOR_ROAD: ((128, 128, 127), (118, 118, 118)),
    BUILDING_OUTLINE: ((0, 0, 0), (0, 0, 0)),  # roofs come from the building list
    BUILDING: ((0, 0, 0), (0, 0, 0)),
}
# Texture amplitudes per class: (low, mid, fine) frequency noise, as a fraction of brightness.
_TEXTURE = np.array([
    (0.10, 0.08, 0.06),  # background
    (0.05, 0.05, 0.05),  # farmland (plus stripes)
    (0.08, 0.06, 0.05),  # grass
    (0.10, 0.00, 0.00),  # forest (canopy texture added separately)
    (0.05, 0.02, 0.01),  # water
    (0.03, 0.03, 0.05),  # road casing
    (0.04, 0.03, 0.06),  # road
    (0.03, 0.03, 0.05),  # major casing
    (0.04, 0.03, 0.06),  # major road
    (0.02, 0.02, 0.04),  # building outline
    (0.02, 0.02, 0.04),  # building
], dtype=np.float32)


def render_synthetic_pair(size: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic (photo, map) pair as uint8 ``(size, size, 3)`` arrays, e.g. to show in a cell.

    Deterministic: the same ``size`` and ``seed`` always give the same pixels.
    """
    _check_size_and_seed(size, seed)
    return _render_pair(size, np.random.default_rng(seed))


def make_synthetic_maps(
    root: str | os.PathLike,
    n_train: int = 400,
    n_val: int = 50,
    size: int = 256,
    seed: int = 0,
    *,
    progress: bool = False,
    image_format: str = "png",
) -> Path:
    """Write a synthetic maps dataset to ``root/train`` and ``root/val``; return ``Path(root)``.

    Each file is ``photo | map`` (width ``2 * size``, photo on the left, so AtoB is photo->map as
    in the real maps dataset). Pair ``k`` of a split is drawn from a seed derived from
    ``(seed, split, k)``: the same arguments give byte-identical files, train and val differ, and
    asking for more pairs does not change the first ones.

    ``image_format`` is ``"png"`` (default: lossless, so every map pixel is exactly a
    :data:`MAP_PALETTE` colour, which keeps per-pixel map accuracy meaningful) or ``"jpg"``
    (quality 95, about 3x smaller and closer to the real maps dataset, which is JPEG).
    Refuses (``FileExistsError``) to write into a split folder that already holds images.
    """
    _check_size_and_seed(size, seed)
    check_whole_number("n_train", n_train, minimum=0)
    check_whole_number("n_val", n_val, minimum=0)
    ext = _image_extension(image_format)
    root = Path(root)
    plan = [(split, n) for split, n in (("train", n_train), ("val", n_val)) if n > 0]
    for split, _ in plan:
        _refuse_existing_images(root / split)
    total, done, start, shown = n_train + n_val, 0, time.monotonic(), 0.0
    line = ProgressLine(sys.stderr)
    for split, n in plan:
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        digits = max(5, len(str(n - 1)))
        for k in range(n):
            rng = np.random.default_rng([seed, _SPLIT_CODES[split], k])
            photo, map_ = _render_pair(size, rng)
            _save_pair(photo, map_, folder / f"{k:0{digits}d}{ext}")
            done += 1
            now = time.monotonic()
            if progress and (now - shown > 0.2 or done == total):  # redraw 5 times a second
                shown = now
                rate = done / max(now - start, 1e-6)
                line.show(f"synthetic maps: {done}/{total} pairs {rate:5.1f} pairs/s -> {folder}")
    line.end()
    return root


def _check_size_and_seed(size: int, seed: int) -> None:
    check_whole_number("size", size, minimum=32)
    # numpy's seeding refuses negative numbers with a cryptic message; say it plainly
    check_whole_number("seed", seed, minimum=0)


def _image_extension(image_format: str) -> str:
    fmt = image_format.lower().lstrip(".")
    if fmt == "png":
        return ".png"
    if fmt in ("jpg", "jpeg"):
        return ".jpg"
    raise ValueError(f"image_format must be 'png' or 'jpg', got {image_format!r}")


def _refuse_existing_images(folder: Path) -> None:
    """Never overwrite a dataset silently: an existing split with images is an error."""
    if not folder.is_dir():
        return
    if count_images(folder):
        raise FileExistsError(
            f"{folder} already contains images; pick another output folder or delete "
            f"{folder.parent} first (synthetic maps never overwrite existing files)."
        )


def _save_pair(photo: np.ndarray, map_: np.ndarray, path: Path) -> None:
    pair = Image.fromarray(np.concatenate([photo, map_], axis=1))
    if path.suffix == ".png":
        # Level 1 with run-length matching: 5x faster than the default level 6, files ~8% larger.
        pair.save(path, format="PNG", compress_level=1, compress_type=zlib.Z_RLE)
    else:
        pair.save(path, format="JPEG", quality=95, subsampling=0)


def _render_pair(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Lay out one tile, then render its photo and its map from the same labels."""
    scene = layout(size, rng)
    return _render_photo(scene, rng), _render_map(scene.labels)


# ---- rendering -----------------------------------------------------------------------------

def _render_map(labels: np.ndarray) -> np.ndarray:
    """The web map: each class in its flat palette colour, no texture, no antialiasing."""
    return _PALETTE_ARRAY[labels]


def _class_colours(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-tile jittered (colour A, colour B) for every class, as two (n_classes, 3) arrays."""
    pairs = dict(_CLASS_COLOURS)
    pairs.update(_PHOTO_COLOURS[kind])
    a = np.array([pairs[c][0] for c in range(len(MAP_PALETTE))], np.float32)
    b = np.array([pairs[c][1] for c in range(len(MAP_PALETTE))], np.float32)
    # Mostly brightness jitter: independent per-channel jitter turns grey asphalt purple.
    jitter = rng.normal(0, 6, (len(a), 1)) + rng.normal(0, 1.5, a.shape)
    jitter = jitter.astype(np.float32)
    return a + jitter, b + jitter


def _render_photo(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """The aerial photo: textured classes, roofs, shadows, trees, then blur, grain and grading."""
    size, s, labels = scene.size, scene.scale, scene.labels
    colour_a, colour_b = _class_colours(scene.kind, rng)
    mix = np.clip(0.5 + 0.45 * fbm(rng, size, 40 * s), 0, 1)[..., None]
    img = colour_a[labels]
    img += (colour_b - colour_a)[labels] * mix
    farm = labels == FARMLAND
    img[farm] = scene.field_rgb[farm]
    roof = (labels == BUILDING) | (labels == BUILDING_OUTLINE)
    img[roof] = scene.roof_rgb[roof]

    # Three noise scales: patches (~32 px), crowns/clumps (~3 px, also the forest canopy) and
    # per-pixel speckle; each class scales them by its own amplitudes (_TEXTURE).
    canopy = fbm(rng, size, 3.0 * s, 1)
    speckle = rng.random((size, size), dtype=np.float32) - np.float32(0.5)
    light = _TEXTURE[:, 0][labels] * fbm(rng, size, 32 * s)
    light += _TEXTURE[:, 1][labels] * canopy
    light += _TEXTURE[:, 2][labels] * speckle * np.float32(3.4)  # uniform: std 1/sqrt(12)
    light += np.float32(1)
    forest = labels == FOREST
    light[forest] *= 0.82 + 0.3 * np.tanh(1.2 * canopy[forest])
    img *= light[..., None]

    _paint_water_shores(img, labels == WATER, s)
    _paint_trees(img, scene, canopy, rng)
    img[scene.paint] = img[scene.paint] * 0.35 + np.array([220, 214, 180], np.float32) * 0.65
    img *= _shadow_factor(scene)[..., None]
    return _finish_photo(img, s, rng)


def _paint_water_shores(img: np.ndarray, water: np.ndarray, s: float) -> None:
    """Shallow water near the shore is lighter and greener, as on real aerial images."""
    if not water.any():
        return
    # Blurring a quarter-size mask and scaling it back is ~10x cheaper and looks the same.
    size = water.shape[0]
    small = Image.fromarray(water.astype(np.uint8) * 255).resize((size // 4, size // 4),
                                                                  Image.BILINEAR)
    depth = small.filter(ImageFilter.GaussianBlur(s)).resize((size, size), Image.BILINEAR)
    shallow = 1 - np.asarray(depth, np.float32) / 255
    tint = np.array([78, 96, 82], np.float32)
    weight = (np.clip(shallow * 1.6, 0, 0.8) * water)[..., None]
    img[:] = img * (1 - weight) + tint * weight


def _paint_trees(img: np.ndarray, scene: Scene, canopy: np.ndarray,
                 rng: np.random.Generator) -> None:
    """Tree crowns: dark green, textured, darker at the rim."""
    trees = scene.trees
    if not trees.any():
        return
    base = np.array([52, 80, 44], np.float32) + rng.normal(0, 5, 3).astype(np.float32)
    rim = trees & ~erode(trees, 1)
    shade = 0.95 + 0.18 * np.tanh(canopy) - 0.2 * rim
    img[trees] = base * shade[trees][:, None]


def _shadow_factor(scene: Scene) -> np.ndarray:
    """Per-pixel light factor: < 1 where a building, tree or forest edge shades the ground.

    A pixel at distance d (along the sun direction) from something of height >= d is in shadow;
    tested for each whole d, so the cost is (max height) cheap array shifts.
    """
    height, (dx, dy) = scene.height, scene.sun
    shadow = np.zeros(height.shape, bool)
    for d in range(1, int(np.ceil(height.max())) + 1):
        shadow |= shift(height >= d, round(d * dy), round(d * dx), False)
    shadow &= height == 0
    factor = np.ones(height.shape, np.float32)
    factor[shadow] = 0.52
    return factor


def _finish_photo(img: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    """Per-tile colour grading, a slight optical blur and sensor grain."""
    gain = rng.uniform(0.9, 1.1) * (1 + rng.normal(0, 0.012, 3))  # a faint tint per tile
    contrast = rng.uniform(0.9, 1.12)
    # ((img - 110) * contrast + 110) * gain, as one multiply and one add
    img *= (contrast * gain).astype(np.float32)
    img += ((110 - 110 * contrast) * gain).astype(np.float32)
    img = np.clip(img, 0, 255, out=img).astype(np.uint8)
    blurred = Image.fromarray(img).filter(ImageFilter.BoxBlur(0.5 * max(s, 1.0)))
    grain = 2.5 * rng.standard_normal((*img.shape[:2], 1), dtype=np.float32)  # luminance grain
    return np.clip(np.asarray(blurred, np.float32) + grain, 0, 255).astype(np.uint8)
