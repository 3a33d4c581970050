"""What a checkpoint costs a training run: written in the loop vs in the background.

`pix2pix bench --checkpoints` trains the same short run three times, side by side in one
process on the same data and disk:

    end only      one checkpoint, at the last step
    synchronous   a checkpoint every `every` steps, training waits for each write
    background    a checkpoint every `every` steps, copied to memory and written while
                  training goes on (the default, `pix2pix_lib.checkpointing`)

and reports each run's time from the end of its first step (tracing left out) until `train`
returned with every file on disk, and the cost of one checkpoint: the difference to "end only"
divided by the number of extra checkpoints. Disks shared with other machines are noisy: compare
the rows of one report, not numbers from different days.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from pix2pix_lib.common import text_table
from pix2pix_lib.config import TrainConfig, profile
from pix2pix_lib.tf_quiet import keras

__all__ = ["format_checkpoint_report", "run_checkpoint_bench"]

VARIANTS = ("end only", "synchronous", "background")


class _FirstStepEnd(keras.callbacks.Callback):
    """Records when the first training step ended (the clock starts there)."""

    def __init__(self):
        super().__init__()
        self.at: float | None = None

    def on_train_batch_end(self, batch, logs=None):
        if self.at is None:
            self.at = time.perf_counter()


def _variant_config(base: TrainConfig, variant: str, steps: int, every: int) -> TrainConfig:
    checkpoint_every = steps if variant == "end only" else every
    return base.replace(steps=steps, epochs=None, log_every=steps, sample_every=steps,
                        checkpoint_every=checkpoint_every, checkpoint_minutes=None,
                        async_checkpoints=variant == "background", keep_checkpoints=steps,
                        max_val_pairs=2, num_samples=1)


def run_checkpoint_bench(image_size: int = 256, steps: int = 100, every: int = 20,
                         rounds: int = 2, scratch: str | Path | None = None) -> dict:
    """Train `steps` steps three ways (VARIANTS) with the paper's networks at `image_size`,
    `rounds` times in the order A B C, C B A, ... (so that a machine getting slower or faster
    favours no variant); returns each variant's mean seconds, the mean seconds training waited
    inside the checkpointer (copies, writes, waits for a write), and what one extra checkpoint
    adds to both. `scratch`: the folder whose disk is measured (default: the system's
    temporary folder)."""
    from pix2pix_lib.datasets import make_synthetic_maps
    from pix2pix_lib.runs import train

    base = profile("paper", image_size=image_size)
    seconds = {variant: [] for variant in VARIANTS}
    waited = {variant: [] for variant in VARIANTS}
    counts, size = {}, 0
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        data = make_synthetic_maps(Path(folder) / "maps", n_train=8, n_val=2,
                                   size=max(64, image_size))
        for round_ in range(rounds):
            for variant in VARIANTS if round_ % 2 == 0 else VARIANTS[::-1]:
                clock = _FirstStepEnd()
                out = Path(folder) / f"{variant.replace(' ', '-')}-{round_}"
                result = train(_variant_config(base, variant, steps, every), data, out,
                               verbose=0, callbacks=[clock])
                seconds[variant].append(time.perf_counter() - clock.at)
                waited[variant].append(result.checkpoint_wait_s)
                kept = result.run.checkpoints()
                counts[variant], size = len(kept), kept[-1][1].stat().st_size
                shutil.rmtree(out)  # 3.4 GB at 256 px: one run's files at a time
    extra = steps // every - 1  # checkpoints besides the one at the last step
    mean = {variant: statistics.fmean(values) for variant, values in seconds.items()}
    mean_waited = {variant: statistics.fmean(values) for variant, values in waited.items()}
    return {
        "image_size": image_size, "steps": steps, "every": every, "rounds": rounds,
        "checkpoint_mb": size / 1e6, "checkpoints": counts,
        "seconds": mean, "all_seconds": seconds, "waited_s": mean_waited,
        "per_checkpoint_s": {variant: (mean[variant] - mean["end only"]) / extra
                             for variant in VARIANTS[1:]},
        "per_checkpoint_waited_s": {
            variant: (mean_waited[variant] - mean_waited["end only"]) / extra
            for variant in VARIANTS[1:]},
    }


def format_checkpoint_report(result: dict) -> str:
    rows = [("run", "checkpoints", "seconds", "of which waiting", "per extra checkpoint",
             "of which waiting")]
    for variant in VARIANTS:
        cost = result["per_checkpoint_s"].get(variant)
        cost_waited = result["per_checkpoint_waited_s"].get(variant)
        rows.append((variant, str(result["checkpoints"][variant]),
                     f"{result['seconds'][variant]:.1f}", f"{result['waited_s'][variant]:.1f}",
                     "-" if cost is None else f"{cost:+.2f} s",
                     "-" if cost_waited is None else f"{cost_waited:+.2f} s"))
    head = (f"Checkpoint cost: {result['steps']} steps at {result['image_size']} px, paper "
            f"networks, one checkpoint = {result['checkpoint_mb']:.0f} MB; every "
            f"{result['every']} steps vs only at the end. Seconds from the end of step 1 until "
            "train returned with every file on disk (mean of "
            f"{result['rounds']} runs each, in alternating order); waiting: time spent in the "
            "checkpointer (copying the state, writing, waiting for a write)")
    return "\n".join([head, *text_table(rows)])
