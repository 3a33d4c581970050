"""Shared fixtures: small datasets made on the fly (tests never download anything)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_maps(tmp_path_factory):
    """A synthetic maps dataset root (train/ + val/), 64 px per half: cheap to train on."""
    from pix2pix_lib.datasets import make_synthetic_maps

    return make_synthetic_maps(tmp_path_factory.mktemp("maps") / "synthetic", n_train=8, n_val=4,
                               size=64, seed=0)


@pytest.fixture
def mixed_policy(request):
    """Set a mixed-precision global policy for one test (indirect parametrize), always
    restoring float32 so no other test runs under it."""
    from pix2pix_lib.tf_quiet import keras

    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")
