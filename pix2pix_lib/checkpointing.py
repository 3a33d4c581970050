"""When a run checkpoints, and writing checkpoints without making training wait.

A checkpoint of the paper-size model is ~0.7 GB (both networks and both Adam states). Written
in the training loop, every write stalls training for as long as the disk takes: seconds on a
quiet disk, tens of seconds on a shared one. So a checkpoint is taken in two parts:

    copy   at the checkpoint step, every variable is copied to host memory (numpy arrays):
           a memory copy, the only part training waits for;
    write  a background thread writes the copy to disk (`RunFolder.write_checkpoint`: a
           temporary name, then an atomic rename) while training goes on.

At most one write is in flight: the next checkpoint's copy waits for the previous write, so at
most one extra copy of the state is held in memory. A kill at any moment leaves the newest
*complete* checkpoint usable; `Checkpointer.finish` waits for the last write, so a finished
`train` has everything on disk. A write that fails (a full disk) stops training at the next
step with one message naming the last good checkpoint, and earlier checkpoints stay intact
(old ones are pruned only after a write succeeds).

When: every `checkpoint_every` steps and/or every `checkpoint_minutes` of wall time, whichever
comes first (either may be None). Steps suit short runs whose checkpoints should fall on the
same steps every time (smoke, quick); minutes suit long runs on hardware of unknown speed
(paper, seed): a GPU does not write every few seconds and a slow CPU does not go an hour
without one.

This module imports no TensorFlow: the state arrives as numpy arrays (`RunFolder`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pix2pix_lib.run_folder import RunError, RunFolder

if TYPE_CHECKING:
    from pix2pix_lib.config import TrainConfig
    from pix2pix_lib.trainer import Pix2Pix

__all__ = ["BackgroundWriter", "CheckpointWriteError", "Checkpointer"]


class CheckpointWriteError(RunError):
    """A checkpoint could not be written (e.g. the disk is full); training stopped."""


class BackgroundWriter:
    """Runs one job at a time in a background thread; a new job waits for the previous one.

    A failed job's exception is kept and raised by `check`, `submit` or `wait` in the caller's
    thread, once. The thread is not a daemon: a Python that exits (Ctrl-C included) first
    completes the write in flight, so no finished copy of the state is thrown away.
    """

    def __init__(self):
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _run(self, job: Callable[[], object]) -> None:
        try:
            job()
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            self._error = error

    def check(self) -> None:
        """Raise the last job's exception, if it failed (each failure is raised once)."""
        error, self._error = self._error, None
        if error is not None:
            raise error

    def wait(self) -> None:
        """Until the job in flight is done; then raise its exception, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.check()

    def submit(self, job: Callable[[], object], name: str = "pix2pix-writer") -> None:
        self.wait()
        self._thread = threading.Thread(target=self._run, args=(job,), name=name)
        self._thread.start()


class Checkpointer:
    """Decides when a run checkpoints and saves its state there (in the background if asked).

    `last_step`: the step of the checkpoint a resumed run started from (not written again).
    `clock` (seconds, monotonic) is a parameter so that tests can drive the minute interval.
    """

    def __init__(self, run: RunFolder, config: TrainConfig, last_step: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.run = run
        self.every = config.checkpoint_every
        self.seconds = None if config.checkpoint_minutes is None else 60 * config.checkpoint_minutes
        self.keep = config.keep_checkpoints
        self.writer = BackgroundWriter() if config.async_checkpoints else None
        self.clock = clock
        self.last_time = clock()
        self.waited_s = 0.0  # time training spent in save/finish: copies, writes, waits
        # the newest checkpoint handed over (written or not); a resumed run's restored one
        self.last_step = last_step

    def due(self, step: int) -> bool:
        """True when `step` is a multiple of checkpoint_every, or checkpoint_minutes have
        passed since the last checkpoint (or since training started)."""
        by_steps = self.every is not None and step % self.every == 0
        by_time = self.seconds is not None and self.clock() - self.last_time >= self.seconds
        return by_steps or by_time

    def save(self, step: int, model: Pix2Pix) -> None:
        """Copy the state now; write it now or in the background."""
        started = time.perf_counter()
        try:
            if self.writer is not None:
                self.writer.wait()  # at most one write in flight, one copy in memory
            arrays = self.run.checkpoint_arrays(step, model)
            self.last_time, self.last_step = self.clock(), step
            if self.writer is None:
                self._write(step, arrays)
            else:
                self.writer.submit(lambda: self._write(step, arrays), name=f"checkpoint-{step}")
        finally:
            self.waited_s += time.perf_counter() - started

    def _write(self, step: int, arrays) -> Path:
        try:
            return self.run.write_checkpoint(step, arrays, self.keep)
        except OSError as error:
            raise self._failed(step, error) from None

    def _failed(self, step: int | None, error: OSError) -> CheckpointWriteError:
        return CheckpointWriteError(
            f"Could not write the checkpoint of step {step} into {self.run.checkpoints_dir}: "
            f"{error.strerror or error}. Training stopped. {self.run.last_checkpoint_note()} "
            "Free some space and continue with --resume (resume=True).")

    def check(self) -> None:
        """Raise a background write's failure (a CheckpointWriteError), if one happened."""
        if self.writer is not None:
            self.writer.check()

    def finish(self) -> None:
        """Wait for the write in flight: after this every checkpoint handed over is on disk."""
        if self.writer is not None:
            started = time.perf_counter()
            try:
                self.writer.wait()
            finally:
                self.waited_s += time.perf_counter() - started
