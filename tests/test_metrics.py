"""Metrics and baselines: each number checked against a hand computation in numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import random_uint8

from pix2pix_lib.config import TrainConfig
from pix2pix_lib.data import DataError, to_float
from pix2pix_lib.metrics import (
    MAP_TOLERANCE,
    baseline_identity,
    baseline_mean_target,
    evaluate,
    evaluate_run,
    evaluate_with_baselines,
    format_report,
    image_metrics,
    log_power_spectra,
    map_accuracy_per_image,
    psnr_per_image,
    spectral_distance,
)
from pix2pix_lib.models import unet_generator
from pix2pix_lib.tf_quiet import keras, tf

SIZE = 16  # tf.image.ssim needs at least 11 x 11


def _images(seed: int, count: int, size: int = SIZE, channels: int = 3) -> np.ndarray:
    """Random float32 images in [-1, 1] that are exact uint8 levels (as the data pipeline's)."""
    return to_float(random_uint8((count, size, size, channels), seed))


def _dataset(sources: np.ndarray, targets: np.ndarray, batch_size: int) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((sources, targets)).batch(batch_size)


def _identity_model(size: int = SIZE, channels: int = 3) -> keras.Model:
    inputs = keras.Input((size, size, channels))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def _numpy_scores(generated: np.ndarray, targets: np.ndarray, tolerance: int) -> dict:
    """l1, psnr and map accuracy per image, written out in numpy, averaged over images."""
    l1 = np.abs(generated - targets).mean(axis=(1, 2, 3))
    mse = (((generated + 1) / 2 - (targets + 1) / 2) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):  # identical images: +inf, as tf.image.psnr says
        psnr = 10 * np.log10(1.0 / mse)
    levels = lambda x: np.clip(np.round((x + 1) / 2 * 255), 0, 255)  # noqa: E731
    right = (np.abs(levels(generated) - levels(targets)) <= tolerance).all(axis=-1)
    return {"l1": l1.mean(), "psnr": psnr.mean(), "map_accuracy": right.mean(axis=(1, 2)).mean()}


def test_target_against_itself_is_perfect():
    targets = _images(0, 3)
    values = image_metrics(targets, targets)
    np.testing.assert_array_equal(values["l1"].numpy(), 0.0)
    np.testing.assert_allclose(values["ssim"].numpy(), 1.0, atol=1e-6)
    np.testing.assert_array_equal(values["map_accuracy"].numpy(), 1.0)
    assert np.isinf(values["psnr"].numpy()).all()


@pytest.mark.parametrize("paper_mode", [True, False])
def test_identity_generator_on_equal_pairs_is_perfect(paper_mode):
    images = _images(1, 5)
    results = evaluate(_identity_model(), _dataset(images, images, 2), paper_mode=paper_mode)
    assert results["n"] == 5
    assert results["l1"] == 0.0
    assert results["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert results["map_accuracy"] == 1.0
    assert math.isinf(results["psnr"])


def test_a_plain_function_can_be_evaluated():
    sources, targets = _images(2, 3), _images(3, 3)
    results = evaluate(
        lambda source: tf.zeros_like(source) + targets[:1], _dataset(sources, targets, 3)
    )
    expected = _numpy_scores(np.broadcast_to(targets[:1], targets.shape), targets, MAP_TOLERANCE)
    assert results["l1"] == pytest.approx(expected["l1"], rel=1e-5)


def test_psnr_of_a_constant_error_is_10_log10_of_one_over_mse():
    targets = _images(4, 2) * 0.5  # room for the error without clipping
    error = 0.1  # in [0, 1] units, i.e. 0.2 in [-1, 1] units
    psnr = psnr_per_image(targets + 2 * error, targets).numpy()
    np.testing.assert_allclose(psnr, 10 * math.log10(1 / error**2), rtol=1e-4)


def test_map_accuracy_tolerance_boundary():
    """A pixel is right with a difference of exactly MAP_TOLERANCE levels, wrong with one more."""
    target = np.full((1, 1, 4, 3), 100, np.uint8)
    generated = target.copy()
    generated[0, 0, 1, 2] = 100 + MAP_TOLERANCE  # just inside (one channel off)
    generated[0, 0, 2, 0] = 100 - MAP_TOLERANCE - 1  # just outside
    generated[0, 0, 3] = 100 + MAP_TOLERANCE + 1  # every channel outside
    accuracy = map_accuracy_per_image(to_float(generated), to_float(target)).numpy()
    np.testing.assert_allclose(accuracy, [0.5])
    # Generated values between levels are rounded to the level a saved file would hold.
    step = 2 / 255
    just_in = to_float(target) + (MAP_TOLERANCE + 0.4) * step
    just_out = to_float(target) + (MAP_TOLERANCE + 0.6) * step
    assert map_accuracy_per_image(just_in, to_float(target)).numpy()[0] == 1.0
    assert map_accuracy_per_image(just_out, to_float(target)).numpy()[0] == 0.0


def test_identity_baseline_matches_numpy():
    sources, targets = _images(5, 5), _images(6, 5)
    results = baseline_identity(_dataset(sources, targets, 2))
    expected = _numpy_scores(sources, targets, MAP_TOLERANCE)
    for name in ("l1", "psnr", "map_accuracy"):
        assert results[name] == pytest.approx(expected[name], rel=1e-5), name
    ssim = tf.image.ssim((sources + 1) / 2, (targets + 1) / 2, max_val=1.0).numpy().mean()
    assert results["ssim"] == pytest.approx(ssim, rel=1e-5, abs=1e-6)
    assert results["n"] == 5


def test_mean_target_baseline_matches_numpy():
    sources, targets = _images(7, 5), _images(8, 5)
    # A flat map-like region shared by all targets, so the accuracy is not trivially 0.
    targets[:, :8, :8, :] = to_float(np.uint8(200))
    results = baseline_mean_target(_dataset(sources, targets, 2))
    mean = np.broadcast_to(targets.mean(axis=0), targets.shape)
    expected = _numpy_scores(mean, targets, MAP_TOLERANCE)
    for name in ("l1", "psnr", "map_accuracy"):
        assert results[name] == pytest.approx(expected[name], rel=1e-5), name
    assert results["map_accuracy"] >= 0.25


def test_n_counts_images_and_averages_over_images_not_batches():
    """5 images in batches of 2, 2, 1 with different errors: the mean is over the 5 images."""
    targets = np.zeros((5, SIZE, SIZE, 3), np.float32)
    errors = np.array([0.1, 0.1, 0.1, 0.1, 0.9], np.float32)
    sources = targets + errors[:, None, None, None]
    results = baseline_identity(_dataset(sources, targets, 2))
    assert results["n"] == 5
    assert results["l1"] == pytest.approx(errors.mean(), rel=1e-6)  # batch mean would be 0.367


def test_evaluate_with_baselines_rows():
    images = _images(9, 3)
    dataset = _dataset(images, images, 2)
    results = evaluate_with_baselines(_identity_model(), dataset)
    assert set(results) == {"model", "identity", "mean_target"}
    with_l1 = evaluate_with_baselines(_identity_model(), dataset, _identity_model())
    assert set(with_l1) == {"model", "identity", "mean_target", "l1_only"}
    assert with_l1["l1_only"]["l1"] == 0.0


def test_format_report_is_an_aligned_table():
    row = {"l1": 0.1234, "psnr": float("inf"), "ssim": 0.5, "map_accuracy": 0.75,
           "realism": 0.25, "n": 7}
    text = format_report({"model": row, "identity": row, "mean_target": row, "l1_only": row})
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[1:5]] == ["model", "identity", "mean", "L1-only"]
    assert len({len(line) for line in lines[:5]}) == 1  # header and rows equally wide
    assert "L1 (lower is better)" in lines[0] and "map acc." in lines[0]
    assert "realism" in lines[0] and "0.250" in lines[1]
    assert f"{MAP_TOLERANCE}/255" in lines[-2] and "n = 7" in lines[-2]
    assert "inf" in lines[1]


# --- realism: a set-level distance between power spectra, on real (synthetic) maps ----------


@pytest.fixture(scope="module")
def real_maps():
    """Two disjoint sets of 24 synthetic 64 px web maps, the targets the course trains on."""
    from pix2pix_lib.datasets import render_synthetic_pair

    maps = [render_synthetic_pair(size=64, seed=seed)[1] for seed in range(48)]
    return to_float(np.stack(maps[:24])), to_float(np.stack(maps[24:]))


def _gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma + 1)
    taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma**2))
    taps /= taps.sum()
    padded = np.pad(images, [(0, 0), (radius, radius), (radius, radius), (0, 0)], mode="reflect")
    rows = sum(w * padded[:, i:i + images.shape[1]] for i, w in enumerate(taps))
    return sum(w * rows[:, :, i:i + images.shape[2]] for i, w in enumerate(taps))


