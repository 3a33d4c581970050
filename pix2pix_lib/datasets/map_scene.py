"""The synthetic maps' scenes: what is where on one tile, as a label image and its details.

Every tile is first laid out as a label image (one class per pixel: land cover, water, roads,
buildings) plus what only the photo shows (roof colours, heights that cast shadows, single trees,
road markings). `pix2pix_lib.datasets.synthetic_maps` renders the map from the labels alone and
the photo from all of it, so the map is a function of the photo -- the property that makes
photo->map learnable.

Sizes are in reference pixels of a 256 px tile, scaled by `Scene.scale`. numpy and Pillow only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = [
    "BACKGROUND",
    "BUILDING",
    "BUILDING_OUTLINE",
    "FARMLAND",
    "FOREST",
    "GRASS",
    "MAJOR_CASING",
    "MAJOR_ROAD",
    "MAP_PALETTE",
    "ROAD",
    "ROAD_CASING",
    "WATER",
    "Scene",
    "erode",
    "fbm",
    "layout",
    "shift",
]

# The classes of the label image (uint8 ids, in MAP_PALETTE's order).
BACKGROUND, FARMLAND, GRASS, FOREST, WATER = 0, 1, 2, 3, 4
ROAD_CASING, ROAD, MAJOR_CASING, MAJOR_ROAD, BUILDING_OUTLINE, BUILDING = 5, 6, 7, 8, 9, 10

#: Web-map colours per class, in class-id order (OpenStreetMap "Carto"-like).
MAP_PALETTE: dict[str, tuple[int, int, int]] = {
    "background": (0xF2, 0xEF, 0xE9),
    "farmland": (0xEE, 0xF0, 0xD5),
    "grass": (0xCD, 0xEB, 0xB0),
    "forest": (0xAD, 0xD1, 0x9E),
    "water": (0xAA, 0xD3, 0xDF),
    "road_casing": (0xBB, 0xBB, 0xBB),
    "road": (0xFF, 0xFF, 0xFF),
    "major_road_casing": (0xC9, 0xC0, 0x8B),
    "major_road": (0xF7, 0xFA, 0xBF),
    "building_outline": (0xC4, 0xB6, 0xAB),
    "building": (0xD9, 0xD0, 0xC9),
}

_KINDS = ("rural", "suburban", "urban")

_CROPS = np.array([
    (192, 172, 116),  # ripe wheat
    (172, 150, 96),   # barley
    (108, 138, 66),   # green crop
    (132, 152, 82),   # young crop
    (128, 102, 76),   # ploughed soil
    (104, 88, 68),    # dark soil
    (186, 176, 140),  # stubble
], dtype=np.float32)

_GABLE_ROOFS = np.array([
    (152, 82, 62), (168, 98, 76), (124, 92, 72), (82, 84, 90), (98, 102, 112),
    (148, 148, 146), (110, 76, 64), (136, 118, 100),
], dtype=np.float32)
_FLAT_ROOFS = np.array([
    (186, 184, 178), (214, 214, 208), (92, 92, 94), (142, 142, 140), (172, 162, 142),
    (120, 118, 116),
], dtype=np.float32)


@dataclass
class _Road:
    """A road centre line (x, y points in pixels), its width in pixels and its rank."""

    points: np.ndarray
    width: float
    major: bool
    dead_end: bool = False   # ends in a turning circle
    bridge: bool = True      # crosses water on a bridge (else it stops at the bank)


@dataclass
class Scene:
    """Everything the two renderers need: labels for the map, extra detail for the photo."""

    size: int
    scale: float               # pixels per reference pixel (a 256 tile has scale 1)
    kind: str
    labels: np.ndarray         # uint8 (H, W) class ids
    field_rgb: np.ndarray      # float32 (H, W, 3) crop colour incl. stripes (farmland pixels)
    roof_rgb: np.ndarray       # float32 (H, W, 3) shaded roof colour (building pixels)
    height: np.ndarray         # float32 (H, W) height above ground in pixels (casts shadows)
    trees: np.ndarray          # bool (H, W) crowns of single trees (not on the map)
    paint: np.ndarray          # bool (H, W) road markings (not on the map)
    sun: tuple[float, float]   # (dx, dy) unit vector in which shadows fall
    occupied: np.ndarray       # bool (H, W) where no building or tree may go


# ---- noise ---------------------------------------------------------------------------------

def _value_noise(rng: np.random.Generator, size: int, cell: float) -> np.ndarray:
    """Smooth noise in [0, 1]: a random grid, one value per ``cell`` pixels, upsampled bicubically.

    Resampling in Pillow (C code) makes this ~0.3 ms for 256x256 instead of a Python loop.
    """
    if cell < 1.5:  # finer than the pixel grid: plain white noise is the same thing, cheaper
        return rng.random((size, size), dtype=np.float32)
    n = max(2, int(np.ceil(size / cell)) + 1)
    grid = rng.random((n, n), dtype=np.float32)
    return np.asarray(Image.fromarray(grid, mode="F").resize((size, size), Image.BICUBIC))


def fbm(rng: np.random.Generator, size: int, cell: float, octaves: int = 3) -> np.ndarray:
    """Multi-octave value noise, standardised to mean 0 and standard deviation 1.

    Standardising makes class thresholds (e.g. ``forest where noise > 0.5``) mean the same
    fraction of the tile whatever the octaves. Smooth noise is summed at a reduced resolution
    (3 pixels per finest cell) and upsampled once: same look, a fraction of the cost.
    """
    finest = cell / 2 ** (octaves - 1)
    work = size if finest < 6 else max(8, min(size, int(np.ceil(3 * size / finest))))
    ratio = work / size
    total = np.zeros((work, work), np.float32)
    for octave in range(octaves):
        total += _value_noise(rng, work, cell * ratio / 2**octave) * np.float32(0.5**octave)
    total -= total.mean()
    total /= max(float(total.std()), 1e-6)
    if work < size:
        total = np.asarray(Image.fromarray(total, mode="F").resize((size, size), Image.BICUBIC))
    return total


def shift(a: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``a`` moved by (dy, dx) pixels without wrap-around; uncovered pixels get ``fill``."""
    out = np.full_like(a, fill)
    h, w = a.shape[:2]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src = a[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def erode(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary erosion with a 4-neighbour cross, ``steps`` times (pixels off-tile count as set)."""
    for _ in range(steps):
        mask = (mask & shift(mask, 1, 0, True) & shift(mask, -1, 0, True)
                & shift(mask, 0, 1, True) & shift(mask, 0, -1, True))
    return mask


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        mask = (mask | shift(mask, 1, 0, False) | shift(mask, -1, 0, False)
                | shift(mask, 0, 1, False) | shift(mask, 0, -1, False))
    return mask


def _open(mask: np.ndarray, steps: int) -> np.ndarray:
    """Erode then dilate: drops blobs and threads thinner than ~2*steps pixels, keeps the rest."""
    return _dilate(erode(mask, steps), steps)


# ---- layout --------------------------------------------------------------------------------

def layout(size: int, rng: np.random.Generator) -> Scene:
    """Decide what is where: land cover, water, roads, buildings, trees."""
    # Below 128 px a tile shows a zoomed-in part of a 128 px scene, so roads and buildings stay
    # a few pixels wide instead of vanishing.
    scale = max(size, 128) / 256
    kind = _KINDS[int(rng.choice(3, p=[0.3, 0.4, 0.3]))]
    angle = rng.uniform(0, 2 * np.pi)
    scene = Scene(
        size=size, scale=scale, kind=kind,
        labels=np.zeros((size, size), np.uint8),
        field_rgb=np.zeros((size, size, 3), np.float32),
        roof_rgb=np.zeros((size, size, 3), np.float32),
        height=np.zeros((size, size), np.float32),
        trees=np.zeros((size, size), bool),
        paint=np.zeros((size, size), bool),
        sun=(float(np.cos(angle)), float(np.sin(angle))),
        occupied=np.zeros((size, size), bool),
    )
    _land_cover(scene, rng)
    _water(scene, rng)
    roads = _road_network(scene, rng)
    _draw_roads(scene, roads)
    _place_buildings(scene, roads, rng)
    _outline_buildings(scene)
    _place_trees(scene, rng)
    return scene


_LAND_THRESHOLDS = {  # (farmland region, grass, forest): higher = rarer
    "rural": (-0.7, 1.0, 0.55),
    "suburban": (1.1, 0.8, 1.1),
    "urban": (9.0, 1.2, 1.9),
}


def _land_cover(scene: Scene, rng: np.random.Generator) -> None:
    """Background land, striped fields, meadows/parks and forest, from thresholded noise."""
    size, s = scene.size, scene.scale
    t_farm, t_grass, t_forest = _LAND_THRESHOLDS[scene.kind]
    smooth = max(1, round(2 * s))  # opening removes specks a web map would not draw
    farm_region = _open(fbm(rng, size, 90 * s) > t_farm, smooth)
    grass = _open(fbm(rng, size, 45 * s) > t_grass, smooth)
    forest = _open(fbm(rng, size, 55 * s, octaves=4) > t_forest, smooth)
    labels = scene.labels
    if farm_region.any():
        field_label, field_rgb = _fields(size, s, rng)
        labels[farm_region] = field_label[farm_region]
        scene.field_rgb[farm_region] = field_rgb[farm_region]
    labels[grass & (labels != FARMLAND)] = GRASS
    labels[forest] = FOREST
    scene.height[forest] = 4.0 * s


def _fields(size: int, s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A rotated, staggered grid of fields: labels (farmland, meadow or track) and crop colours.

    Each field gets a crop colour and stripes (plough or harvest lines) in its own direction and
    spacing; thin tracks/hedges between fields stay background.
    """
    theta = rng.uniform(0, np.pi)
    width, depth = rng.uniform(40, 100) * s, rng.uniform(30, 75) * s
    ys = np.arange(size, dtype=np.float32)[:, None]
    xs = np.arange(size, dtype=np.float32)[None, :]
    # Offsetting by 2*size keeps p and q positive, so int truncation is floor.
    p = xs * np.float32(np.cos(theta)) + ys * np.float32(np.sin(theta)) + 2 * size
    q = ys * np.float32(np.cos(theta)) - xs * np.float32(np.sin(theta)) + 2 * size
    col = (p / width).astype(np.int32)
    n_col = int(col.max()) + 1
    q = q + rng.uniform(0, depth, n_col).astype(np.float32)[col]
    row = (q / depth).astype(np.int32)
    n_row = int(row.max()) + 1
    fid = col * n_row + row
    n_fields = n_col * n_row
    tint = _CROPS[rng.integers(0, len(_CROPS), n_fields)]
    tint = tint + rng.normal(0, 7, (n_fields, 3)).astype(np.float32)
    along = rng.random(n_fields) < 0.5
    frequency = (2 * np.pi / (rng.uniform(3.0, 6.5, n_fields) * max(s, 0.5))).astype(np.float32)
    strength = rng.uniform(0.04, 0.14, n_fields).astype(np.float32)
    meadow = rng.random(n_fields) < 0.15
    stripes = 1 + strength[fid] * np.sin(np.where(along[fid], p, q) * frequency[fid])
    rgb = tint[fid] * stripes[..., None]
    labels = np.where(meadow[fid], GRASS, FARMLAND).astype(np.uint8)
    margin = max(1.0, 1.6 * s)
    track = ((p - col * np.float32(width)) < margin) | ((q - row * np.float32(depth)) < margin)
    labels[track] = BACKGROUND
    return labels, rgb


def _water(scene: Scene, rng: np.random.Generator) -> None:
    """Maybe a lake (a noisy ellipse) or a winding river crossing the tile (towns: rivers only)."""
    p_water = {"rural": 0.55, "suburban": 0.45, "urban": 0.4}[scene.kind]
    if rng.random() > p_water:
        return
    size, s = scene.size, scene.scale
    if scene.kind == "urban" or rng.random() < 0.55:
        mask = _river_mask(size, s, rng)
    else:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        cx, cy = rng.uniform(0.1, 0.9, 2) * size
        rx, ry = rng.uniform(30, 85, 2) * s
        d = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
        mask = d + 0.3 * np.clip(fbm(rng, size, 30 * s), -2, 2) < 1
    mask = _open(mask, max(1, round(2 * s)))
    scene.labels[mask] = WATER
    scene.height[mask] = 0
    scene.field_rgb[mask] = 0


def _river_mask(size: int, s: float, rng: np.random.Generator) -> np.ndarray:
    """A meandering band from one tile edge to the opposite one, with irregular banks."""
    start, end = _edge_points(size, rng, opposite=True)
    t = np.linspace(0, 1, 40)[:, None]
    line = start + (end - start) * t
    direction = (end - start) / np.linalg.norm(end - start)
    normal = np.array([-direction[1], direction[0]])
    amp, freq, phase = rng.uniform(10, 35) * s, rng.uniform(0.6, 1.8), rng.uniform(0, 2 * np.pi)
    wiggle = amp * np.sin(2 * np.pi * freq * t + phase) + 0.4 * amp * np.sin(
        2 * np.pi * 2.3 * freq * t + 2 * phase)
    points = line + wiggle * normal
    width = rng.uniform(12, 36) * s
    img = Image.new("L", (size, size))
    ImageDraw.Draw(img).line([tuple(p) for p in points], fill=255, width=max(2, round(width)),
                             joint="curve")
    soft = np.asarray(img.filter(ImageFilter.GaussianBlur(3 * s)), np.float32) / 255
    banks = np.clip(fbm(rng, size, 12 * s), -2, 2)
    return (soft + 0.2 * banks > 0.5) & (soft > 0.1)


def _edge_points(size: int, rng: np.random.Generator, opposite: bool) -> tuple[np.ndarray, ...]:
    """Two points just outside the tile on different edges (opposite ones, or any two)."""
    pad = 0.08 * size
    first = int(rng.integers(4))
    second = (first + 2) % 4 if opposite or rng.random() < 0.6 else (first + rng.choice([1, 3])) % 4

    def point(edge: int) -> np.ndarray:
        t = rng.uniform(0.1, 0.9) * size
        return np.array([(t, -pad), (size + pad, t), (t, size + pad), (-pad, t)][edge])

    return point(first), point(second)


def _road_network(scene: Scene, rng: np.random.Generator) -> list[_Road]:
    """Through roads (straight or gently curved), a street grid in towns, side streets."""
    size, s, kind = scene.size, scene.scale, scene.kind
    roads: list[_Road] = []
    if kind == "urban" or (kind == "suburban" and rng.random() < 0.35):
        roads += _street_grid(size, s, rng, spacing=(48, 80) if kind == "urban" else (70, 110))
    n_through = {"rural": rng.integers(1, 3), "suburban": rng.integers(1, 3),
                 "urban": rng.integers(0, 2)}[kind]
    for i in range(int(n_through)):
        major = i == 0 and (kind != "rural" or rng.random() < 0.6)
        width = rng.uniform(10, 13) if major else rng.uniform(5, 7)
        curvy = 0.0 if kind == "urban" else rng.uniform(0, 0.35)
        start, end = _edge_points(size, rng, opposite=False)
        roads.append(_Road(_curve(start, end, curvy, rng), width * s, major))
    if kind == "suburban":
        for _ in range(int(rng.integers(2, 5))):
            branch = _side_street(roads, size, s, rng)
            if branch is not None:
                roads.append(branch)
    return roads


def _curve(start: np.ndarray, end: np.ndarray, bend: float, rng: np.random.Generator,
           n: int = 24) -> np.ndarray:
    """A quadratic Bezier from start to end whose middle is pushed sideways by ``bend``."""
    direction = end - start
    normal = np.array([-direction[1], direction[0]])
    control = (start + end) / 2 + normal * rng.normal(0, 1) * bend
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


def _street_grid(size: int, s: float, rng: np.random.Generator,
                 spacing: tuple[float, float]) -> list[_Road]:
    """A rotated grid of straight streets; one or two of them are major avenues."""
    theta = 0.0 if rng.random() < 0.4 else rng.uniform(-0.7, 0.7)
    axes = [np.array([np.cos(theta), np.sin(theta)]), np.array([-np.sin(theta), np.cos(theta)])]
    centre = np.array([size / 2, size / 2])
    reach = size * 0.75
    roads = []
    for along, across in (axes, axes[::-1]):
        step = rng.uniform(*spacing) * s
        offset = rng.uniform(0, step)
        for k in range(-int(reach // step) - 1, int(reach // step) + 2):
            d = offset + k * step - size / 2
            if abs(d) > reach or rng.random() < 0.08:
                continue
            major = rng.random() < 0.15
            width = rng.uniform(10, 13) if major else rng.uniform(6.5, 8.5)
            mid = centre + across * d
            points = np.array([mid - along * reach * 1.5, mid + along * reach * 1.5])
            roads.append(_Road(points, width * s, major, bridge=major or rng.random() < 0.3))
    return roads


def _side_street(roads: list[_Road], size: int, s: float,
                 rng: np.random.Generator) -> _Road | None:
    """A curved residential street branching off an existing road, ending in a turning circle."""
    if not roads:
        return None
    parent = roads[int(rng.integers(len(roads)))]
    dense, _ = _resample(parent.points, 2.0)
    inside = np.all((dense > 0) & (dense < size), axis=1)
    if inside.sum() < 3:
        return None
    idx = int(rng.choice(np.flatnonzero(inside)[1:-1]))
    tangent = dense[idx + 1] - dense[idx - 1]
    tangent /= np.linalg.norm(tangent) + 1e-9
    normal = np.array([-tangent[1], tangent[0]]) * rng.choice([-1, 1])
    length = rng.uniform(50, 130) * s
    end = dense[idx] + (normal + tangent * rng.uniform(-0.4, 0.4)) * length
    return _Road(_curve(dense[idx], end, 0.3, rng, n=20), rng.uniform(5.5, 7) * s, False,
                 dead_end=True, bridge=False)


def _resample(points: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step`` pixels along a polyline, and their distance from the start."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.arange(0.0, dist[-1] + 1e-9, max(step, 0.5))
    return np.stack([np.interp(at, dist, points[:, 0]), np.interp(at, dist, points[:, 1])], 1), at


def _draw_roads(scene: Scene, roads: list[_Road]) -> None:
    """Rasterise casings, then fills (minor, then major on top), then centre-line dashes.

    Roads that may bridge water cross it (and cast a shadow on it); the others stop at the bank,
    so a town river is crossed by a few bridges rather than by every street.
    """
    size, s = scene.size, scene.scale
    casing = max(1, round(1.2 * s))
    water = scene.labels == WATER
    layers = {key: Image.new("L", (size, size)) for key in ("cm", "cM", "fm", "fM", "bridge")}
    draw = {key: ImageDraw.Draw(img) for key, img in layers.items()}
    for road in roads:
        pts = [tuple(p) for p in road.points]
        width = max(1, round(road.width))
        key = "M" if road.major else "m"
        outer = ["c" + key, "bridge"] if road.bridge else ["c" + key]
        for layer in outer:
            draw[layer].line(pts, fill=1, width=width + 2 * casing, joint="curve")
        draw["f" + key].line(pts, fill=1, width=width, joint="curve")
        if road.dead_end:
            x, y = road.points[-1]
            for layer, r in (("c" + key, 0.9 * width + casing), ("f" + key, 0.9 * width)):
                draw[layer].ellipse([x - r, y - r, x + r, y + r], fill=1)
    masks = {key: np.asarray(img, bool) for key, img in layers.items()}
    keep = ~(water & ~masks["bridge"])
    labels = scene.labels
    for key, label in (("cm", ROAD_CASING), ("cM", MAJOR_CASING), ("fm", ROAD),
                       ("fM", MAJOR_ROAD)):
        masks[key] &= keep
        labels[masks[key]] = label
    road_any = masks["cm"] | masks["cM"]
    scene.height[road_any] = 0
    scene.height[road_any & water] = 3 * s  # bridge decks shade the water beside them
    scene.occupied |= road_any | water | (labels == FOREST)
    scene.paint[:] = _centre_dashes(roads, size, s) & masks["fM"]


def _centre_dashes(roads: list[_Road], size: int, s: float) -> np.ndarray:
    """Dashed centre lines on major roads (visible on the photo only)."""
    img = Image.new("L", (size, size))
    if s < 0.4:
        return np.zeros((size, size), bool)
    draw = ImageDraw.Draw(img)
    period, width = 14 * s, max(1, round(0.9 * s))
    for road in roads:
        if not road.major:
            continue
        dense, dist = _resample(road.points, 1.5 * s)
        on = ((dist % period) < period / 2) & np.all((dense > -5) & (dense < size + 5), axis=1)
        runs = np.split(np.arange(len(on)), np.flatnonzero(np.diff(on.astype(np.int8))) + 1)
        for run in runs:
            if on[run[0]] and len(run) > 1:
                draw.line([tuple(p) for p in dense[run]], fill=1, width=width)
    return np.asarray(img, bool)


@dataclass(frozen=True)
class _Lots:
    """How buildings line the roads in one kind of scene (sizes in reference pixels)."""

    chance: float                       # a given side of a road gets buildings at all
    front: tuple[float, float]          # width along the road
    depth: tuple[float, float]          # depth away from the road
    gap: tuple[float, float]            # between neighbours
    setback: tuple[float, float]        # from the road edge
    height: tuple[float, float]         # shadow length
    flat: float                         # share of flat roofs
    margin: float                       # free space kept around each building
    infill: int                         # extra random tries away from the roads
    shrink: tuple[float, ...]           # sizes tried in turn (towns also try smaller ones)


_LOTS = {
    "rural": _Lots(0.35, (9, 16), (8, 12), (18, 70), (4, 12), (3, 5), 0.2, 2.0, 6, (1.0,)),
    "suburban": _Lots(0.95, (9, 14), (8, 12), (5, 11), (5, 9), (3, 5), 0.15, 2.0, 10, (1.0,)),
    "urban": _Lots(1.0, (12, 30), (12, 28), (1.0, 3.0), (1.0, 2.5), (6, 16), 0.75, 1.0, 80,
                   (1.0, 0.7)),
}


def _place_buildings(scene: Scene, roads: list[_Road], rng: np.random.Generator) -> None:
    """Line the roads with buildings facing them, then fill gaps; no overlaps, none on water."""
    lots, s, size = _LOTS[scene.kind], scene.scale, scene.size
    for road in roads:
        dense, dist = _resample(road.points, 1.0)
        on_tile = np.flatnonzero(np.all((dense > -20 * s) & (dense < size + 20 * s), axis=1))
        if len(on_tile) < 3:
            continue
        first, last = on_tile[0], min(on_tile[-1], len(dense) - 2)
        tangents = np.diff(dense, axis=0)
        tangents /= np.linalg.norm(tangents, axis=1, keepdims=True) + 1e-9
        for side in (-1, 1):
            if rng.random() > lots.chance:
                continue
            pos = dist[first] + rng.uniform(0, 10) * s
            while pos < dist[last]:
                front, depth = rng.uniform(*lots.front) * s, rng.uniform(*lots.depth) * s
                i = min(int(np.searchsorted(dist, pos + front / 2)), len(dense) - 2)
                tangent = tangents[i]
                normal = np.array([-tangent[1], tangent[0]]) * side
                edge = road.width / 2 + 1.5 * s + rng.uniform(*lots.setback) * s
                for shrink in lots.shrink:
                    centre = dense[i] + normal * (edge + depth * shrink / 2)
                    if _try_building(scene, centre, tangent, front * shrink, depth * shrink, lots,
                                     rng):
                        break
                pos += front + rng.uniform(*lots.gap) * s
    _infill_buildings(scene, roads, lots, rng)


def _infill_buildings(scene: Scene, roads: list[_Road], lots: _Lots,
                      rng: np.random.Generator) -> None:
    """Random extra buildings (big ones in towns) aligned with a nearby road's direction."""
    if not roads:
        return
    s = scene.scale
    big = (1.0, 1.8) if scene.kind == "urban" else (0.9, 1.2)
    for _ in range(round(lots.infill * (scene.size / (256 * s)) ** 2)):
        road = roads[int(rng.integers(len(roads)))]
        direction = road.points[-1] - road.points[0]
        tangent = direction / (np.linalg.norm(direction) + 1e-9)
        centre = rng.uniform(0, scene.size, 2)
        grow = rng.uniform(*big)
        front, depth = rng.uniform(*lots.front) * s * grow, rng.uniform(*lots.depth) * s * grow
        _try_building(scene, centre, tangent, front, depth, lots, rng)


def _try_building(scene: Scene, centre: np.ndarray, tangent: np.ndarray, front: float,
                  depth: float, lots: _Lots, rng: np.random.Generator) -> bool:
    """Put a rotated rectangular building at ``centre`` unless it would overlap anything."""
    s, size = scene.scale, scene.size
    cx, cy = float(centre[0]), float(centre[1])
    if 0 <= cx < size and 0 <= cy < size and scene.occupied[int(cy), int(cx)]:
        return False  # the cheap test first: most rejected candidates fail here
    half_a, half_b = front / 2, depth / 2
    margin = max(1.0, lots.margin * s)
    tx, ty = float(tangent[0]), float(tangent[1])
    for fa, fb in ((1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1), (0, -1), (1, 0), (-1, 0)):
        # Corners and edge midpoints of the halo: most overlaps show there, at no array cost.
        px = cx + fa * (half_a + margin - 0.5) * tx - fb * (half_b + margin - 0.5) * ty
        py = cy + fa * (half_a + margin - 0.5) * ty + fb * (half_b + margin - 0.5) * tx
        if 0 <= px < size and 0 <= py < size and scene.occupied[int(py), int(px)]:
            return False
    reach_x = abs(tx) * half_a + abs(ty) * half_b + margin + 1
    reach_y = abs(ty) * half_a + abs(tx) * half_b + margin + 1
    x0, x1 = int(max(0, cx - reach_x)), int(min(size, cx + reach_x + 1))
    y0, y1 = int(max(0, cy - reach_y)), int(min(size, cy + reach_y + 1))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return False
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy
    a = dx * tx + dy * ty          # along the road
    b = dy * tx - dx * ty          # away from the road
    halo = (np.abs(a) < half_a + margin) & (np.abs(b) < half_b + margin)
    window = (slice(y0, y1), slice(x0, x1))
    if (scene.occupied[window] & halo).any():
        return False
    body = (np.abs(a) < half_a) & (np.abs(b) < half_b)
    if body.sum() < 4:
        return False
    labels = scene.labels[window]
    labels[halo & ((labels == FARMLAND) | (labels == FOREST))] = BACKGROUND  # a yard
    labels[body] = BUILDING
    scene.occupied[window] |= halo
    scene.height[window][body] = rng.uniform(*lots.height) * s
    scene.roof_rgb[window][body] = _roof(a, b, half_a, half_b, tangent, scene, lots, rng)[body]
    return True


def _roof(a: np.ndarray, b: np.ndarray, half_a: float, half_b: float, tangent: np.ndarray,
          scene: Scene, lots: _Lots, rng: np.random.Generator) -> np.ndarray:
    """Roof colours over the building's window: gabled (two lit halves) or flat (with a rim)."""
    s = scene.scale
    rim = max(1.0, 1.2 * s)
    edge = (np.abs(a) > half_a - rim) | (np.abs(b) > half_b - rim)
    if rng.random() < lots.flat:
        colour = _FLAT_ROOFS[rng.integers(len(_FLAT_ROOFS))] * rng.uniform(0.9, 1.1)
        shade = np.where(edge, 1.14, 1.0)
        if min(half_a, half_b) > 6 * s:  # a rooftop unit or two
            for _ in range(int(rng.integers(1, 3))):
                ua, ub = rng.uniform(-0.6, 0.6) * half_a, rng.uniform(-0.6, 0.6) * half_b
                r = rng.uniform(1.5, 3) * s
                shade = np.where((np.abs(a - ua) < r) & (np.abs(b - ub) < r), 1.25, shade)
                shade = np.where((np.abs(a - ua - scene.sun[0] * r) < r)
                                 & (np.abs(b - ub - scene.sun[1] * r) < r) & (shade == 1.0),
                                 0.8, shade)
    else:
        colour = _GABLE_ROOFS[rng.integers(len(_GABLE_ROOFS))] * rng.uniform(0.88, 1.12)
        # The ridge runs along the longer side; the half facing the sun is brighter.
        across, coord = (np.array([-tangent[1], tangent[0]]), b) if half_a >= half_b else (
            tangent, a)
        facing = -(across[0] * scene.sun[0] + across[1] * scene.sun[1])
        lit = np.sign(coord) * np.sign(facing if abs(facing) > 0.1 else 1.0)
        shade = 1 + 0.16 * lit
        shade = np.where(np.abs(coord) < max(0.6, 0.5 * s), 1.12, shade)  # ridge
        shade = np.where(edge, shade * 0.86, shade)                        # eaves
    colour = colour + rng.normal(0, 2.5, 3)  # brightness varies freely, hue only a little
    return (colour[None, None, :] * shade[..., None]).astype(np.float32)


def _outline_buildings(scene: Scene) -> None:
    """Mark each building's border pixels (the map draws a slightly darker outline there)."""
    body = scene.labels == BUILDING
    inner = erode(body, max(1, round(scene.scale)))
    scene.labels[body & ~inner] = BUILDING_OUTLINE


def _place_trees(scene: Scene, rng: np.random.Generator) -> None:
    """Single trees in gardens, meadows and along streets: on the photo only, like real maps."""
    s, size = scene.scale, scene.size
    low, high = {"rural": (10, 40), "suburban": (50, 140), "urban": (0, 25)}[scene.kind]
    n = int(rng.integers(low, high + 1) * (size / (256 * s)) ** 2)
    crowns = Image.new("L", (size, size))
    draw = ImageDraw.Draw(crowns)
    free = ~scene.occupied & np.isin(scene.labels, (BACKGROUND, GRASS))
    for _ in range(n):
        x, y = rng.uniform(0, size, 2)
        r = rng.uniform(2.0, 5.0) * s
        y0, y1 = int(max(0, y - r - 1)), int(min(size, y + r + 2))
        x0, x1 = int(max(0, x - r - 1)), int(min(size, x + r + 2))
        if y1 <= y0 or x1 <= x0 or not free[y0:y1, x0:x1].all():
            continue
        draw.ellipse([x - r, y - r, x + r, y + r], fill=max(1, min(255, round(r * 0.9))))
    height = np.asarray(crowns, np.float32)
    scene.trees = height > 0
    scene.height = np.maximum(scene.height, height)
