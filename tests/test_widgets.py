"""The notebook explorers: built on tiny arrays, driven by setting the slider from Python."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from matplotlib.figure import Figure

from pix2pix_lib import widgets


def images(n=3, size=16, seed=0):
    """n distinct float images in [-1, 1] (each a different flat colour plus noise)."""
    rng = np.random.default_rng(seed)
    base = np.linspace(-0.9, 0.9, n, dtype=np.float32)[:, None, None, None]
    return np.clip(base + rng.normal(0, 0.1, (n, size, size, 3)), -1, 1).astype(np.float32)


def digest(png: bytes) -> str:
    return hashlib.sha256(png).hexdigest()


# --- image browser -------------------------------------------------------------------------
def test_image_browser_redraws_the_chosen_index():
    sources, generated, targets = images(seed=1), images(seed=2), images(seed=3)[::-1]
    browser = widgets.image_browser(sources, generated, targets,
                                    metrics={"L1": [0.1, 0.2, 0.3]})
    assert browser.shown == 0 and browser.png.startswith(b"\x89PNG")
    first = digest(browser.png)
    browser.slider.value = 2
    assert browser.shown == 2
    assert digest(browser.png) != first
    browser.slider.value = 0
    assert digest(browser.png) == first  # the same index draws the same picture


def test_image_browser_css_classes_for_the_browser_test():
    browser = widgets.image_browser(images(), images(), images())
    assert "p2p-image-browser" in browser.slider._dom_classes
    assert "p2p-image-browser-output" in browser.output._dom_classes
    assert browser.slider.max == 2 and browser.children == (browser.slider, browser.output)


def test_image_browser_accepts_uint8_and_one_channel():
    gray = (np.arange(2 * 8 * 8).reshape(2, 8, 8, 1) % 256).astype(np.uint8)
    browser = widgets.image_browser(gray, gray, gray)
    browser.slider.value = 1
    assert browser.shown == 1


def test_image_browser_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="same number"):
        widgets.image_browser(images(3), images(2), images(3))
    with pytest.raises(ValueError, match="metrics"):
        widgets.image_browser(images(3), images(3), images(3), metrics={"L1": [1.0]})


def test_image_browser_static_figure():
    fig = widgets.image_browser_figure(images(5), images(5), images(5), max_rows=4)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4 * 3


# --- lambda explorer -------------------------------------------------------------------------
def lambda_runs():
    labels = ["lambda=1", "lambda=100", "L1 only"]
    generated = {label: images(2, seed=10 + k) for k, label in enumerate(labels)}
    terms = {"lambda=1": {"adversarial": 2.0, "l1": 0.3},
             "lambda=100": {"adversarial": 0.8, "l1": 30.0},
             "L1 only": {"adversarial": 0.0, "l1": 25.0}}
    return generated, images(2, seed=20), images(2, seed=21), terms


def test_lambda_explorer_redraws_for_each_setting():
    generated, sources, targets, terms = lambda_runs()
    explorer = widgets.lambda_explorer(generated, sources, targets, terms)
    assert explorer.shown == "lambda=100"  # starts in the middle
    assert "p2p-lambda-slider" in explorer.slider._dom_classes
    assert "p2p-lambda-output" in explorer.output._dom_classes
    pictures = {explorer.shown: digest(explorer.png)}
    for label in ("lambda=1", "L1 only"):
        explorer.slider.value = label
        assert explorer.shown == label
        pictures[label] = digest(explorer.png)
    assert len(set(pictures.values())) == 3


def test_lambda_explorer_without_terms_and_with_a_start_value():
    generated, sources, targets, _ = lambda_runs()
    explorer = widgets.lambda_explorer(generated, sources, targets, value="L1 only")
    assert explorer.shown == "L1 only"
    with pytest.raises(ValueError, match="not one of"):
        widgets.lambda_explorer(generated, sources, targets, value="lambda=7")


def test_lambda_explorer_refuses_bad_inputs():
    generated, sources, targets, terms = lambda_runs()
    with pytest.raises(ValueError, match="dict"):
        widgets.lambda_explorer({}, sources, targets)
    with pytest.raises(ValueError, match="no entry"):
        widgets.lambda_explorer(generated, sources, targets, {"lambda=1": terms["lambda=1"]})
    with pytest.raises(ValueError, match="same number"):
        widgets.lambda_explorer(generated, sources[:1], targets)


def test_lambda_static_figure_has_every_setting():
    generated, sources, targets, terms = lambda_runs()
    fig = widgets.lambda_figure(generated, sources, targets, terms)
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes]
    assert {"source", "target", *generated} <= set(titles)
    assert len(fig.axes) == 2 * (len(generated) + 2) + 1  # image grid + the bars
    assert len(widgets.lambda_figure(generated, sources, targets).axes) == 2 * 5
