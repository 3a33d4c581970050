"""Run folders: where a training run keeps everything, and how it survives being interrupted.

    RUN/config.json          the TrainConfig (written once, when the run starts)
    RUN/checkpoints/         step-00000500.npz ... the last `keep_checkpoints` of them
    RUN/samples/             step-00000500.png: source | generated | target for fixed val pairs
    RUN/history.csv          one row every `log_every` steps, with a `step` column
    RUN/logs/                TensorBoard scalars and sample images
    RUN/generator.keras      the trained generator, written when the run reaches its last step
    RUN/translated/          your own images translated with it (notebook 06), saved on request
    RUN/training.lock        locked by the process training into the folder (its PID and host)

`RunFolder` is the one place that knows this layout: every other module (training, inference,
figures, the CLI) asks it for a path. Every file is written under a temporary name and renamed
into place (`common.write_atomically`), so a run killed at any moment (even SIGKILL) leaves only
complete files; it loses at most the steps since its last checkpoint. A checkpoint holds
*every* variable of both networks, both optimizers and the dropout random-number state, plus
the step; the data pipeline is a pure function of (seed, step)
(`pix2pix_lib.data.make_train_dataset`), so a resumed run continues exactly where the
uninterrupted run would have been (`pix2pix_lib.runs.train`).

One training at a time: `train` holds `RunFolder.lock()` (an `fcntl.flock` on training.lock)
while it trains, and a second training into the same folder is refused with the first one's
PID. The kernel releases the lock when its process ends in any way (SIGKILL included), so a
killed run resumes with nothing to delete.

This module imports no TensorFlow: it reads and writes the variables it is handed as numpy
arrays, so reading a run's config or history is instant.
"""

from __future__ import annotations

import csv
import math
import os
import re
import socket
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

try:
    import fcntl
except ImportError:  # Windows: no flock; a run folder is not locked there
    fcntl = None

__all__ = ["GENERATOR_FILE", "RunError", "RunFolder", "RunInUse", "RunLock", "checkpoint_names",
           "history_differences", "history_numbers",
           "read_history_csv"]

GENERATOR_FILE = "generator.keras"  # also the name `export.export_generator` writes
LOCK_FILE = "training.lock"
_CHECKPOINT = re.compile(r"^step-(\d{8})\.npz$")
# a checkpoint written before arrays were stored by name: "generator/00012"
_POSITIONAL_NAME = re.compile(r"^\d{5}$")


class RunError(RuntimeError):
    """A run folder cannot be used as asked (exists, missing, corrupt, diverged)."""


class RunInUse(RunError):
    """Another process is training into this run folder."""


class RunLock:
    """This process's hold on a run folder (`RunFolder.lock`); `release` ends it.

    An exclusive `fcntl.flock` on RUN/training.lock, which holds the PID and host of the
    process training. The kernel drops the lock when the file is closed or the process ends,
    however it ends, so a stale lock cannot outlive a killed run; the file stays (deleting it
    while another process waits on it would let two processes hold two different files).
    """

    def __init__(self, path: Path):
        self.path = path
        self._handle = open(path, "a+")  # noqa: SIM115 - held open as long as the lock
        if fcntl is None:
            return
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._handle.seek(0)
            holder = self._handle.read().split()
            self._handle.close()
            raise RunInUse(_in_use_message(path.parent, holder)) from None
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(f"{os.getpid()} {socket.gethostname()}\n")
        self._handle.flush()

    def release(self) -> None:
        if not self._handle.closed:
            self._handle.close()  # closing the only descriptor releases the flock

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()


