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
