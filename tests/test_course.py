"""Tests for pix2pix_lib.course: which profile and data a notebook runs on. Never online."""

from __future__ import annotations

import pytest

from pix2pix_lib import course, datasets


def no_network():
    raise AssertionError("the network must not be asked here")


@pytest.fixture
def generated(monkeypatch):
    """Record synthetic-maps generation instead of rendering hundreds of pairs."""
    calls = []

    def fake_make(root, n_train, n_val, size, seed):
        calls.append((n_train, n_val, size))
        for split, n in (("train", n_train), ("val", n_val)):
            (root / split).mkdir(parents=True)
            for k in range(min(n, 2)):
                (root / split / f"{k:05d}.png").write_bytes(b"")
        return root

    monkeypatch.setattr(datasets, "make_synthetic_maps", fake_make)
    return calls


def test_smoke_synthetic_is_offline_and_tiny(tmp_path, generated, capsys):
    settings = course.choose_run_settings("smoke", "synthetic", tmp_path / "data",
                                          tmp_path / "runs", gpus=(), network=no_network)
    assert settings.profile == "smoke" and settings.dataset == "synthetic"
    assert settings.data_dir == tmp_path / "data" / "synthetic_maps_smoke"
    assert generated == [(8, 4, 64)]
    assert settings.config.image_size == 64
    assert settings.run_dir("train") == tmp_path / "runs" / "train-smoke"
    printed = capsys.readouterr().out
    assert "Profile: smoke" in printed and "CPU only" in printed
    assert not list((tmp_path / "data").glob(".*tmp*"))  # the temporary folder is gone


def test_existing_dataset_is_reused(tmp_path, generated):
    for _ in range(2):
        settings = course.choose_run_settings("quick", "synthetic", tmp_path, gpus=(),
                                              network=no_network, verbose=False)
    assert generated == [(400, 50, 256)]
    assert settings.data_dir == tmp_path / "synthetic_maps"


def test_auto_on_a_cpu_is_quick_and_synthetic(tmp_path, generated):
    settings = course.choose_run_settings("auto", "auto", tmp_path, gpus=(), network=no_network,
                                          verbose=False)
    assert (settings.profile, settings.dataset) == ("quick", "synthetic")
    assert any("No GPU" in note for note in settings.notes)
    assert any("PIX2PIX_DATASET=maps" in note for note in settings.notes)


def test_auto_on_a_gpu_downloads_maps(tmp_path, monkeypatch, generated):
    downloads = []

    def fake_download(name, root):
        downloads.append(name)
        return root / name

    monkeypatch.setattr(datasets, "download", fake_download)
    settings = course.choose_run_settings("auto", "auto", tmp_path, gpus=("Fake GPU",),
                                          network=True, verbose=False)
    assert (settings.profile, settings.dataset) == ("seed", "maps")
    assert settings.data_dir == tmp_path / "maps" and downloads == ["maps"]
    assert settings.device == "GPU: Fake GPU"
    assert generated == []


def _download_breaks(name, root):
    raise datasets.DownloadError("connection broke")


@pytest.mark.parametrize("download, network, reason", [
    (no_network, False, "cannot be reached"),  # offline: no download is tried
    (_download_breaks, True, "connection broke"),  # online, but the download fails
], ids=["offline", "download-error"])
def test_maps_unavailable_falls_back_to_synthetic_with_a_reason(
        tmp_path, monkeypatch, generated, download, network, reason):
    monkeypatch.setattr(datasets, "download", download)
    settings = course.choose_run_settings("smoke", "maps", tmp_path, gpus=(), network=network,
                                          verbose=False)
    assert settings.dataset == "synthetic"
    assert any(reason in note for note in settings.notes)


def test_a_local_maps_copy_needs_no_network(tmp_path, monkeypatch, generated):
    (tmp_path / "maps").mkdir()
    monkeypatch.setattr(datasets, "download", lambda name, root: root / name)
    settings = course.choose_run_settings("seed", "maps", tmp_path, gpus=(), network=no_network,
                                          verbose=False)
    assert settings.dataset == "maps" and settings.data_dir == tmp_path / "maps"


def test_own_folder_and_bad_values(tmp_path):
    settings = course.choose_run_settings("smoke", str(tmp_path), tmp_path / "data", gpus=(),
                                          network=no_network, verbose=False)
    assert settings.dataset == "folder" and settings.data_dir == tmp_path
    with pytest.raises(ValueError, match="PIX2PIX_PROFILE"):
        course.choose_run_settings("huge", "synthetic", tmp_path, gpus=())
    with pytest.raises(ValueError, match="PIX2PIX_DATASET"):
        course.choose_run_settings("smoke", "no/such/folder", tmp_path, gpus=())


def test_a_broken_dataset_folder_is_reported(tmp_path):
    (tmp_path / "synthetic_maps_smoke").mkdir()
    with pytest.raises(FileExistsError, match="delete it"):
        course.ensure_synthetic_maps("smoke", tmp_path)


def test_real_generation_at_smoke_size(tmp_path):
    folder = course.ensure_synthetic_maps("smoke", tmp_path)
    assert len(list((folder / "train").glob("*.png"))) == 8
    assert len(list((folder / "val").glob("*.png"))) == 4


def test_network_available_false_for_a_closed_port():
    assert course.network_available("http://127.0.0.1:9/x.tar.gz", timeout=0.5) is False


def test_environment_report():
    report = course.environment_report()
    assert report["tensorflow"].startswith("2.") and report["keras"].startswith("3.")
    assert isinstance(report["gpus"], tuple) and report["cpu_cores"] >= 1


def test_default_roots_are_the_checkouts_data_and_runs_from_any_notebook_folder(tmp_path):
    checkout = tmp_path / "course"
    (checkout / "notebooks" / "exercises").mkdir(parents=True)
    assert course.default_roots(checkout / "notebooks", environ={}) == (
        course.Path("../data"), course.Path("../runs"))
    assert course.default_roots(checkout / "notebooks" / "exercises", environ={}) == (
        course.Path("../../data"), course.Path("../../runs"))


def test_default_roots_outside_a_checkout_and_from_the_environment(tmp_path):
    assert course.default_roots(tmp_path, environ={}) == (course.Path("../data"),
                                                          course.Path("../runs"))
    environ = {"PIX2PIX_DATA_ROOT": "/srv/data", "PIX2PIX_RUNS_ROOT": "/srv/runs"}
    assert course.default_roots(tmp_path, environ=environ) == (course.Path("/srv/data"),
                                                               course.Path("/srv/runs"))
