"""Interactive explorers for the notebooks: the L1 weight lambda, and val results image by image.

    lambda_explorer / lambda_figure           a slider over runs trained with different
                                              objectives (lambda = 1, 10, 100, L1 only, ...):
                                              their outputs on the same val images, and the
                                              size of the adversarial vs the lambda x L1 term
                                              (`compare_figure`: the same grid for any set of
                                              variants, e.g. the ablations of notebook 07)
    image_browser / image_browser_figure      an IntSlider over val images: source | generated
                                              | target for the chosen index (and its metrics)

Each explorer is an `ipywidgets.VBox` whose parts carry stable CSS classes, so an end-to-end
browser test can find them: ``p2p-lambda-slider`` / ``p2p-lambda-output`` and
``p2p-image-browser`` / ``p2p-image-browser-output``. Moving the slider redraws the picture
inside the `Output` widget (``out.clear_output(wait=True)`` inside ``with out:``, so the old
picture is replaced, not appended to); the picture is a PNG of a figure built without pyplot,
so no figure is left open and nothing appears twice.

Front ends. A kernel cannot tell whether anything will render its widgets: under nbval or
nbconvert it looks exactly as under JupyterLab. So the notebooks do not try to detect one: next
to each explorer they ALWAYS show the static `*_figure` (a Figure, like those of
`pix2pix_lib.viz`), which is what nbval, nbconvert and notebook viewers keep. The static figure
shows everything at once (every lambda side by side, the first val images), the widget one
thing at a time, larger. Each explorer also records what it drew last (`shown`, `png`), which
the tests use to check that moving the slider really redraws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets
import numpy as np
from IPython.display import Image, display
from matplotlib.figure import Figure

from pix2pix_lib.viz import as_uint8_batch, figure_png, show_pairs

__all__ = [
    "ImageBrowser",
    "LambdaExplorer",
    "compare_figure",
    "image_browser",
    "image_browser_figure",
    "lambda_explorer",
    "lambda_figure",
]

_TERM_COLOURS = {"adversarial": "#d62728", "l1": "#1f77b4"}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _uint8_batch(images) -> np.ndarray:
    """viz's (N, H, W, C) uint8 batch, with gray images repeated to RGB for the widgets."""
    array = as_uint8_batch(images)
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return array


def _draw(ax, image: np.ndarray, title: str | None = None) -> None:
    ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _show_png(out: ipywidgets.Output, png: bytes) -> None:
    """Replace what `out` shows by the PNG (wait=True: no flicker, no growing list)."""
    with out:
        out.clear_output(wait=True)
        display(Image(data=png, format="png"))


def _check_same_length(**arrays) -> int:
    lengths = {name: len(value) for name, value in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"these must hold the same number of images: {lengths}")
    count = next(iter(lengths.values()))
    if count == 0:
        raise ValueError("no images to show")
    return count


def _format_metrics(metrics: Mapping[str, Sequence[float]] | None, index: int) -> str:
    if not metrics:
        return ""
    return "  ".join(f"{name} {float(values[index]):.3g}" for name, values in metrics.items())


# --------------------------------------------------------------------------------------------
# The lambda explorer
# --------------------------------------------------------------------------------------------


def _check_lambda_inputs(generated, sources, targets, terms):
    if not isinstance(generated, Mapping) or not generated:
        raise ValueError(
            "generated must be a dict {label: images}, one entry per setting "
            "(e.g. {'lambda=1': ..., 'lambda=100': ..., 'L1 only': ...})"
        )
    sources, targets = _uint8_batch(sources), _uint8_batch(targets)
    outputs = {str(label): _uint8_batch(images) for label, images in generated.items()}
    _check_same_length(sources=sources, targets=targets, **outputs)
    if terms is not None:
        missing = [label for label in generated if label not in terms]
        if missing:
            raise ValueError(f"terms has no entry for {missing}")
        for label in generated:
            unknown = set(terms[label]) - set(_TERM_COLOURS)
            if unknown:
                raise ValueError(f"terms[{label!r}] may hold 'adversarial' and 'l1', not {unknown}")
    return outputs, sources, targets


