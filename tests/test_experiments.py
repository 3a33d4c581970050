"""Ablation runs at smoke size: each variant in its own folder, resumed not overwritten."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pix_lib import experiments
from pix2pix_lib.config import profile
from pix2pix_lib.data import load_pairs_numpy, resolve_dataset


def tiny_config(**overrides):
    return profile("smoke", image_size=32, g_filters=4, d_filters=4, steps=2, log_every=2,
                   checkpoint_every=2, sample_every=2, num_samples=1, max_val_pairs=2,
                   **overrides)


@pytest.fixture(scope="module")
def ablation(tiny_maps, tmp_path_factory):
    variants = {"L1+cGAN (paper)": {}, "L1 only": {"gan_weight": 0.0}}
    out_root = tmp_path_factory.mktemp("ablation")
    lines = []
    results = experiments.run_ablation(variants, tiny_maps, out_root, tiny_config(),
                                       report=lines.append)
    return variants, out_root, results, lines


@pytest.mark.slow
def test_each_variant_trains_in_its_own_folder_and_is_scored(ablation):
    variants, out_root, results, lines = ablation
    assert [r.name for r in results] == list(variants)
    assert [r.run_dir.name for r in results] == ["l1-cgan-paper", "l1-only"]
    assert all((r.run_dir / "generator.keras").exists() for r in results)
    assert [r.config.gan_weight for r in results] == [1.0, 0.0]
    assert all(r.steps_trained == 2 and r.final_step == 2 for r in results)
    for result in results:
        assert 0.0 <= result.metrics["l1"] <= 2.0 and 0.0 <= result.metrics["map_accuracy"] <= 1
        assert set(result.baselines) == {"identity", "mean_target"}
    assert len(lines) == 2
    table = experiments.format_results(results)
    assert "L1 only" in table and "(output = input)" in table


@pytest.mark.slow
def test_a_second_call_resumes_instead_of_overwriting(ablation, tiny_maps):
    variants, out_root, results, _ = ablation
    lines = []
    again = experiments.run_ablation(variants, tiny_maps, out_root, tiny_config(),
                                     report=lines.append)
    assert all(r.steps_trained == 0 and r.final_step == 2 for r in again)
    assert all(line.endswith("(an existing run, continued)") for line in lines) and lines
    longer = experiments.run_ablation({"L1 only": {"gan_weight": 0.0}}, tiny_maps, out_root,
                                      tiny_config(), steps=4, report=None)
    assert longer[0].steps_trained == 2 and longer[0].final_step == 4


@pytest.mark.slow
def test_a_variant_with_the_same_settings_reuses_the_run_under_another_name(ablation, tiny_maps):
    """Notebook 07's "L1+cGAN (paper)" is notebook 04's "λ=100 (paper)": trained once."""
    _, out_root, results, _ = ablation
    again = experiments.run_ablation({"λ=100 (paper)": {"l1_weight": 100.0}}, tiny_maps,
                                     out_root, tiny_config(), report=None)
    assert again[0].run_dir == results[0].run_dir and again[0].steps_trained == 0
    assert experiments.same_run(out_root, tiny_config(l1_weight=10.0)) is None
    assert not (out_root / "lambda-100-paper").exists()


@pytest.mark.slow
def test_outputs_and_loss_terms_for_the_figures(ablation, tiny_maps):
    _, _, results, _ = ablation
    _, val = resolve_dataset(tiny_maps)
    sources, _ = load_pairs_numpy(val[:2], image_size=32)
    outputs = experiments.variant_outputs(results, sources)
    assert list(outputs) == [r.name for r in results]
    assert all(o.shape == (2, 32, 32, 3) and np.all(np.abs(o) <= 1) for o in outputs.values())
    terms = experiments.loss_terms(results)
    assert terms["L1 only"]["adversarial"] == 0.0 and terms["L1 only"]["l1"] > 0


def test_variant_lists_and_names():
    assert "ImageGAN 286x286" not in experiments.paper_ablations(64)
    assert list(experiments.paper_ablations(128)) == list(experiments.PAPER_ABLATIONS)
    assert experiments.slug("PatchGAN 16x16") == "patchgan-16x16"
    assert experiments.slug("λ=100 (paper)") == "lambda-100-paper"
    with pytest.raises(ValueError, match="same folder"):
        experiments.run_ablation({"a b": {}, "a-b": {}}, ".", ".", tiny_config())


@pytest.mark.slow
def test_a_variant_trained_by_another_process_is_refused_naming_it(ablation, tiny_maps):
    """Notebooks 04 and 07 share their runs: a variant another kernel is training right now
    is refused (RunInUse, naming the variant) instead of being trained twice at once."""
    from pix2pix_lib.runs import RunFolder, RunInUse

    _, out_root, results, _ = ablation
    with RunFolder(results[1].run_dir).lock():  # as another process training "L1 only"
        with pytest.raises(RunInUse, match="Variant 'L1 only': .* is in use"):
            experiments.run_ablation({"L1 only": {"gan_weight": 0.0}}, tiny_maps, out_root,
                                     tiny_config(), report=None)