def test_real_maps_score_about_zero_against_real_maps(real_maps):
    first, second = real_maps
    spectra = log_power_spectra(second)
    assert spectra.shape == (24, 32, 3)
    assert spectral_distance(spectra, spectra) == 0.0
    assert spectral_distance(log_power_spectra(first), spectra) < 0.15


def test_blur_scores_worse_the_wider_it_is(real_maps):
    first, second = real_maps
    real = log_power_spectra(second)
    scores = [spectral_distance(log_power_spectra(_gaussian_blur(first, sigma)), real)
              for sigma in (0.5, 1.0, 2.0, 4.0)]
    assert spectral_distance(log_power_spectra(first), real) < scores[0]
    assert scores == sorted(scores) and len(set(scores)) == 4, scores


def test_the_mean_target_and_speckle_score_worse_than_real_maps(real_maps):
    first, second = real_maps
    real = log_power_spectra(second)
    honest = spectral_distance(log_power_spectra(first), real)
    average = np.broadcast_to(first.mean(axis=0, keepdims=True), first.shape)
    speckled = np.clip(first + np.random.default_rng(0).normal(0, 0.1, first.shape), -1, 1)
    assert spectral_distance(log_power_spectra(average), real) > 3 * honest
    assert spectral_distance(log_power_spectra(speckled), real) > 1.5 * honest


