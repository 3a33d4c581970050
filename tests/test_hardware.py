import json

import pytest

from pix2pix_lib.hardware import (
    choose_strategy,
    cpu_has_fast_bf16,
    is_chief,
    plan_hardware,
    resolve_jit,
    resolve_precision,
)
from pix2pix_lib.tf_quiet import tf


def test_auto_choices_follow_the_device():
    assert resolve_precision("auto", on_gpu=True) == "fp16"
    assert resolve_precision("auto", on_gpu=False, fast_bf16=False) == "fp32"
    assert resolve_precision("auto", on_gpu=False, fast_bf16=True) == "bf16"
    assert resolve_precision("bf16", on_gpu=False) == "bf16"
    assert resolve_precision("fp32", on_gpu=False, fast_bf16=True) == "fp32"


def test_pix2pix_precision_replaces_auto_only():
    assert plan_hardware("auto", None, environ={"PIX2PIX_PRECISION": "fp32"}).precision == "fp32"
    assert plan_hardware("bf16", None, environ={"PIX2PIX_PRECISION": "fp32"}).precision == "bf16"
    with pytest.raises(ValueError, match="PIX2PIX_PRECISION='fp64'"):
        plan_hardware("auto", None, environ={"PIX2PIX_PRECISION": "fp64"})


def test_fast_bf16_is_read_from_the_cpu_flags():
    assert cpu_has_fast_bf16({"avx512f", "avx512_bf16"})
    assert cpu_has_fast_bf16({"amx_bf16", "amx_tile"})
    assert not cpu_has_fast_bf16({"avx512f", "avx2"})
    assert resolve_jit(None, on_gpu=True) is True
    assert resolve_jit(None, on_gpu=False) is False
    assert resolve_jit(True, on_gpu=False) is True


def test_this_cpu_machine_gets_one_device_without_xla():
    plan = plan_hardware("auto", None)
    expected = "bf16" if cpu_has_fast_bf16() else "fp32"
    assert (plan.replicas, plan.precision, plan.jit_compile, plan.is_chief) == (
        1, expected, False, True)
    assert plan_hardware("fp32", None).describe() == (
        "Found no GPU. Using one device, float32, XLA off.")


def test_tf_config_with_one_worker_is_not_distributed():
    config = json.dumps({"cluster": {"worker": ["127.0.0.1:1"]},
                         "task": {"type": "worker", "index": 0}})
    strategy = choose_strategy(config)
    assert strategy.num_replicas_in_sync == 1 and is_chief(strategy)


def test_malformed_tf_config_is_a_clear_error():
    with pytest.raises(ValueError, match="TF_CONFIG is set but is not a JSON object"):
        choose_strategy("{not json")


def test_default_strategy_is_tensorflows():
    assert choose_strategy("") is tf.distribute.get_strategy()


# --- a GPU machine, injected: what the library chooses where it asks for devices -------------
def test_a_gpu_machine_gets_fp16_with_xla(fake_gpus):
    fake_gpus(1)
    plan = plan_hardware("auto", None)
    assert (plan.gpus, plan.precision, plan.jit_compile) == (("Fake GPU 0",), "fp16", True)
    assert plan.describe() == (
        "Found 1 GPU(s): Fake GPU 0. Using one device, mixed_float16, XLA on.")
    assert plan_hardware("fp32", False).describe().endswith("float32, XLA off.")


def test_pix2pix_precision_from_the_shell_replaces_auto_on_a_gpu(fake_gpus, monkeypatch):
    fake_gpus(1)
    monkeypatch.setenv("PIX2PIX_PRECISION", "bf16")
    assert plan_hardware("auto", None).precision == "bf16"
    assert plan_hardware("fp32", None).precision == "fp32"


def test_the_suite_runs_as_on_a_cpu_without_the_course_variables():
    """conftest's autouse fixture: a learner's GPU and shell variables do not reach the tests
    (which inject what they assume)."""
    import os

    from pix2pix_lib.hardware import gpu_devices

    assert gpu_devices() == []
    assert not {"PIX2PIX_PROFILE", "PIX2PIX_DATASET", "PIX2PIX_PRECISION"} & set(os.environ)


def test_deterministic_ops_are_switched_back_off():
    from tensorflow.python.framework import config as tf_config

    from pix2pix_lib.hardware import deterministic_ops

    assert not tf_config.is_op_determinism_enabled()
    with deterministic_ops():
        assert tf_config.is_op_determinism_enabled()
    assert not tf_config.is_op_determinism_enabled()
