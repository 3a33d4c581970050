"""ONNX and LiteRT exports: each file run through its own runtime agrees with Keras, and the
ways an export can go wrong give a clear message."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from pix2pix_lib import portable
from pix2pix_lib.cli import main
from pix2pix_lib.config import profile
from pix2pix_lib.models import leaf_layers
from pix2pix_lib.portable import PARITY_TOLERANCE, check_images, export_portable, run_portable
from pix2pix_lib.trainer import build_generator, precision_policy

pytest.importorskip("onnxruntime", reason="pip install -e '.[export]' installs the runtimes")
pytest.importorskip("ai_edge_litert", reason="pip install -e '.[export]' installs the runtimes")


@pytest.fixture(scope="module")
def generator():
    """A smoke-sized U-Net with moving statistics that are not the initial 0 / 1, so a
    converter that dropped or mis-folded BatchNorm would show."""
    model = build_generator(profile("smoke"))
    rng = np.random.default_rng(1)
    for variable in model.variables:
        if "moving_mean" in variable.path:
            variable.assign(rng.normal(0, 0.1, variable.shape).astype(np.float32))
        elif "moving_variance" in variable.path:
            variable.assign(rng.uniform(0.5, 2.0, variable.shape).astype(np.float32))
    return model


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
def test_export_matches_keras_through_its_runtime(generator, fmt, tmp_path):
    inputs, where = check_images(generator, count=3)
    report = export_portable(generator, tmp_path, fmt, inputs, inputs_from=where)
    assert report.ok and report.max_abs <= PARITY_TOLERANCE and report.images == 3
    # independently of the report: the runtime's output is Keras' conventional inference
    others = np.random.default_rng(5).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    expected = generator(others, training=False).numpy()
    np.testing.assert_allclose(run_portable(report.path, fmt, others), expected,
                               atol=PARITY_TOLERANCE, rtol=0)
    assert report.size_bytes == (tmp_path / portable.PORTABLE_FORMATS[fmt].file_name).stat().st_size
    saved = json.loads((tmp_path / portable.PARITY_FILE).read_text())[fmt]
    assert saved["max_abs"] == report.max_abs and saved["ok"]
    assert "max |diff|" in report.line() and "MB" in report.line()


def test_a_mixed_precision_generator_is_exported_in_float32(tmp_path):
    with precision_policy("bf16"):
        mixed = build_generator(profile("smoke"))
    twin = portable.float32_twin(mixed)
    assert {layer.compute_dtype for layer in leaf_layers(twin)} == {"float32"}
    assert all(np.array_equal(a, b) for a, b in zip(twin.get_weights(), mixed.get_weights(),
                                                     strict=True))
    inputs, _ = check_images(mixed, count=2)
    report = export_portable(mixed, tmp_path, "onnx", inputs)
    assert report.ok  # against the float32 twin: the file computes in float32


def test_a_file_that_computes_something_else_is_refused(generator, tmp_path, monkeypatch):
    real = portable.run_portable
    monkeypatch.setattr(portable, "run_portable",
                        lambda *args: real(*args) + 10 * PARITY_TOLERANCE)
    inputs, _ = check_images(generator, count=1)
    with pytest.raises(ValueError, match="does not compute what the Keras model computes"):
        export_portable(generator, tmp_path, "onnx", inputs)
    assert not json.loads((tmp_path / portable.PARITY_FILE).read_text())["onnx"]["ok"]


def test_export_errors_say_what_to_do(generator, tmp_path, monkeypatch):
    inputs, _ = check_images(generator, count=1)
    with pytest.raises(ValueError, match="is not one of onnx, litert"):
        export_portable(generator, tmp_path, "coreml", inputs)
    (tmp_path / "generator.onnx").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_portable(generator, tmp_path, "onnx", inputs)
    assert (tmp_path / "generator.onnx").read_bytes() == b"mine"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf2onnx" else real_find_spec(name, *a))
    with pytest.raises(ImportError, match=r"needs tf2onnx.*pix2pix-course\[export\]"):
        export_portable(generator, tmp_path / "new", "onnx", inputs)


def test_check_images_are_val_sources_when_data_is_given(generator, tiny_maps):
    inputs, where = check_images(generator, tiny_maps, count=2)
    assert inputs.shape == (2, 64, 64, 3) and "val images" in where
    assert inputs.min() >= -1 and inputs.max() <= 1


@pytest.fixture(scope="module")
def map_to_photo_run(tiny_maps, tmp_path_factory):
    run = tmp_path_factory.mktemp("portable") / "run"
    assert main(["train", "--data", str(tiny_maps), "--profile", "smoke", "--steps", "2",
                 "--out", str(run), "--quiet", "--set", "direction=BtoA",
                 "--precision", "fp32"]) == 0
    return run


def test_cli_exports_every_format_and_prints_the_checks(map_to_photo_run, tiny_maps, tmp_path,
                                                        capsys):
    out = tmp_path / "exp"
    assert main(["export", "--run", str(map_to_photo_run), "--out", str(out), "--format",
                 "keras", "onnx", "litert", "--data", str(tiny_maps)]) == 0
    printed = capsys.readouterr().out
    assert {path.name for path in out.iterdir()} >= {
        "generator.keras", "saved_model", "generator.onnx", "generator.tflite", "parity.json"}
    assert printed.count("vs Keras on 4 val images") == 2 and printed.count(" ok") >= 2
    assert main(["export", "--run", str(map_to_photo_run), "--out", str(out), "--format",
                 "onnx"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", "--run", str(map_to_photo_run), "--out", str(out), "--format",
                 "tfjs"]) == 1
    assert "unknown format(s) tfjs" in capsys.readouterr().err
    assert main(["export", "--run", str(map_to_photo_run)]) == 1
    assert "nothing to export" in capsys.readouterr().err
