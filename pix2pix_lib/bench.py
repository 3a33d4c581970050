"""Training-throughput benchmark: our step beside the two reference loops, on this machine.

Speeds differ by CPU (an AVX-512 Xeon and an EPYC with avx512_bf16 differ ~1.5x in fp32
matmul peak), so every number that matters is a ratio measured side by side in one process:

* ours      `Pix2Pix.train_step` as `model.fit` runs it (the course's trainer), in its default
            simultaneous update order and in the paper's alternating one (one more D pass);
* textbook  the TF 2 tutorial's loop: a plain `@tf.function` step, two GradientTapes, two
            `apply_gradients` (same architecture, same maths);
* classic   the Keras-2-era recipe (`pix2pix_lib.classic`, the variant where D really trains):
            `generator.predict` + D `train_on_batch` on real and fake + combined `train_on_batch`;
* matmul    this machine's dense matmul throughput (fp32, bf16), the ceiling for convolutions;
* flops     one training step's floating-point work, from the layer shapes and cross-checked
            with TensorFlow's profiler, so each loop's GFLOP/s and share of the peak are known.

Timing: a warm-up window (tracing, caches) is dropped, then the median of several windows of
`steps` steps each. Peak memory is the process's resident high-water mark during each row
(Linux: reset through /proc/self/clear_refs before the row).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pix2pix_lib import hardware
from pix2pix_lib.common import text_table
from pix2pix_lib.config import TrainConfig, profile
from pix2pix_lib.hardware import cpu_has_fast_bf16
from pix2pix_lib.losses import discriminator_loss, generator_loss
from pix2pix_lib.models import leaf_layers
from pix2pix_lib.tf_quiet import keras, tf
from pix2pix_lib.trainer import build_pix2pix


# --------------------------------------------------------------------------------------------
# Machine ceilings
# --------------------------------------------------------------------------------------------
def has_fast_bf16() -> bool:
    """A GPU, or a CPU with bf16 instructions: where the bf16 row is worth measuring."""
    return cpu_has_fast_bf16() or bool(hardware.gpu_devices())


def matmul_gflops(dtype: str = "float32", n: int = 2048, windows: int = 5,
                  calls: int = 4) -> float:
    """Median GFLOP/s of an n x n x n matmul (2 n^3 flops) in `dtype`."""
    a = tf.random.uniform((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)

    @tf.function
    def repeated(x):
        for _ in range(calls):
            x = tf.linalg.matmul(x, a) * tf.cast(1e-3, dtype)
        return x

    repeated(a).numpy()
    rates = []
    for _ in range(windows):
        started = time.perf_counter()
        repeated(a).numpy()
        rates.append(2 * n**3 * calls / (time.perf_counter() - started) / 1e9)
    return statistics.median(rates)


# --------------------------------------------------------------------------------------------
# FLOPs of one step
# --------------------------------------------------------------------------------------------
def forward_flops(model: keras.Model) -> int:
    """Multiply-adds x 2 of every (transposed) convolution of one forward pass, batch 1."""
    total = 0
    for layer in leaf_layers(model):
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            k = np.prod(layer.kernel_size)
            total += 2 * h * w * k * c_in * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            c_in = layer.input.shape[-1]
            total += 2 * h * w * np.prod(layer.kernel_size) * c_in * c_out
    return int(total)


def step_flops(generator: keras.Model, discriminator: keras.Model, batch_size: int) -> dict:
    """Analytic FLOPs per training step (convolutions only; they are >99% of the work).

    A backward pass costs about twice its forward (gradients for weights and for inputs).
    Two-tape step (ours = textbook): G fwd+bwd (3G); D on real and fake (2D); D's tape
    back through both calls (4D); G's tape back through D(fake) to the image, input
    gradients only (1D): 3G + 7D. Alternating (the paper's order): D's step on real and
    fake (2D + 4D), then D again on the fake for G (1D) and back through it (1D): 3G + 8D.
    Classic: predict (G), two D train_on_batch (2 x 3D), combined: G fwd+bwd (3G) and D fwd +
    input gradients (2D): 4G + 8D.
    """
    g, d = forward_flops(generator), forward_flops(discriminator)
    return {
        "generator_forward": g * batch_size,
        "discriminator_forward": d * batch_size,
        "two_tape_step": (3 * g + 7 * d) * batch_size,
        "alternating_step": (3 * g + 8 * d) * batch_size,
        "classic_step": (4 * g + 8 * d) * batch_size,
    }


def profiler_flops(function, *args) -> int | None:
    """TensorFlow's own count (tf.compat.v1.profiler) for a tf.function's graph."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # the v1 profiler logs its own deprecation notice
    try:
        graph = function.get_concrete_function(*args).graph
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        return int(tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops)
    except Exception:  # the profiler is a best-effort cross-check, never a failure
        return None
    finally:
        logger.setLevel(level)


# --------------------------------------------------------------------------------------------
# Loops
# --------------------------------------------------------------------------------------------
def _batch(config: TrainConfig, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (config.batch_size, config.image_size, config.image_size, config.channels)
    return (tf.constant(rng.uniform(-1, 1, shape), tf.float32),
            tf.constant(rng.uniform(-1, 1, shape), tf.float32))


def median_ms(stamps: list[float], steps: int) -> float:
    """Median ms/step over consecutive windows; the first (warm-up) interval is dropped."""
    intervals = np.diff(stamps)[1:]
    return float(np.median(intervals) / steps * 1000)


class _WindowStamps(keras.callbacks.Callback):
    def __init__(self, steps: int):
        super().__init__()
        self.steps, self.stamps = steps, []

    def on_train_begin(self, logs=None):
        self.stamps.append(time.perf_counter())

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.steps == 0:
            self.stamps.append(time.perf_counter())


def time_ours(config: TrainConfig, steps: int, windows: int) -> float:
    """ms/step of Pix2Pix.train_step inside model.fit (progress bar off)."""
    keras.utils.set_random_seed(config.seed)
    model = build_pix2pix(config, 10**6)
    dataset = tf.data.Dataset.from_tensors(_batch(config)).repeat()
    stamps = _WindowStamps(steps)
    model.fit(dataset, steps_per_epoch=steps * (windows + 1), epochs=1, verbose=0,
              callbacks=[stamps], shuffle=False)
    return median_ms(stamps.stamps, steps)


def _losses_fn(config: TrainConfig, generator, discriminator):
    """(source, target) -> (G's total loss, D's loss): the forward pass of a two-tape step."""
    def losses(source, target):
        generated = generator(source, training=True)
        real = discriminator([source, target], training=True)
        fake = discriminator([source, generated], training=True)
        g = generator_loss(fake, generated, target, l1_weight=config.l1_weight,
                           gan_mode=config.gan_mode, gan_weight=config.gan_weight)
        return g.total, discriminator_loss(real, fake, gan_mode=config.gan_mode)

    return losses


def textbook_step(config: TrainConfig):
    """The TF tutorial's loop on our architecture: returns (step function, G, D)."""
    keras.utils.set_random_seed(config.seed)
    model = build_pix2pix(config, 10**6)
    generator, discriminator = model.generator, model.discriminator
    g_opt = keras.optimizers.Adam(config.g_learning_rate, beta_1=config.beta1)
    d_opt = keras.optimizers.Adam(config.d_learning_rate, beta_1=config.beta1)
    losses = _losses_fn(config, generator, discriminator)

    @tf.function
    def step(source, target):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            g, d = losses(source, target)
        g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables
        g_opt.apply_gradients(zip(g_tape.gradient(g, g_vars), g_vars, strict=True))
        d_opt.apply_gradients(zip(d_tape.gradient(d, d_vars), d_vars, strict=True))
        return g, d

    return step, generator, discriminator


def step_breakdown(config: TrainConfig, steps: int, windows: int) -> dict[str, float]:
    """Where a two-tape step's time goes: ms for the forward pass alone (G once, D on real and
    fake, the losses), forward + both tapes' gradients, and the whole step (+ two Adam
    updates). The differences are the backward pass and the optimizer: a profile by phase that
    needs no trace viewer, measured on the same model and batch as the textbook row."""
    step, generator, discriminator = textbook_step(config)
    g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables
    losses = _losses_fn(config, generator, discriminator)

    @tf.function
    def forward(source, target):
        return losses(source, target)

    @tf.function
    def gradients(source, target):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            g, d = losses(source, target)
        return g_tape.gradient(g, g_vars) + d_tape.gradient(d, d_vars)

    batch = _batch(config)
    forward_ms = time_loop(forward, batch, steps, windows)
    gradients_ms = time_loop(gradients, batch, steps, windows)
    step_ms = time_loop(step, batch, steps, windows)
    return {"forward_ms": forward_ms, "backward_ms": gradients_ms - forward_ms,
            "optimizer_ms": step_ms - gradients_ms, "step_ms": step_ms}


def time_loop(step, batch, steps: int, windows: int) -> float:
    stamps = [time.perf_counter()]
    for _ in range(windows + 1):
        for _ in range(steps):
            out = step(*batch)
        np.asarray(tf.nest.flatten(out)[0])  # wait for the window's last step
        stamps.append(time.perf_counter())
    return median_ms(stamps, steps)


def time_classic(config: TrainConfig, steps: int, windows: int) -> float:
    from pix2pix_lib.classic import classic_models, classic_train_step

    keras.utils.set_random_seed(config.seed)
    gan = classic_models(config, freeze_after_compile=False)
    batch = _batch(config)
    source, target = (np.asarray(x) for x in batch)
    return time_loop(lambda s, t: classic_train_step(gan, s, t), (source, target), steps,
                     windows)


def time_train_command(config: TrainConfig, steps: int, windows: int) -> tuple[float, dict]:
    """ms/step of `pix2pix train` itself, with its checkpoints and samples amortised.

    The loop is timed through `runs.train` (real input pipeline from files, the RunMonitor
    callback, validation off the clock); one checkpoint and one sample grid are timed on their
    own and spread over the profile's intervals (`checkpoint_interval_steps`, `sample_every`):
    a checkpoint of the paper-size model is ~0.7 GB, written every 10 minutes, not every 20
    steps. What training waits for is the copy of the state to memory when checkpoints are
    written in the background (the default), the copy and the write otherwise
    (`pix2pix bench --checkpoints` measures the difference in a real run).
    """
    from pix2pix_lib.datasets import make_synthetic_maps
    from pix2pix_lib.runs import train

    total = steps * (windows + 1)
    with tempfile.TemporaryDirectory() as scratch:
        data = make_synthetic_maps(Path(scratch) / "maps", n_train=16, n_val=4,
                                   size=max(64, config.image_size))
        stamps = _WindowStamps(steps)
        run_config = timed_run_config(config, total)
        result = train(run_config, data, Path(scratch) / "run", verbose=0, callbacks=[stamps])
        started = time.perf_counter()
        arrays = result.run.checkpoint_arrays(total + 1, result.model)
        copied = time.perf_counter()
        result.run.write_checkpoint(total + 1, arrays, keep=10)
        copy_s, write_s = copied - started, time.perf_counter() - copied
        sample_s = _time_sample(result, run_config)
    loop_ms = median_ms(stamps.stamps, steps)
    waited_s = copy_s if config.async_checkpoints else copy_s + write_s
    interval = checkpoint_interval_steps(config, loop_ms)
    amortised = 1000 * (waited_s / interval + sample_s / config.sample_every)
    return loop_ms + amortised, {"loop_ms": loop_ms, "checkpoint_s": waited_s,
                                 "checkpoint_copy_s": copy_s, "checkpoint_write_s": write_s,
                                 "checkpoint_interval": interval, "sample_s": sample_s,
                                 "amortised_ms": amortised}


def checkpoint_interval_steps(config: TrainConfig, ms_per_step: float) -> float:
    """Steps between two checkpoints at this pace: `checkpoint_every`, or the steps that fit
    in `checkpoint_minutes`, whichever is fewer (inf when both are off)."""
    intervals = [float("inf")]
    if config.checkpoint_every is not None:
        intervals.append(config.checkpoint_every)
    if config.checkpoint_minutes is not None:
        intervals.append(60_000 * config.checkpoint_minutes / ms_per_step)
    return min(intervals)


def timed_run_config(config: TrainConfig, total: int) -> TrainConfig:
    """The config `time_train_command` trains with: `total` steps in one display epoch, and
    checkpoint and sample intervals past the end, so that no timed window contains one (the
    final checkpoint, sample and validation happen after `fit`'s last batch, off the clock);
    they are timed on their own and amortised over the real intervals instead."""
    return config.replace(steps=total, epochs=None, log_every=total, checkpoint_every=total + 1,
                          checkpoint_minutes=None, sample_every=total + 1, max_val_pairs=4,
                          num_samples=2)


def _time_sample(result, run_config) -> float:
    from pix2pix_lib.runs import RunMonitor

    pairs = (np.zeros((run_config.num_samples, run_config.image_size, run_config.image_size,
                       run_config.channels), np.float32),) * 2
    monitor = RunMonitor(result.run, run_config, pairs, [])
    monitor.set_model(result.model)
    started = time.perf_counter()
    monitor.write_sample(10**7)
    return time.perf_counter() - started


def time_data(config: TrainConfig, batches: int = 200) -> float:
    """Images/s of the training input pipeline alone (decode cache, jitter, batching)."""
    from pix2pix_lib.data import make_train_dataset
    from pix2pix_lib.datasets import make_synthetic_maps

    with tempfile.TemporaryDirectory() as scratch:
        data = make_synthetic_maps(Path(scratch) / "maps", n_train=32, n_val=1,
                                   size=config.image_size)
        paths = sorted((data / "train").iterdir())
        dataset = make_train_dataset(paths, image_size=config.image_size,
                                     batch_size=config.batch_size, seed=0)
        iterator = iter(dataset)
        for _ in range(20):
            next(iterator)
        started = time.perf_counter()
        for _ in range(batches):
            next(iterator)
        return batches * config.batch_size / (time.perf_counter() - started)


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------
def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_gib() -> float | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------
@dataclass
class Row:
    loop: str
    precision: str
    batch_size: int
    ms_per_step: float
    gflop_per_step: float | None = None
    peak_gib: float | None = None
    steps_per_s: float = field(init=False)
    images_per_s: float = field(init=False)

    def __post_init__(self):
        self.steps_per_s = 1000.0 / self.ms_per_step
        self.images_per_s = self.steps_per_s * self.batch_size


def _measured(loop: str, precision: str, batch: int, flops: float | None, timer) -> Row:
    _reset_peak_rss()
    ms = timer()
    return Row(loop, precision, batch, ms, flops and flops / 1e9, _peak_rss_gib())


def run_bench(image_size: int = 256, batch_size: int = 1, steps: int = 5, windows: int = 3,
              large_batch: int = 8, rows: tuple[str, ...] | None = None) -> dict:
    """Every row of the benchmark, measured in this process; returns a JSON-able dict."""
    base = profile("paper", image_size=image_size, batch_size=batch_size, precision="fp32",
                   jit_compile=False)
    wanted = set(rows or ("ours", "alternating", "train", "textbook", "classic", "bf16", "batch",
                          "data", "breakdown"))
    keras.utils.set_random_seed(0)
    probe = build_pix2pix(base, 10)
    flops = step_flops(probe.generator, probe.discriminator, batch_size)
    step, _, _ = textbook_step(base)
    measured_flops = profiler_flops(step, *_batch(base))
    del probe

    peaks = {"fp32": matmul_gflops("float32")}
    if has_fast_bf16():
        peaks["bf16"] = matmul_gflops("bfloat16")
    two_tape = flops["two_tape_step"]
    results: list[Row] = []
    if "ours" in wanted:
        results.append(_measured("ours (fit)", "fp32", batch_size, two_tape,
                                 lambda: time_ours(base, steps, windows)))
    alternating = base.replace(update_order="alternating")
    if "alternating" in wanted:
        results.append(_measured("ours, alternating", "fp32", batch_size,
                                 flops["alternating_step"],
                                 lambda: time_ours(alternating, steps, windows)))
    train_details = {}
    if "train" in wanted:
        def timed_train():
            ms, details = time_train_command(base, steps, windows)
            train_details.update(details)
            return ms

        results.append(_measured("pix2pix train", "fp32", batch_size, two_tape, timed_train))
    if "textbook" in wanted:
        results.append(_measured("textbook tf.function", "fp32", batch_size, two_tape,
                                 lambda: time_loop(step, _batch(base), steps, windows)))
    if "classic" in wanted:
        results.append(_measured("classic train_on_batch", "fp32", batch_size,
                                 flops["classic_step"],
                                 lambda: time_classic(base, steps, windows)))
    if "bf16" in wanted and "bf16" in peaks:
        results.append(_measured("ours (fit)", "bf16", batch_size, two_tape,
                                 lambda: time_ours(base.replace(precision="bf16"), steps,
                                                   windows)))
        if "alternating" in wanted:
            results.append(_measured(
                "ours, alternating", "bf16", batch_size, flops["alternating_step"],
                lambda: time_ours(alternating.replace(precision="bf16"), steps, windows)))
    if "batch" in wanted and large_batch != batch_size:
        results.append(_measured("ours (fit)", "fp32", large_batch,
                                 two_tape / batch_size * large_batch,
                                 lambda: time_ours(base.replace(batch_size=large_batch),
                                                   max(1, steps // 2), windows)))
    data_images_per_s = time_data(base) if "data" in wanted else None
    summary = _summary(image_size, batch_size, peaks, flops, measured_flops, results,
                       data_images_per_s)
    summary["train_command"] = train_details
    if "breakdown" in wanted:
        summary["breakdown"] = _with_rates(step_breakdown(base, steps, windows), flops,
                                           peaks["fp32"])
    return summary


def _with_rates(phases: dict[str, float], flops: dict, peak: float) -> dict:
    """Each phase's ms with its analytic GFLOP and share of the fp32 matmul peak."""
    forward = flops["generator_forward"] + 2 * flops["discriminator_forward"]
    work = {"forward_ms": forward, "backward_ms": flops["two_tape_step"] - forward,
            "optimizer_ms": 0, "step_ms": flops["two_tape_step"]}
    result = {}
    for name, ms in phases.items():
        rate = work[name] / 1e9 / (ms / 1000) if work[name] and ms > 0 else None
        result[name.removesuffix("_ms")] = {
            "ms": ms, "gflop": work[name] / 1e9, "gflop_per_s": rate,
            "share_of_peak": rate / peak if rate and peak else None}
    return result


def _summary(image_size, batch_size, peaks, flops, measured_flops, rows, data_rate) -> dict:
    by_name = {(r.loop, r.precision, r.batch_size): r for r in rows}
    ours = by_name.get(("ours (fit)", "fp32", batch_size))
    train_row = by_name.get(("pix2pix train", "fp32", batch_size))
    textbook = by_name.get(("textbook tf.function", "fp32", batch_size))
    classic = by_name.get(("classic train_on_batch", "fp32", batch_size))
    ratios = {}
    for name, row in (("ours", ours), ("train", train_row)):
        if row and classic:
            ratios[f"{name}_vs_classic"] = classic.ms_per_step / row.ms_per_step
        if row and textbook:
            ratios[f"{name}_vs_textbook"] = textbook.ms_per_step / row.ms_per_step
    alternating = by_name.get(("ours, alternating", "fp32", batch_size))
    if ours and alternating:
        ratios["alternating_vs_simultaneous_ms"] = alternating.ms_per_step / ours.ms_per_step
    large = [r for r in rows if r.loop == "ours (fit)" and r.batch_size != batch_size]
    if ours and large:
        ratios["batch_images_per_s_vs_batch1"] = large[0].images_per_s / ours.images_per_s
    if ours and data_rate:
        ratios["data_vs_step_images_per_s"] = data_rate / ours.images_per_s
    table = []
    for row in rows:
        entry = asdict(row)
        if row.gflop_per_step:
            entry["gflop_per_s"] = row.gflop_per_step * row.steps_per_s
            peak = peaks.get("bf16" if row.precision == "bf16" else "fp32")
            entry["share_of_peak"] = entry["gflop_per_s"] / peak if peak else None
        table.append(entry)
    return {
        "device": "GPU" if hardware.gpu_devices() else "CPU",
        "cpu_threads": os.cpu_count(),
        "image_size": image_size,
        "batch_size": batch_size,
        "matmul_gflops": peaks,
        "flops": {**{k: v / 1e9 for k, v in flops.items()},
                  "profiler_two_tape_step": measured_flops and measured_flops / 1e9},
        "rows": table,
        "data_images_per_s": data_rate,
        "ratios": ratios,
    }


def format_report(result: dict) -> str:
    """The human-readable table printed by `pix2pix bench`."""
    lines = [
        f"{result['device']}, {result['cpu_threads']} threads, {result['image_size']}x"
        f"{result['image_size']}; matmul peak: "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in result["matmul_gflops"].items()),
        "FLOP per step (analytic, GFLOP): two-tape {two_tape_step:.1f}, classic "
        "{classic_step:.1f}; TF profiler (two-tape): {p}".format(
            **result["flops"],
            p=("n/a" if result["flops"]["profiler_two_tape_step"] is None
               else f"{result['flops']['profiler_two_tape_step']:.1f}")),
        "",
    ]
    table = [("loop", "prec", "batch", "ms/step", "steps/s", "img/s", "GFLOP/s", "% peak",
              "peak GiB")]
    for row in result["rows"]:
        share = row.get("share_of_peak")
        table.append((
            row["loop"], row["precision"], str(row["batch_size"]), f"{row['ms_per_step']:.0f}",
            f"{row['steps_per_s']:.2f}", f"{row['images_per_s']:.2f}",
            f"{row.get('gflop_per_s', 0):.1f}", f"{100 * share:.0f}%" if share else "-",
            f"{row['peak_gib'] or 0:.2f}",
        ))
    if result["data_images_per_s"]:
        table.append(("input pipeline alone", "", str(result["batch_size"]), "", "",
                      f"{result['data_images_per_s']:.0f}"))
    lines += text_table(table, left_columns=2)
    details = result.get("train_command")
    if details:
        lines.append(f"  (pix2pix train: loop {details['loop_ms']:.0f} ms/step + checkpoint "
                     f"{details['checkpoint_s']:.1f} s waited (copy "
                     f"{details['checkpoint_copy_s']:.1f} s, write in the background "
                     f"{details['checkpoint_write_s']:.1f} s) every "
                     f"{details['checkpoint_interval']:.0f} steps and sample "
                     f"{details['sample_s']:.1f} s amortised: {details['amortised_ms']:.1f} "
                     "ms/step)")
    breakdown = result.get("breakdown")
    if breakdown:
        lines.append("")
        lines.append("where a textbook step's time goes (fp32):")
        for phase, entry in breakdown.items():
            share = entry["share_of_peak"]
            lines.append(f"  {phase:10s} {entry['ms']:7.0f} ms  {entry['gflop']:5.1f} GFLOP"
                         + (f"  {entry['gflop_per_s']:6.1f} GFLOP/s  {100 * share:3.0f}% peak"
                            if share else ""))
    lines.append("")
    lines.extend(f"{name}: {value:.2f}x" for name, value in result["ratios"].items())
    return "\n".join(lines)


def to_json(result: dict) -> str:
    return json.dumps(result, default=float)


