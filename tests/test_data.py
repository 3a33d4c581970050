"""Tests for pix2pix_lib.data: loading, jittering and feeding paired images.

Finding, validating and splitting the pair files is tests/test_pairs.py.

Every image is made on the fly in pytest's tmp_path (64x32 pairs: two 32x32 halves), so the
file runs offline in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import BLUE, HEIGHT, RED, make_folder, random_uint8, save_pair
from PIL import Image

from pix2pix_lib import data
from pix2pix_lib.tf_quiet import tf

# --- helpers ---------------------------------------------------------------------------------


def save_twin_noise_pair(path: Path, seed: int = 0, height: int = HEIGHT) -> Path:
    """Two IDENTICAL halves of random noise: any crop or mirror changes them, visibly."""
    half = random_uint8((height, height, 3), seed)
    Image.fromarray(np.concatenate([half, half], axis=1)).save(path)
    return path


@pytest.fixture
def pairs(tmp_path) -> list[Path]:
    return make_folder(tmp_path / "pairs", 5)


@pytest.fixture
def noisy_pairs(tmp_path) -> list[Path]:
    """5 pairs of random noise (different halves): every crop, mirror and resize shows."""
    rng = np.random.default_rng(0)
    paths = []
    for k in range(5):
        noise = rng.integers(0, 256, (HEIGHT, 2 * HEIGHT, 3), dtype=np.uint8)
        paths.append(tmp_path / "noisy" / f"noise_{k}.png")
        paths[-1].parent.mkdir(exist_ok=True)
        Image.fromarray(noise).save(paths[-1])
    return paths


def batches(dataset, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(source.numpy(), target.numpy()) for source, target in dataset.take(count)]


# --- pixels -----------------------------------------------------------------------------------


def test_direction_picks_the_right_half(tmp_path):
    image = data.load_image(save_pair(tmp_path / "pair.png"))
    source, target = data.split_pair(image, "AtoB")
    assert (source == RED).all() and (target == BLUE).all()
    source, target = data.split_pair(tf.constant(image[None]), "BtoA")  # tf, with a batch axis
    assert (source.numpy() == BLUE).all() and (target.numpy() == RED).all()
    with pytest.raises(ValueError, match="AtoB"):
        data.split_pair(image, "left-to-right")


@pytest.mark.parametrize(
    "direction, source_colour, target_colour", [("AtoB", RED, BLUE), ("BtoA", BLUE, RED)]
)
def test_direction_in_the_pipelines(tmp_path, direction, source_colour, target_colour):
    paths = [save_pair(tmp_path / "pair.png")]
    sources, targets = data.load_pairs_numpy(paths, image_size=16, direction=direction)
    train = data.make_train_dataset(paths, image_size=16, batch_size=1, direction=direction)
    ((source, target),) = batches(train, 1)
    for images, colour in [(sources, source_colour), (targets, target_colour)]:
        assert (data.to_uint8(images) == colour).all()
    for images, colour in [(source, source_colour), (target, target_colour)]:
        assert (data.to_uint8(images) == colour).all()


def test_load_image_converts_gray_palette_and_rgba(mixed_folder):
    for name in ("good_gray.png", "good_palette.png", "good_rgba.png", "good_rgb.jpg"):
        assert data.load_image(mixed_folder / name).shape == (HEIGHT, 2 * HEIGHT, 3)
        assert data.load_image(mixed_folder / name, channels=1).shape == (HEIGHT, 2 * HEIGHT, 1)
    with pytest.raises(data.DataError, match="bad_text.png"):
        data.load_image(mixed_folder / "bad_text.png")


def test_to_float_and_to_uint8_round_trip():
    values = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    floats = data.to_float(values)
    assert floats.dtype == np.float32 and floats.min() == -1.0 and floats.max() == 1.0
    np.testing.assert_array_equal(data.to_uint8(floats), values)
    np.testing.assert_array_equal(data.to_uint8(data.to_float(tf.constant(values))).numpy(), values)
    np.testing.assert_array_equal(data.to_uint8(np.array([-3.0, 0.0, 3.0])), [0, 128, 255])


def test_jitter_size_rounds_half_up():
    assert [data.jitter_size(size) for size in (256, 128, 64, 32)] == [286, 143, 72, 36]
    with pytest.raises(ValueError, match="image_size"):
        data.jitter_size(0)


# --- jitter -----------------------------------------------------------------------------------


def test_random_jitter_crops_and_mirrors_both_halves_alike(tmp_path):
    image = data.load_image(save_twin_noise_pair(tmp_path / "twins.png"))
    source, target = data.split_pair(tf.constant(image))
    outputs = set()
    for seed in range(8):
        seed_tensor = tf.constant([seed, 0], tf.int64)
        jittered_source, jittered_target = data.random_jitter(source, target, 32, seed_tensor)
        assert jittered_source.shape == (32, 32, 3) and jittered_source.dtype == tf.uint8
        np.testing.assert_array_equal(jittered_source.numpy(), jittered_target.numpy())
        again, _ = data.random_jitter(source, target, 32, seed_tensor)
        np.testing.assert_array_equal(again.numpy(), jittered_source.numpy())  # stateless
        outputs.add(jittered_source.numpy().tobytes())
    assert len(outputs) > 1  # different seeds: different crops/mirrors
    assert source.numpy().tobytes() not in outputs or len(outputs) > 2  # not all un-jittered


def test_train_pipeline_keeps_source_and_target_aligned(tmp_path):
    paths = [save_twin_noise_pair(tmp_path / f"twins_{k}.png", seed=k) for k in range(3)]
    plain_sources, _ = data.load_pairs_numpy(paths, image_size=32)
    dataset = data.make_train_dataset(paths, image_size=32, batch_size=2, seed=5)
    seen_change = False
    for source, target in batches(dataset, 6):
        np.testing.assert_array_equal(source, target)
        seen_change |= not any(np.array_equal(s, p) for s in source for p in plain_sources)
    assert seen_change


# --- datasets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cache_bytes", [1 << 30, 0], ids=["cached", "from_disk"])
def test_train_dataset_types_shapes_and_range(noisy_pairs, cache_bytes):
    dataset = data.make_train_dataset(
        noisy_pairs, image_size=24, batch_size=3, cache_bytes=cache_bytes
    )
    for spec in dataset.element_spec:
        assert spec.shape == (3, 24, 24, 3) and spec.dtype == tf.float32
    for source, target in batches(dataset, 4):  # 12 samples: more than 2 epochs of 5
        for images in (source, target):
            assert images.shape == (3, 24, 24, 3) and images.dtype == np.float32
            assert images.min() >= -1.0 and images.max() <= 1.0


def test_each_epoch_uses_every_file_once(pairs):
    dataset = data.make_train_dataset(pairs, image_size=8, batch_size=1, jitter=False, seed=3)
    red = [int(data.to_uint8(source[0, 0, 0, 0])) for source, _ in batches(dataset, 15)]
    for epoch in range(3):
        assert sorted(red[5 * epoch : 5 * epoch + 5]) == [0, 40, 80, 120, 160]
    assert red[:5] != red[5:10] or red[5:10] != red[10:15]  # reshuffled per epoch


@pytest.mark.parametrize("cache_bytes", [1 << 30, 0], ids=["cached", "from_disk"])
def test_train_dataset_resumes_exactly(noisy_pairs, cache_bytes):
    def run(start_step, count):
        dataset = data.make_train_dataset(
            noisy_pairs,
            image_size=16,
            batch_size=3,
            seed=7,
            start_step=start_step,
            cache_bytes=cache_bytes,
        )
        return batches(dataset, count)

    full, resumed = run(0, 9), run(3, 6)
    for (source, target), (resumed_source, resumed_target) in zip(full[3:], resumed, strict=True):
        np.testing.assert_array_equal(source, resumed_source)
        np.testing.assert_array_equal(target, resumed_target)
    other_seed = batches(
        data.make_train_dataset(noisy_pairs, image_size=16, batch_size=3, seed=8), 3
    )
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(full, other_seed, strict=False))


def test_cached_and_uncached_pipelines_agree(noisy_pairs):
    def run(cache_bytes):
        return batches(
            data.make_train_dataset(
                noisy_pairs, image_size=16, batch_size=2, cache_bytes=cache_bytes
            ),
            4,
        )

    for cached, uncached in zip(run(1 << 30), run(0), strict=True):
        np.testing.assert_array_equal(cached[0], uncached[0])
        np.testing.assert_array_equal(cached[1], uncached[1])


def test_eval_dataset_is_finite_ordered_and_unjittered(pairs):
    dataset = data.make_eval_dataset(pairs, image_size=16, batch_size=2)
    got = batches(dataset, 10)
    assert [source.shape for source, _ in got] == [(2, 16, 16, 3), (2, 16, 16, 3), (1, 16, 16, 3)]
    red = [int(v) for source, _ in got for v in data.to_uint8(source[:, 0, 0, 0])]
    assert red == [0, 40, 80, 120, 160]
    for source, target in got:
        assert source.dtype == np.float32 and -1.0 <= source.min() and target.max() <= 1.0


def test_one_channel_everywhere(pairs):
    train = data.make_train_dataset(pairs, image_size=16, batch_size=2, channels=1)
    ((source, target),) = batches(train, 1)
    assert source.shape == target.shape == (2, 16, 16, 1)
    evaluation = data.make_eval_dataset(pairs, image_size=16, batch_size=8, channels=1)
    ((source, _),) = batches(evaluation, 1)
    assert source.shape == (5, 16, 16, 1)
    assert data.load_image(pairs[0], channels=1).shape == (HEIGHT, 2 * HEIGHT, 1)
    with pytest.raises(ValueError, match="channels"):
        data.make_train_dataset(pairs, image_size=16, batch_size=2, channels=2)


def test_load_pairs_numpy_shapes(pairs):
    sources, targets = data.load_pairs_numpy(pairs, image_size=20, direction="BtoA")
    assert sources.shape == targets.shape == (5, 20, 20, 3)
    assert sources.dtype == targets.dtype == np.float32
    assert sources.min() >= -1.0 and sources.max() <= 1.0


def test_pipelines_reject_bad_arguments(pairs):
    with pytest.raises(data.DataError, match="no image pairs"):
        data.make_train_dataset([], image_size=16, batch_size=1)
    with pytest.raises(ValueError, match="batch_size"):
        data.make_eval_dataset(pairs, image_size=16, batch_size=0)
    with pytest.raises(ValueError, match="direction"):
        data.make_train_dataset(pairs, image_size=16, batch_size=1, direction="AB")
