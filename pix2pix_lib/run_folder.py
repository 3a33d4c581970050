"""Run folders: where a training run keeps everything, and how it survives being interrupted.

    RUN/config.json          the TrainConfig (written once, when the run starts)
    RUN/checkpoints/         step-00000500.npz ... the last `keep_checkpoints` of them
    RUN/samples/             step-00000500.png: source | generated | target for fixed val pairs
    RUN/history.csv          one row every `log_every` steps, with a `step` column
    RUN/logs/                TensorBoard scalars and sample images
    RUN/generator.keras      the trained generator, written when the run reaches its last step
    RUN/translated/          your own images translated with it (notebook 06), saved on request

`RunFolder` is the one place that knows this layout: every other module (training, inference,
figures, the CLI) asks it for a path. Every file is written under a temporary name and renamed
into place (`common.write_atomically`), so a run killed at any moment (even SIGKILL) leaves only
complete files; it loses at most the steps since its last checkpoint. A checkpoint holds
*every* variable of both networks, both optimizers and the dropout random-number state, plus
the step; the data pipeline is a pure function of (seed, step)
(`pix2pix_lib.data.make_train_dataset`), so a resumed run continues exactly where the
uninterrupted run would have been (`pix2pix_lib.runs.train`).

This module imports no TensorFlow: it reads and writes the variables it is handed as numpy
arrays, so reading a run's config or history is instant.
"""

from __future__ import annotations

import csv
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from pix2pix_lib.common import TMP_PREFIX, write_atomically
from pix2pix_lib.config import TrainConfig

if TYPE_CHECKING:
    from pix2pix_lib.trainer import Pix2Pix

__all__ = ["GENERATOR_FILE", "RunError", "RunFolder"]

GENERATOR_FILE = "generator.keras"  # also the name `inference.export_generator` writes
_CHECKPOINT = re.compile(r"^step-(\d{8})\.npz$")


class RunError(RuntimeError):
    """A run folder cannot be used as asked (exists, missing, corrupt, diverged)."""


