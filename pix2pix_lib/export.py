"""Export a trained generator for people without this library.

    export_generator   .keras, a TF SavedModel and a README (format "keras")
    export_run         what `pix2pix export` does: any of the formats of EXPORT_FORMATS for a
                       run folder ("onnx" and "litert" through `portable`, each checked
                       against Keras), and the static web page (`web_page`)

`generator.keras` reloads with `inference.load_generator` (both inference modes); the SavedModel's
`serve` endpoint is the generator in conventional mode (training=False: no dropout, BatchNorm on
its moving statistics), callable from plain TensorFlow. So are the ONNX and LiteRT files.
"""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pix2pix_lib.inference import load_run, model_geometry
from pix2pix_lib.run_folder import GENERATOR_FILE
from pix2pix_lib.tf_quiet import keras, quiet_assets_log

__all__ = ["EXPORT_FORMATS", "README_FILE", "SAVED_MODEL_DIR", "export_generator", "export_run"]

# "keras": generator.keras + SavedModel + README (export_generator); the others: portable.py
EXPORT_FORMATS = ("keras", "onnx", "litert")

SAVED_MODEL_DIR = "saved_model"
README_FILE = "README.txt"

def _readme_text(size: int, in_channels: int, out_channels: int) -> str:
    example = (
        'm = tf.saved_model.load("saved_model"); y = m.serve(x)'
        f"  # x: float32 [N,{size},{size},{in_channels}] in [-1,1]"
    )
    return f"""pix2pix generator, exported by pix2pix_lib.export.export_generator

generator.keras   Keras 3 model: keras.models.load_model("generator.keras", compile=False)
                  or pix2pix_lib.inference.load_generator("generator.keras")
saved_model/      TF SavedModel, usable from plain TensorFlow without this library:

    import tensorflow as tf
    {example}

y is float32 [N,{size},{size},{out_channels}] in [-1,1]. Pixels: x = uint8 / 127.5 - 1 and back
uint8 = round((y + 1) * 127.5). Keep the loaded object `m` in a variable while you use it:
`tf.saved_model.load(...).serve(x)` in one expression fails ("Called a function referencing
variables which have been deleted").

The SavedModel runs the generator in conventional mode (training=False: no dropout, BatchNorm
on its moving statistics, deterministic). The paper's test-time mode (dropout on, BatchNorm on
the batch's statistics) needs the .keras file and
pix2pix_lib.generation.generate(..., paper_mode=True).
Images of another size: resize to {size}x{size} first, or use pix2pix_lib.inference.translate.
"""


def _export_options(model: keras.Model) -> dict:
    """`Model.export`'s arguments: verbose=False where this Keras has it (3.4 and later; older
    releases print the endpoint's signature on stdout, which is harmless)."""
    options = {"format": "tf_saved_model"}
    if "verbose" in inspect.signature(model.export).parameters:
        options["verbose"] = False
    return options


def export_generator(
    generator: keras.Model, out_dir, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write generator.keras, a TF SavedModel (endpoint `serve`) and README.txt into out_dir.

    Two formats for two audiences: .keras for this library and Keras users (both inference
    modes); the SavedModel for anyone with TensorFlow only (conventional mode, training=False).
    Refuses (FileExistsError) to replace an earlier export unless overwrite=True.
    """
    size, in_channels, out_channels = model_geometry(generator)
    out_dir = Path(out_dir).expanduser()
    paths = {
        "keras": out_dir / GENERATOR_FILE,
        "saved_model": out_dir / SAVED_MODEL_DIR,
        "readme": out_dir / README_FILE,
    }
    existing = [path for path in paths.values() if path.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{', '.join(map(str, existing))} already exist(s); nothing was written. Pass "
            "overwrite=True (--overwrite) to replace the export, or choose another folder."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    generator.save(paths["keras"])
    if paths["saved_model"].exists():
        shutil.rmtree(paths["saved_model"])
    with quiet_assets_log():
        generator.export(str(paths["saved_model"]), **_export_options(generator))
    paths["readme"].write_text(_readme_text(size, in_channels, out_channels))
    return paths


def _describe_run(run_dir: Path, config) -> str:
    """The page's line on where its model comes from."""
    trained = f"{config.steps} steps" if config.steps else f"{config.epochs:g} epochs"
    return (f"Generator of the run {run_dir.resolve().name!r}: {config.direction}, "
            f"{config.image_size}x{config.image_size} px, {config.g_filters} base filters, "
            f"{trained}; trained with the pix2pix course (pix2pix_lib).")


def export_run(run_dir, *, out=None, formats: tuple[str, ...] = (), web=None,
               data=None, overwrite: bool = False,
               report: Callable[[str], None] | None = print) -> dict:
    """Export a finished run: `formats` into `out`, and/or the web page into `web`.

    data: a dataset root or folder of pairs; its first val sources are the inputs of the parity
    checks (and the web page's first image). Without it the checks use random inputs and the
    page starts blank. Returns {"paths": {kind: path}, "parity": [ParityReport], "web": WebPage
    or None}. Every check's line goes to `report` as it finishes.
    """
    from pix2pix_lib.data import to_uint8
    from pix2pix_lib.portable import check_images, export_portable

    unknown = [name for name in formats if name not in EXPORT_FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(EXPORT_FORMATS)}.")
    if formats and out is None:
        raise ValueError("formats need an output folder (--out DIR).")
    if not formats and web is None:
        raise ValueError("nothing to export: give formats with --out, and/or --web DIR.")
    run_dir = Path(run_dir).expanduser()
    generator, config = load_run(run_dir)
    say = report or (lambda _line: None)
    result = {"paths": {}, "parity": [], "web": None}
    if "keras" in formats:
        result["paths"].update(export_generator(generator, out, overwrite=overwrite))
    portable = [name for name in formats if name != "keras"]
    inputs, inputs_from = (None, "")
    if portable or web is not None:
        inputs, inputs_from = check_images(generator, data, direction=config.direction,
                                           seed=config.seed)
    for name in portable:
        parity = export_portable(generator, out, name, inputs, inputs_from=inputs_from,
                                 overwrite=overwrite)
        result["paths"][name] = Path(parity.path)
        result["parity"].append(parity)
        say(parity.line())
    if web is not None:
        from pix2pix_lib.web_page import write_web_page

        start = np.asarray(to_uint8(inputs[0])) if data is not None else None
        page = write_web_page(generator, web, inputs, direction=config.direction,
                              about=_describe_run(run_dir, config), inputs_from=inputs_from,
                              start_image=start, overwrite=overwrite)
        result["web"] = page
        result["parity"].append(page.parity)
        say(page.parity.line())
    return result
