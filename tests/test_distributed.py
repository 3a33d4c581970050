"""Training on several replicas (MirroredStrategy) and several machines (MultiWorkerMirrored).

Both run in subprocesses: logical devices and collective ops can only be configured before
TensorFlow starts. Every subprocess has a timeout: a worker whose peer never comes up would
otherwise wait in the strategy's constructor forever.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).parent / "helpers"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_mirrored_step_on_two_logical_devices_equals_one_device(tiny_maps, tmp_path):
    done = subprocess.run(
        [sys.executable, str(HELPERS / "mirrored_step.py"), str(tiny_maps), str(tmp_path / "r")],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["steps"] == [3, 3]
    # Loss scaled by 1/replicas + synchronized BatchNorm: the same update as one device.
    assert result["worst_relative_difference"] < 1e-4, result
    assert result["train_final_step"] == 4
    assert (tmp_path / "r" / "generator.keras").exists()


@pytest.mark.slow
def test_two_workers_on_loopback_train_one_run(tiny_maps, tmp_path):
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    out = tmp_path / "run"
    command = [sys.executable, "-m", "pix2pix_lib", "train", "--data", str(tiny_maps),
               "--profile", "smoke", "--steps", "4", "--batch-size", "2", "--out", str(out),
               "--quiet", "--set", "log_every=2", "--set", "checkpoint_every=2"]
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-3000:]
        assert "ran out of data" not in output
    assert "MultiWorkerMirroredStrategy over 2 replicas" in outputs[0]
    with open(out / "history.csv", newline="") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [2, 4]
    assert (out / "generator.keras").exists()
    assert [p.name for p in sorted((out / "checkpoints").iterdir())] == [
        "step-00000002.npz", "step-00000004.npz"]
