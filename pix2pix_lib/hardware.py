"""What this machine has, and how training uses it: devices, distribution, precision, XLA.

Defaults chosen by measurement (the numbers are in the README's "Hardware" and "Speed"
sections):

* precision "auto": mixed_float16 on a GPU (tensor cores; losses stay float32); on a CPU,
  mixed_bfloat16 where it has bf16 matmul instructions (avx512_bf16 or AMX: a faster step at
  nearly float32's val L1), float32 elsewhere (mixed fp16 is slow on CPUs).
  The environment variable PIX2PIX_PRECISION (fp32, bf16 or fp16) replaces "auto" for every
  run of the process, e.g. to time a lesson on a bf16 CPU as it runs on a laptop without bf16.
* XLA (jit_compile) "auto": on for a GPU, off on a CPU, where it made the step slower and
  used more memory.
* distribution: several GPUs -> MirroredStrategy; a TF_CONFIG naming several workers ->
  MultiWorkerMirroredStrategy; otherwise no strategy (the default one).

The strategy must be chosen before TensorFlow runs any op: MultiWorkerMirroredStrategy
configures collective ops, which is only possible at start-up. `pix2pix_lib.runs.train` calls
`choose_strategy()` first thing.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass

from pix2pix_lib.config import PRECISION_POLICIES, PRECISIONS
from pix2pix_lib.tf_quiet import tf


@dataclass(frozen=True)
class HardwarePlan:
    """The resolved choices for one training run, and how to say them in one line."""

    strategy: tf.distribute.Strategy
    gpus: tuple[str, ...]
    precision: str  # fp32 | bf16 | fp16 (resolved, never "auto")
    jit_compile: bool

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    @property
    def is_chief(self) -> bool:
        return is_chief(self.strategy)

    def describe(self) -> str:
        found = f"{len(self.gpus)} GPU(s): {', '.join(self.gpus)}" if self.gpus else "no GPU"
        if is_multi_worker(self.strategy):
            kind = "MultiWorkerMirroredStrategy"  # TF's class is an internal alias
        else:
            kind = type(self.strategy).__name__
        strategy = ("one device" if kind == "_DefaultDistributionStrategy"
                    else f"{kind} over {self.replicas} replicas")
        return (f"Found {found}. Using {strategy}, {PRECISION_POLICIES[self.precision]}, "
                f"XLA {'on' if self.jit_compile else 'off'}.")


def gpu_devices() -> list:
    """TensorFlow's physical GPUs: the one place the library asks which devices it has (the
    tests replace it to run as on a machine with or without a GPU)."""
    return tf.config.list_physical_devices("GPU")


def gpu_names() -> tuple[str, ...]:
    names = []
    for device in gpu_devices():
        details = tf.config.experimental.get_device_details(device)
        names.append(details.get("device_name", device.name))
    return tuple(names)


def _workers_in(tf_config: str | None) -> int:
    if not tf_config:
        return 0
    try:
        cluster = json.loads(tf_config).get("cluster", {})
    except (json.JSONDecodeError, AttributeError):
        raise ValueError(
            "TF_CONFIG is set but is not a JSON object like "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", '
            '"index": 0}}; fix or unset it.'
        ) from None
    return sum(len(cluster.get(role, [])) for role in ("chief", "worker"))


def choose_strategy(tf_config: str | None = None) -> tf.distribute.Strategy:
    """MultiWorkerMirrored when TF_CONFIG names several workers, Mirrored on several GPUs,
    otherwise the default (single-device) strategy."""
    tf_config = os.environ.get("TF_CONFIG") if tf_config is None else tf_config
    if _workers_in(tf_config) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(gpu_devices()) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Only the chief writes the run folder; other workers write to a scratch folder."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not is_multi_worker(strategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "chief" or (not has_chief and task_type == "worker" and task_id == 0)


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_fast_bf16(flags: set[str] | None = None) -> bool:
    """avx512_bf16 or AMX: the CPUs whose bf16 matmuls run about twice as fast as fp32."""
    return bool({"avx512_bf16", "amx_bf16"} & (cpu_flags() if flags is None else flags))


def resolve_precision(precision: str, on_gpu: bool, fast_bf16: bool | None = None) -> str:
    """"auto" -> fp16 on a GPU, bf16 on a CPU with bf16 instructions, fp32 otherwise."""
    if precision != "auto":
        return precision
    if on_gpu:
        return "fp16"
    return "bf16" if (cpu_has_fast_bf16() if fast_bf16 is None else fast_bf16) else "fp32"


PRECISION_VARIABLE = "PIX2PIX_PRECISION"


def precision_from_environment(environ) -> str:
    """PIX2PIX_PRECISION's value when set (fp32, bf16 or fp16), else "auto"."""
    value = environ.get(PRECISION_VARIABLE, "").strip() or "auto"
    if value not in PRECISIONS:
        raise ValueError(f"{PRECISION_VARIABLE}={value!r} is not one of {', '.join(PRECISIONS)}; "
                         "set it to one of them or unset it.")
    return value


def resolve_jit(jit_compile: bool | None, on_gpu: bool) -> bool:
    return on_gpu if jit_compile is None else bool(jit_compile)


def resolve_for_devices(precision: str, jit_compile: bool | None,
                        gpus: tuple[str, ...] | None = None,
                        environ=os.environ) -> tuple[str, bool]:
    """(precision, jit_compile) with "auto" / None resolved for the GPUs found (or `gpus`).

    "auto" precision is PIX2PIX_PRECISION's value when that is set. The one place the config's
    automatic choices are made: `plan_hardware` (what `runs.train` uses) and
    `trainer.build_pix2pix` both ask it.
    """
    if precision == "auto":
        precision = precision_from_environment(environ)
    on_gpu = bool(gpu_names() if gpus is None else gpus)
    return resolve_precision(precision, on_gpu), resolve_jit(jit_compile, on_gpu)


def plan_hardware(precision: str, jit_compile: bool | None,
                  strategy: tf.distribute.Strategy | None = None,
                  environ=os.environ) -> HardwarePlan:
    """Detect devices and resolve the config's "auto" choices into one HardwarePlan."""
    if precision == "auto":  # a bad PIX2PIX_PRECISION is refused before any device is set up
        precision = precision_from_environment(environ)
    strategy = strategy or choose_strategy()
    gpus = gpu_names()
    precision, jit_compile = resolve_for_devices(precision, jit_compile, gpus, environ)
    return HardwarePlan(strategy=strategy, gpus=gpus, precision=precision,
                        jit_compile=jit_compile)


@contextlib.contextmanager
def deterministic_ops():
    """TensorFlow's deterministic op kernels inside the block, the previous setting after it.

    Some GPU kernels (and a few CPU ones) add in a varying order unless asked not to; exact
    comparisons of two trainings run inside this block. Switched back after, because
    deterministic kernels are slower and some ops refuse to run under them.
    """
    from tensorflow.python.framework import config as tf_config  # the switch back is not public

    was_on = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was_on:
            tf_config.disable_op_determinism()
