"""Training a run: `train` drives `fit` into a run folder and survives being interrupted.

`train` tells its story in four steps: open the run folder (new, or resumed from its last
checkpoint), gather the data, fit in segments of `log_every` steps while `RunMonitor` writes
checkpoints, samples, history.csv and TensorBoard logs, and finish (final checkpoint, sample and
the trained generator). The folder's layout and file formats are `pix2pix_lib.run_folder`'s;
`RunFolder`, `RunError`, `RunInUse` and `history_differences` are importable from here too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pix2pix_lib.checkpointing import Checkpointer
from pix2pix_lib.common import ProgressLine
from pix2pix_lib.config import TrainConfig
from pix2pix_lib.data import (
    load_pairs_numpy,
    make_eval_dataset,
    make_train_dataset,
    to_uint8,
)
from pix2pix_lib.hardware import HardwarePlan, plan_hardware
from pix2pix_lib.pairs import resolve_dataset
from pix2pix_lib.run_folder import (  # noqa: F401 - RunInUse, history_differences re-exported
    RunError,
    RunFolder,
    RunInUse,
    history_differences,
)
from pix2pix_lib.tf_quiet import keras, tf
from pix2pix_lib.trainer import Pix2Pix, build_pix2pix, current_learning_rates

# Fields a resumed run may change: they alter how long it trains or what it writes, not the
# maths of the steps already taken.
RESUMABLE_FIELDS = frozenset({
    "steps", "epochs", "log_every", "checkpoint_every", "checkpoint_minutes", "async_checkpoints",
    "sample_every", "keep_checkpoints", "num_samples", "jit_compile",
})


class TrainingDiverged(RunError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


def _scalar(value) -> float:
    """A logged value as a float (multi-worker logs arrive with shape (1,))."""
    return float(np.asarray(value).reshape(-1)[0])


def tensorboard_available() -> bool:
    """True when the optional `tensorboard` package (needed to write and view logs/) is here."""
    return importlib.util.find_spec("tensorboard") is not None


def sample_grid(sources, generated, targets) -> np.ndarray:
    """One uint8 image: a row per pair, columns source | generated | target."""
    columns = [to_uint8(np.asarray(images)) for images in (sources, generated, targets)]
    columns = [np.repeat(c, 3, axis=-1) if c.shape[-1] == 1 else c[..., :3] for c in columns]
    rows = [np.concatenate([c[i] for c in columns], axis=1) for i in range(len(columns[0]))]
    return np.concatenate(rows, axis=0)


# --------------------------------------------------------------------------------------------
# The callback that writes the run folder while `fit` trains
# --------------------------------------------------------------------------------------------
class RunMonitor(keras.callbacks.Callback):
    """Checkpoints, samples, history.csv and TensorBoard logs at their intervals.

    Checkpoints are `pix2pix_lib.checkpointing`'s: copied at the step, written in the
    background; a failed write is raised here at the next step, which stops `fit`.

    NaN guard: Keras' per-batch logs are running means since the start of the (display) epoch,
    so one NaN/Inf step makes them non-finite until the epoch ends, and every epoch's end is
    checked too. Checking them before each checkpoint therefore never saves a diverged model.
    """

    def __init__(self, run: RunFolder, config: TrainConfig, sample_pairs, history: list[dict],
                 checkpointer: Checkpointer | None = None):
        super().__init__()
        self.run = run
        self.config = config
        self.checkpointer = checkpointer or Checkpointer(run, config)
        self.sample_sources, self.sample_targets = sample_pairs
        self.history = history
        self.step = 0  # counted here: Keras restarts `batch` at 0 every epoch
        self.diverged_at: int | None = None
        # tf.summary needs the optional `tensorboard` package; without it training goes on
        # and the CLI says how to get it.
        self.writer = (tf.summary.create_file_writer(str(run.logs_dir))
                       if tensorboard_available() else None)

    def start_segment(self, first_step: int) -> None:
        self.step = first_step

    def _check_finite(self, step: int, logs) -> bool:
        bad = {k: v for k, v in (logs or {}).items() if not math.isfinite(_scalar(v))}
        if bad and self.diverged_at is None:
            self.diverged_at = step
            self.model.stop_training = True
        return not bad

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        step = self.step
        self.checkpointer.check()  # a background write that failed stops training here
        due_checkpoint = self.checkpointer.due(step)
        due_sample = step % self.config.sample_every == 0
        if (due_checkpoint or due_sample) and not self._check_finite(step, logs):
            return
        if due_checkpoint:
            self.checkpointer.save(step, self.model)
        if due_sample:
            self.write_sample(step)

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.step_counter.numpy())
        if not self._check_finite(step, logs):
            return
        row = {"step": step, **{k: round(_scalar(v), 6) for k, v in logs.items()}}
        row.update({k: f"{v:.3g}" for k, v in current_learning_rates(self.model).items()})
        self.history.append(row)
        self.run.write_history(self.history)
        if self.writer is not None:
            with self.writer.as_default(step=step):
                for key, value in logs.items():
                    tf.summary.scalar(key, _scalar(value))
            self.writer.flush()

    def write_sample(self, step: int) -> Path:
        generated = self.model.generate_preserving_rng(tf.constant(self.sample_sources))
        grid = sample_grid(self.sample_sources, generated.numpy(), self.sample_targets)
        if self.writer is not None:
            with self.writer.as_default(step=step):
                tf.summary.image("samples", grid[None], max_outputs=1)
        return self.run.save_sample(step, grid)


class RunProgress(keras.callbacks.Callback):
    """One progress display for the whole run: step k of the total, the losses, the run's ETA.

    `fit` is called once per log interval (its "epochs" are display intervals, not passes over
    the data), so Keras' own display would print "Epoch 7/30" and an ETA for one interval; this
    one counts the run's steps instead. verbose=1: one line rewritten in place (at most twice a
    second, `common.ProgressLine`); verbose=2: one line per log interval, with the validation
    losses. The ETA is the remaining steps at this process's pace so far, the first step
    (tracing) left out.
    """

    def __init__(self, first_step: int, total: int, verbose: int):
        super().__init__()
        self.step, self.total, self.verbose = first_step, total, verbose
        self.line = ProgressLine()
        self._timed_from: tuple[int, float] | None = None
        self._last_shown = 0.0

    def start_segment(self, first_step: int) -> None:
        self.step = first_step

    def _eta(self) -> str:
        if self._timed_from is None or self.step <= self._timed_from[0]:
            return "ETA --"
        first, since = self._timed_from
        per_step = (time.perf_counter() - since) / (self.step - first)
        minutes, seconds = divmod(round((self.total - self.step) * per_step), 60)
        return f"{per_step * 1000:.0f} ms/step, ETA {minutes}:{seconds:02d}"

    def _text(self, logs) -> str:
        values = "  ".join(f"{key} {_scalar(value):.4g}" for key, value in (logs or {}).items())
        return f"step {self.step}/{self.total}  {values}  ({self._eta()})"

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self._timed_from is None:  # the pace is timed from the end of the first step
            self._timed_from = (self.step, time.perf_counter())
        if self.verbose == 1 and (time.perf_counter() - self._last_shown > 0.5
                                  or self.step == self.total):
            self._last_shown = time.perf_counter()
            self.line.show(self._text(logs))

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose == 2:
            print(self._text(logs), flush=True)

    def on_train_end(self, logs=None):
        if self.step == self.total:
            self.line.end()


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
def fit_segments(start: int, total: int, length: int) -> list[tuple[int, int, int]]:
    """Split steps start..total into `fit` calls of display-epochs `length` steps long.

    Returns (first_step, number_of_epochs, steps_per_epoch) per call: a partial epoch up to the
    next multiple of `length` (only after a resume from an unaligned step), the whole epochs,
    then a partial last one. Keras numbers the epochs from `first_step // length`.
    """
    segments = []
    step = start
    if step % length and step < total:
        first = min(total - step, length - step % length)
        segments.append((step, 1, first))
        step += first
    whole = (total - step) // length
    if whole:
        segments.append((step, whole, length))
        step += whole * length
    if step < total:
        segments.append((step, 1, total - step))
    return segments


def changed_settings(saved: TrainConfig, requested: TrainConfig) -> list[str]:
    """The settings that make `requested` a different training run from `saved` ("name: a ->
    b"); the step count and bookkeeping intervals (RESUMABLE_FIELDS) do not count."""
    return [
        f"{name}: {getattr(saved, name)!r} -> {getattr(requested, name)!r}"
        for name in saved.to_dict()
        if name not in RESUMABLE_FIELDS and getattr(saved, name) != getattr(requested, name)
    ]


def _check_resumable(saved: TrainConfig, requested: TrainConfig) -> None:
    changed = changed_settings(saved, requested)
    if changed:
        raise RunError(
            "A resumed run keeps its configuration; these settings differ from its config.json: "
            + "; ".join(changed)
            + ". Drop them to resume, or start a new run in another --out folder."
        )


@dataclass
class TrainResult:
    run: RunFolder
    model: Pix2Pix
    config: TrainConfig
    start_step: int
    final_step: int
    history: list[dict]
    checkpoint_wait_s: float = 0.0  # how long training waited for checkpoints (copies, writes)


def train(
    config: TrainConfig,
    data,
    out,
    *,
    val_data=None,
    resume: bool = False,
    verbose: int | str = "auto",
    on_bad: str = "raise",
    strategy: tf.distribute.Strategy | None = None,
    callbacks: tuple = (),
) -> TrainResult:
    """Train pix2pix on the pairs in `data` into the run folder `out`.

    `config.steps` (or `config.epochs`) is the *total* to reach: resuming a run that stopped at
    step 20 with steps=30 trains 10 more. With resume=True the run's own config.json is used;
    only the fields in RESUMABLE_FIELDS may differ from it. One training per run folder: a
    folder another process is training into is refused (RunInUse, naming that process).

    Hardware (`pix2pix_lib.hardware`): the strategy is chosen first (several GPUs, or TF_CONFIG
    for several machines), "auto" precision and XLA are resolved for the devices found, and one
    line says what was found and what is used. `config.batch_size` is the global batch, split
    over the replicas. Only the chief writes `out`; other workers write to a scratch folder.
    `callbacks`: extra Keras callbacks for `fit` (e.g. a notebook's live plot, the benchmark).
    """
    plan = _hardware_plan(config, strategy, verbose)
    run = RunFolder(out)
    # Everything that can refuse the run is checked before the run folder is created, so a
    # refused command leaves nothing behind and works as it is once the cause is fixed.
    _check_run_folder(run, config, resume)
    pairs = _training_pairs(config, data, val_data, on_bad)
    # One training per run folder: the chief holds its lock until training ends, however it
    # ends (RunInUse names the process that holds it).
    with run.lock() if plan.is_chief else contextlib.nullcontext():
        writer = _open_or_resume(run, config, resume, plan.is_chief)
        model, start = _model_at_start(config, plan, pairs.total_steps, run if resume else None)
        history = [row for row in run.read_history() if int(row["step"]) <= start]
        checkpointer = Checkpointer(writer, config, last_step=start or None)
        monitor = RunMonitor(writer, config, _sample_pairs(config, pairs), history, checkpointer)
        progress = RunProgress(start, pairs.total_steps, 1 if verbose == "auto" else int(verbose))
        try:
            with progress.line.ended_before_warnings():
                _fit(model, monitor, config, pairs, start, plan.replicas, [progress, *callbacks])
            checkpointer.finish()
            if monitor.diverged_at is not None:
                raise _diverged(run, monitor.diverged_at)
            final = _finish(model, writer, monitor, checkpointer)
        except OSError as error:  # a full disk writing a sample, history.csv, the generator
            _finish_quietly(checkpointer)
            raise _write_failed(writer, model, error) from None
        except BaseException:
            _finish_quietly(checkpointer)  # the write in flight completes: nothing is half-done
            raise
        finally:
            progress.line.end()  # an error message starts on a line of its own
    return TrainResult(run, model, config, start, final, monitor.history, checkpointer.waited_s)


# -- the steps of `train` -----------------------------------------------------------------------
def _hardware_plan(config: TrainConfig, strategy, verbose) -> HardwarePlan:
    """The devices found and what the config's "auto" choices become on them (said in one line)."""
    plan = plan_hardware(config.precision, config.jit_compile, strategy)
    if verbose:
        print(plan.describe())
    if config.batch_size % plan.replicas:
        raise ValueError(
            f"batch_size={config.batch_size} cannot be split over {plan.replicas} replicas; "
            f"use a multiple of {plan.replicas}."
        )
    return plan


def _check_run_folder(run: RunFolder, config: TrainConfig, resume: bool) -> None:
    """Refuse, before anything is written, a folder that cannot hold this run: a new run in a
    folder that holds files, a resume where there is no run or with changed settings."""
    if not resume:
        run.check_new()
        return
    if not run.is_run():
        raise RunError(f"{run.path} holds no run to resume (no config.json); drop --resume.")
    _check_resumable(TrainConfig.load(run.config_path), config)


def _open_or_resume(run: RunFolder, config: TrainConfig, resume: bool,
                    is_chief: bool) -> RunFolder:
    """The folder this process writes: the run folder (created, or opened to resume), or a
    scratch folder for a worker that is not the chief (only the chief writes the run)."""
    if not is_chief:
        writer = RunFolder(Path(tempfile.mkdtemp()) / "worker-run")
        writer.create(config)
        return writer
    if resume:
        run.remove_partial_files()
        config.save(run.config_path)
    else:
        run.create(config)
    return run


@dataclass(frozen=True)
class _Pairs:
    """The pair files a run trains and validates on, and the step count they make."""

    train: list[Path]
    val: list[Path]
    total_steps: int


def _training_pairs(config: TrainConfig, data, val_data, on_bad: str) -> _Pairs:
    train_paths, val_paths = resolve_dataset(
        data, val_data, seed=config.seed, val_fraction=config.val_fraction, on_bad=on_bad,
        channels=config.channels,
    )
    train_paths = train_paths[: config.max_train_pairs]
    val_paths = val_paths[: config.max_val_pairs]
    if not val_paths:  # a flat folder too small to split: show samples of training pairs
        warnings.warn(f"{data}: no validation pairs; sample grids show training pairs and no "
                      "val_ metrics are computed. Add a val/ folder for an honest measure.",
                      stacklevel=3)  # point at train()'s caller
    return _Pairs(train_paths, val_paths, config.total_steps(len(train_paths)))


def _model_at_start(config: TrainConfig, plan: HardwarePlan, total_steps: int,
                    resumed: RunFolder | None) -> tuple[Pix2Pix, int]:
    """A new model, restored from `resumed`'s last checkpoint if there is one; and its step."""
    with plan.strategy.scope():
        keras.utils.set_random_seed(config.seed)
        model = build_pix2pix(config, total_steps, precision=plan.precision,
                              jit_compile=plan.jit_compile, replicas=plan.replicas)
    if resumed is None:
        return model, 0
    start, _ = resumed.restore_latest(model, warn=lambda text: warnings.warn(text, stacklevel=4))
    return model, start


def _sample_pairs(config: TrainConfig, pairs: _Pairs):
    """The fixed pairs every sample grid shows: val pairs, else training pairs."""
    return load_pairs_numpy(
        (pairs.val or pairs.train)[: config.num_samples], image_size=config.image_size,
        direction=config.direction, channels=config.channels,
    )


def _fit(model: Pix2Pix, monitor: RunMonitor, config: TrainConfig, pairs: _Pairs, start: int,
         replicas: int, callbacks) -> None:
    """Train from `start` to the total, one `fit` call per segment (see `fit_segments`);
    stops early when the monitor saw a loss diverge. Keras' own display stays off: the
    `RunProgress` among `callbacks` shows the whole run."""
    val_dataset = _eval_dataset(pairs.val, config, replicas)
    for first_step, epochs, steps_per_epoch in fit_segments(start, pairs.total_steps,
                                                            config.log_every):
        for callback in (monitor, *callbacks):
            if hasattr(callback, "start_segment"):
                callback.start_segment(first_step)
        dataset = _sharded(make_train_dataset(
            pairs.train, image_size=config.image_size, batch_size=config.batch_size,
            direction=config.direction, channels=config.channels, seed=config.seed,
            start_step=first_step,
        ))
        epoch0 = first_step // config.log_every
        model.fit(
            dataset, initial_epoch=epoch0, epochs=epoch0 + epochs,
            steps_per_epoch=steps_per_epoch, validation_data=val_dataset,
            callbacks=[monitor, *callbacks], verbose=0, shuffle=False,
        )
        if monitor.diverged_at is not None:
            return


def _diverged(run: RunFolder, step: int) -> TrainingDiverged:
    return TrainingDiverged(
        f"A loss became NaN or infinite by step {step}; training stopped. "
        f"{run.last_checkpoint_note()} Try a lower learning rate or precision='fp32'."
    )


def _finish(model: Pix2Pix, writer: RunFolder, monitor: RunMonitor,
            checkpointer: Checkpointer) -> int:
    """The last step's checkpoint and sample (unless written already) and the generator; every
    file is complete on disk when this returns."""
    final = int(model.step_counter.numpy())
    if checkpointer.last_step != final:
        checkpointer.save(final, model)
    if final % monitor.config.sample_every:
        monitor.write_sample(final)
    writer.save_generator(model.generator)
    checkpointer.finish()
    return final


def _finish_quietly(checkpointer: Checkpointer) -> None:
    """Wait for the write in flight while another error is on its way out (it wins)."""
    with contextlib.suppress(Exception):
        checkpointer.finish()


def _write_failed(run: RunFolder, model: Pix2Pix, error: OSError) -> RunError:
    return RunError(f"Training stopped at step {int(model.step_counter.numpy())}: could not "
                    f"write {error.filename or 'a file'}: {error.strerror or error}. "
                    f"{run.last_checkpoint_note()} Fix the cause (free some disk space?) and "
                    "continue with --resume (resume=True).")


def _sharded(dataset, policy=tf.data.experimental.AutoShardPolicy.DATA):
    """The dataset with `policy` as its sharding between workers; by default split by element
    (AutoShardPolicy.DATA), as the training data must be.

    Our pipeline is generated from indices, not read from one file per worker: AUTO would
    silently fall back to DATA, FILE fails, and OFF trains every worker on the same samples
    (which is what the val set wants: see `_eval_dataset`).
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    return dataset.with_options(options)


def _eval_dataset(val_paths, config: TrainConfig, replicas: int):
    """The val pairs scored at each log interval; with several replicas, full batches only
    (a last batch smaller than the number of replicas cannot be split)."""
    if not val_paths:
        return None
    dataset = make_eval_dataset(
        val_paths, image_size=config.image_size, batch_size=config.batch_size,
        direction=config.direction, channels=config.channels,
    )
    if replicas > 1:
        if len(val_paths) < config.batch_size:
            return None
        batches = len(val_paths) // config.batch_size
        dataset = dataset.unbatch().batch(config.batch_size, drop_remainder=True)
        # unbatch() forgets the length; Keras needs it to tell the end of val from a failure
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    # Not sharded: every worker scores the whole (small) val set, so the means are the same and
    # Keras' expected number of val batches holds on each worker.
    return _sharded(dataset, tf.data.experimental.AutoShardPolicy.OFF)