def _in_use_message(folder: Path, holder: list[str]) -> str:
    if len(holder) >= 2:
        pid, host = holder[0], holder[1]
        who = f"process {pid} on {host}"
        how = (f"stop it (`kill {pid}`, or interrupt the notebook kernel that runs it)"
               if host == socket.gethostname() else f"stop process {pid} on {host}")
    else:
        who, how = "another process", "stop it"
    return (f"{folder} is in use: {who} is training into it. Wait for it to finish or {how}; "
            "then continue with --resume (resume=True). Two trainings in one folder would "
            "write their checkpoints and history.csv over each other.")


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
        if self.path.exists() and any(p.name != LOCK_FILE for p in self.path.iterdir()):
            what = "a training run" if self.is_run() else "files"
            raise RunError(
                f"{self.path} already holds {what}; nothing was overwritten. Continue that run "
                f"with --resume (resume=True), or choose another --out folder."
            )

    def lock(self) -> RunLock:
        """Hold this folder for one training (created if missing); RunInUse when another
        process holds it. Release it with `release()` or a `with` block."""
        self.path.mkdir(parents=True, exist_ok=True)
        return RunLock(self.path / LOCK_FILE)

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

        Each array is stored under its group and its variable's name (`checkpoint_names`), so
        restoring matches names, never positions. The copy is what training waits for;
        `write_checkpoint` can then run in the background (`pix2pix_lib.checkpointing`) while
        the variables change.
        """
        arrays = {}
        for group, named in checkpoint_names(model).items():
            for name, variable in named:
                # numpy() is a snapshot: TensorFlow copies a variable's buffer before updating
                # it in place while anything else holds it (tests/test_checkpoints.py checks)
                arrays[f"{group}/{name}"] = variable.numpy()
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

    def restore_checkpoint(self, path: Path, model: Pix2Pix) -> int:
        """Load every variable of a checkpoint into `model`; returns the step it was taken at.

        Arrays are matched to variables by name (`checkpoint_names`); a checkpoint whose names
        differ from the model's is refused with the first difference named, so a reordered or
        renamed variable can never receive another one's weights. Checkpoints written before
        names were stored (keys "generator/00012") are matched by position, as they were
        written. A file that cannot be read (truncated, corrupt, not a checkpoint) or that
        belongs to another configuration is a RunError naming it; the model is left unchanged
        then, since everything is read and checked before the first variable is assigned.
        """
        arrays = _read_checkpoint(path)
        pending = []
        for group, named in checkpoint_names(model).items():
            stored = {key[len(group) + 1:]: value for key, value in arrays.items()
                      if key.startswith(group + "/")}
            if stored and all(_POSITIONAL_NAME.match(name) for name in stored):
                pairs = _match_by_position(path, group, stored, named)
            else:
                pairs = _match_by_name(path, group, stored, named)
            for name, variable, value in pairs:
                if tuple(value.shape) != tuple(variable.shape):
                    raise RunError(
                        f"{path}: {group} variable {name} has shape {value.shape} there, "
                        f"{tuple(variable.shape)} in the model; it belongs to a run with "
                        "another configuration."
                    )
                pending.append((variable, value))
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
        """history.csv's rows as strings (none yet: an empty list); `history_numbers` parses
        them, `history_differences` compares two runs' histories."""
        return read_history_csv(self.history_path)

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


