"""The generator outside Python: ONNX and LiteRT (.tflite) files, each checked against Keras.

    PORTABLE_FORMATS     "onnx" (onnxruntime: servers, browsers through onnxruntime-web) and
                         "litert" (the LiteRT interpreter, formerly TensorFlow Lite: phones)
    export_portable      write one format with Keras 3's own `Model.export(format=...)`, run
                         the file through its runtime on a few images and report the parity
    run_portable         the file's output for a float32 NHWC batch, through its runtime
    ParityReport         max / mean absolute difference to Keras, the file's size, pass/fail

Both files hold the generator in conventional inference mode (training=False: no dropout,
BatchNorm on its moving statistics), the deterministic mode every runtime can reproduce; the
paper's test-time mode (dropout on) needs Keras (`generation.generate(..., paper_mode=True)`).

Why parity is checked at write time: a converter can change a model silently (an op lowered
differently, a layout transposed, a dtype narrowed), and a file that loads is not yet a file that
computes the same thing. Outputs live in [-1, 1], where one grey level of an 8-bit image is
2/255 = 0.0078; PARITY_TOLERANCE is far below that, so an export that passes draws the same
picture to the pixel. What was measured is in the README ("Your model outside Python").

The converters are an extra (`pip install 'pix2pix-course[export]'`: tf2onnx for ONNX; the
runtimes onnxruntime and ai-edge-litert): a missing one gives a message saying what to install.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pix2pix_lib.inference import model_geometry
from pix2pix_lib.tf_quiet import keras, quiet_assets_log, stderr_silenced

__all__ = [
    "PARITY_TOLERANCE",
    "PORTABLE_FORMATS",
    "ParityReport",
    "PortableFormat",
    "check_images",
    "export_portable",
    "float32_twin",
    "run_portable",
]

# Largest absolute difference to Keras (outputs in [-1, 1]) an export may show: 1/78 of one
# 8-bit grey level. Float32 runtimes agree far more closely (README: parity table).
PARITY_TOLERANCE = 1e-4
INSTALL_HINT = "pip install 'pix2pix-course[export]' (or: pip install {packages})"


@dataclass(frozen=True)
class PortableFormat:
    """One export format: its file name, Keras' name for it, and the packages it needs."""

    name: str
    file_name: str
    keras_format: str
    runtime: str  # what runs the file, for the report
    modules: tuple[str, ...]  # import names the export and the check need
    packages: tuple[str, ...]  # the PyPI names of those modules


PORTABLE_FORMATS: dict[str, PortableFormat] = {
    "onnx": PortableFormat("onnx", "generator.onnx", "onnx", "onnxruntime",
                           ("tf2onnx", "onnxruntime"), ("tf2onnx", "onnxruntime")),
    "litert": PortableFormat("litert", "generator.tflite", "litert", "LiteRT interpreter",
                             ("ai_edge_litert",), ("ai-edge-litert",)),
}


@dataclass(frozen=True)
class ParityReport:
    """How an exported file's outputs compare with the Keras model's on the same inputs."""

    format: str
    path: str
    size_bytes: int
    images: int
    inputs: str  # where the checked inputs came from ("val images of DIR", "random inputs")
    max_abs: float
    mean_abs: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_abs <= self.tolerance

    def line(self) -> str:
        """One line for the CLI and the notebook."""
        verdict = "ok" if self.ok else f"FAILED (tolerance {self.tolerance:g})"
        return (f"{self.format:6s} {self.path}  {self.size_bytes / 1e6:.1f} MB  vs Keras on "
                f"{self.images} {self.inputs}: max |diff| {self.max_abs:.2e}, mean "
                f"{self.mean_abs:.2e}  {verdict}")

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def _check_format(name: str) -> PortableFormat:
    if name not in PORTABLE_FORMATS:
        raise ValueError(f"format={name!r} is not one of {', '.join(PORTABLE_FORMATS)}.")
    return PORTABLE_FORMATS[name]


def require_packages(fmt: PortableFormat) -> None:
    """ImportError naming what to install when a converter or runtime of `fmt` is missing."""
    missing = [package for module, package in zip(fmt.modules, fmt.packages, strict=True)
               if importlib.util.find_spec(module) is None]
    if missing:
        raise ImportError(
            f"Exporting to {fmt.name} needs {', '.join(missing)}, which is not installed. "
            + INSTALL_HINT.format(packages=" ".join(missing))
        )


_HALF_DTYPES = ("bfloat16", "float16")


def _as_float32_policy(config):
    """A model config with every layer's dtype policy, and every half-precision dtype (an
    Input built under a mixed policy is bfloat16 / float16), set to float32 (recursively)."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and isinstance(config.get("config"), dict):
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: "float32" if key == "dtype" and value in _HALF_DTYPES
                else _as_float32_policy(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_as_float32_policy(value) for value in config]
    return config


def float32_twin(model: keras.Model) -> keras.Model:
    """`model` itself if it computes in float32, else the same network in float32 with the same
    weights. A run trained in mixed bf16 or fp16 keeps float32 weights, so nothing is lost; the
    exported file then runs in float32 on every runtime (few of which have bf16 kernels)."""
    from pix2pix_lib.models import leaf_layers

    if all(layer.compute_dtype == "float32" for layer in leaf_layers(model)):
        return model
    twin = model.__class__.from_config(_as_float32_policy(model.get_config()))
    twin.set_weights(model.get_weights())
    return twin


@contextlib.contextmanager
def _quiet_converters():
    """Keras' tf2onnx shim trips numpy's FutureWarning about `np.object`; not our code, and a
    warning in a notebook cell reads like an error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*np.object.*")
        yield


