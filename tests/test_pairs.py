"""Tests for pix2pix_lib.pairs: finding, validating and splitting pair files (no TensorFlow).

Every image is made on the fly in pytest's tmp_path (64x32 pairs: two 32x32 halves), so the
file runs offline in seconds.
"""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import HEIGHT, make_folder, save_pair

from pix2pix_lib import pairs

EXPECTED_BAD = {
    "bad_empty.jpg": "empty file (0 bytes)",
    "bad_odd_width.png": f"width 70 is not 2 x height {HEIGHT}",
    "bad_text.png": "cannot decode: not an image",
    "bad_truncated.png": "truncated image",
}


# --- finding and validating files ------------------------------------------------------------


def test_scan_finds_images_of_any_case_and_names_other_files(tmp_path):
    save_pair(tmp_path / "a.jpg")
    save_pair(tmp_path / "b.JPEG")
    save_pair(tmp_path / "c.Png")
    save_pair(tmp_path / "d.TIF")
    save_pair(tmp_path / "e.webp")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".DS_Store").write_bytes(b"\0\1\2")
    (tmp_path / "._a.jpg").write_bytes(b"macOS resource fork, not an image")
    save_pair(tmp_path / "sub" / "nested.png")  # not recursive
    lines = []
    found = pairs.scan_pairs(tmp_path, report=lines.append)
    assert [path.name for path in found] == ["a.jpg", "b.JPEG", "c.Png", "d.TIF", "e.webp"]
    assert lines == [
        f"skipped {tmp_path / 'notes.txt'}: not an image file "
        "(those end in .jpg .jpeg .png .webp .tif .tiff .bmp .gif)"
    ]  # hidden files and the subfolder: silently
    with pytest.warns(UserWarning, match="skipped .*notes.txt") as record:
        pairs.resolve_dataset(tmp_path)
    assert len(record) == 1


def test_find_splits_detects_dataset_root_and_flat_folder(tmp_path):
    make_folder(tmp_path / "root" / "train", 2)
    make_folder(tmp_path / "root" / "val", 1)
    (tmp_path / "root" / "test").mkdir()  # no images: not a split
    assert pairs.find_splits(tmp_path / "root") == {
        "train": tmp_path / "root" / "train",
        "val": tmp_path / "root" / "val",
    }
    assert pairs.find_splits(tmp_path / "root" / "train") == {}


def test_bad_files_are_all_reported_in_one_error(mixed_folder):
    good, bad = pairs.check_pairs(mixed_folder)
    assert [path.name for path in good] == [
        "good_gray.png",
        "good_palette.png",
        "good_rgb.jpg",
        "good_rgba.png",
    ]
    assert {item.path.name: item.reason for item in bad} == EXPECTED_BAD

    with pytest.raises(pairs.BadPairsError) as caught:
        pairs.scan_pairs(mixed_folder)
    message = str(caught.value)
    for name, reason in EXPECTED_BAD.items():
        assert f"{mixed_folder / name}: {reason}" in message.splitlines()
    assert 'on_bad="skip"' in message.splitlines()[-1]
    assert len(caught.value.bad) == 4
    assert isinstance(caught.value, pairs.DataError)
    assert pickle.loads(pickle.dumps(caught.value)).bad == caught.value.bad


def test_skip_warns_once_and_returns_the_good_files(mixed_folder):
    with pytest.warns(UserWarning, match="skipping 4 bad image file") as record:
        good = pairs.scan_pairs(mixed_folder, on_bad="skip")
    assert len(record) == 1
    assert all(name in str(record[0].message) for name in EXPECTED_BAD)
    assert len(good) == 4 and all(path.name.startswith("good_") for path in good)


