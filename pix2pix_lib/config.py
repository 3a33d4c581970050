"""One configuration object for a training run, and the course's named profiles.

Every number a run depends on lives in `TrainConfig`, so a run folder's `config.json` says
exactly what was trained, and a notebook cell or a CLI flag changes one field without touching
code. The profiles (README: "Profiles") are starting points, overridable field by field:

    smoke  64 px, 16/16 filters, 8 pairs, 20 steps   CI and nbval: every notebook in seconds
    quick  128 px, 32/32 filters, 3000 steps         a CPU classroom demo that visibly learns
    paper  256 px, 64/64 filters, 200 epochs         the paper's settings, lr decay in half 2
    seed   256 px, 64/64 filters, 10 epochs, batch 1 the classic tutorial run (maps: 10,960 steps)

This module deliberately imports no TensorFlow: reading and checking a config is instant.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pix2pix_lib.common import write_atomically

# The allowed values of the fields below: the one definition every other module imports.
DIRECTIONS = ("AtoB", "BtoA")  # AtoB: the left half of a pair is the source
CHANNEL_COUNTS = (1, 3)  # grayscale or RGB
GENERATORS = ("unet", "encoder_decoder")
NORMS = ("batch", "instance", "none")
GAN_MODES = ("vanilla", "lsgan")
RECEPTIVE_FIELDS = (1, 16, 70, 286)  # the paper's PixelGAN, PatchGANs and ImageGAN
UNET_IMAGE_SIZES = (32, 64, 128, 256, 512)  # the U-Net halves the image down to 1x1
# Each resolved precision and the Keras dtype policy it builds layers under.
PRECISION_POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
PRECISIONS = ("auto", *PRECISION_POLICIES)  # "auto": chosen for the devices found (hardware.py)
LR_SCHEDULES = ("constant", "linear_decay")
UPDATE_ORDERS = ("simultaneous", "alternating")


@dataclass
class TrainConfig:
    """Everything that defines a pix2pix training run (defaults: the paper, section 3 and 4)."""

    # --- data
    image_size: int = 256
    channels: int = 3
    direction: str = "AtoB"
    val_fraction: float = 0.1  # used only for datasets that come without a val/ folder
    max_train_pairs: int | None = None  # use only the first N training pairs (smoke runs)
    # val pairs scored at every log interval while training (the full val set is scored by
    # `pix2pix evaluate`); 64 keeps that under a few seconds on a CPU
    max_val_pairs: int | None = 64
    # --- networks
    generator: str = "unet"
    g_filters: int = 64
    d_filters: int = 64
    # widest generator layer; None = 8 x g_filters, the paper's ratio (64 -> 512). Keeping the
    # ratio matters on CPUs: 512-wide inner layers would make a 32-filter U-Net's step much
    # slower (README, "Speed").
    max_filters: int | None = None
    norm: str = "batch"
    dropout: float = 0.5
    receptive_field: int = 70
    # False: D sees only the output, not the source (the paper's unconditional "GAN" rows)
    conditional: bool = True
    # --- objective
    gan_mode: str = "vanilla"
    l1_weight: float = 100.0
    gan_weight: float = 1.0  # 0 gives the paper's "L1 only" ablation
    # --- optimisation
    g_learning_rate: float = 2e-4
    d_learning_rate: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 1
    steps: int | None = None  # total steps to reach; wins over epochs when both are set
    epochs: float | None = None
    lr_schedule: str = "constant"
    lr_decay_fraction: float = 0.5  # linear_decay: the last half of training decays to zero
    # "simultaneous": G and D both updated from one forward pass (the TF tutorial);
    # "alternating": D's step, then G's step with D run again on the fake (the paper's section
    # 3.3 and its reference code). See trainer.Pix2Pix and the README for why the default.
    update_order: str = "simultaneous"
    # --- bookkeeping
    seed: int = 0
    log_every: int = 100  # history.csv row and TensorBoard scalars every N steps
    # A checkpoint is written every `checkpoint_every` steps and/or every `checkpoint_minutes`
    # of training, whichever comes first (None turns one off), and at the last step; the last
    # `keep_checkpoints` are kept. Steps for short runs (the same steps every time), minutes
    # for long ones on hardware of unknown speed. README "Checkpoints" gives the disk each
    # profile needs. async: the write runs in the background (pix2pix_lib.checkpointing).
    checkpoint_every: int | None = 500
    checkpoint_minutes: float | None = 10.0
    async_checkpoints: bool = True
    sample_every: int = 500
    keep_checkpoints: int = 3
    num_samples: int = 4
    # --- hardware: "auto" / None are resolved for the devices found (hardware.py): mixed fp16
    # and XLA on a GPU; on a CPU no XLA, and mixed bf16 where it has bf16 instructions
    # (avx512_bf16, AMX), float32 elsewhere
    precision: str = "auto"
    jit_compile: bool | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field that is out of range, and what is allowed."""
        _check_choice("direction", self.direction, DIRECTIONS)
        _check_choice("generator", self.generator, GENERATORS)
        _check_choice("norm", self.norm, NORMS)
        _check_choice("gan_mode", self.gan_mode, GAN_MODES)
        _check_choice("receptive_field", self.receptive_field, RECEPTIVE_FIELDS)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _check_choice("update_order", self.update_order, UPDATE_ORDERS)
        if self.image_size not in UNET_IMAGE_SIZES:
            raise ValueError(
                f"image_size={self.image_size}: the U-Net needs a power of two from 32 to 512 "
                f"(one of {', '.join(map(str, UNET_IMAGE_SIZES))})."
            )
        _check_choice("channels", self.channels, CHANNEL_COUNTS)
        for name in ("g_filters", "d_filters", "batch_size",
                     "log_every", "sample_every", "keep_checkpoints"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1.")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every={self.checkpoint_every} must be at least 1 "
                             "(or None: checkpoints by time only).")
        if self.checkpoint_minutes is not None and not self.checkpoint_minutes > 0:
            raise ValueError(f"checkpoint_minutes={self.checkpoint_minutes} must be positive "
                             "(or None: checkpoints by steps only).")
        if self.max_filters is not None and self.max_filters < self.g_filters:
            raise ValueError(f"max_filters={self.max_filters} must be at least g_filters.")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps={self.steps} must be at least 1.")
        if self.epochs is not None and self.epochs <= 0:
            raise ValueError(f"epochs={self.epochs} must be positive.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1).")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction={self.val_fraction} must be between 0 and 1.")
        if not 0.0 <= self.lr_decay_fraction <= 1.0:
            raise ValueError(f"lr_decay_fraction={self.lr_decay_fraction} must be in [0, 1].")
        if self.l1_weight < 0 or self.gan_weight < 0 or self.l1_weight + self.gan_weight == 0:
            raise ValueError(
                f"l1_weight={self.l1_weight}, gan_weight={self.gan_weight}: both must be >= 0 "
                "and at least one positive."
            )

    # ----------------------------------------------------------------------------------------
    def replace(self, **overrides: Any) -> TrainConfig:
        """A copy with some fields changed; an unknown name is an error, never silently dropped."""
        unknown = sorted(set(overrides) - {f.name for f in fields(self)})
        if unknown:
            raise ValueError(
                f"Unknown TrainConfig field(s) {unknown}; known fields: "
                f"{', '.join(f.name for f in fields(self))}."
            )
        return dataclasses.replace(self, **overrides)

    @property
    def generator_max_filters(self) -> int:
        return self.max_filters if self.max_filters is not None else 8 * self.g_filters

    def total_steps(self, n_train_pairs: int) -> int:
        """The step count to reach: `steps` if set, else `epochs` x steps per epoch."""
        if self.steps is not None:
            return int(self.steps)
        if self.epochs is None:
            raise ValueError("Set either steps or epochs (e.g. --steps 1000 or --epochs 10).")
        per_epoch = max(1, n_train_pairs // self.batch_size)
        return max(1, math.ceil(self.epochs * per_epoch))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        """Write config.json atomically (temporary name, then rename)."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        write_atomically(path, lambda tmp: tmp.write_text(text))

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no config.json here; is this a run folder?") from None
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path} is not valid JSON ({error}); restore it or start a new run."
            ) from None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def _check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}.")


PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(
        image_size=64, g_filters=16, d_filters=16, batch_size=1, steps=20,
        max_train_pairs=8, max_val_pairs=4, log_every=10, checkpoint_every=10,
        checkpoint_minutes=None, sample_every=10, num_samples=2,
    ),
    "quick": dict(
        # 3000 steps: a few minutes on a 2-core CPU (README, "Speed"), and the samples are
        # unmistakably maps (roads, water, woods in web-map colours); at 1000 still speckled.
        image_size=128, g_filters=32, d_filters=32, batch_size=1, steps=3000,
        # checkpoints by steps only: the same files on every machine (notebook 05 lists them)
        log_every=100, checkpoint_every=500, checkpoint_minutes=None, sample_every=500,
        num_samples=4,
    ),
    "paper": dict(
        image_size=256, g_filters=64, d_filters=64, batch_size=1, epochs=200,
        # checkpoints every 10 minutes, however fast the hardware (0.7 GB each at this size)
        lr_schedule="linear_decay", log_every=500, checkpoint_every=None, checkpoint_minutes=10,
        sample_every=2000,
    ),
    "seed": dict(
        image_size=256, g_filters=64, d_filters=64, batch_size=1, epochs=10,
        log_every=500, checkpoint_every=None, checkpoint_minutes=10, sample_every=1000,
    ),
}


def profile(name: str, **overrides: Any) -> TrainConfig:
    """The named profile as a TrainConfig, any field overridden: profile("quick", steps=300)."""
    if name not in PROFILES:
        raise ValueError(f"Unknown profile {name!r}; choose one of {', '.join(PROFILES)}.")
    base = TrainConfig(**PROFILES[name])
    return base.replace(**overrides) if overrides else base
