"""The paper's ablations at classroom scale: train several variants, score them side by side.

Isola et al. compare objectives (section 4.2, table 1: L1, GAN, cGAN, L1+GAN, L1+cGAN, where
"GAN" is an unconditional D that sees only the output), generators
(section 4.3, figure 5: U-Net vs encoder-decoder) and discriminator patch sizes (section 4.4,
table 3, figure 6: 1x1 PixelGAN, 16x16, 70x70, 286x286 ImageGAN). Each variant here is a handful
of `TrainConfig` overrides on one base config, trained by `pix2pix_lib.runs.train` into its own
run folder under `out_root` (resumed if it is already there, so re-running a notebook continues
instead of starting over or crashing) and scored by `pix2pix_lib.metrics.evaluate_run` on the
val pairs:

    results = run_ablation(paper_ablations(config.image_size), data_dir, "../runs/07-...", config)
    print(format_results(results))

`variant_outputs` gives each variant's outputs on the same val images and `loss_terms` the
weighted terms of each objective, ready for `pix2pix_lib.widgets.compare_figure` and
`widgets.lambda_explorer`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pix2pix_lib.common import text_table
from pix2pix_lib.config import TrainConfig
from pix2pix_lib.generation import generate
from pix2pix_lib.inference import load_run
from pix2pix_lib.metrics import METRIC_NAMES, SET_METRIC_NAMES, evaluate_run, format_metric
from pix2pix_lib.models import min_discriminator_size
from pix2pix_lib.run_folder import RunFolder, history_numbers
from pix2pix_lib.runs import RunInUse, changed_settings, train

__all__ = [
    "PAPER_ABLATIONS",
    "VariantResult",
    "format_results",
    "loss_terms",
    "paper_ablations",
    "run_ablation",
    "same_run",
    "slug",
    "variant_outputs",
]

# name -> TrainConfig overrides; the first is the paper's full model, the reference for the rest
PAPER_ABLATIONS: dict[str, dict] = {
    "L1+cGAN (paper)": {},
    "L1 only": {"gan_weight": 0.0},
    "cGAN only": {"l1_weight": 0.0},
    "L1+GAN (unconditional)": {"conditional": False},
    "GAN only (unconditional)": {"l1_weight": 0.0, "conditional": False},
    "PixelGAN 1x1": {"receptive_field": 1},
    "PatchGAN 16x16": {"receptive_field": 16},
    "ImageGAN 286x286": {"receptive_field": 286},
    "encoder-decoder": {"generator": "encoder_decoder"},
}


def paper_ablations(image_size: int) -> dict[str, dict]:
    """PAPER_ABLATIONS without the variants that cannot be built at `image_size`.

    Only the 286x286 ImageGAN is ever left out (below 96 px, `models.min_discriminator_size`);
    at such sizes the 70x70 PatchGAN already sees (almost) the whole image, so it plays the
    ImageGAN's part.
    """
    return {name: overrides for name, overrides in PAPER_ABLATIONS.items()
            if overrides.get("receptive_field") != 286 or image_size >= min_discriminator_size(286)}


def slug(name: str) -> str:
    """A folder name for a variant: "L1+cGAN (paper)" -> "l1-cgan-paper", "λ=10" -> "lambda-10"."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("λ", "lambda")).strip("-")
    if not text:
        raise ValueError(f"variant name {name!r} has no letters or digits to name a folder")
    return text


@dataclass
class VariantResult:
    """One trained and scored variant."""

    name: str
    overrides: dict
    run_dir: Path
    config: TrainConfig
    final_step: int  # where the run stands now
    steps_trained: int  # by this call (0 when the run was already complete)
    seconds: float  # training time of this call
    metrics: dict[str, float]  # the model's l1, psnr, ssim, map_accuracy, realism, n
    baselines: dict[str, dict]  # identity, mean_target on the same pairs
    final_losses: dict[str, float]  # the last history.csv row (training losses)


def _last_losses(run_dir: Path) -> dict[str, float]:
    rows = history_numbers(RunFolder(run_dir).read_history())
    return rows[-1] if rows else {}