def test_nothing_good_left_after_skip_is_an_error(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.warns(UserWarning), pytest.raises(pairs.DataError, match="no valid pairs"):
        pairs.scan_pairs(tmp_path, on_bad="skip")


def test_missing_and_empty_folders_give_helpful_errors(tmp_path):
    with pytest.raises(pairs.DataError, match="does not exist") as caught:
        pairs.scan_pairs(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(caught.value)
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(pairs.DataError, match=r"no images in .*width = 2 x height.*train/"):
        pairs.check_pairs(tmp_path)
    with pytest.raises(ValueError, match="on_bad"):
        pairs.scan_pairs(tmp_path, on_bad="ignore")


def test_resolve_dataset_uses_val_then_test_then_a_split(tmp_path):
    train = make_folder(tmp_path / "root" / "train", 4)
    test = make_folder(tmp_path / "root" / "test", 2)
    assert pairs.resolve_dataset(tmp_path / "root") == (train, test)
    val = make_folder(tmp_path / "root" / "val", 1)
    assert pairs.resolve_dataset(tmp_path / "root") == (train, val)
    other = make_folder(tmp_path / "other", 3)
    assert pairs.resolve_dataset(tmp_path / "root", tmp_path / "other") == (train, other)

    flat_train, flat_val = pairs.resolve_dataset(tmp_path / "root" / "train", val_fraction=0.25)
    assert len(flat_val) == 1 and sorted(flat_train + flat_val) == train


def test_count_images_skips_hidden_files_and_folders(tmp_path):
    folder = tmp_path / "train"
    make_folder(folder, 3)
    (folder / "._pair_00.png").write_bytes(b"macOS resource fork")
    (folder / "folder.png").mkdir()
    (folder / "notes.txt").write_text("hello")
    assert pairs.count_images(folder) == 3
    assert pairs.count_images(tmp_path / "absent") == 0
    assert pairs.is_image_file(folder / "pair_00.png")
    assert not pairs.is_image_file(folder / "folder.png")


def test_held_out_split_is_val_else_test(tmp_path):
    root = tmp_path / "root"
    make_folder(root / "train", 2)
    assert pairs.held_out_split(pairs.find_splits(root)) is None
    make_folder(root / "test", 1)
    assert pairs.held_out_split(pairs.find_splits(root)) == root / "test"
    make_folder(root / "val", 1)
    assert pairs.held_out_split(pairs.find_splits(root)) == root / "val"


def test_module_imports_no_tensorflow_and_data_keeps_its_names():
    code = "import sys, pix2pix_lib.pairs; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.stdout.strip() == "False"
    from pix2pix_lib import data  # the notebooks' names for these stay where they were

    for name in ("find_splits", "check_pairs", "scan_pairs", "train_val_split",
                 "resolve_dataset", "DataError", "BadPairsError", "IMAGE_EXTENSIONS",
                 "MAX_IMAGE_PIXELS"):
        assert getattr(data, name) is getattr(pairs, name)


# --- splitting --------------------------------------------------------------------------------


def test_train_val_split_is_deterministic_disjoint_and_complete():
    paths = [Path(f"folder/img_{k:03d}.jpg") for k in range(40)]
    train, val = pairs.train_val_split(paths, val_fraction=0.1, seed=0)
    assert len(val) == 4 and len(train) == 36
    assert set(train).isdisjoint(val) and sorted(train + val) == paths
    assert train == sorted(train) and val == sorted(val)

    shuffled = paths[:]
    random.Random(1).shuffle(shuffled)
    assert pairs.train_val_split(shuffled, val_fraction=0.1, seed=0) == (train, val)
    moved = [Path("elsewhere") / path.name for path in paths]  # names decide, not folders
    assert [path.name for path in pairs.train_val_split(moved, 0.1, seed=0)[1]] == [
        path.name for path in val
    ]
    assert pairs.train_val_split(paths, val_fraction=0.1, seed=1)[1] != val


def test_train_val_split_edge_cases():
    two = [Path("a.png"), Path("b.png")]
    train, val = pairs.train_val_split(two, val_fraction=0.01)
    assert len(train) == 1 and len(val) == 1
    assert pairs.train_val_split([Path("a.png")]) == ([Path("a.png")], [])
    assert pairs.train_val_split(two, val_fraction=0) == (two, [])
    with pytest.raises(ValueError, match="val_fraction"):
        pairs.train_val_split(two, val_fraction=1.0)
