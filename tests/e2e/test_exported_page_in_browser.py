"""The exported web page in a real browser, as a friend opens the link: served by a static
server on 127.0.0.1 with no other network, the map -> photo page answers a painted stroke and
the photo -> map page an uploaded image, each with what the Keras model computes for the same
input. Screenshots and the measured times go to tests/e2e/artifacts/."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import static_server

from pix2pix_lib.cli import main
from pix2pix_lib.portable import PARITY_TOLERANCE

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # git-ignored
SURFACE = ".p2p-paint-surface"

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def runtime():
    from pix2pix_lib.web_runtime import RuntimeMissing, runtime_folder

    pytest.importorskip("onnxruntime", reason="pip install -e '.[export]' installs it")
    try:
        return runtime_folder(download=False)
    except RuntimeMissing as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{error} (make install fetches it)")
        pytest.skip(str(error))


def _export_page(data, folder: Path, direction: str) -> Path:
    run = folder / f"run-{direction}"
    assert main(["train", "--data", str(data), "--profile", "smoke", "--steps", "2", "--out",
                 str(run), "--quiet", "--set", f"direction={direction}"]) == 0
    assert main(["export", "--run", str(run), "--web", str(folder / "web"), "--data",
                 str(data)]) == 0
    return run


@pytest.fixture
def served():
    """serve(folder) -> the URL of its index.html on a static server on 127.0.0.1."""
    with contextlib.ExitStack() as servers:
        yield lambda folder: servers.enter_context(static_server(folder))[0] + "/index.html"


def _open(browser_page, url: str):
    """A new tab on `url`, refusing every request that is not to 127.0.0.1 (offline)."""
    page = browser_page.context.new_page()
    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_function("window.p2p && (window.p2p.ready || window.p2p.error)",
                           timeout=90_000)
    state = page.evaluate("({error: p2p.error, loadMs: p2p.loadMs})")
    assert state["error"] is None and not errors, (state, errors)
    assert not outside, f"the page asked the network for {outside}"
    return page


def _assert_matches_keras(page, run: Path) -> dict:
    """The page's last output against the Keras model's conventional output for the page's
    last input, in float32 as exported (a run trained in mixed bf16 on this CPU would differ
    by its bf16 rounding); returns the numbers for the artifacts."""
    from pix2pix_lib.inference import load_run
    from pix2pix_lib.portable import float32_twin

    generator, config = load_run(run)
    generator = float32_twin(generator)
    size = config.image_size
    x = np.array(page.evaluate("Array.from(p2p.lastInput)"), np.float32)
    y = np.array(page.evaluate("Array.from(p2p.lastOutput)"), np.float32)
    x, y = x.reshape(1, size, size, 3), y.reshape(1, size, size, 3)
    expected = generator(x, training=False).numpy()
    difference = float(np.abs(y - expected).max())
    assert difference <= PARITY_TOLERANCE, f"the browser's output differs by {difference}"
    return {"max_abs": difference, **page.evaluate("({loadMs: p2p.loadMs, ms: p2p.ms})")}


def _record(name: str, numbers: dict) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(numbers, indent=2) + "\n")


def test_paint_a_map_get_a_photo_in_the_browser(browser_page, runtime, tiny_maps, tmp_path,
                                                served):
    run = _export_page(tiny_maps, tmp_path, "BtoA")
    page = _open(browser_page, served(tmp_path / "web"))
    try:
        page.wait_for_function("p2p.translations >= 1")  # the val map it starts from
        page.locator("#palette button[data-brush='water']").click()
        box = page.locator(SURFACE).bounding_box()
        page.mouse.move(box["x"] + 0.15 * box["width"], box["y"] + 0.3 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.85 * box["width"], box["y"] + 0.6 * box["height"], steps=12)
        page.mouse.up()
        page.wait_for_function("p2p.translations >= 2")
        painted = page.evaluate(f"""() => {{
          const c = document.querySelector('{SURFACE}');
          const x = Math.floor(c.width * 0.5), y = Math.floor(c.height * 0.45);
          return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3));
        }}""")
        from pix2pix_lib.datasets import MAP_PALETTE

        assert painted == list(MAP_PALETTE["water"]), painted  # the stroke is on the map
        numbers = _assert_matches_keras(page, run)
        assert "in your browser" in page.locator("#status").inner_text()
        page.screenshot(path=str(ARTIFACTS / "web_page_paint.png"), full_page=True)
        _record("web_page_paint", numbers)
    finally:
        page.close()


def test_drop_a_photo_get_a_map_in_the_browser(browser_page, runtime, tiny_maps, tmp_path,
                                               served):
    from PIL import Image

    from pix2pix_lib.datasets import render_synthetic_pair

    run = _export_page(tiny_maps, tmp_path, "AtoB")
    page = _open(browser_page, served(tmp_path / "web"))
    try:
        page.wait_for_function("p2p.translations >= 1")
        photo, _ = render_synthetic_pair(96, seed=3)
        path = tmp_path / "holiday_photo.png"
        Image.fromarray(photo[:, 8:88]).save(path)  # 80 wide, 96 high: cropped to a square
        page.locator("#file").set_input_files(str(path))
        page.wait_for_function("p2p.translations >= 2")
        numbers = _assert_matches_keras(page, run)
        page.screenshot(path=str(ARTIFACTS / "web_page_upload.png"), full_page=True)
        _record("web_page_upload", numbers)
    finally:
        page.close()
