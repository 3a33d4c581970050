"""Plain helpers shared by the test files (`from helpers import random_pair, snapshot, ...`).

pytest puts tests/ on sys.path (tests/ has conftest.py and no __init__.py), so this package
imports as `helpers`. Fixtures live in conftest.py; these are ordinary functions. (The scripts
beside this file, e.g. mirrored_step.py, run in a subprocess of their own.)
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HEIGHT = 32  # the pair files made here are HEIGHT x 2*HEIGHT: two 32x32 halves
RED, BLUE = (255, 0, 0), (0, 0, 255)


# --- the exercises' checks ----------------------------------------------------------------------
def stub(*args, **kwargs):
    """A learner's exercise left as nbgrader's stub."""
    raise NotImplementedError()


def check_failure(check, learner, *expected: str) -> str:
    """The message of the CheckFailed that `check(learner)` must raise; it contains `expected`."""
    from pix2pix_lib.checks import CheckFailed

    with pytest.raises(CheckFailed) as failure:
        check(learner)
    for part in expected:
        assert part in str(failure.value), str(failure.value)
    return str(failure.value)


# --- random images ------------------------------------------------------------------------------
def random_images(shape, seed: int = 0) -> np.ndarray:
    """float32 noise in [-1, 1], the range images have once they reach a model."""
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def random_pair(shape, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A (source, target) pair of float32 noise batches in [-1, 1], both from one seed."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, shape).astype(np.float32),
            rng.uniform(-1, 1, shape).astype(np.float32))


def random_uint8(shape, seed: int = 0) -> np.ndarray:
    """uint8 noise 0..255: pixels as they are on disk."""
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


# --- weight snapshots ---------------------------------------------------------------------------
def snapshot(variables) -> list[np.ndarray]:
    """Copies of the variables' values now (e.g. `model.weights`), to compare with later."""
    return [np.array(variable.numpy(), copy=True) for variable in variables]


def changed(before: list[np.ndarray], variables) -> list[bool]:
    """For each variable, whether it now holds other values than in `snapshot` `before`."""
    return [not np.array_equal(old, variable.numpy())
            for old, variable in zip(before, variables, strict=True)]


# --- pair files ---------------------------------------------------------------------------------
def save_pair(path: Path, left=RED, right=BLUE, height: int = HEIGHT) -> Path:
    """A side-by-side pair: left half one colour, right half another."""
    pixels = np.zeros((height, 2 * height, 3), np.uint8)
    pixels[:, :height] = left
    pixels[:, height:] = right
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def make_folder(folder: Path, count: int) -> list[Path]:
    """`count` pairs whose colours identify them (file k has red = 40 * k)."""
    return [save_pair(folder / f"pair_{k:02d}.png", left=(40 * k, 0, 0)) for k in range(count)]


# --- a static web server ------------------------------------------------------------------------


@contextlib.contextmanager
def static_server(folder: Path):
    """Serve `folder` on 127.0.0.1 (a free port), quietly, until the block ends. Yields
    (the base URL, the list of paths requested so far)."""
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest output clean
            pass

        def do_GET(self):  # noqa: N802 (http.server's naming)
            requests.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
