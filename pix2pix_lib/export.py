"""Export a trained generator for people without this library: .keras, a TF SavedModel, a README.

`generator.keras` reloads with `inference.load_generator` (both inference modes); the SavedModel's
`serve` endpoint is the generator in conventional mode (training=False: no dropout, BatchNorm on
its moving statistics), callable from plain TensorFlow.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import shutil
from pathlib import Path

from pix2pix_lib.inference import model_geometry
from pix2pix_lib.run_folder import GENERATOR_FILE
from pix2pix_lib.tf_quiet import keras

__all__ = ["README_FILE", "SAVED_MODEL_DIR", "export_generator"]

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


@contextlib.contextmanager
def _quiet_assets_log():
    """Drop TensorFlow's "INFO:tensorflow:Assets written to: ..." line while exporting: even
    with verbose=False it reaches stdout and stderr, a red box in a notebook."""
    logger = logging.getLogger("tensorflow")

    def not_assets(record: logging.LogRecord) -> bool:
        return "Assets written to" not in record.getMessage()

    logger.addFilter(not_assets)
    try:
        yield
    finally:
        logger.removeFilter(not_assets)


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
    with _quiet_assets_log():
        generator.export(str(paths["saved_model"]), **_export_options(generator))
    paths["readme"].write_text(_readme_text(size, in_channels, out_channels))
    return paths
