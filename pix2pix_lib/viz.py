"""Figures for the notebooks: image grids, jitter, loss curves, the U-Net, the PatchGAN.

Every function returns a `matplotlib.figure.Figure` built without pyplot: nothing is shown,
nothing is kept in pyplot's list of open figures (so a notebook never needs `plt.close` and
never hits "More than 20 figures have been opened"), and no global state is read. In a notebook
the figure is the cell's last expression, or is passed to `display(fig)`. Images may be uint8
(0..255) or float in [-1, 1] (converted with `data.to_uint8`), numpy arrays or tensors, one
image (H, W, C) or a batch (N, H, W, C).

The one widget here, `patch_size_chooser`, redraws a receptive-field figure when a patch size
is picked. Widgets need a front end; the notebooks do not try to detect one (the kernel looks
the same under nbval as under JupyterLab). Instead a notebook ALWAYS displays the static
figure first (`show_receptive_fields`, all four sizes) and then the widget: without a front end
(nbval, nbconvert, a notebook viewer) the static figure is what remains, with one the widget
adds the interactive view. The widget shows its figure as a PNG in an `ipywidgets.Image`, so
redrawing needs no output routing and works the same in tests.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from pix2pix_lib.config import RECEPTIVE_FIELDS
from pix2pix_lib.data import random_jitter, to_uint8
from pix2pix_lib.run_folder import RunFolder, history_numbers, read_history_csv

__all__ = [
    "as_uint8_batch",
    "figure_png",
    "locate_crop",
    "patch_size_chooser",
    "plot_history",
    "read_history",
    "show_bottleneck",
    "show_feature_maps",
    "show_images",
    "show_jitter",
    "show_pairs",
    "show_param_counts",
    "show_patch_map",
    "show_receptive_field",
    "show_receptive_fields",
    "show_unet",
]

_FIELD_COLOURS = {1: "#ff3b30", 16: "#ffcc00", 70: "#00e5ff", 286: "#ff2dff"}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def as_uint8_batch(images) -> np.ndarray:
    """(N, H, W, C) uint8 from one image or a batch, uint8 or float in [-1, 1]."""
    array = np.asarray(images)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"expected an image (H, W, C) or a batch (N, H, W, C), got {array.shape}")
    if array.dtype != np.uint8:
        array = to_uint8(array)
    return array


def _draw_image(ax, image: np.ndarray, title: str | None = None) -> None:
    """Draw one uint8 (H, W, C) image without ticks; one channel is drawn in gray."""
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _grid(rows: int, cols: int, cell: float = 2.4, aspect: float = 1.0,
          extra_height: float = 0.3) -> Figure:
    """rows x cols axes for images `aspect` times as wide as high, `cell` inches high."""
    fig = Figure(figsize=(cols * cell * aspect, rows * cell + extra_height), layout="constrained")
    fig.subplots(rows, cols, squeeze=False)
    return fig


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (for an `ipywidgets.Image`, or to save by hand)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def show_images(images, titles: Sequence[str] | None = None, ncols: int | None = None,
                cell: float = 2.4) -> Figure:
    """A grid of images, `ncols` per row (default: all in one row, at most 6).

    `images` is a batch, or a list of images that may differ in size (cells are shaped like
    the first one).
    """
    if isinstance(images, list | tuple):
        batch = [as_uint8_batch(image)[0] for image in images]
    else:
        batch = list(as_uint8_batch(images))
    n = len(batch)
    ncols = ncols or min(n, 6)
    nrows = math.ceil(n / ncols)
    fig = _grid(nrows, ncols, cell, aspect=batch[0].shape[1] / batch[0].shape[0])
    for i, ax in enumerate(fig.axes):
        if i < n:
            _draw_image(ax, batch[i], titles[i] if titles and i < len(titles) else None)
        else:
            ax.set_axis_off()
    return fig


def show_pairs(sources, targets, titles: Sequence[str] = ("source", "target"),
               generated=None, row_labels: Sequence[str] | None = None, max_rows: int = 4,
               cell: float = 2.4) -> Figure:
    """Pairs side by side, one pair per row: source | [generated |] target.

    `titles` names the columns (source, target), or (source, generated, target) when
    `generated` is given; `row_labels` names the rows. At most `max_rows` pairs are drawn.
    """
    columns = [as_uint8_batch(sources)]
    if generated is not None:
        columns.append(as_uint8_batch(generated))
    columns.append(as_uint8_batch(targets))
    if len({len(c) for c in columns}) != 1:
        raise ValueError(f"sources and targets differ in number: {[len(c) for c in columns]}")
    if len(titles) != len(columns):
        raise ValueError(f"{len(columns)} columns need {len(columns)} titles, got {titles!r}")
    rows = min(len(columns[0]), max_rows)
    fig = _grid(rows, len(columns), cell)
    axes = np.asarray(fig.axes).reshape(rows, len(columns))
    for r in range(rows):
        for c, column in enumerate(columns):
            _draw_image(axes[r, c], column[r], titles[c] if r == 0 else None)
        if row_labels is not None and r < len(row_labels):
            axes[r, 0].set_ylabel(row_labels[r], fontsize=9)
    return fig


def show_feature_maps(features, count: int = 8, title: str | None = None,
                      cell: float = 1.6) -> Figure:
    """The first `count` channels of one feature map (H, W, C) or batch (first item), in gray.

    Each channel is stretched to its own min..max, so the patterns show whatever their scale.
    """
    maps = np.asarray(features, dtype=np.float32)
    maps = maps[0] if maps.ndim == 4 else maps
    if maps.ndim != 3:
        raise ValueError(f"expected features (H, W, C) or (N, H, W, C), got {np.shape(features)}")
    count = min(count, maps.shape[-1])
    fig = _grid(1, count, cell)
    for k, ax in enumerate(fig.axes):
        channel = maps[..., k]
        low, high = float(channel.min()), float(channel.max())
        scaled = (channel - low) / (high - low) if high > low else np.zeros_like(channel)
        _draw_image(ax, np.round(scaled * 255).astype(np.uint8)[..., None], f"channel {k}")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def show_jitter(source, target, image_size: int, seeds: Iterable[int] = range(4),
                cell: float = 2.0) -> Figure:
    """One pair and its paper jitter (`data.random_jitter`) under several seeds.

    Two rows, source and target; the first column is the pair as loaded, then one column per
    seed. Each column applies the same crop and mirror to both rows, which is the point: the
    pair stays aligned. When the pair is given at the jitter size (`data.jitter_size`, so no
    resize happens) each column's title says where the crop starts and whether it is mirrored.
    """
    source = as_uint8_batch(source)[0]
    target = as_uint8_batch(target)[0]
    seeds = list(seeds)
    fig = _grid(2, len(seeds) + 1, cell)
    axes = np.asarray(fig.axes).reshape(2, len(seeds) + 1)
    _draw_image(axes[0, 0], source, f"as loaded\n{source.shape[0]} px")
    _draw_image(axes[1, 0], target)
    for col, seed in enumerate(seeds, start=1):
        jittered = random_jitter(source, target, image_size, seed=np.array([seed, 0], np.int64))
        crop = np.asarray(jittered[0])
        found = locate_crop(source, crop)
        title = f"seed {seed}"
        if found is not None:
            top, left, mirrored = found
            title += f"\ncrop at ({top}, {left})" + (", mirrored" if mirrored else "")
        _draw_image(axes[0, col], crop, title)
        _draw_image(axes[1, col], np.asarray(jittered[1]))
    axes[0, 0].set_ylabel("source", fontsize=9)
    axes[1, 0].set_ylabel("target", fontsize=9)
    return fig


def locate_crop(image: np.ndarray, crop: np.ndarray) -> tuple[int, int, bool] | None:
    """(top, left, mirrored) of an exact crop of `image`, or None if it is not one."""
    size = crop.shape[0]
    room = image.shape[0] - size + 1
    if room < 1 or crop.shape != (size, size, image.shape[2]):
        return None
    for mirrored, candidate in ((False, crop), (True, crop[:, ::-1])):
        for top in range(room):
            for left in range(room):
                if np.array_equal(image[top:top + size, left:left + size], candidate):
                    return top, left, mirrored
    return None


# --------------------------------------------------------------------------------------------
# Loss curves
# --------------------------------------------------------------------------------------------


def read_history(history) -> list[dict[str, float]]:
    """Rows of a run's history as numbers: a list of dicts, a history.csv path, or a run
    folder (`run_folder.history_numbers` parses them)."""
    if isinstance(history, str | os.PathLike):
        path = Path(history)
        if path.is_dir():
            path = RunFolder(path).history_path
        history = read_history_csv(path)
    return history_numbers(history)


def plot_history(history, metrics: Sequence[str] | None = None, cell: float = 3.2) -> Figure:
    """Loss curves against the training `step`: one panel per metric, train and val together.

    `history` is what `read_history` accepts. A column `val_X` is drawn dashed in the panel of
    `X`; learning-rate columns (names containing "lr") get their own panel. `metrics` picks and
    orders the panels (default: every metric found).
    """
    rows = read_history(history)
    if not rows:
        raise ValueError("the history has no rows with a step column; has the run logged yet?")
    columns = list(dict.fromkeys(key for row in rows for key in row if key != "step"))
    bases = list(dict.fromkeys(c.removeprefix("val_") for c in columns))
    if metrics is not None:
        unknown = [m for m in metrics if m not in bases]
        if unknown:
            raise ValueError(f"no column for {unknown} in the history; it has {bases}")
        bases = list(metrics)
    fig = Figure(figsize=(cell * len(bases), cell * 0.8), layout="constrained")
    axes = fig.subplots(1, len(bases), squeeze=False)[0]
    for ax, base in zip(axes, bases, strict=True):
        for column, style, label in ((base, "-", "train"), ("val_" + base, "--", "val")):
            points = [(row["step"], row[column]) for row in rows if column in row]
            if points:
                steps, values = zip(*points, strict=True)
                ax.plot(steps, values, style, marker="." if len(points) < 20 else None,
                        label=label)
        ax.set_title(base, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if any("val_" + base in row for row in rows):
            ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------
# The U-Net
# --------------------------------------------------------------------------------------------


def show_unet(rows: Sequence[Mapping], title: str | None = None) -> Figure:
    """The generator's blocks drawn as a U, from `models.model_summary_table(generator)`.

    Encoder blocks (`downK`) go down the left, decoder blocks (`upK`) come up the right, each
    box labelled with its output size and channels; dashed arrows are the skip connections
    (`skipK` rows: present for the U-Net, absent for the plain encoder-decoder).
    """
    by_name = {row["block"]: row for row in rows}
    encoder = [row for row in rows if row["block"].startswith("down")]
    decoder = [row for row in rows if row["block"].startswith("up")]
    skips = {int(row["block"][4:]) for row in rows if row["block"].startswith("skip")}
    if not encoder:
        raise ValueError("no down* blocks: pass models.model_summary_table(generator)")
    depth = len(encoder)
    fig = Figure(figsize=(9, 0.55 * depth + 1.4), layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(-1.0, 2 * depth + 1.0)
    ax.set_ylim(-depth - 1.2, 1.0)
    ax.set_axis_off()

    def box(x, y, row, colour):
        _, h, w, c = row["output_shape"]
        ax.add_patch(Rectangle((x - 0.9, y - 0.35), 1.8, 0.7, facecolor=colour,
                               edgecolor="black", linewidth=0.6))
        ax.text(x, y, f"{row['block']}\n{h}x{w}x{c}", ha="center", va="center", fontsize=7)

    source = by_name.get("source")
    if source is not None:
        box(0, 0, source, "#eeeeee")
    # Level L (1 = first block, depth = bottleneck) sits L rows down; the two arms of the U
    # close in step by step so that the bottleneck sits in the middle.
    step = depth / max(depth - 1, 1)
    for i, row in enumerate(encoder):  # down1 sits one level below the input
        box(i * step, -(i + 1), row, "#9ecae1")
    for j, row in enumerate(decoder):  # up1 sits one level above the bottleneck
        level = depth - 1 - j
        box(2 * depth - (level - 1) * step, -level, row, "#fdae6b")
        if (j + 1) in skips:
            mirror = encoder[level - 1]
            ax.add_patch(FancyArrowPatch(((level - 1) * step + 0.9, -level),
                                         (2 * depth - (level - 1) * step - 0.9, -level),
                                         arrowstyle="->", linestyle="--", color="gray",
                                         mutation_scale=8))
            ax.text(depth, -level + 0.06, f"+{mirror['output_shape'][-1]}",
                    ha="center", va="bottom", fontsize=7, color="gray")
    output = by_name.get("output")
    if output is not None:
        box(2 * depth, 0, output, "#eeeeee")
    if title is None:
        title = (f"{depth} blocks down to 1x1, {len(decoder) + 1} back up; "
                 + ("dashed: skip connections (+channels concatenated)" if skips
                    else "no skip connections"))
    ax.set_title(title, fontsize=10)
    return fig


def show_param_counts(rows: Sequence[Mapping], title: str | None = None) -> Figure:
    """Parameters per block (horizontal bars, in call order) from `models.model_summary_table`."""
    rows = [row for row in rows if row.get("params", 0) > 0]
    if not rows:
        raise ValueError("no block with parameters: pass models.model_summary_table(model)")
    total = sum(row["params"] for row in rows)
    fig = Figure(figsize=(7, 0.28 * len(rows) + 1.0), layout="constrained")
    ax = fig.subplots()
    names = [row["block"] for row in rows]
    values = [row["params"] / 1e6 for row in rows]
    ax.barh(names, values, color="#6baed6")
    ax.invert_yaxis()
    for y, row in enumerate(rows):
        ax.text(row["params"] / 1e6, y, f" {100 * row['params'] / total:.1f}%", va="center",
                fontsize=7)
    ax.set_xlabel("parameters (millions)")
    ax.set_title(title or f"{total:,} parameters", fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    ax.margins(x=0.12)
    return fig


def show_bottleneck(codes: Mapping[str, Sequence], labels: Sequence[str] | None = None,
                    cell: float = 3.6) -> Figure:
    """Bottleneck vectors of several inputs, one panel per model: are they different at all?

    `codes` maps a model name to a list of vectors (one per input; any shape, flattened).
    """
    fig = Figure(figsize=(cell * len(codes), cell * 0.75), layout="constrained")
    axes = fig.subplots(1, len(codes), squeeze=False)[0]
    for ax, (name, vectors) in zip(axes, codes.items(), strict=True):
        for k, vector in enumerate(vectors):
            label = labels[k] if labels else f"input {k + 1}"
            ax.plot(np.asarray(vector, dtype=np.float32).ravel(), "-o" if k == 0 else "--x",
                    markersize=3, linewidth=1, label=label)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("channel")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------------------------
# The PatchGAN
# --------------------------------------------------------------------------------------------


def _draw_field(ax, size: int, field: int, centre: tuple[float, float]) -> None:
    """A field x field square centred on `centre` (clipped to the image by the axes limits)."""
    cy, cx = centre
    colour = _FIELD_COLOURS.get(field, "#00e5ff")
    ax.add_patch(Rectangle((cx - field / 2, cy - field / 2), field, field, fill=False,
                           edgecolor=colour, linewidth=2))
    ax.plot([cx], [cy], marker="+", color=colour, markersize=8)
    ax.set_title(f"{field}x{field} patch", fontsize=9)
    # A patch larger than the image (the 286x286 ImageGAN at 256 px) is shown whole, with the
    # zero padding it sees around the image left blank.
    margin = max(0.0, (field - size) / 2) + (2 if field > size else 0)
    ax.set_xlim(-0.5 - margin, size - 0.5 + margin)
    ax.set_ylim(size - 0.5 + margin, -0.5 - margin)


def show_receptive_field(image, receptive_field: int, centre: tuple[float, float] | None = None,
                         cell: float = 3.6) -> Figure:
    """The patch of `image` one output unit of D sees: a receptive_field-sided square.

    Centred on the image (or on `centre` = (row, column) in pixels); a square larger than the
    image is drawn clipped, as the 286x286 ImageGAN's on a 256x256 image.
    """
    frame = as_uint8_batch(image)[0]
    fig = Figure(figsize=(cell, cell + 0.3), layout="constrained")
    ax = fig.subplots()
    _draw_image(ax, frame)
    size = frame.shape[0]
    _draw_field(ax, size, int(receptive_field), centre or ((size - 1) / 2, (size - 1) / 2))
    return fig


def show_receptive_fields(image, fields: Sequence[int] = RECEPTIVE_FIELDS,
                          cell: float = 3.0) -> Figure:
    """`show_receptive_field` for several patch sizes side by side (the paper's figure 6 sizes)."""
    frame = as_uint8_batch(image)[0]
    size = frame.shape[0]
    fig = _grid(1, len(fields), cell)
    for ax, field in zip(fig.axes, fields, strict=True):
        _draw_image(ax, frame)
        _draw_field(ax, size, int(field), ((size - 1) / 2, (size - 1) / 2))
    return fig


def show_patch_map(logits, image=None, title: str = "D's output: one logit per patch",
                   cmap: str = "coolwarm", centred: bool = True, image_title: str = "input",
                   cell: float = 3.4) -> Figure:
    """D's patch map as a heatmap with a colour bar; `image` (if given) is drawn on its left.

    `logits` is (H, W), (H, W, 1) or (1, H, W, 1). `centred` puts 0 in the middle of the
    colour scale (logits: > 0 says real, < 0 fake); False spans min..max (e.g. for changes).
    The figure has 2 axes (map, colour bar), or 3 with the image.
    """
    values = np.asarray(logits, dtype=np.float32)
    values = values.reshape(values.shape[-3], values.shape[-2]) if values.ndim >= 3 else values
    if values.ndim != 2:
        raise ValueError(f"expected a patch map (H, W[, 1]), got shape {np.shape(logits)}")
    panels = 2 if image is not None else 1
    fig = Figure(figsize=(cell * panels + 0.6, cell + 0.3), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    if image is not None:
        _draw_image(axes[0], as_uint8_batch(image)[0], image_title)
    ax = axes[-1]
    limit = float(np.max(np.abs(values))) or 1.0
    low, high = (-limit, limit) if centred else (float(values.min()), float(values.max()))
    shown = ax.imshow(values, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
    ax.set_title(f"{title}\n{values.shape[0]}x{values.shape[1]}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(shown, ax=ax, shrink=0.8)
    return fig


def patch_size_chooser(image, fields: Sequence[int] = RECEPTIVE_FIELDS, value: int = 70):
    """A widget: pick a patch size, see it on `image` (see the module docstring on front ends).

    Returns an `ipywidgets.VBox` of a ToggleButtons (CSS class ``p2p-patch-chooser``) and an
    Image showing `show_receptive_field` (class ``p2p-patch-chooser-figure``); choosing a size
    redraws the image. Display `show_receptive_fields(image)` before it for readers without a
    front end.
    """
    import ipywidgets as widgets

    if value not in fields:
        raise ValueError(f"value={value!r} is not one of the fields {tuple(fields)}")
    buttons = widgets.ToggleButtons(
        options=[(f"{f}x{f}", f) for f in fields], value=value, description="patch size",
        tooltips=[f"what one output unit of a {f}x{f} PatchGAN sees" for f in fields],
    )
    buttons.add_class("p2p-patch-chooser")
    picture = widgets.Image(format="png")
    picture.add_class("p2p-patch-chooser-figure")

    def redraw(change=None):
        picture.value = figure_png(show_receptive_field(image, buttons.value))

    buttons.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([buttons, picture])
    box.add_class("p2p-patch-chooser-box")
    return box


def save_results_figure(run_dir, out_path,
                        columns: Sequence[str] = ("satellite photo", "generated map", "real map"),
                        dpi: int = 100) -> Path:
    """Write the README's results figure: a run's last sample grid with column labels.

    The grid is the one the trainer saved (`samples/step-*.png`: source | generated | target
    for fixed val pairs), so the figure shows a real run's output, never a hand-picked one.
    """
    from PIL import Image

    run = RunFolder(run_dir)
    samples = run.samples()
    if not samples:
        raise FileNotFoundError(
            f"{run.samples_dir} holds no sample grid; train the run first (make train)."
        )
    grid = np.asarray(Image.open(samples[-1]).convert("RGB"))
    height, width = grid.shape[:2]
    fig = Figure(figsize=(width / dpi, height / dpi + 0.3), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, height / (height + 0.3 * dpi)))
    ax.imshow(grid)
    ax.set_axis_off()
    for index, label in enumerate(columns):
        fig.text((index + 0.5) / len(columns), 0.99, label, ha="center", va="top", fontsize=9)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    # A 128-colour palette keeps the README's figure small (a third of the size) and looks
    # the same at this scale.
    Image.open(buffer).convert("RGB").quantize(128).save(out_path, optimize=True)
    return out_path
