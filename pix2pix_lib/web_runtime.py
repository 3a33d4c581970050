"""The browser runtime of the exported web page: onnxruntime-web, from its npm package.

The page must work offline and from any static host, so the runtime is copied beside the model
instead of loaded from a CDN. Only its WebAssembly build is used (two files: the ES module
`ort.wasm.bundle.min.mjs`, 77 kB, and `ort-wasm-simd-threaded.wasm`, 15 MB): it runs in every
current browser, without a GPU.

The package is taken from the npm registry once (`pix2pix web-runtime`; `make install` does
it), checked against the integrity hash pinned here (the same SHA-512 that npm's lock files
record), and kept in a cache folder; `pix2pix export --web` copies it from there. Nothing else
is downloaded, and Node.js is not needed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ONNXRUNTIME_WEB",
    "NpmPackage",
    "RuntimeMissing",
    "default_cache_dir",
    "fetch_runtime",
    "runtime_folder",
]

NPM_REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class NpmPackage:
    """A pinned npm package and the files of it the page needs (paths inside its tarball)."""

    name: str
    version: str
    integrity: str  # "sha512-<base64>", as in the registry's dist.integrity
    files: tuple[str, ...]
    license: str

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    def tarball_url(self, registry: str) -> str:
        return f"{registry.rstrip('/')}/{self.name}/-/{self.name}-{self.version}.tgz"


ONNXRUNTIME_WEB = NpmPackage(
    name="onnxruntime-web",
    version="1.31.1",
    integrity="sha512-5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7NmuZPXrQ73k82URw==",
    files=("dist/ort.wasm.bundle.min.mjs", "dist/ort-wasm-simd-threaded.wasm"),
    license="MIT",
)


class RuntimeMissing(FileNotFoundError):
    """The runtime is not in the cache and may not (or could not) be downloaded."""


def default_cache_dir() -> Path:
    """PIX2PIX_CACHE_DIR if set, else $XDG_CACHE_HOME/pix2pix-course (~/.cache/...)."""
    configured = os.environ.get("PIX2PIX_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pix2pix-course"


def _folder(package: NpmPackage, cache_dir: Path) -> Path:
    return cache_dir / f"{package.name}-{package.version}"


def _complete(folder: Path, package: NpmPackage) -> bool:
    return all((folder / Path(name).name).is_file() for name in package.files)


def _verify(data: bytes, package: NpmPackage, url: str) -> None:
    algorithm, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")
    if actual != expected:
        raise ValueError(
            f"{url} does not match the integrity hash pinned for {package.label} "
            f"({algorithm} {actual[:16]}... instead of {expected[:16]}...); nothing was kept. "
            "A proxy or mirror may have changed the file: try again, or another registry."
        )


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise RuntimeMissing(
            f"Could not download {url} ({reason}). The web page needs its browser runtime "
            "once: connect to the internet and run `pix2pix web-runtime` (or pass --registry "
            "with a reachable npm registry)."
        ) from None


def fetch_runtime(package: NpmPackage = ONNXRUNTIME_WEB, *, cache_dir=None,
                  registry: str = NPM_REGISTRY, timeout: float = 120.0,
                  report: Callable[[str], None] | None = print) -> Path:
    """The cache folder holding `package.files` (flat), downloaded and verified if not there yet.

    The folder appears complete or not at all: the files are extracted into a temporary folder
    beside it and renamed into place.
    """
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder = _folder(package, cache_dir)
    if _complete(folder, package):
        return folder
    url = package.tarball_url(registry)
    if report:
        report(f"Downloading {package.label} (the web page's browser runtime) from {url}")
    data = _download(url, timeout)
    _verify(data, package, url)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=cache_dir))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for name in package.files:
                try:
                    member = archive.getmember(f"package/{name}")
                except KeyError:
                    raise ValueError(f"{url} has no {name}; is {package.label} the right "
                                     "version?") from None
                source = archive.extractfile(member)
                (staging / Path(name).name).write_bytes(source.read())
        (staging / "LICENSE.txt").write_text(
            f"{package.label} ({package.license} licence), from {url}\n")
        if folder.exists():  # an incomplete earlier attempt
            shutil.rmtree(folder)
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is not secret
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    if report:
        report(f"{package.label} is in {folder}")
    return folder


def runtime_folder(package: NpmPackage = ONNXRUNTIME_WEB, *, cache_dir=None,
                   download: bool = True, registry: str = NPM_REGISTRY,
                   report: Callable[[str], None] | None = print) -> Path:
    """The cached runtime; fetched first when missing and `download` is allowed, else
    RuntimeMissing saying how to get it."""
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder = _folder(package, cache_dir)
    if _complete(folder, package):
        return folder
    if not download:
        raise RuntimeMissing(
            f"{package.label} is not in {cache_dir}. Run `pix2pix web-runtime` once with "
            "internet access (make install does it), then export again."
        )
    return fetch_runtime(package, cache_dir=cache_dir, registry=registry, report=report)
