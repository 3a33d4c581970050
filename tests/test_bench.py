"""The benchmark's arithmetic (FLOPs) and one tiny end-to-end run; no timing is asserted."""

from __future__ import annotations

import json

import pytest

from pix2pix_lib.bench import (
    format_report,
    forward_flops,
    median_ms,
    run_bench,
    step_flops,
    timed_run_config,
)
from pix2pix_lib.cli import main
from pix2pix_lib.tf_quiet import keras


def test_forward_flops_counts_convolutions_by_hand():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 4, strides=2, padding="same")(inputs)  # 8x8x8 out
    x = keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same")(x)  # from 8x8x8
    model = keras.Model(inputs, x)
    assert forward_flops(model) == 2 * 8 * 8 * 16 * 3 * 8 + 2 * 8 * 8 * 16 * 8 * 4


def test_step_flops_scale_with_the_batch():
    from pix2pix_lib.models import patchgan_discriminator, unet_generator

    g = unet_generator(image_size=32, base_filters=8)
    d = patchgan_discriminator(image_size=32, base_filters=8)
    one, four = step_flops(g, d, 1), step_flops(g, d, 4)
    assert four["two_tape_step"] == 4 * one["two_tape_step"]
    assert one["classic_step"] > one["two_tape_step"] > 3 * one["generator_forward"]
    extra_d_pass = one["alternating_step"] - one["two_tape_step"]
    assert extra_d_pass == one["discriminator_forward"]


def test_median_drops_only_the_warm_up_window():
    # stamps at the start and after each of 4 windows of 2 steps: 10 s warm-up, then 2, 4, 3 s
    stamps = [0.0, 10.0, 12.0, 16.0, 19.0]
    assert median_ms(stamps, steps=2) == 1500.0  # median of 2, 4, 3 s over 2 steps


def test_timed_train_run_keeps_checkpoints_and_samples_out_of_the_windows():
    # a checkpoint at the last step used to land in the last timed window (and was amortised
    # on top): ~3 s of a paper-size checkpoint counted as step time
    from pix2pix_lib.config import profile

    config = timed_run_config(profile("paper"), total=20)
    assert config.total_steps(16) == 20 and config.log_every == 20
    assert config.checkpoint_every > 20 and config.sample_every > 20


@pytest.mark.slow
def test_a_tiny_bench_fills_every_row(capsys):
    result = run_bench(image_size=32, steps=2, windows=2, large_batch=2)
    loops = {(row["loop"], row["precision"], row["batch_size"]) for row in result["rows"]}
    assert ("ours (fit)", "fp32", 1) in loops and ("classic train_on_batch", "fp32", 1) in loops
    assert ("ours (fit)", "fp32", 2) in loops and ("ours, alternating", "fp32", 1) in loops
    assert all(row["ms_per_step"] > 0 for row in result["rows"])
    assert {"ours_vs_classic", "ours_vs_textbook", "train_vs_classic",
            "alternating_vs_simultaneous_ms"} <= set(result["ratios"])
    assert result["matmul_gflops"]["fp32"] > 0 and result["data_images_per_s"] > 0
    assert "matmul peak" in format_report(result)


@pytest.mark.slow
def test_bench_command_json_is_the_last_line(capsys):
    assert main(["bench", "--image-size", "32", "--steps", "1", "--windows", "2",
                 "--large-batch", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["image_size"] == 32 and result["rows"]
