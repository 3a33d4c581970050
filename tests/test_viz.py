"""Tests for pix2pix_lib.viz: each figure has the expected panels and image sizes (tiny inputs)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pix2pix_lib import viz  # noqa: E402
from pix2pix_lib.runs import RunFolder  # noqa: E402


def image_axes(fig):
    """Axes that show an image, and the (H, W) of each."""
    return [(ax, ax.images[0].get_array().shape[:2]) for ax in fig.axes if ax.images]


@pytest.fixture
def pairs():
    rng = np.random.default_rng(0)
    sources = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    targets = rng.uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
    return sources, targets


def test_show_images_grid_and_float_conversion(pairs):
    sources, targets = pairs
    fig = viz.show_images(np.concatenate([sources, sources[:1]]), ncols=2, titles=["a", "b"])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4 and len(image_axes(fig)) == 4
    fig = viz.show_images(targets[0])  # one float image
    ((ax, shape),) = image_axes(fig)
    assert shape == (16, 16)
    assert ax.images[0].get_array().dtype == np.uint8


def test_show_images_leaves_empty_cells_blank(pairs):
    fig = viz.show_images(pairs[0], ncols=2)  # 3 images in a 2x2 grid
    assert len(fig.axes) == 4 and len(image_axes(fig)) == 3


def test_show_pairs_one_row_per_pair(pairs):
    sources, targets = pairs
    fig = viz.show_pairs(sources, targets, titles=("photo", "map"))
    assert len(image_axes(fig)) == 6
    assert [ax.get_title() for ax in fig.axes[:2]] == ["photo", "map"]
    fig = viz.show_pairs(sources, targets, titles=("s", "g", "t"), generated=targets, max_rows=2)
    assert len(image_axes(fig)) == 6
    with pytest.raises(ValueError, match="titles"):
        viz.show_pairs(sources, targets, titles=("only one",))
    with pytest.raises(ValueError, match="differ"):
        viz.show_pairs(sources, targets[:2])


def test_show_pairs_grayscale():
    gray = np.zeros((2, 8, 8, 1), np.uint8)
    fig = viz.show_pairs(gray, gray)
    assert all(shape == (8, 8) for _, shape in image_axes(fig))


def test_show_jitter_crops_to_image_size(pairs):
    sources, _ = pairs
    fig = viz.show_jitter(sources[0], sources[0], image_size=12, seeds=[0, 1, 2])
    shapes = [shape for _, shape in image_axes(fig)]
    assert len(shapes) == 8  # 2 rows x (loaded + 3 seeds)
    assert shapes.count((16, 16)) == 2 and shapes.count((12, 12)) == 6


def test_plot_history_from_rows_and_csv(tmp_path):
    rows = [{"step": s, "d_loss": 1 / s, "g_l1": 2 / s, "val_g_l1": 3 / s, "g_lr": "2e-4"}
            for s in (10, 20, 30)]
    fig = viz.plot_history(rows)
    assert [ax.get_title() for ax in fig.axes] == ["d_loss", "g_l1", "g_lr"]
    assert len(fig.axes[1].lines) == 2  # train and val
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), [10, 20, 30])
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.write_history(rows)
    assert len(viz.plot_history(run.history_path, metrics=["g_l1"]).axes) == 1
    assert len(viz.plot_history(run.path).axes) == 3  # a run folder works too
    with pytest.raises(ValueError, match="no column"):
        viz.plot_history(rows, metrics=["nope"])
    with pytest.raises(ValueError, match="no rows"):
        viz.plot_history([])


@pytest.fixture(scope="module")
def unet_rows():
    from pix2pix_lib import models

    rows = models.model_summary_table(models.unet_generator(32, base_filters=4, max_filters=8))
    plain = models.model_summary_table(
        models.encoder_decoder_generator(32, base_filters=4, max_filters=8))
    return rows, plain


def test_show_unet_draws_every_block_and_the_skips(unet_rows):
    rows, plain = unet_rows
    fig = viz.show_unet(rows)
    (ax,) = fig.axes
    labels = [text.get_text() for text in ax.texts]
    blocks = [row["block"] for row in rows if row["block"].startswith(("down", "up"))]
    assert all(any(label.startswith(block + "\n") for label in labels) for block in blocks)
    assert "down5_bottleneck\n1x1x8" in labels
    assert sum(label.startswith("+") for label in labels) == 4  # one per skip
    plain_labels = [text.get_text() for text in viz.show_unet(plain).axes[0].texts]
    assert not any(label.startswith("+") for label in plain_labels)
    with pytest.raises(ValueError, match="down"):
        viz.show_unet([{"block": "dense", "output_shape": (None, 3), "params": 0}])


def test_show_bottleneck_one_panel_per_model():
    fig = viz.show_bottleneck({"a": [np.ones(4), np.zeros(4)], "b": [np.ones((1, 1, 1, 4))] * 2})
    assert len(fig.axes) == 2
    assert all(len(ax.lines) == 2 for ax in fig.axes)


@pytest.mark.parametrize("field", [1, 16, 70])
def test_show_receptive_field_draws_a_centred_square(field):
    image = np.zeros((64, 64, 3), np.uint8)
    fig = viz.show_receptive_field(image, field)
    (ax,) = fig.axes
    (square,) = ax.patches
    assert square.get_width() == square.get_height() == field
    assert square.get_x() + field / 2 == pytest.approx(31.5)
    assert ax.get_title() == f"{field}x{field} patch"


def test_show_receptive_fields_widens_the_view_for_a_patch_bigger_than_the_image():
    fig = viz.show_receptive_fields(np.zeros((32, 32, 3), np.uint8), fields=(1, 16, 70))
    assert len(fig.axes) == 3
    left, right = fig.axes[2].get_xlim()
    assert right - left >= 70  # the whole 70x70 square is in view
    assert fig.axes[0].get_xlim() == (-0.5, 31.5)


@pytest.mark.parametrize("shape", [(5, 5), (5, 5, 1), (1, 5, 5, 1)])
def test_show_patch_map_accepts_logit_shapes(shape):
    logits = np.arange(25, dtype=np.float32).reshape(shape)
    fig = viz.show_patch_map(logits)
    assert len(fig.axes) == 2  # the map and its colour bar
    assert fig.axes[0].images[0].get_array().shape == (5, 5)
    fig = viz.show_patch_map(logits, image=np.zeros((20, 20, 3), np.uint8))
    assert len(fig.axes) == 3 and len(image_axes(fig)) == 2


def test_show_patch_map_rejects_a_vector():
    with pytest.raises(ValueError, match="patch map"):
        viz.show_patch_map(np.zeros(5))


def test_patch_size_chooser_redraws_on_change():
    image = np.zeros((32, 32, 3), np.uint8)
    box = viz.patch_size_chooser(image, fields=(1, 16, 70), value=16)
    buttons, picture = box.children
    assert "p2p-patch-chooser" in buttons._dom_classes
    assert "p2p-patch-chooser-figure" in picture._dom_classes
    first = bytes(picture.value)  # ipywidgets keeps the bytes as a memoryview
    assert first.startswith(b"\x89PNG")
    buttons.value = 70
    assert bytes(picture.value) != first and bytes(picture.value).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="value"):
        viz.patch_size_chooser(image, fields=(1, 16), value=70)


def test_figures_are_not_registered_with_pyplot(pairs):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    viz.show_pairs(*pairs)
    assert plt.get_fignums() == before


def test_show_images_keeps_the_aspect_of_side_by_side_pairs():
    fig = viz.show_images(np.zeros((8, 16, 3), np.uint8), cell=2.0)
    width, height = fig.get_size_inches()
    assert width == pytest.approx(4.0)


def test_show_pairs_row_labels(pairs):
    fig = viz.show_pairs(*pairs, row_labels=("AtoB", "BtoA"))
    assert [ax.get_ylabel() for ax in fig.axes[::2]] == ["AtoB", "BtoA", ""]


def test_show_feature_maps_one_panel_per_channel():
    features = np.random.default_rng(0).normal(size=(2, 8, 8, 5)).astype(np.float32)
    fig = viz.show_feature_maps(features, count=3)
    assert [shape for _, shape in image_axes(fig)] == [(8, 8)] * 3
    assert len(viz.show_feature_maps(features[0, ..., :2], count=8).axes) == 2
    with pytest.raises(ValueError, match="features"):
        viz.show_feature_maps(np.zeros(4))


def test_show_param_counts_one_bar_per_block_with_parameters(unet_rows):
    rows, _ = unet_rows
    fig = viz.show_param_counts(rows)
    with_params = [row for row in rows if row["params"] > 0]
    assert len(fig.axes[0].patches) == len(with_params)
    assert fig.axes[0].get_title() == f"{sum(r['params'] for r in rows):,} parameters"
    with pytest.raises(ValueError, match="no block"):
        viz.show_param_counts([{"block": "source", "output_shape": (None, 2), "params": 0}])


def test_show_patch_map_uncentred_scale():
    fig = viz.show_patch_map(np.array([[0.0, 1.0], [2.0, 4.0]]), centred=False)
    assert fig.axes[0].images[0].get_clim() == (0.0, 4.0)


def test_show_jitter_names_crop_and_mirror():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (18, 18, 3), dtype=np.uint8)  # jitter_size(16) == 18
    fig = viz.show_jitter(image, image, image_size=16, seeds=range(6))
    titles = [ax.get_title() for ax in fig.axes[1:7]]
    assert all(title.startswith(f"seed {k}\ncrop at (") for k, title in enumerate(titles))
    assert any(title.endswith("mirrored") for title in titles)
    assert viz.locate_crop(image, image[:16, :16] + 1) is None


def test_show_images_accepts_a_list_of_different_sizes():
    fig = viz.show_images([np.zeros((8, 8, 3), np.uint8), np.zeros((4, 6, 3), np.float32)])
    assert [shape for _, shape in image_axes(fig)] == [(8, 8), (4, 6)]


def test_results_figure_labels_a_runs_last_sample_grid(tmp_path):
    from PIL import Image

    from pix2pix_lib.viz import save_results_figure

    samples = tmp_path / "run" / "samples"
    samples.mkdir(parents=True)
    Image.new("RGB", (96, 64), "green").save(samples / "step-00000010.png")
    Image.new("RGB", (96, 64), "blue").save(samples / "step-00000020.png")
    out = save_results_figure(tmp_path / "run", tmp_path / "docs" / "results.png")
    pixels = np.asarray(Image.open(out).convert("RGB"))
    assert pixels.shape[1] == 96 and pixels.shape[0] > 64  # the grid plus a label strip
    assert (pixels[-10:, 40:50] == [0, 0, 255]).all()  # the LAST grid (step 20) is shown
    with pytest.raises(FileNotFoundError, match="make train"):
        save_results_figure(tmp_path / "empty", tmp_path / "x.png")
