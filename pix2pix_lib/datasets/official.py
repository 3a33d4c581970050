"""The official pix2pix datasets: download one of the authors' archives and extract it safely.

:func:`download` fetches one of the archives the pix2pix authors publish (:data:`DATASETS`),
verifies what can be verified (no checksums are published) and extracts it safely: every member
is checked before it is written (no absolute paths, no '..', no special files, no links out of
the dataset), and nothing partial is ever left behind.

This module needs the standard library only: no TensorFlow.
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

from pix2pix_lib.common import ProgressLine
from pix2pix_lib.pairs import count_images

__all__ = [
    "BASE_URL",
    "DATASETS",
    "DatasetInfo",
    "DownloadError",
    "SYNTH_MAPS_COMMAND",
    "download",
]

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
    """A download's progress on one line (`common.ProgressLine`), redrawn at most 5 times a
    second."""

    def __init__(self, label: str, total: int | None, enabled: bool, stream: TextIO | None = None):
        self.label, self.total, self.enabled = label, total, enabled
        self.line = ProgressLine(stream if stream is not None else sys.stderr)
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
        self.line.show(line)

    def close(self) -> None:
        """Draw the final state and end the line (also after an error, so messages start clean)."""
        if self.enabled:
            self.update(self.done, force=True)
            self.line.end()


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
    count, line = 0, ProgressLine(sys.stderr)
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
                    line.show(f"extracting {archive.name}: {count} files")
    if progress:
        line.show(f"extracting {archive.name}: {count} files")
        line.end()
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