def run_ablation(
    variants: Mapping[str, Mapping],
    data,
    out_root,
    base_config: TrainConfig,
    *,
    steps: int | None = None,
    verbose: int = 0,
    report=print,
) -> list[VariantResult]:
    """Train and evaluate each variant: `base_config.replace(**overrides)` in out_root/slug(name).

    A folder that already holds a run is resumed (to `steps`, or the config's steps), never
    overwritten; one that has reached its steps is only evaluated. A variant whose folder does
    not exist yet but whose settings equal those of another run under `out_root` (trained under
    another name, e.g. by another notebook) uses that run instead of training the same thing
    twice; its report line says so. A run being trained by another process (another kernel
    running a notebook with the same `out_root`) is refused (`runs.RunInUse`, naming the
    variant and the process). `steps` overrides the step count of every variant (None: the
    base config's).
    `verbose` is passed to `runs.train`; `report` (default `print`, None for silence) gets one
    line per variant.
    """
    if not variants:
        raise ValueError("no variants given: pass {name: {TrainConfig field: value, ...}}")
    folders = [slug(name) for name in variants]
    if len(set(folders)) != len(folders):
        raise ValueError(f"two variant names give the same folder name: {folders}")
    out_root = Path(out_root)
    results = []
    for name, folder in zip(variants, folders, strict=True):
        overrides = dict(variants[name])
        if steps is not None:
            overrides["steps"] = steps
        config = base_config.replace(**overrides)
        run_dir = out_root / folder
        if not RunFolder(run_dir).is_run():
            run_dir = same_run(out_root, config) or run_dir
        existing = RunFolder(run_dir).is_run()
        start = time.perf_counter()
        try:
            trained = train(config, data, run_dir, resume=existing, verbose=verbose)
        except RunInUse as error:  # out_root is shared: notebooks 04 and 07 share theirs
            raise RunInUse(f"Variant {name!r}: {error}") from None
        seconds = time.perf_counter() - start
        scores = evaluate_run(run_dir, data)
        result = VariantResult(
            name=name, overrides=dict(variants[name]), run_dir=run_dir, config=config,
            final_step=trained.final_step,
            steps_trained=max(0, trained.final_step - trained.start_step), seconds=seconds,
            metrics=scores["model"],
            baselines={k: v for k, v in scores.items() if k != "model"},
            final_losses=_last_losses(run_dir),
        )
        results.append(result)
        if report is not None:
            report(f"{name:<20} {result.steps_trained:>5} steps trained in {seconds:6.1f} s  "
                   f"L1 {result.metrics['l1']:.4f}  map acc. {result.metrics['map_accuracy']:.3f}"
                   f"  -> {run_dir}" + ("  (an existing run, continued)" if existing else ""))
    return results


def same_run(out_root, config: TrainConfig) -> Path | None:
    """A run folder directly under `out_root` trained with `config`'s settings (steps aside)."""
    out_root = Path(out_root)
    if not out_root.is_dir():
        return None
    for candidate in sorted(out_root.iterdir()):
        run = RunFolder(candidate)
        if not run.is_run():
            continue
        try:
            saved = TrainConfig.load(run.config_path)
        except (OSError, ValueError):  # an unreadable config is not a match
            continue
        if not changed_settings(saved, config):
            return candidate
    return None


def format_results(results: list[VariantResult], baselines: bool = True) -> str:
    """A table: one row per variant (and the two baselines), L1 / PSNR / SSIM / map accuracy /
    realism (`pix2pix_lib.metrics`: the spectral distance to real targets, lower is better)."""
    if not results:
        raise ValueError("no results to format")
    header = ("variant", "L1 (lower better)", "PSNR dB", "SSIM", "map acc.", "realism (lower)",
              "steps")
    columns = (*METRIC_NAMES, *SET_METRIC_NAMES)
    rows = [header]
    for result in results:
        rows.append((result.name, *(format_metric(m, result.metrics[m]) for m in columns),
                     str(result.final_step)))
    if baselines:
        for key, label in (("identity", "(output = input)"),
                           ("mean_target", "(mean target image)")):
            values = results[0].baselines.get(key)
            if values is not None:
                rows.append((label, *(format_metric(m, values[m]) for m in columns), "-"))
    lines = text_table(rows)
    lines.insert(1, "-" * len(lines[0]))
    lines.append(f"n = {results[0].metrics['n']} val images; paper-mode inference (dropout on).")
    return "\n".join(lines)


def variant_outputs(results: list[VariantResult], sources, paper_mode: bool = True
                    ) -> dict[str, np.ndarray]:
    """{variant name: its generator's outputs on `sources`} (float32 in [-1, 1]), in order.

    sources: (N, S, S, C) float32 in [-1, 1] at the runs' image size. Paper-mode inference
    runs one image at a time, as the runs were trained (batch size 1).
    """
    sources = np.asarray(sources, dtype=np.float32)
    outputs = {}
    for result in results:
        generator, config = load_run(result.run_dir)
        if sources.shape[1:] != (config.image_size, config.image_size, config.channels):
            raise ValueError(f"sources have shape {sources.shape[1:]}, the {result.name!r} run "
                             f"takes {config.image_size}x{config.image_size}x{config.channels}")
        images = [generate(generator, image, paper_mode=paper_mode).numpy() for image in sources]
        outputs[result.name] = np.stack(images)
    return outputs


def loss_terms(results: list[VariantResult]) -> dict[str, dict[str, float]]:
    """{name: {"adversarial": gan_weight x g_gan, "l1": l1_weight x g_l1}} at the last log.

    The two terms of each run's objective as they pulled on G at the end of training.
    """
    terms = {}
    for result in results:
        losses = result.final_losses
        if "g_gan" not in losses or "g_l1" not in losses:
            history = RunFolder(result.run_dir).history_path
            raise ValueError(f"{history} has no g_gan/g_l1 row yet")
        terms[result.name] = {
            "adversarial": result.config.gan_weight * losses["g_gan"],
            "l1": result.config.l1_weight * losses["g_l1"],
        }
    return terms
