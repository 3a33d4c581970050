"""Datasets: the official pix2pix archives (download + safe extraction) and synthetic maps.

Two ways to get paired data in the standard pix2pix layout (one image per pair, A | B side by
side, in ``train/``, ``val/``, ``test/`` folders):

* :func:`download` fetches one of the archives the pix2pix authors publish (:data:`DATASETS`),
  verifies what can be verified (no checksums are published) and extracts it safely.
* :func:`make_synthetic_maps` writes a procedural satellite-photo -> web-map dataset. It needs no
  network, takes seconds, and is the course's offline default (CI, classrooms, ``make train``).

This module needs numpy, Pillow and the standard library only: no TensorFlow.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pix2pix_lib.common import check_whole_number
from pix2pix_lib.pairs import count_images

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DownloadError",
    "MAP_PALETTE",
    "download",
    "make_synthetic_maps",
    "render_synthetic_pair",
]

# --------------------------------------------------------------------------------------------
# 1. Official datasets
# --------------------------------------------------------------------------------------------

BASE_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets"
SYNTH_MAPS_COMMAND = "pix2pix synth-maps data/synthetic_maps"


@dataclass(frozen=True)
class DatasetInfo:
    """What one official archive holds, so a download can be checked and explained.

    ``splits`` maps each folder the archive must contain to its approximate number of pairs;
    the folders are checked after extraction, the counts are only recorded (they are what the
    authors' archives held when this table was written, not a checksum).
    """

    name: str
    url: str
    size_mb: int
    splits: dict[str, int] = field(hash=False)
    description: str


def _info(name: str, size_mb: int, splits: dict[str, int], description: str) -> DatasetInfo:
    return DatasetInfo(name, f"{BASE_URL}/{name}.tar.gz", size_mb, splits, description)


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        _info("facades", 30, {"train": 400, "val": 100, "test": 106},
              "A = facade photo, B = architectural label map; classic task labels->photo (BtoA)"),
        _info("cityscapes", 113, {"train": 2975, "val": 500},
              "A = street photo, B = semantic label map; classic task labels->photo (BtoA)"),
        _info("maps", 246, {"train": 1096, "val": 1098},
              "A = aerial photo, B = Google map; classic task photo->map (AtoB), also map->photo"),
        _info("edges2shoes", 2200, {"train": 49825, "val": 200},
              "A = edge drawing, B = shoe photo; classic task edges->photo (AtoB)"),
        _info("edges2handbags", 8600, {"train": 138567, "val": 200},
              "A = edge drawing, B = handbag photo; classic task edges->photo (AtoB)"),
        _info("night2day", 2000, {"train": 17823, "val": 10, "test": 2287},
              "A = webcam scene at night, B = same scene by day; classic task night->day (AtoB)"),
    )
}


class DownloadError(RuntimeError):
    """A dataset could not be downloaded or extracted; the message says what to do next."""


def _offline_hint(info: DatasetInfo, root: Path) -> str:
    """The ways forward without this server, named in every network error."""
    return (
        f"To continue offline, generate the synthetic maps dataset with `{SYNTH_MAPS_COMMAND}`, "
        f"or download {info.name}.tar.gz on another machine and put it (or its extracted "
        f"{info.name}/ folder) into {root}/."
    )


def download(
    name: str,
    root: str | os.PathLike = "data",
    *,
    base_url: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download and extract the official pix2pix dataset ``name``; return ``root/name``.

    Idempotent: when ``root/name`` already holds every expected split folder (a previous
    download, or a copy made by hand) nothing is fetched. An archive ``root/name.tar.gz`` that is
    already there (for example copied from another machine) is used instead of downloading.
    The archive is fetched to ``name.tar.gz.part`` and renamed only when complete, extracted into
    a temporary folder (refusing any member that would land outside it), checked for the expected
    splits, then renamed to ``root/name`` and deleted. On any failure nothing partial is left.

    ``base_url`` replaces the authors' server (a mirror, or a local server in tests).
    Raises ``ValueError`` for an unknown name and :class:`DownloadError` for everything else.
    """
    info = _dataset_info(name)
    root = Path(root)
    target = root / info.name
    if target.exists():
        missing = _missing_splits(target, info)
        if not missing:
            return target
        raise DownloadError(
            f"{target} exists but has no (or empty) {', '.join(missing)} folder(s), so it is "
            f"not a complete copy of {info.name}. Delete or move it away, then run again."
        )
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"{info.name}.tar.gz"
    if not archive.exists():
        url = f"{base_url.rstrip('/')}/{info.name}.tar.gz" if base_url else info.url
        _fetch(url, archive, info=info, progress=progress, timeout=timeout)
    _extract_dataset(archive, root, info, progress=progress)
    archive.unlink()
    return target


def _dataset_info(name: str) -> DatasetInfo:
    """Look ``name`` up, or say which names exist (the usual typo is 'facade' or 'map')."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown dataset {name!r}; known datasets: {known}") from None


def _missing_splits(folder: Path, info: DatasetInfo) -> list[str]:
    """Split folders of ``info`` that ``folder`` lacks or that hold no file."""

    def has_file(split_dir: Path) -> bool:
        if not split_dir.is_dir():
            return False
        with os.scandir(split_dir) as entries:
            return any(entry.is_file() for entry in entries)

    return [split for split in info.splits if not has_file(folder / split)]


class _Progress:
    """A one-line progress bar on a text stream, redrawn with ``\\r`` at most 5 times a second.

    Plain text so that it works in terminals, notebooks and CI logs without a dependency.
    """

    def __init__(self, label: str, total: int | None, enabled: bool, stream: TextIO | None = None):
        self.label, self.total, self.enabled = label, total, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.start = self.last = time.monotonic()
        self.done = 0

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < 0.2):
            return
        self.last = now
        mb = done / 1e6
        rate = mb / max(now - self.start, 1e-6)
        if self.total:
            line = (f"{self.label}: {100 * done / self.total:5.1f}% "
                    f"{mb:.1f}/{self.total / 1e6:.1f} MB {rate:.1f} MB/s")
        else:
            line = f"{self.label}: {mb:.1f} MB {rate:.1f} MB/s"
        self.stream.write("\r" + line)
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line (also after an error, so messages start clean)."""
        if self.enabled:
            self.update(self.done, force=True)
            self.stream.write("\n")
            self.stream.flush()


def _fetch(url: str, dest: Path, *, info: DatasetInfo, progress: bool, timeout: float) -> None:
    """Download ``url`` to ``dest`` via ``dest.part``; rename only when every byte arrived."""
    part = dest.with_name(dest.name + ".part")
    try:
        try:
            response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (http on purpose)
        except urllib.error.HTTPError as err:
            raise DownloadError(
                f"{url} answered HTTP {err.code} ({err.reason}). "
                + _offline_hint(info, dest.parent)
            ) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise DownloadError(
                f"could not reach {url} ({reason}). " + _offline_hint(info, dest.parent)
            ) from None
        with response, open(part, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _Progress(f"downloading {dest.name}", total, progress)
            try:
                received = _copy_stream(response, out, bar, url, info, dest.parent)
            finally:
                bar.close()
        if total is not None and received < total:
            raise DownloadError(
                f"the download of {url} was incomplete ({received / 1e6:.1f} of "
                f"{total / 1e6:.1f} MB arrived before the server closed the connection); the "
                "partial file was removed. Run the same command again."
            )
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def _copy_stream(response, out, bar: _Progress, url: str, info: DatasetInfo, root: Path) -> int:
    """Copy the HTTP body to ``out`` in 1 MiB chunks; a dropped connection is a DownloadError."""
    received = 0
    while True:
        try:
            chunk = response.read(1 << 20)
        except (http.client.IncompleteRead, OSError) as err:  # OSError covers timeouts
            raise DownloadError(
                f"the download of {url} was incomplete: the connection broke after "
                f"{received / 1e6:.1f} MB ({err}). Run the same command again. "
                + _offline_hint(info, root)
            ) from None
        if not chunk:
            return received
        out.write(chunk)
        received += len(chunk)
        bar.update(received)


# Errors that mean "these bytes are not a valid tar.gz" (gzip.BadGzipFile is an OSError).
_CORRUPT_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)
# tarfile's extraction filters (Python 3.12, backported to 3.10.12 / 3.11.4) and their errors.
_HAS_FILTERS = hasattr(tarfile, "data_filter")
_FILTER_ERRORS = (tarfile.FilterError,) if _HAS_FILTERS else ()


class _UnsafeMember(Exception):
    """An archive member that would escape the extraction folder (internal signal)."""


def _extract_dataset(archive: Path, root: Path, info: DatasetInfo, *, progress: bool) -> Path:
    """Extract ``archive`` safely into ``root/name``; delete the archive if it is bad."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{info.name}-extracting-", dir=root))
    try:
        try:
            n_files = _safe_extract(archive, tmp, progress=progress)
            dataset_dir = _find_dataset_dir(tmp, info)
            _check_links_stay_inside(dataset_dir)
        except _UnsafeMember as err:
            archive.unlink(missing_ok=True)
            raise DownloadError(
                f"refused to extract {archive.name}: {err}. Nothing was kept and the archive "
                f"was deleted; it is not a genuine {info.name} archive (check base_url / mirror)."
            ) from None
        except _CORRUPT_ERRORS as err:
            archive.unlink(missing_ok=True)
            raise DownloadError(
                f"corrupt archive {archive} ({err}); it was deleted. Run the same command again "
                "to download it anew."
            ) from None
        except OSError as err:
            raise DownloadError(
                f"could not extract {archive} into {root} ({err}). The archive was kept; free "
                "some disk space (or fix permissions) and run again."
            ) from None
        missing = _missing_splits(dataset_dir, info)
        if missing:
            found = sorted(p.name for p in tmp.iterdir())
            archive.unlink(missing_ok=True)
            raise DownloadError(
                f"{archive.name} holds {n_files} files but no {', '.join(missing)} folder "
                f"(expected {info.name}/{{{','.join(info.splits)}}}; top level: {found}). "
                "The archive was deleted; check base_url / the mirror."
            )
        counts = {split: count_images(dataset_dir / split) for split in info.splits}
        marker = {"name": info.name, "source": archive.name, "pairs": counts}
        (dataset_dir / ".complete").write_text(json.dumps(marker, indent=1) + "\n")
        target = root / info.name
        os.replace(dataset_dir, target)
        if progress:
            summary = ", ".join(f"{split} {n}" for split, n in counts.items())
            print(f"{info.name}: {summary} pairs in {target}", file=sys.stderr)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _safe_extract(archive: Path, dest: Path, *, progress: bool) -> int:
    """Extract every member of ``archive`` into ``dest`` after checking it; return the count.

    The checks are done here (not only by ``tarfile``'s ``filter="data"``, which Python 3.10.0-11
    lack) and run before each member is written, so an unsafe member stops extraction before it
    can touch anything; the caller then deletes ``dest``. Extraction is a single pass over the
    stream, so an 8 GB archive is decompressed once.
    """
    dest_real = os.path.realpath(dest)
    extract_kwargs = {"filter": "data"} if _HAS_FILTERS else {}
    count = 0
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            _check_member(member, dest_real)
            if member.isdir():
                Path(dest_real, member.name).mkdir(parents=True, exist_ok=True)
            else:
                try:
                    # set_attrs=False: no chown/chmod from the archive (no setuid, no foreign uid).
                    tar.extract(member, dest_real, set_attrs=False, **extract_kwargs)
                except _FILTER_ERRORS as err:  # belt and braces: tarfile's own check
                    raise _UnsafeMember(f"member {member.name!r} refused ({err})") from None
                count += 1
                if progress and count % 500 == 0:
                    print(f"\rextracting {archive.name}: {count} files", end="", file=sys.stderr)
    if progress:
        print(f"\rextracting {archive.name}: {count} files", file=sys.stderr)
    return count


def _inside(path: str, folder: str) -> bool:
    """Whether the real path ``path`` is ``folder`` or below it (both already resolved)."""
    return os.path.commonpath([path, folder]) == folder


def _check_member(member: tarfile.TarInfo, dest_real: str) -> None:
    """Refuse absolute paths, '..', special files and links (or paths) that leave ``dest``."""
    name = member.name
    parts = re.split(r"[/\\]+", name)
    if not name.strip("/."):
        raise _UnsafeMember(f"member {name!r} has no usable name")
    if os.path.isabs(name) or re.match(r"^([/\\]|[A-Za-z]:)", name):
        raise _UnsafeMember(f"member {name!r} has an absolute path")
    if ".." in parts:
        raise _UnsafeMember(f"member {name!r} has a '..' component")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise _UnsafeMember(f"member {name!r} is a device, FIFO or other special file")
    # realpath resolves links extracted earlier, so a path that walks through one is caught too.
    where = os.path.realpath(os.path.join(dest_real, name))
    if not _inside(where, dest_real):
        raise _UnsafeMember(f"member {name!r} would be written outside the extraction folder")
    if member.issym():
        link = member.linkname
        pointed = os.path.realpath(os.path.join(os.path.dirname(os.path.join(dest_real, name)),
                                                link))
        if os.path.isabs(link) or not _inside(pointed, dest_real):
            raise _UnsafeMember(f"member {name!r} is a symlink to {link!r}, outside the archive")
    if member.islnk():
        pointed = os.path.realpath(os.path.join(dest_real, member.linkname))
        if os.path.isabs(member.linkname) or not _inside(pointed, dest_real):
            raise _UnsafeMember(
                f"member {name!r} is a hard link to {member.linkname!r}, outside the archive"
            )


def _find_dataset_dir(tmp: Path, info: DatasetInfo) -> Path:
    """The extracted folder that holds the splits: ``tmp/NAME`` (official layout) or ``tmp``."""
    candidates = [tmp / info.name, tmp]
    subdirs = [p for p in tmp.iterdir() if p.is_dir() and not p.is_symlink()]
    if len(subdirs) == 1:
        candidates.append(subdirs[0])
    for folder in candidates:
        if folder.is_dir() and any((folder / split).is_dir() for split in info.splits):
            return folder
    return tmp


def _check_links_stay_inside(folder: Path) -> None:
    """Refuse symlinks that point outside the dataset folder that will be kept.

    The per-member check only knows the extraction folder; a link in ``NAME/train`` to
    ``../../x`` stays inside that but would dangle (or point into ``root``) once ``NAME`` moves.
    """
    folder_real = os.path.realpath(folder)
    for dirpath, dirnames, filenames in os.walk(folder_real):
        for entry in dirnames + filenames:
            path = os.path.join(dirpath, entry)
            if os.path.islink(path) and not _inside(os.path.realpath(path), folder_real):
                rel = os.path.relpath(path, folder_real)
                raise _UnsafeMember(
                    f"member {rel!r} is a symlink to {os.readlink(path)!r}, outside the dataset"
                )


# --------------------------------------------------------------------------------------------
# 2. Synthetic maps: a procedural aerial photo -> web map dataset
# --------------------------------------------------------------------------------------------
#
# Every tile is first drawn as a label image (one class per pixel). The map is the label image
# looked up in MAP_PALETTE (flat colours, crisp edges); the photo renders each class with its own
# texture, plus things the map ignores (shadows, single trees, road markings), so the map is a
# function of the photo -- the property that makes photo->map learnable.

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
_PALETTE_ARRAY = np.array(list(MAP_PALETTE.values()), dtype=np.uint8)

_SPLIT_CODES = {"train": 1, "val": 2, "test": 3}
_KINDS = ("rural", "suburban", "urban")

# Photo colours: (colour A, colour B) per class; a low-frequency noise mixes the two per pixel.
_PHOTO_COLOURS = {
    "rural": {BACKGROUND: ((150, 143, 108), (124, 126, 92))},
    "suburban": {BACKGROUND: ((120, 124, 94), (142, 138, 112))},
    "urban": {BACKGROUND: ((150, 148, 142), (122, 122, 118))},
}
_CLASS_COLOURS = {
    FARMLAND: ((160, 150, 100), (140, 135, 90)),  # replaced per field, see _CROPS
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
class _Scene:
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
                print(f"\rsynthetic maps: {done}/{total} pairs {rate:5.1f} pairs/s -> {folder}  ",
                      end="\n" if done == total else "", file=sys.stderr, flush=True)
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
    scene = _layout(size, rng)
    return _render_photo(scene, rng), _render_map(scene.labels)


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


def _fbm(rng: np.random.Generator, size: int, cell: float, octaves: int = 3) -> np.ndarray:
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


def _shift(a: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``a`` moved by (dy, dx) pixels without wrap-around; uncovered pixels get ``fill``."""
    out = np.full_like(a, fill)
    h, w = a.shape[:2]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src = a[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def _erode(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary erosion with a 4-neighbour cross, ``steps`` times (pixels off-tile count as set)."""
    for _ in range(steps):
        mask = (mask & _shift(mask, 1, 0, True) & _shift(mask, -1, 0, True)
                & _shift(mask, 0, 1, True) & _shift(mask, 0, -1, True))
    return mask


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        mask = (mask | _shift(mask, 1, 0, False) | _shift(mask, -1, 0, False)
                | _shift(mask, 0, 1, False) | _shift(mask, 0, -1, False))
    return mask


def _open(mask: np.ndarray, steps: int) -> np.ndarray:
    """Erode then dilate: drops blobs and threads thinner than ~2*steps pixels, keeps the rest."""
    return _dilate(_erode(mask, steps), steps)


# ---- layout --------------------------------------------------------------------------------

def _layout(size: int, rng: np.random.Generator) -> _Scene:
    """Decide what is where: land cover, water, roads, buildings, trees."""
    # Below 128 px a tile shows a zoomed-in part of a 128 px scene, so roads and buildings stay
    # a few pixels wide instead of vanishing.
    scale = max(size, 128) / 256
    kind = _KINDS[int(rng.choice(3, p=[0.3, 0.4, 0.3]))]
    angle = rng.uniform(0, 2 * np.pi)
    scene = _Scene(
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


def _land_cover(scene: _Scene, rng: np.random.Generator) -> None:
    """Background land, striped fields, meadows/parks and forest, from thresholded noise."""
    size, s = scene.size, scene.scale
    t_farm, t_grass, t_forest = _LAND_THRESHOLDS[scene.kind]
    smooth = max(1, round(2 * s))  # opening removes specks a web map would not draw
    farm_region = _open(_fbm(rng, size, 90 * s) > t_farm, smooth)
    grass = _open(_fbm(rng, size, 45 * s) > t_grass, smooth)
    forest = _open(_fbm(rng, size, 55 * s, octaves=4) > t_forest, smooth)
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


def _water(scene: _Scene, rng: np.random.Generator) -> None:
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
        mask = d + 0.3 * np.clip(_fbm(rng, size, 30 * s), -2, 2) < 1
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
    banks = np.clip(_fbm(rng, size, 12 * s), -2, 2)
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


def _road_network(scene: _Scene, rng: np.random.Generator) -> list[_Road]:
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


def _draw_roads(scene: _Scene, roads: list[_Road]) -> None:
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


def _place_buildings(scene: _Scene, roads: list[_Road], rng: np.random.Generator) -> None:
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


def _infill_buildings(scene: _Scene, roads: list[_Road], lots: _Lots,
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


def _try_building(scene: _Scene, centre: np.ndarray, tangent: np.ndarray, front: float,
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
          scene: _Scene, lots: _Lots, rng: np.random.Generator) -> np.ndarray:
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


def _outline_buildings(scene: _Scene) -> None:
    """Mark each building's border pixels (the map draws a slightly darker outline there)."""
    body = scene.labels == BUILDING
    inner = _erode(body, max(1, round(scene.scale)))
    scene.labels[body & ~inner] = BUILDING_OUTLINE


def _place_trees(scene: _Scene, rng: np.random.Generator) -> None:
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


def _render_photo(scene: _Scene, rng: np.random.Generator) -> np.ndarray:
    """The aerial photo: textured classes, roofs, shadows, trees, then blur, grain and grading."""
    size, s, labels = scene.size, scene.scale, scene.labels
    colour_a, colour_b = _class_colours(scene.kind, rng)
    mix = np.clip(0.5 + 0.45 * _fbm(rng, size, 40 * s), 0, 1)[..., None]
    img = colour_a[labels]
    img += (colour_b - colour_a)[labels] * mix
    farm = labels == FARMLAND
    img[farm] = scene.field_rgb[farm]
    roof = (labels == BUILDING) | (labels == BUILDING_OUTLINE)
    img[roof] = scene.roof_rgb[roof]

    # Three noise scales: patches (~32 px), crowns/clumps (~3 px, also the forest canopy) and
    # per-pixel speckle; each class scales them by its own amplitudes (_TEXTURE).
    canopy = _fbm(rng, size, 3.0 * s, 1)
    speckle = rng.random((size, size), dtype=np.float32) - np.float32(0.5)
    light = _TEXTURE[:, 0][labels] * _fbm(rng, size, 32 * s)
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


def _paint_trees(img: np.ndarray, scene: _Scene, canopy: np.ndarray,
                 rng: np.random.Generator) -> None:
    """Tree crowns: dark green, textured, darker at the rim."""
    trees = scene.trees
    if not trees.any():
        return
    base = np.array([52, 80, 44], np.float32) + rng.normal(0, 5, 3).astype(np.float32)
    rim = trees & ~_erode(trees, 1)
    shade = 0.95 + 0.18 * np.tanh(canopy) - 0.2 * rim
    img[trees] = base * shade[trees][:, None]


def _shadow_factor(scene: _Scene) -> np.ndarray:
    """Per-pixel light factor: < 1 where a building, tree or forest edge shades the ground.

    A pixel at distance d (along the sun direction) from something of height >= d is in shadow;
    tested for each whole d, so the cost is (max height) cheap array shifts.
    """
    height, (dx, dy) = scene.height, scene.sun
    shadow = np.zeros(height.shape, bool)
    for d in range(1, int(np.ceil(height.max())) + 1):
        shadow |= _shift(height >= d, round(d * dy), round(d * dx), False)
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
