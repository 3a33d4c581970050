"""The web page's runtime is fetched once from an npm registry, verified, and cached; tested
against a registry on 127.0.0.1 serving a tarball the test makes (tests never download)."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from dataclasses import replace

import pytest
from helpers import static_server

from pix2pix_lib.web_runtime import (
    ONNXRUNTIME_WEB,
    NpmPackage,
    RuntimeMissing,
    fetch_runtime,
    runtime_folder,
)

FILES = {"dist/ort.wasm.bundle.min.mjs": b"export const ort = 1;\n",
         "dist/ort-wasm-simd-threaded.wasm": b"\0asm fake wasm"}


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def registry(tmp_path):
    """(registry URL, package pinned to the served tarball, list of requested paths)."""
    data = _tarball(FILES)
    package = replace(ONNXRUNTIME_WEB, integrity=_integrity(data))
    root = tmp_path / "registry"
    tarball = root / package.name / "-" / f"{package.name}-{package.version}.tgz"
    tarball.parent.mkdir(parents=True)
    tarball.write_bytes(data)
    with static_server(root) as (url, requests):
        yield url, package, requests


def test_fetch_verifies_extracts_and_then_uses_the_cache(registry, tmp_path):
    url, package, requests = registry
    lines: list[str] = []
    folder = fetch_runtime(package, cache_dir=tmp_path / "cache", registry=url,
                           report=lines.append)
    assert {path.name: path.read_bytes() for path in folder.iterdir() if path.suffix != ".txt"} \
        == {name.split("/")[-1]: data for name, data in FILES.items()}
    assert "MIT" in (folder / "LICENSE.txt").read_text()
    assert len(requests) == 1 and "Downloading onnxruntime-web" in lines[0]
    assert runtime_folder(package, cache_dir=tmp_path / "cache", download=False) == folder
    assert fetch_runtime(package, cache_dir=tmp_path / "cache", registry=url) == folder
    assert len(requests) == 1  # from the cache
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [folder.name]  # no staging left


def test_a_tarball_that_does_not_match_its_hash_is_not_kept(registry, tmp_path):
    url, package, _ = registry
    tampered: NpmPackage = replace(package, integrity=_integrity(b"something else"))
    with pytest.raises(ValueError, match="does not match the integrity hash"):
        fetch_runtime(tampered, cache_dir=tmp_path / "cache", registry=url, report=None)
    assert not any((tmp_path / "cache").glob("*")) if (tmp_path / "cache").exists() else True


def test_missing_runtime_says_how_to_get_it(registry, tmp_path):
    url, package, _ = registry
    with pytest.raises(RuntimeMissing, match="pix2pix web-runtime"):
        runtime_folder(package, cache_dir=tmp_path / "empty", download=False)
    with pytest.raises(RuntimeMissing, match="Could not download"):
        fetch_runtime(replace(package, version="0.0.0"), cache_dir=tmp_path / "c", registry=url,
                      report=None)
    with pytest.raises(ValueError, match="has no dist/missing.js"):
        fetch_runtime(replace(package, files=("dist/missing.js",)), cache_dir=tmp_path / "d",
                      registry=url, report=None)
    assert not (tmp_path / "d" / f"{package.name}-{package.version}").exists()
