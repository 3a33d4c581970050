"""The `pix2pix` command as the README's "The command line" describes it (called in-process)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from PIL import Image

from pix2pix_lib.cli import main


def history_steps(run):
    with open(run / "history.csv", newline="") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


def test_synth_maps_then_check_exits_0(tmp_path, capsys):
    assert main(["synth-maps", str(tmp_path / "m"), "--train", "8", "--val", "4"]) == 0
    assert len(list((tmp_path / "m" / "train").iterdir())) == 8
    assert main(["check", str(tmp_path / "m")]) == 0
    assert "12 valid pairs, 0 bad files" in capsys.readouterr().err


def test_check_names_each_broken_file_and_exits_1(tmp_path, capsys):
    folder = tmp_path / "pairs"
    folder.mkdir()
    Image.new("RGB", (64, 32), "red").save(folder / "good.png")
    Image.new("RGB", (50, 32), "red").save(folder / "odd.png")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not an image")
    assert main(["check", str(folder)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert {line.split(":")[0].rsplit("/", 1)[-1] for line in lines} == {
        "odd.png", "empty.jpg", "text.png"}


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert "missing" in err and "Traceback" not in err


def test_set_rejects_unknown_fields_and_bad_values(tiny_maps, tmp_path, capsys):
    base = ["train", "--data", str(tiny_maps), "--profile", "smoke", "--out", str(tmp_path / "r")]
    assert main([*base, "--set", "nonsense=1"]) == 1
    assert "expected FIELD=VALUE" in capsys.readouterr().err
    assert main([*base, "--set", "l1_weight=lots"]) == 1
    assert "not a valid float" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
@pytest.mark.parametrize("direction, order", [("AtoB", "simultaneous"), ("BtoA", "alternating")])
def test_train_20_then_resume_to_30(tiny_maps, tmp_path, direction, order):
    run = tmp_path / f"run-{direction}"
    base = ["train", "--data", str(tiny_maps), "--profile", "smoke", "--direction", direction,
            "--out", str(run), "--quiet", "--set", f"update_order={order}"]
    assert main([*base, "--steps", "20"]) == 0
    assert history_steps(run)[-1] == 20
    assert main([*base, "--steps", "30"]) == 1  # exists: refused without --resume
    assert main([*base, "--steps", "30", "--resume"]) == 0
    assert history_steps(run)[-1] == 30
    assert (run / "generator.keras").exists() and (run / "config.json").exists()
    assert json.loads((run / "config.json").read_text())["update_order"] == order


def test_python_dash_m_is_the_same_program():
    done = subprocess.run([sys.executable, "-m", "pix2pix_lib", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    for command in ("synth-maps", "download", "check", "train", "evaluate", "translate", "export"):
        assert command in done.stdout


@pytest.fixture(scope="module")
def trained_run(tiny_maps, tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--data", str(tiny_maps), "--profile", "smoke", "--steps", "4",
                 "--out", str(run), "--quiet", "--set", "log_every=2"]) == 0
    return run


def test_evaluate_json_last_line(trained_run, tiny_maps, capsys):
    assert main(["evaluate", "--run", str(trained_run), "--data", str(tiny_maps), "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert {"l1", "psnr", "ssim", "n"} <= set(result) and result["n"] == 4
    assert set(result["baselines"]) == {"identity", "mean_target"}
    assert result["realism"] >= 0
    assert all(values["realism"] > 0 for values in result["baselines"].values())
    assert any("identity" in line for line in out[:-1])  # the table is printed above the JSON


def test_translate_keeps_names_and_refuses_to_overwrite(trained_run, tmp_path, capsys):
    inputs = tmp_path / "mine"
    inputs.mkdir()
    Image.new("RGB", (100, 60), "green").save(inputs / "field.png")
    Image.new("L", (40, 40), 128).save(inputs / "gray.jpg")
    out = tmp_path / "out"
    assert main(["translate", "--run", str(trained_run), str(inputs), "--out", str(out)]) == 0
    assert {p.name: Image.open(p).size for p in out.iterdir()} == {
        "field.png": (100, 60), "gray.jpg": (40, 40)}
    assert main(["translate", "--run", str(trained_run), str(inputs), "--out", str(out)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["translate", "--run", str(trained_run), str(inputs), "--out", str(out),
                 "--overwrite"]) == 0


def test_export_writes_keras_and_saved_model(trained_run, tmp_path, capsys):
    assert main(["export", "--run", str(trained_run), "--out", str(tmp_path / "exp")]) == 0
    assert (tmp_path / "exp" / "generator.keras").exists()
    assert "tf.saved_model.load" in capsys.readouterr().out
