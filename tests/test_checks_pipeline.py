"""The checks of notebook 01 (pix2pix_lib.checks.pipeline): the library's pieces pass, a stub
is "not written yet", and wrong pieces written here get the messages a learner needs.

Every catalogued mistake is planted in the course notebook by tests/test_exercises.py; these
tests build their wrong pieces directly, so they run without the notebook.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_failure as failure
from helpers import stub

from pix2pix_lib import data
from pix2pix_lib.checks import pipeline, reference
from pix2pix_lib.checks.core import NOT_WRITTEN
from pix2pix_lib.tf_quiet import tf

# ---------------------------------------------------------------------------------------------
# split_pair and to_float
# ---------------------------------------------------------------------------------------------


def test_the_library_passes_every_check(capsys):
    pipeline.pair_split(reference.split_pair)
    pipeline.scaling(reference.to_float)
    pipeline.jitter(reference.random_jitter)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("\u2713 ") for line in lines)


@pytest.mark.parametrize("check", [pipeline.pair_split, pipeline.scaling, pipeline.jitter])
def test_a_stub_is_not_written_yet(check):
    assert NOT_WRITTEN in failure(check, stub)


def test_split_pair_mistakes_are_named():
    def swapped(pair, direction="AtoB"):
        left, right = data.split_pair(pair, "AtoB")
        return (right, left) if direction == "AtoB" else (left, right)

    def ignores_direction(pair, direction="AtoB"):
        return data.split_pair(pair, "AtoB")

    def by_height(pair, direction="AtoB"):
        half = pair.shape[0] // 2
        return pair[:half], pair[half:]

    def hard_coded(pair, direction="AtoB"):  # right for the 8x16 pair only
        left, right = pair[:, :8], pair[:, 8:16]
        return (left, right) if direction == "AtoB" else (right, left)

    def one_image(pair, direction="AtoB"):
        return pair[:, : pair.shape[1] // 2]

    assert "are swapped" in failure(pipeline.pair_split, swapped)
    assert "use the direction argument" in failure(pipeline.pair_split, ignores_direction)
    assert "cut the width (axis 1)" in failure(pipeline.pair_split, by_height)
    assert "the 5x10 pair" in failure(pipeline.pair_split, hard_coded)
    assert "should return two images" in failure(pipeline.pair_split, one_image)


def test_split_pair_accepts_tensors_and_lists():
    pipeline.pair_split(lambda pair, direction="AtoB": list(data.split_pair(
        tf.constant(pair), direction)))


def test_to_float_mistakes_are_named():
    message = failure(pipeline.scaling, lambda image: image.astype(np.float32) / 255)
    assert "[0, 1]" in message and "0 -> 0 and 255 -> 1" in message
    assert "wraps around" in failure(
        pipeline.scaling, lambda image: (image * 2).astype(np.float32) / 255 - 1)
    assert "float64" in failure(pipeline.scaling, lambda image: image / 127.5 - 1)
    assert "divide by 127.5" in failure(
        pipeline.scaling, lambda image: image.astype(np.float32) / 128 - 1)
    assert "keep the shape" in failure(
        pipeline.scaling, lambda image: image.reshape(-1).astype(np.float32) / 127.5 - 1)


def test_to_float_in_tensorflow_passes(capsys):
    pipeline.scaling(lambda image: tf.cast(image, tf.float32) / 127.5 - 1.0)
    assert capsys.readouterr().out.startswith("\u2713")


# ---------------------------------------------------------------------------------------------
# random_jitter: any random numbers, as long as every output is a right crop
# ---------------------------------------------------------------------------------------------


def jitter_with(*, size_of=data.jitter_size, method="bilinear", corner_per_image=False,
                mirror="both", seed_of=lambda seed: seed, enlarge=True):
    """A hand-written jitter (numpy's generator) with one knob per mistake under test."""

    def random_jitter(source, target, image_size, seed):
        big = size_of(image_size)
        rng = np.random.default_rng(seed_of(seed))
        corner = rng.integers(0, big - image_size + 1, size=2)
        coin = rng.random() < 0.5
        out = []
        for image in (source, target):
            if enlarge:
                image = tf.image.resize(image, [big, big], method=method).numpy()
            if corner_per_image and out:
                corner = rng.integers(0, big - image_size + 1, size=2)
            image = image[corner[0]:corner[0] + image_size, corner[1]:corner[1] + image_size]
            flip = {"both": coin, "source": coin and not out, "never": False, "always": True,
                    "updown": False}[mirror]
            if mirror == "updown" and coin:
                image = image[::-1]
            out.append(image[:, ::-1] if flip else image)
        return tuple(out)

    return random_jitter


def test_a_correct_jitter_with_other_random_numbers_passes(capsys):
    pipeline.jitter(jitter_with())
    pipeline.jitter(jitter_with(seed_of=lambda seed: seed + 1000))
    assert capsys.readouterr().out.count("\u2713") == 2


def test_a_jitter_in_tensorflow_passes(capsys):
    def tf_jitter(source, target, image_size, seed):  # the TF tutorial's way: stack, one crop
        big = data.jitter_size(image_size)
        both = tf.image.resize(tf.stack([source, target]), [big, big])
        both = tf.image.stateless_random_crop(both, [2, image_size, image_size, 3], [seed, 1])
        if tf.random.stateless_uniform([], [seed, 2]) < 0.5:
            both = tf.reverse(both, axis=[2])
        return both[0], both[1]

    pipeline.jitter(tf_jitter)
    assert capsys.readouterr().out.startswith("\u2713")


def test_a_flip_per_image_of_a_stacked_pair_is_named():
    def flips_each(source, target, image_size, seed):  # flip_left_right flips EACH image
        big = data.jitter_size(image_size)
        both = tf.image.resize(tf.stack([source, target]), [big, big])
        both = tf.image.stateless_random_crop(both, [2, image_size, image_size, 3], [seed, 1])
        both = tf.image.stateless_random_flip_left_right(both, [seed, 2])
        return both[0], both[1]

    assert "toss one coin per pair" in failure(pipeline.jitter, flips_each)


@pytest.mark.parametrize(("knobs", "expect"), [
    ({"enlarge": False}, "not enlarged"),
    ({"size_of": lambda size: size + 30}, "enlarged to 62x62"),
    ({"size_of": lambda size: 286}, "enlarged to 286x286"),
    ({"method": "nearest"}, "nearest-neighbour"),
    ({"corner_per_image": True}, "draw the crop's corner once"),
    ({"mirror": "source"}, "toss one coin per pair"),
    ({"mirror": "never"}, "none of 24 seeds"),
    ({"mirror": "always"}, "all 24 seeds gave a mirrored pair"),
    ({"mirror": "updown"}, "upside down"),
    ({"seed_of": lambda seed: 0}, "gave the same crop"),
    ({"seed_of": lambda seed: None}, "depend only on `seed`"),
])
def test_jitter_mistakes_are_named(knobs, expect):
    assert expect in failure(pipeline.jitter, jitter_with(**knobs))


def test_a_crop_that_never_moves_is_named():
    def centre(source, target, image_size, seed):
        big = data.jitter_size(image_size)
        rng = np.random.default_rng(seed)
        offset = (big - image_size) // 2
        images = [tf.image.resize(image, [big, big]).numpy()[offset:offset + image_size,
                                                               offset:offset + image_size]
                  for image in (source, target)]
        return tuple(image[:, ::-1] for image in images) if rng.random() < 0.5 else images

    assert "never moves: it always starts at (row 2, column 2)" in failure(pipeline.jitter,
                                                                            centre)


def test_pipeline_mistakes_cover_every_exercise():
    solutions = {mistake.solution for mistake in pipeline.MISTAKES}
    assert solutions == {"split_pair", "to_float", "random_jitter"}
    assert len(pipeline.MISTAKES) >= 8