def _draw_terms(ax, terms: Mapping[str, Mapping[str, float]], highlight: str | None) -> None:
    """Grouped horizontal bars: the weighted adversarial and L1 terms of each setting."""
    labels = list(terms)
    positions = np.arange(len(labels))
    for offset, (name, colour) in zip((-0.2, 0.2), _TERM_COLOURS.items(), strict=True):
        values = [float(terms[label].get(name, 0.0)) for label in labels]
        caption = "adversarial term" if name == "adversarial" else "lambda x L1 term"
        ax.barh(positions + offset, values, height=0.38, color=colour, label=caption)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("weighted loss (symlog)", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    if highlight is not None:
        ax.axhspan(labels.index(highlight) - 0.5, labels.index(highlight) + 0.5,
                   color="gold", alpha=0.25)
    ax.set_title("what G is pushed by", fontsize=9)


def compare_figure(
    generated: Mapping[str, object],
    sources,
    targets,
    terms: Mapping[str, Mapping[str, float]] | None = None,
    max_rows: int = 3,
    cell: float = 2.0,
) -> Figure:
    """Every setting side by side: source | one column per label | target, a row per image.

    generated: {label: images (N, H, W, C) in [-1, 1] or uint8} on the same N val pairs, in
    display order (e.g. `experiments.variant_outputs`). terms (optional): {label:
    {"adversarial": float, "l1": float}}, the WEIGHTED terms of each run's objective
    (gan_weight x L_GAN, lambda x L_L1, e.g. `experiments.loss_terms`); drawn as bars in an
    extra column when given. The static counterpart of `lambda_explorer`, and the side-by-side
    grid of the ablations.
    """
    outputs, sources, targets = _check_lambda_inputs(generated, sources, targets, terms)
    rows = min(len(sources), max_rows)
    columns = len(outputs) + 2
    width = cell * columns + (3.2 if terms else 0.0)
    fig = Figure(figsize=(width, cell * rows + 0.4), layout="constrained")
    ratios = [1.0] * columns + ([1.6] if terms else [])
    grid = fig.add_gridspec(rows, len(ratios), width_ratios=ratios)
    for r in range(rows):
        panels = [("source", sources[r])] + [(label, images[r]) for label, images in
                                             outputs.items()] + [("target", targets[r])]
        for c, (label, image) in enumerate(panels):
            _draw(fig.add_subplot(grid[r, c]), image, label if r == 0 else None)
    if terms:
        _draw_terms(fig.add_subplot(grid[:, -1]), {label: terms[label] for label in outputs},
                    highlight=None)
    return fig


lambda_figure = compare_figure  # the name notebook 04 uses: the lambda sweep side by side


def _lambda_panel(outputs, sources, targets, terms, label, rows, cell) -> Figure:
    """The widget's picture for one setting: source | generated | target rows (+ the bars)."""
    extra = 1 if terms else 0
    fig = Figure(figsize=(cell * 3 + 3.4 * extra, cell * rows + 0.4), layout="constrained")
    grid = fig.add_gridspec(rows, 3 + extra, width_ratios=[1, 1, 1] + [1.7] * extra)
    for r in range(rows):
        for c, (title, image) in enumerate((("source", sources[r]), (label, outputs[label][r]),
                                            ("target", targets[r]))):
            _draw(fig.add_subplot(grid[r, c]), image, title if r == 0 else None)
    if terms:
        _draw_terms(fig.add_subplot(grid[:, -1]), {k: terms[k] for k in outputs}, label)
    return fig


class LambdaExplorer(ipywidgets.VBox):
    """A SelectionSlider over the settings (class ``p2p-lambda-slider``) above an Output
    (class ``p2p-lambda-output``) showing the chosen setting's outputs. Built by
    `lambda_explorer`; `shown` is the label drawn last, `png` its picture."""

    def __init__(self, generated, sources, targets, terms=None, value=None, max_rows=2,
                 cell=2.2):
        outputs, sources, targets = _check_lambda_inputs(generated, sources, targets, terms)
        labels = list(outputs)
        if value is None:
            value = labels[len(labels) // 2]
        if str(value) not in labels:
            raise ValueError(f"value={value!r} is not one of the labels {labels}")
        self.slider = ipywidgets.SelectionSlider(
            options=labels, value=str(value), description="objective",
            continuous_update=False, layout=ipywidgets.Layout(width="min(100%, 560px)"),
            style={"description_width": "initial"},
        )
        self.slider.add_class("p2p-lambda-slider")
        self.output = ipywidgets.Output()
        self.output.add_class("p2p-lambda-output")
        super().__init__([self.slider, self.output])
        self.add_class("p2p-lambda-explorer")
        self._data = (outputs, sources, targets, terms, min(len(sources), max_rows), cell)
        self.shown: str | None = None
        self.png: bytes = b""
        self.slider.observe(self._redraw, names="value")
        self._redraw()

    def _redraw(self, change=None) -> None:
        label = self.slider.value
        self.png = figure_png(_lambda_panel(*self._data[:4], label, *self._data[4:]))
        self.shown = label
        _show_png(self.output, self.png)


def lambda_explorer(
    generated: Mapping[str, object],
    sources,
    targets,
    terms: Mapping[str, Mapping[str, float]] | None = None,
    value: str | None = None,
    max_rows: int = 2,
) -> LambdaExplorer:
    """A slider over settings of the objective; arguments as for `lambda_figure`.

    Each position shows the chosen run's outputs on the val images next to source and target,
    and (with `terms`) the weighted adversarial vs lambda x L1 terms of every run, the chosen
    one highlighted. `value`: the label to start on (default: the middle one). Display the
    returned widget; show `lambda_figure(...)` as well for readers without a front end.
    """
    return LambdaExplorer(generated, sources, targets, terms, value, max_rows)


# --------------------------------------------------------------------------------------------
# The image browser
# --------------------------------------------------------------------------------------------


def _browser_panel(sources, generated, targets, index, metrics, titles, cell) -> Figure:
    fig = Figure(figsize=(cell * 3, cell + 0.6), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, title, images in zip(axes, titles, (sources, generated, targets), strict=True):
        _draw(ax, images[index], title)
    caption = f"val image {index}"
    scores = _format_metrics(metrics, index)
    fig.suptitle(f"{caption}   {scores}" if scores else caption, fontsize=10)
    return fig


class ImageBrowser(ipywidgets.VBox):
    """An IntSlider over image indices (class ``p2p-image-browser``) above an Output (class
    ``p2p-image-browser-output``) showing source | generated | target for the chosen index.
    Built by `image_browser`; `shown` is the index drawn last, `png` its picture."""

    def __init__(self, sources, generated, targets, metrics=None,
                 titles=("source", "generated", "target"), cell=3.0):
        sources, generated, targets = (_uint8_batch(x) for x in (sources, generated, targets))
        count = _check_same_length(sources=sources, generated=generated, targets=targets)
        if metrics:
            for name, values in metrics.items():
                if len(values) != count:
                    raise ValueError(f"metrics[{name!r}] has {len(values)} values for "
                                     f"{count} images")
        if len(titles) != 3:
            raise ValueError(f"titles needs 3 entries (source, generated, target), got {titles}")
        self.slider = ipywidgets.IntSlider(
            value=0, min=0, max=count - 1, step=1, description="val image",
            continuous_update=False, style={"description_width": "initial"},
        )
        self.slider.add_class("p2p-image-browser")
        self.output = ipywidgets.Output()
        self.output.add_class("p2p-image-browser-output")
        super().__init__([self.slider, self.output])
        self.add_class("p2p-image-browser-box")
        self._data = (sources, generated, targets)
        self._metrics = dict(metrics) if metrics else None
        self._titles = tuple(titles)
        self._cell = cell
        self.shown: int | None = None
        self.png: bytes = b""
        self.slider.observe(self._redraw, names="value")
        self._redraw()

    def _redraw(self, change=None) -> None:
        index = int(self.slider.value)
        fig = _browser_panel(*self._data, index, self._metrics, self._titles, self._cell)
        self.png = figure_png(fig)
        self.shown = index
        _show_png(self.output, self.png)


def image_browser(
    sources,
    generated,
    targets,
    metrics: Mapping[str, Sequence[float]] | None = None,
    titles: Sequence[str] = ("source", "generated", "target"),
) -> ImageBrowser:
    """Browse val results one at a time: source | generated | target for the slider's index.

    sources, generated, targets: (N, H, W, C) in [-1, 1] or uint8, the same N. metrics
    (optional): {name: N values}, e.g. per-image L1 and map accuracy, printed above the images.
    Display the returned widget; show `image_browser_figure(...)` as well for readers without
    a front end.
    """
    return ImageBrowser(sources, generated, targets, metrics, titles)


def image_browser_figure(sources, generated, targets, max_rows: int = 4,
                         titles: Sequence[str] = ("source", "generated", "target")) -> Figure:
    """The static counterpart: the first `max_rows` images as source | generated | target rows."""
    return show_pairs(sources, targets, titles=tuple(titles), generated=generated,
                      max_rows=max_rows)