def test_evaluate_reports_realism_for_the_model_and_each_baseline(real_maps):
    first, second = real_maps
    results = evaluate_with_baselines(lambda source: source, _dataset(second, second, 8))
    assert results["model"]["realism"] == pytest.approx(0.0, abs=1e-9)
    assert results["mean_target"]["realism"] > 0.5
    assert all("realism" in values for values in results.values())


# --- evaluate_run: a run folder scored on a dataset root -------------------------------------


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A run folder as `runs.train` leaves it (config.json + generator.keras), untrained."""
    run = tmp_path_factory.mktemp("run")
    TrainConfig(image_size=64, g_filters=8, d_filters=8).save(run / "config.json")
    keras.utils.set_random_seed(0)
    unet_generator(image_size=64, base_filters=8).save(run / "generator.keras")
    return run


def test_evaluate_run_scores_the_val_split(run_folder, tiny_maps):
    results = evaluate_run(run_folder, tiny_maps, paper_mode=False, l1_only_run=run_folder)
    assert set(results) == {"model", "identity", "mean_target", "l1_only"}
    assert {row["n"] for row in results.values()} == {4}  # tiny_maps has 4 val pairs
    assert results["l1_only"]["l1"] == pytest.approx(results["model"]["l1"], rel=1e-6)
    # The synthetic maps' mean target already gets the flat background colour right in places.
    assert results["mean_target"]["l1"] < results["identity"]["l1"]


def test_evaluate_run_refuses_a_root_without_held_out_pairs(run_folder, tiny_maps, tmp_path):
    root = tmp_path / "only-train"
    (root / "train").mkdir(parents=True)
    for path in sorted((tiny_maps / "train").iterdir())[:2]:
        (root / "train" / path.name).write_bytes(path.read_bytes())
    with pytest.raises(DataError, match="no val/ or test/"):
        evaluate_run(run_folder, root)


def test_evaluate_run_refuses_an_incomparable_l1_only_run(run_folder, tiny_maps, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    TrainConfig(image_size=64, direction="BtoA").save(other / "config.json")
    (other / "generator.keras").write_bytes((run_folder / "generator.keras").read_bytes())
    with pytest.raises(ValueError, match="direction: AtoB vs BtoA"):
        evaluate_run(run_folder, tiny_maps, l1_only_run=other)
