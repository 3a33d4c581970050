"""Shared fixtures: small datasets made on the fly (tests never download anything).

Plain helper functions (random images, weight snapshots, pair files) are in tests/helpers:
`from helpers import random_pair, snapshot, changed, save_pair`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import HEIGHT, random_uint8, save_pair
from PIL import Image


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


@pytest.fixture
def op_determinism():
    """TensorFlow's deterministic ops for one test (exact-resume comparisons), switched off
    again after it: the rest of the suite runs as a learner's process does."""
    from pix2pix_lib.hardware import deterministic_ops

    with deterministic_ops():
        yield


# The course's own variables, and TF_CONFIG: a learner's shell may set them; a test that wants
# one sets it itself (monkeypatch.setenv).
COURSE_VARIABLES = ("PIX2PIX_PROFILE", "PIX2PIX_DATASET", "PIX2PIX_PRECISION", "TF_CONFIG")


@pytest.fixture(scope="module", autouse=True)
def cpu_machine_without_course_variables():
    """Every test runs as on a CPU-only machine with none of the course's variables set,
    whatever the machine running the suite has (a learner's GPU on Colab, PIX2PIX_PRECISION in
    the shell): the library's one device query (`hardware.gpu_devices`) finds no GPU. A test
    that wants a GPU injects one (`fake_gpus`), one that wants a variable sets it
    (`monkeypatch.setenv`). Module-scoped and autouse, so it is set up before a module's own
    fixtures (a run trained once for several tests see the same machine as the tests), and
    undone after each module: not session-scoped, because the notebooks that nbval runs after
    tests/ must start their kernels with `make test`'s PIX2PIX_PROFILE=smoke (a session-scoped
    version removed it, and nbval ran every notebook in `quick`)."""
    from pix2pix_lib import hardware

    with pytest.MonkeyPatch.context() as patch:
        for name in COURSE_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setattr(hardware, "gpu_devices", lambda: [])
        yield


@pytest.fixture
def fake_gpus(monkeypatch):
    """`fake_gpus(n)`: the library's device query finds n GPUs named "Fake GPU k" (nothing runs
    on them: for the choices made from the device list)."""
    from pix2pix_lib import hardware
    from pix2pix_lib.tf_quiet import tf

    def install(count: int = 1):
        devices = [tf.config.PhysicalDevice(f"/physical_device:GPU:{k}", "GPU")
                   for k in range(count)]
        names = {device.name: f"Fake GPU {k}" for k, device in enumerate(devices)}
        monkeypatch.setattr(hardware, "gpu_devices", lambda: devices)
        monkeypatch.setattr(hardware.tf.config.experimental, "get_device_details",
                            lambda device: {"device_name": names[device.name]})
        return devices

    return install


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    """One folder with 4 bad files and 4 good ones (RGB, grayscale, RGBA, palette)."""
    folder = tmp_path / "mixed"
    save_pair(folder / "good_rgb.jpg")
    good_png = save_pair(tmp_path / "full.png")
    Image.open(good_png).convert("L").save(folder / "good_gray.png")
    Image.open(good_png).convert("RGBA").save(folder / "good_rgba.png")
    Image.open(good_png).convert("P").save(folder / "good_palette.png")
    noise = random_uint8((HEIGHT, 2 * HEIGHT, 3))
    Image.fromarray(noise).save(tmp_path / "noise.png")
    whole = (tmp_path / "noise.png").read_bytes()
    (folder / "bad_truncated.png").write_bytes(whole[: len(whole) // 2])
    (folder / "bad_empty.jpg").write_bytes(b"")
    (folder / "bad_text.png").write_text("this is not an image\n")
    save_pair(folder / "bad_odd_width.png").unlink()
    Image.new("RGB", (70, HEIGHT)).save(folder / "bad_odd_width.png")
    return folder
