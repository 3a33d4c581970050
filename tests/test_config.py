import json

import pytest

from pix2pix_lib.config import PROFILES, TrainConfig, profile


def test_defaults_are_the_papers():
    config = TrainConfig()
    assert (config.image_size, config.g_filters, config.d_filters) == (256, 64, 64)
    assert (config.l1_weight, config.g_learning_rate, config.beta1, config.batch_size) == (
        100.0, 2e-4, 0.5, 1)
    assert (config.receptive_field, config.norm, config.gan_mode) == (70, "batch", "vanilla")
    assert config.generator_max_filters == 512  # C64 ... C512, the paper's encoder
    assert profile("quick").generator_max_filters == 256  # same 8x ratio at 32 filters


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_builds_and_round_trips(name, tmp_path):
    config = profile(name)
    config.save(tmp_path / "config.json")
    assert TrainConfig.load(tmp_path / "config.json") == config


def test_profiles_match_the_design_table():
    assert (profile("smoke").image_size, profile("smoke").g_filters) == (64, 16)
    assert (profile("quick").image_size, profile("quick").g_filters) == (128, 32)
    assert profile("seed").total_steps(1096) == 10_960  # the classic tutorial's 10 epochs on maps
    assert profile("paper").lr_schedule == "linear_decay"


def test_override_field_by_field():
    config = profile("quick", l1_weight=10.0, receptive_field=16)
    assert (config.l1_weight, config.receptive_field, config.image_size) == (10.0, 16, 128)


@pytest.mark.parametrize("bad, message", [
    (dict(image_size=100), "power of two"),
    (dict(direction="AB"), "direction"),
    (dict(receptive_field=35), "receptive_field"),
    (dict(norm="layer"), "norm"),
    (dict(batch_size=0), "batch_size"),
    (dict(l1_weight=0.0, gan_weight=0.0), "at least one positive"),
])
def test_bad_values_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad)


def test_unknown_override_is_refused():
    with pytest.raises(ValueError, match="Unknown TrainConfig field"):
        profile("smoke", learning_rate=1.0)


def test_steps_win_over_epochs():
    assert TrainConfig(steps=30, epochs=5).total_steps(100) == 30
    assert TrainConfig(epochs=2, batch_size=4).total_steps(10) == 4
    with pytest.raises(ValueError, match="steps or epochs"):
        TrainConfig().total_steps(10)


def test_load_ignores_unknown_keys_and_reports_bad_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"image_size": 64, "from_the_future": 1}))
    assert TrainConfig.load(path).image_size == 64
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        TrainConfig.load(path)