@dataclass
class RunFolder:
    """Paths and file formats of one run folder (no TensorFlow state lives here)."""

    path: Path

    def __post_init__(self):
        self.path = Path(self.path)

    config_path = property(lambda self: self.path / "config.json")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    samples_dir = property(lambda self: self.path / "samples")
    logs_dir = property(lambda self: self.path / "logs")
    history_path = property(lambda self: self.path / "history.csv")
    generator_path = property(lambda self: self.path / GENERATOR_FILE)
    # your own images translated in notebook 06's upload widget, saved on request
    translations_dir = property(lambda self: self.path / "translated")

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints_dir / f"step-{step:08d}.npz"

    def sample_path(self, step: int) -> Path:
        return self.samples_dir / f"step-{step:08d}.png"

    def is_run(self) -> bool:
        return self.config_path.exists()

    def remove_partial_files(self) -> None:
        """Delete temporary files a killed process left mid-write (never a complete file)."""
        for partial in self.path.rglob(TMP_PREFIX + "*"):
            partial.unlink(missing_ok=True)

    def check_new(self) -> None:
        """Refuse (RunError) a folder that already holds anything: a new run starts empty."""
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"{self.path} is a file, not a folder; choose another --out folder.")
        if self.path.exists() and any(self.path.iterdir()):
            what = "a training run" if self.is_run() else "files"
            raise RunError(
                f"{self.path} already holds {what}; nothing was overwritten. Continue that run "
                f"with --resume (resume=True), or choose another --out folder."
            )

    def create(self, config: TrainConfig) -> None:
        """Start a new run here; refuse to touch a folder that already holds anything."""
        self.check_new()
        for folder in (self.path, self.checkpoints_dir, self.samples_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        config.save(self.config_path)

    # -- checkpoints --------------------------------------------------------------------------
    def checkpoints(self) -> list[tuple[int, Path]]:
        """(step, path) of every complete checkpoint, oldest first."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = []
        for path in self.checkpoints_dir.iterdir():
            match = _CHECKPOINT.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def checkpoint_arrays(self, step: int, model: Pix2Pix) -> dict[str, np.ndarray]:
        """Every variable a step reads and writes, and the step, copied to host memory.

        The copy is what training waits for; `write_checkpoint` can then run in the background
        (`pix2pix_lib.checkpointing`) while the variables change.
        """
        arrays = {}
        for group, variables in _checkpointed_variables(model).items():
            for index, variable in enumerate(variables):
                # numpy() is a snapshot: TensorFlow copies a variable's buffer before updating
                # it in place while anything else holds it (tests/test_checkpoints.py checks)
                arrays[f"{group}/{index:05d}"] = variable.numpy()
        arrays["meta/step"] = np.asarray(step, dtype=np.int64)
        return arrays

    def write_checkpoint(self, step: int, arrays: dict[str, np.ndarray], keep: int) -> Path:
        """Write `checkpoint_arrays`' copy atomically; then keep only the last `keep`.

        Older checkpoints are deleted only after the new one is complete, so a failed write
        (a full disk) leaves every earlier checkpoint as it was.
        """
        path = self.checkpoint_path(step)

        def write(tmp):
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

        write_atomically(path, write)
        for _, old in self.checkpoints()[:-keep]:
            old.unlink(missing_ok=True)
        return path

    def save_checkpoint(self, step: int, model: Pix2Pix, keep: int) -> Path:
        """Copy and write a checkpoint now (training waits for the disk); keeps the last `keep`."""
        return self.write_checkpoint(step, self.checkpoint_arrays(step, model), keep)

    def restore_checkpoint(self, path: Path, model: Pix2Pix) -> int:
        """Load every variable saved by save_checkpoint; returns the step it was taken at.

        A file that cannot be read (truncated, corrupt, not a checkpoint) or that belongs to
        another configuration is a RunError naming it; the model is left unchanged then, since
        everything is read and checked before the first variable is assigned.
        """
        arrays = _read_checkpoint(path)
        pending = []
        for group, variables in _checkpointed_variables(model).items():
            saved = sorted(key for key in arrays if key.startswith(group + "/"))
            if len(saved) != len(variables):
                raise RunError(
                    f"{path}: holds {len(saved)} {group} variables, the model has "
                    f"{len(variables)}; it belongs to a run with another configuration."
                )
            for key, variable in zip(saved, variables, strict=True):
                if tuple(arrays[key].shape) != tuple(variable.shape):
                    raise RunError(
                        f"{path}: {group} variable {variable.path} has shape "
                        f"{arrays[key].shape} there, {tuple(variable.shape)} in the model."
                    )
                pending.append((variable, arrays[key]))
        for variable, value in pending:
            variable.assign(value)
        return int(arrays["meta/step"])

    def last_checkpoint_note(self) -> str:
        """One sentence for messages that stop a run: which checkpoint `--resume` would use."""
        kept = self.checkpoints()
        if not kept:
            return "No checkpoint was written."
        return f"The last good checkpoint is step {kept[-1][0]} ({kept[-1][1]})."

    def restore_latest(self, model: Pix2Pix, warn=None) -> tuple[int, Path | None]:
        """Restore the newest checkpoint that can be used; (its step, its path), or (0, None)
        when the run has no checkpoint yet.

        An unusable newest checkpoint (truncated by a crash of the machine, corrupt, from
        another configuration) is named through `warn` and the one before it is tried. When
        checkpoints exist but none can be used, one RunError lists them all.
        """
        problems = []
        for _, path in reversed(self.checkpoints()):
            try:
                step = self.restore_checkpoint(path, model)
            except RunError as error:
                problems.append(str(error))
                if warn is not None:
                    warn(f"{error} Trying the checkpoint before it.")
                continue
            return step, path
        if problems:
            raise RunError(
                f"No checkpoint in {self.checkpoints_dir} can be used:\n" + "\n".join(problems)
                + "\nStart a new run in another --out folder (or delete these files to start "
                "this run again from step 0)."
            )
        return 0, None

    # -- history, samples ---------------------------------------------------------------------
    def read_history(self) -> list[dict[str, str]]:
        """history.csv's rows as strings (none yet: an empty list)."""
        if not self.history_path.exists():
            return []
        with open(self.history_path, newline="") as handle:
            return list(csv.DictReader(handle))

    def write_history(self, rows: list[dict]) -> None:
        columns = ["step"] + sorted({key for row in rows for key in row} - {"step"})

        def write(tmp):
            with open(tmp, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)

        write_atomically(self.history_path, write)

    def samples(self) -> list[Path]:
        """The sample grids written so far, oldest first."""
        return sorted(self.samples_dir.glob("step-*.png"))

    def save_sample(self, step: int, grid: np.ndarray) -> Path:
        path = self.sample_path(step)
        write_atomically(path, lambda tmp: Image.fromarray(grid).save(tmp, format="PNG"))
        return path

    def save_generator(self, generator) -> Path:
        """The trained generator as a Keras file (`inference.load_run` reads it back)."""
        return write_atomically(self.generator_path, generator.save)


def _read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """Every array of a checkpoint file, or a RunError saying why it cannot be read."""
    if not zipfile.is_zipfile(path):  # a .npz is a zip archive; its directory is at the end
        raise RunError(f"{path} is incomplete or not a checkpoint (no zip directory at its "
                       "end: a write cut short, or another file).")
    try:
        with np.load(path) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise RunError(f"{path} cannot be read ({error or type(error).__name__}).") from None
    if "meta/step" not in arrays:
        raise RunError(f"{path} is not a pix2pix checkpoint (it has no meta/step).")
    return arrays


def _checkpointed_variables(model: Pix2Pix) -> dict[str, list]:
    """Everything a step reads and writes: weights, BN statistics, RNG states, optimizer slots."""
    return {
        "generator": list(model.generator.variables),
        "discriminator": list(model.discriminator.variables),
        "g_optimizer": list(model.g_optimizer.variables),
        "d_optimizer": list(model.d_optimizer.variables),
        "counters": [model.step_counter],
    }
