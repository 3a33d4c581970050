"""Tests for pix2pix_lib.datasets: the download registry (against a local HTTP server, never the
internet) and the synthetic maps generator."""

from __future__ import annotations

import io
import os
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pix2pix_lib import datasets
from pix2pix_lib.datasets import (
    DATASETS,
    MAP_PALETTE,
    DownloadError,
    download,
    make_synthetic_maps,
    render_synthetic_pair,
)

# ------------------------------------------------------------------------------------------------
# Registry and download
# ------------------------------------------------------------------------------------------------


class _Server:
    """A local HTTP server whose answers the test sets per path; it records every request."""

    def __init__(self):
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                outer.requests.append(self.path)
                if self.path not in outer.routes:
                    self.send_error(404, "Not Found")
                    return
                body, mode = outer.routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                declared = len(body) + 50_000 if mode == "truncate" else len(body)
                self.send_header("Content-Length", str(declared))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mode == "truncate" else body)
                self.close_connection = True

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/datasets"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.05})  # quick shutdown

    def serve(self, name: str, body: bytes, mode: str = "ok") -> None:
        self.routes[f"/datasets/{name}.tar.gz"] = (body, mode)


@pytest.fixture
def server():
    srv = _Server()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


def _png_pair() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 4), (120, 60, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _archive(members: list[tuple[str, str, object]]) -> bytes:
    """A tar.gz built in memory from (name, kind, payload): kind file/dir/symlink/hardlink/char."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                info.size = len(data)
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, payload
            elif kind == "char":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _good_maps(top: str = "maps/") -> bytes:
    pair = _png_pair()
    members = [(f"{top}{split}/{k}.png", "file", pair) for split in ("train", "val")
               for k in range(3)]
    if top:
        members.insert(0, (top.rstrip("/"), "dir", None))
    return _archive(members)


def _free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_registry_lists_the_official_datasets_with_their_splits():
    assert set(DATASETS) == {"facades", "cityscapes", "maps", "edges2shoes", "edges2handbags",
                             "night2day"}
    for name, info in DATASETS.items():
        assert info.name == name
        assert info.url == f"http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
        assert "train" in info.splits and info.size_mb > 0 and info.description
    assert DATASETS["facades"].splits == {"train": 400, "val": 100, "test": 106}
    assert DATASETS["maps"].splits == {"train": 1096, "val": 1098}


def test_unknown_name_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="facades.*maps"):
        download("map", tmp_path)


def test_download_extracts_and_a_second_call_needs_no_network(server, tmp_path, capsys):
    server.serve("maps", _good_maps())
    root = tmp_path / "data"
    path = download("maps", root, base_url=server.base_url, progress=True)
    assert path == root / "maps"
    assert sorted(p.name for p in (path / "train").iterdir()) == ["0.png", "1.png", "2.png"]
    assert (path / ".complete").is_file()
    assert sorted(p.name for p in root.iterdir()) == ["maps"]  # no archive, .part or temp left
    err = capsys.readouterr().err
    assert "%" in err and "MB/s" in err and "\r" in err
    assert len(server.requests) == 1
    assert download("maps", root, base_url=server.base_url) == path
    assert len(server.requests) == 1


def test_archive_without_top_level_folder_is_accepted(server, tmp_path):
    server.serve("maps", _good_maps(top=""))
    path = download("maps", tmp_path, base_url=server.base_url, progress=False)
    assert len(list((path / "val").iterdir())) == 3


def test_truncated_download_is_an_error_and_leaves_nothing(server, tmp_path):
    server.serve("maps", _good_maps(), mode="truncate")
    with pytest.raises(DownloadError, match="incomplete.*again"):
        download("maps", tmp_path, base_url=server.base_url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_archive_is_an_error_and_is_removed(server, tmp_path):
    server.serve("maps", np.random.default_rng(0).bytes(5000))
    with pytest.raises(DownloadError, match="corrupt archive"):
        download("maps", tmp_path, base_url=server.base_url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_archive_missing_a_split_names_it(server, tmp_path):
    server.serve("maps", _archive([("maps/train/0.png", "file", _png_pair())]))
    with pytest.raises(DownloadError, match="no val folder"):
        download("maps", tmp_path, base_url=server.base_url, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("evil", "member"),
    [
        (("maps/../evil", "file", "x"), "maps/../evil"),
        (("../evil", "file", "x"), "../evil"),
        (("maps/link", "symlink", "../../outside"), "maps/link"),
        (("maps/train/link", "symlink", "../../outside"), "train/link"),
        (("maps/abs", "symlink", "/etc/passwd"), "maps/abs"),
        (("maps/hard", "hardlink", "../outside"), "maps/hard"),
        (("maps/dev", "char", None), "maps/dev"),
    ],
)
def test_unsafe_members_are_refused_and_nothing_is_left(server, tmp_path, evil, member):
    root = tmp_path / "data"
    good = [("maps/train/0.png", "file", _png_pair()), ("maps/val/0.png", "file", _png_pair())]
    server.serve("maps", _archive(good[:1] + [evil] + good[1:]))
    with pytest.raises(DownloadError, match=f"refused.*{member}") as err:
        download("maps", root, base_url=server.base_url, progress=False)
    assert "nothing was kept" in str(err.value).lower()
    assert list(root.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing written beside root


def test_absolute_member_path_is_refused(server, tmp_path):
    target = tmp_path / "absolute_evil"
    server.serve("maps", _archive([(str(target), "file", "x"), ("maps/train/0.png", "file", "y")]))
    with pytest.raises(DownloadError, match="absolute"):
        download("maps", tmp_path / "data", base_url=server.base_url, progress=False)
    assert not target.exists()
    assert list((tmp_path / "data").iterdir()) == []


def test_writing_through_an_extracted_symlink_is_refused(server, tmp_path):
    # The link itself stays inside the extraction folder; the file behind it must not escape.
    root = tmp_path / "data"
    members = [("maps/up", "symlink", ".."), ("maps/up/up2", "symlink", ".."),
               ("maps/up/up2/escaped.txt", "file", "x")]
    server.serve("maps", _archive(members))
    with pytest.raises(DownloadError, match="refused"):
        download("maps", root, base_url=server.base_url, progress=False)
    assert not (tmp_path / "escaped.txt").exists()
    assert list(root.iterdir()) == []


def test_unreachable_server_suggests_the_offline_dataset(tmp_path):
    base = f"http://127.0.0.1:{_free_port()}/datasets"
    with pytest.raises(DownloadError) as err:
        download("facades", tmp_path, base_url=base, progress=False, timeout=5)
    message = str(err.value)
    assert f"{base}/facades.tar.gz" in message
    assert "pix2pix synth-maps data/synthetic_maps" in message
    assert list(tmp_path.iterdir()) == []


def test_http_error_names_the_url(server, tmp_path):
    with pytest.raises(DownloadError, match=r"facades\.tar\.gz answered HTTP 404.*synth-maps"):
        download("facades", tmp_path, base_url=server.base_url, progress=False)


def test_an_archive_copied_by_hand_is_used_without_network(tmp_path):
    (tmp_path / "maps.tar.gz").write_bytes(_good_maps())
    offline = f"http://127.0.0.1:{_free_port()}/datasets"
    path = download("maps", tmp_path, base_url=offline, progress=False)
    assert len(list((path / "train").iterdir())) == 3


def test_an_incomplete_existing_folder_is_not_touched(tmp_path):
    (tmp_path / "maps" / "train").mkdir(parents=True)
    (tmp_path / "maps" / "train" / "mine.png").write_bytes(b"keep")
    with pytest.raises(DownloadError, match="val.*Delete or move"):
        download("maps", tmp_path, base_url="http://127.0.0.1:9/none", progress=False)
    assert (tmp_path / "maps" / "train" / "mine.png").read_bytes() == b"keep"


# ------------------------------------------------------------------------------------------------
# Synthetic maps
# ------------------------------------------------------------------------------------------------

PALETTE = np.array(list(MAP_PALETTE.values()), dtype=np.int32)


def _class_ids(map_rgb: np.ndarray) -> np.ndarray:
    """Palette index of every map pixel (-1 where the colour is not in the palette)."""
    codes = (map_rgb[..., 0].astype(np.int32) << 16) | (map_rgb[..., 1].astype(np.int32) << 8) \
        | map_rgb[..., 2]
    palette_codes = (PALETTE[:, 0] << 16) | (PALETTE[:, 1] << 8) | PALETTE[:, 2]
    ids = np.full(codes.shape, -1)
    for i, code in enumerate(palette_codes):
        ids[codes == code] = i
    return ids


@pytest.fixture(scope="module")
def tiles():
    """A dozen (photo, map) pairs at 128 px: enough to meet every kind of scene."""
    return [render_synthetic_pair(128, seed) for seed in range(12)]


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_dataset_layout_counts_and_shape(tmp_path):
    root = make_synthetic_maps(tmp_path / "synth", n_train=3, n_val=2, size=64, seed=1)
    assert root == tmp_path / "synth"
    train = sorted((root / "train").iterdir())
    val = sorted((root / "val").iterdir())
    assert [p.name for p in train] == ["00000.png", "00001.png", "00002.png"]
    assert len(val) == 2
    for path in train + val:
        assert _read(path).shape == (64, 128, 3)  # photo | map, width = 2 * height
    assert _read(train[0]).tobytes() != _read(val[0]).tobytes()


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    a = make_synthetic_maps(tmp_path / "a", n_train=2, n_val=1, size=64, seed=3)
    b = make_synthetic_maps(tmp_path / "b", n_train=2, n_val=1, size=64, seed=3)
    c = make_synthetic_maps(tmp_path / "c", n_train=2, n_val=1, size=64, seed=4)
    for rel in ("train/00000.png", "train/00001.png", "val/00000.png"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
        assert (a / rel).read_bytes() != (c / rel).read_bytes()
    assert np.array_equal(render_synthetic_pair(64, 5)[1], render_synthetic_pair(64, 5)[1])


def test_more_pairs_do_not_change_the_first_ones(tmp_path):
    few = make_synthetic_maps(tmp_path / "few", n_train=2, n_val=1, size=64)
    more = make_synthetic_maps(tmp_path / "more", n_train=4, n_val=2, size=64)
    for rel in ("train/00000.png", "train/00001.png", "val/00000.png"):
        assert (few / rel).read_bytes() == (more / rel).read_bytes()


def test_photo_is_textured_and_map_is_flat_palette(tiles):
    for photo, map_rgb in tiles[:4]:
        assert photo.shape == map_rgb.shape == (128, 128, 3)
        assert photo.dtype == map_rgb.dtype == np.uint8
        assert (_class_ids(map_rgb) >= 0).all()  # PNG keeps the palette exact
        assert len(np.unique(map_rgb.reshape(-1, 3), axis=0)) <= len(MAP_PALETTE)
        assert len(np.unique(photo.reshape(-1, 3), axis=0)) > 2000
        # Texture: neighbouring photo pixels differ, neighbouring map pixels mostly do not.
        photo_same = (np.diff(photo.astype(int), axis=1) == 0).all(-1).mean()
        map_same = (np.diff(map_rgb.astype(int), axis=1) == 0).all(-1).mean()
        assert photo_same < 0.05 and map_same > 0.6
        assert np.abs(np.diff(photo.astype(int), axis=1)).mean() > 2.0


def test_every_map_class_appears(tiles):
    seen = set()
    for _, map_rgb in tiles:
        seen |= set(np.unique(_class_ids(map_rgb)).tolist())
    assert seen == set(range(len(MAP_PALETTE)))


def test_map_is_a_function_of_the_photo(tiles):
    """Loosely: each map class looks, on the photo at the same place, as it does on the ground."""
    photos = np.stack([p for p, _ in tiles]).astype(np.float32)
    ids = np.stack([_class_ids(m) for _, m in tiles])
    names = list(MAP_PALETTE)

    def mean_rgb(name, where=np.s_[:]):
        return photos[where][ids[where] == names.index(name)].mean(axis=0)

    def saturation(rgb):
        return rgb.max() - rgb.min()

    water, road, forest, grass = (mean_rgb(n) for n in ("water", "road", "forest", "grass"))
    assert water.sum() < road.sum()                          # water is darker than asphalt
    assert water[2] - water[0] > road[2] - road[0] + 10      # ...and bluer
    assert forest.sum() < grass.sum()                        # woods are darker than meadows
    assert grass[1] > grass[0] and grass[1] > grass[2]       # meadows are green
    assert saturation(road) < 10 < saturation(grass)         # asphalt is grey
    n_checked = 0
    for k in range(len(tiles)):  # tile by tile too, not just on average
        if (ids[k] == names.index("water")).sum() > 50:
            assert mean_rgb("water", k).sum() < mean_rgb("background", k).sum() - 60
            n_checked += 1
    assert n_checked >= 2


def test_refuses_to_overwrite(tmp_path):
    root = make_synthetic_maps(tmp_path / "m", n_train=1, n_val=1, size=32)
    before = (root / "train" / "00000.png").read_bytes()
    with pytest.raises(FileExistsError, match="already contains images.*another output folder"):
        make_synthetic_maps(root, n_train=1, n_val=1, size=32, seed=9)
    assert (root / "train" / "00000.png").read_bytes() == before


@pytest.mark.parametrize("size", [32, 512])
def test_small_and_large_sizes(tmp_path, size):
    root = make_synthetic_maps(tmp_path / "m", n_train=1, n_val=0, size=size)
    assert _read(root / "train" / "00000.png").shape == (size, 2 * size, 3)
    assert not (root / "val").exists()


def test_jpeg_option_and_progress_line(tmp_path, capsys):
    root = make_synthetic_maps(tmp_path / "j", n_train=2, n_val=1, size=64, progress=True,
                               image_format="jpg")
    assert sorted(p.name for p in (root / "train").iterdir()) == ["00000.jpg", "00001.jpg"]
    err = capsys.readouterr().err
    assert "3/3 pairs" in err and err.endswith("\n")


@pytest.mark.parametrize(
    "kwargs",
    [{"size": 16}, {"size": 64.0}, {"n_train": -1}, {"seed": -1}, {"image_format": "gif"}],
)
def test_bad_arguments_are_refused_clearly(tmp_path, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs)).replace("_", ".")):
        make_synthetic_maps(tmp_path / "x", **{"n_train": 1, "n_val": 0, **kwargs})
    assert not (tmp_path / "x").exists()


def test_module_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, pix2pix_lib.datasets; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.stdout.strip() == "False"
    assert datasets.__name__ == "pix2pix_lib.datasets"
