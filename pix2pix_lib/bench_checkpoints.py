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
                         scratch: str | Path | None = None) -> dict:
    """Train `steps` steps three ways (VARIANTS) with the paper's networks at `image_size`;
    returns the seconds of each and the seconds one checkpoint adds. `scratch`: the folder
    whose disk is measured (default: the system's temporary folder)."""
    from pix2pix_lib.datasets import make_synthetic_maps
    from pix2pix_lib.runs import train

    base = profile("paper", image_size=image_size)
    seconds, sizes = {}, {}
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        data = make_synthetic_maps(Path(folder) / "maps", n_train=8, n_val=2,
                                   size=max(64, image_size))
        for variant in VARIANTS:
            clock = _FirstStepEnd()
            config = _variant_config(base, variant, steps, every)
            result = train(config, data, Path(folder) / variant.replace(" ", "-"), verbose=0,
                           callbacks=[clock])
            seconds[variant] = time.perf_counter() - clock.at
            kept = result.run.checkpoints()
            sizes[variant] = (len(kept), kept[-1][1].stat().st_size)
    extra = steps // every - 1  # checkpoints besides the one at the last step
    return {
        "image_size": image_size, "steps": steps, "every": every,
        "checkpoint_mb": sizes["end only"][1] / 1e6,
        "checkpoints": {variant: count for variant, (count, _) in sizes.items()},
        "seconds": seconds,
        "per_checkpoint_s": {variant: (seconds[variant] - seconds["end only"]) / extra
                             for variant in VARIANTS[1:]},
    }


def format_checkpoint_report(result: dict) -> str:
    rows = [("run", "checkpoints", "seconds", "per extra checkpoint")]
    for variant in VARIANTS:
        cost = result["per_checkpoint_s"].get(variant)
        rows.append((variant, str(result["checkpoints"][variant]),
                     f"{result['seconds'][variant]:.1f}",
                     "-" if cost is None else f"{cost:+.2f} s"))
    head = (f"Checkpoint cost: {result['steps']} steps at {result['image_size']} px, paper "
            f"networks, one checkpoint = {result['checkpoint_mb']:.0f} MB; every "
            f"{result['every']} steps vs only at the end (seconds from the end of step 1 until "
            "train returned, files on disk)")
    return "\n".join([head, *text_table(rows)])