def read_history_csv(path) -> list[dict[str, str]]:
    """The rows of a history.csv file as strings (no file: an empty list)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def history_numbers(rows) -> list[dict[str, float]]:
    """History rows (`RunFolder.read_history`'s strings, or dicts of numbers) with every value
    as a float; a value that is no number is left out, and so is a row without a step."""
    parsed_rows = []
    for row in rows:
        parsed = {}
        for key, value in row.items():
            try:
                parsed[key] = float(value)
            except (TypeError, ValueError):
                continue
        if "step" in parsed:
            parsed_rows.append(parsed)
    return parsed_rows


# float32 carries ~7 significant digits and history.csv rounds to 6 decimals: two logged means
# of the same steps that differ by a few float32 roundings differ by less than this.
HISTORY_TOLERANCE = 1e-6


def history_differences(first, second, rel_tol: float = HISTORY_TOLERANCE,
                        abs_tol: float = HISTORY_TOLERANCE) -> list[str]:
    """How two histories differ beyond float32 precision: "" -> [] when they match.

    The steps and columns must be the same and every value equal to within `rel_tol`
    (relative) or `abs_tol`. Why not bit for bit: a logged loss is the mean of per-step
    float32 reductions (a mean over every pixel of the batch), computed by multi-threaded CPU
    kernels (oneDNN, Eigen) for which TensorFlow promises no summation order unless op
    determinism is on; and these sums are not on the gradient's path (the gradient of a mean
    needs no sum). So two runs can end with bit-equal weights and a logged mean one float32
    rounding apart (the README's "Tests and CI" has the numbers). Compare weights bit for
    bit; compare logged values with this.
    """
    a, b = history_numbers(first), history_numbers(second)
    if [row["step"] for row in a] != [row["step"] for row in b]:
        return [f"steps {[int(r['step']) for r in a]} != {[int(r['step']) for r in b]}"]
    differences = []
    for row_a, row_b in zip(a, b, strict=True):
        step = int(row_a["step"])
        if row_a.keys() != row_b.keys():
            differences.append(f"step {step}: columns {sorted(row_a)} != {sorted(row_b)}")
            continue
        for key in row_a:
            x, y = row_a[key], row_b[key]
            same = (x == y or (math.isnan(x) and math.isnan(y))
                    or math.isclose(x, y, rel_tol=rel_tol, abs_tol=abs_tol))
            if not same:
                differences.append(f"step {step}: {key} {x!r} != {y!r}")
    return differences


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


def checkpoint_names(model: Pix2Pix) -> dict[str, list[tuple[str, object]]]:
    """Everything a step reads and writes, by group, each variable with its checkpoint name.

    Weights, BatchNorm statistics, the dropout random-number states, both optimizers' slots
    and the step counter. A name depends neither on the order Keras lists the variables in nor
    on how many models the process built before (Keras numbers unnamed objects per process:
    "fused_adam_3", "seed_generator_7"): a layer weight is its path ("up1/conv/kernel"), a
    dropout state its layer's ("up1/dropout/seed_generator_state"), an optimizer variable its
    path without the optimizer's own name ("iteration", "up1_conv_kernel_momentum"; a loss
    scale optimizer's inner one under "inner/").
    """
    return {
        "generator": _network_names(model.generator),
        "discriminator": _network_names(model.discriminator),
        "g_optimizer": _optimizer_names(model.g_optimizer),
        "d_optimizer": _optimizer_names(model.d_optimizer),
        "counters": [("step_counter", model.step_counter)],
    }


def _network_names(network) -> list[tuple[str, object]]:
    seed_states = {}

    def walk(layer, prefix: str) -> None:
        for sublayer in getattr(layer, "layers", None) or ():
            name = prefix + sublayer.name
            state = getattr(getattr(sublayer, "seed_generator", None), "state", None)
            if state is not None:
                seed_states[id(state)] = f"{name}/seed_generator_state"
            walk(sublayer, name + "/")

    walk(network, "")
    return _unique([(seed_states.get(id(v), v.path), v) for v in network.variables])


def _optimizer_names(optimizer) -> list[tuple[str, object]]:
    prefixes = {optimizer.name: ""}
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        prefixes[inner.name] = "inner/"
    named = []
    for variable in optimizer.variables:
        head, _, rest = variable.path.partition("/")
        named.append((prefixes[head] + rest if head in prefixes and rest else variable.path,
                      variable))
    return _unique(named)


def _unique(named: list[tuple[str, object]]) -> list[tuple[str, object]]:
    seen = set()
    for name, _ in named:
        if name in seen:  # two variables under one name could not be told apart on restore
            raise RunError(f"Two variables are both named {name!r}; a checkpoint could not "
                           "tell them apart. Give their layers distinct names.")
        seen.add(name)
    return named


def _match_by_name(path: Path, group: str, stored: dict, named: list) -> list[tuple]:
    wanted = [name for name, _ in named]
    missing = [name for name in wanted if name not in stored]
    unknown = sorted(set(stored) - set(wanted))
    if missing or unknown:
        first = (f"the model's {group} variable {missing[0]!r} is not in it" if missing
                 else f"it holds a {group} variable {unknown[0]!r} the model does not have")
        raise RunError(
            f"{path}: its variables do not match the model's ({first}; {len(missing)} missing, "
            f"{len(unknown)} unknown); it belongs to a run with another configuration or "
            "another version of the code, and is not loaded."
        )
    return [(name, variable, stored[name]) for name, variable in named]


def _match_by_position(path: Path, group: str, stored: dict, named: list) -> list[tuple]:
    """A checkpoint written before names were stored: its arrays in the model's order."""
    if len(stored) != len(named):
        raise RunError(
            f"{path}: holds {len(stored)} {group} variables, the model has {len(named)}; it "
            "belongs to a run with another configuration."
        )
    return [(name, variable, stored[key])
            for key, (name, variable) in zip(sorted(stored), named, strict=True)]