def _write(model: keras.Model, fmt: PortableFormat, path: Path) -> None:
    try:
        with _quiet_converters(), quiet_assets_log():
            model.export(str(path), format=fmt.keras_format, verbose=False)
    except (ValueError, TypeError) as error:
        if "format" in str(error) and fmt.keras_format in str(error):
            raise ValueError(
                f"This Keras ({keras.__version__}) cannot export format={fmt.keras_format!r}: "
                f"{error}. Upgrade Keras (pip install -U keras) or choose another format."
            ) from error
        raise


def run_portable(path, fmt: str, images: np.ndarray) -> np.ndarray:
    """The exported file's output for `images` (float32 (N, S, S, C) in [-1, 1]), one image at
    a time as a browser or a phone runs it, through the format's own runtime."""
    fmt_info = _check_format(fmt)
    require_packages(fmt_info)
    images = np.asarray(images, dtype=np.float32)
    run = _onnx_runner(Path(path)) if fmt == "onnx" else _litert_runner(Path(path))
    return np.concatenate([run(image[None]) for image in images])


def _onnx_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0]


def _litert_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    with stderr_silenced():  # its "Created TensorFlow Lite XNNPACK delegate" line
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]["index"]
    output = interpreter.get_output_details()[0]["index"]

    def run(batch: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(source, batch)
        interpreter.invoke()
        return interpreter.get_tensor(output).copy()

    return run


def check_images(generator: keras.Model, data_dir=None, count: int = 4, *, seed: int = 0,
                 direction: str = "AtoB") -> tuple[np.ndarray, str]:
    """(inputs, where they came from) for the parity check: the first `count` val sources of
    `data_dir` when given (the images the model is meant for), else `count` uniform random
    inputs in [-1, 1] (a harder test of the arithmetic, no test of realism)."""
    size, channels, _ = model_geometry(generator)
    if data_dir is not None:
        from pix2pix_lib.data import load_pairs_numpy
        from pix2pix_lib.metrics import evaluation_folder
        from pix2pix_lib.pairs import scan_pairs

        folder = evaluation_folder(data_dir)
        paths = scan_pairs(folder, channels=channels)[:count]
        sources, _ = load_pairs_numpy(paths, image_size=size, direction=direction,
                                      channels=channels)
        return sources, f"val images of {folder}"
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(-1, 1, (count, size, size, channels)).astype(np.float32)
    return inputs, "random inputs"


def export_portable(generator: keras.Model, out_dir, fmt: str, inputs: np.ndarray, *,
                    inputs_from: str = "inputs", overwrite: bool = False,
                    tolerance: float = PARITY_TOLERANCE) -> ParityReport:
    """Write `generator` as `fmt` into out_dir and check the file against Keras on `inputs`.

    Keras' output is `generator(inputs, training=False)`, the mode the file holds. Raises
    FileExistsError for an existing file unless overwrite=True, ImportError naming the package
    when a converter is missing, and ValueError when the file's outputs differ from Keras' by
    more than `tolerance` (the file is kept, for inspection, beside a parity.json that says so).
    """
    fmt_info = _check_format(fmt)
    require_packages(fmt_info)
    out_dir = Path(out_dir).expanduser()
    path = out_dir / fmt_info.file_name
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; nothing was written. Pass "
                              "overwrite=True (--overwrite) or choose another folder.")
    model = float32_twin(generator)
    inputs = np.asarray(inputs, dtype=np.float32)
    # computed first: Model.export refuses a model that has never been called
    expected = np.asarray(model(inputs, training=False), dtype=np.float32)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(model, fmt_info, path)
    difference = np.abs(run_portable(path, fmt, inputs) - expected)
    report = ParityReport(fmt, str(path), path.stat().st_size, len(inputs), inputs_from,
                          float(difference.max()), float(difference.mean()), tolerance)
    write_parity(out_dir, report)
    if not report.ok:
        raise ValueError(f"{path} does not compute what the Keras model computes: {report.line()}"
                         ". Please report it with the Keras and converter versions.")
    return report


PARITY_FILE = "parity.json"


def write_parity(out_dir: Path, report: ParityReport) -> None:
    """Add `report` to out_dir/parity.json (one entry per format), so the numbers travel with
    the files they describe."""
    path = out_dir / PARITY_FILE
    entries = json.loads(path.read_text()) if path.is_file() else {}
    entries[report.format] = {**report.to_dict(), "path": Path(report.path).name}
    path.write_text(json.dumps(entries, indent=2) + "\n")
