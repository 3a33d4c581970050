"""Interactive widgets for the notebooks: explorers of results, and translating your own photo.

    lambda_explorer / lambda_figure           a slider over runs trained with different
                                              objectives (lambda = 1, 10, 100, L1 only, ...):
                                              their outputs on the same val images, and the
                                              size of the adversarial vs the lambda x L1 term
                                              (`compare_figure`: the same grid for any set of
                                              variants, e.g. the ablations of notebook 07)
    image_browser / image_browser_figure      an IntSlider over val images: source | generated
                                              | target for the chosen index (and its metrics)
    upload_translator / translation_figure    a file picker: your photo, of any size and in
                                              any format the course reads, translated (tiled
                                              when large) and shown beside it; a button saves
                                              the result into the run folder (`decode_upload`
                                              reads the upload)

Painting a map and watching the generator answer is `pix2pix_lib.paint` (it needs anywidget).

Each widget is an `ipywidgets.VBox` whose parts carry stable CSS classes, so an end-to-end
browser test can find them: ``p2p-lambda-slider`` / ``p2p-lambda-output`` and
``p2p-image-browser`` / ``p2p-image-browser-output``, ``p2p-upload`` (the file picker) /
``p2p-upload-output``. Moving the slider (or uploading) replaces the PNG bytes of an
`ipywidgets.Image` inside the ``*-output`` box; the picture is a PNG of a figure built without
pyplot, so no figure is left open and nothing appears twice. Not an `Output` widget with
``display`` inside it: nbclient (nbconvert --execute, papermill) mirrors every Output widget
and writes to the kernel's shell channel while it waits for the cell's reply, and 06 hung in
nbclient now and then at its image browser that way (jupyter/nbclient issue 312).

Front ends. A kernel cannot tell whether anything will render its widgets: under nbval or
nbconvert it looks exactly as under JupyterLab. So the notebooks do not try to detect one: next
to each explorer they ALWAYS show the static `*_figure` (a Figure, like those of
`pix2pix_lib.viz`), which is what nbval, nbconvert and notebook viewers keep. The static figure
shows everything at once (every lambda side by side, the first val images), the widget one
thing at a time, larger. Each explorer also records what it drew last (`shown`, `png`), which
the tests use to check that moving the slider really redraws.

Errors a learner can cause (a file that is not an image, or is too large) are shown as a
message inside the widget, never as a traceback: a widget's callback runs outside any cell, so
an exception there would only reach the browser's log, and the learner would see nothing.
"""

from __future__ import annotations

import html
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import ipywidgets
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from pix2pix_lib.common import write_atomically
from pix2pix_lib.data import load_image
from pix2pix_lib.inference import describe_plan, translate
from pix2pix_lib.pairs import IMAGE_EXTENSIONS, IMAGE_FORMATS
from pix2pix_lib.run_folder import RunFolder
from pix2pix_lib.viz import as_uint8_batch, figure_png, show_images, show_pairs

__all__ = [
    "ImageBrowser",
    "LambdaExplorer",
    "UploadError",
    "UploadTranslator",
    "compare_figure",
    "decode_upload",
    "free_path",
    "image_browser",
    "image_browser_figure",
    "lambda_explorer",
    "lambda_figure",
    "status_html",
    "translation_figure",
    "upload_translator",
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


def _picture_box(css_class: str) -> tuple[ipywidgets.Box, ipywidgets.Image]:
    """A box with class `css_class` around an Image whose `value` (PNG bytes) a widget
    replaces to redraw."""
    picture = ipywidgets.Image(format="png")
    box = ipywidgets.Box([picture])
    box.add_class(css_class)
    return box, picture


def _check_same_length(**arrays) -> int:
    lengths = {name: len(value) for name, value in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"these must hold the same number of images: {lengths}")
    count = next(iter(lengths.values()))
    if count == 0:
        raise ValueError("no images to show")
    return count


def status_html(text: str, error: bool = False) -> str:
    """A one-line message for a widget's HTML part: grey, or red for a problem to act on."""
    colour = "#b00020" if error else "#444"
    return f'<span style="color:{colour}">{html.escape(text)}</span>'


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


lambda_figure = compare_figure  # the name notebook 07 uses: the lambda sweep side by side


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
    """A SelectionSlider over the settings (class ``p2p-lambda-slider``) above a picture
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
        self.output, self.picture = _picture_box("p2p-lambda-output")
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
        self.picture.value = self.png


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
    """An IntSlider over image indices (class ``p2p-image-browser``) above a picture (class
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
        self.output, self.picture = _picture_box("p2p-image-browser-output")
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
        self.picture.value = self.png


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


# --------------------------------------------------------------------------------------------
# Translating an upload
# --------------------------------------------------------------------------------------------


class UploadError(ValueError):
    """An upload that cannot be translated; the message names the file and says what to do."""


_UNSAFE_NAME = re.compile(r"[\x00-\x1f/\\]")


def _upload_name(raw) -> str:
    """The uploaded file's name, safe to use as a file name (no folders, at most ~100 chars)."""
    name = _UNSAFE_NAME.sub("_", str(raw or "")).strip()
    if name in ("", ".", ".."):
        return "upload"
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 10:
        return name[:100]
    return f"{stem[:90]}.{suffix}"


def decode_upload(value, channels: int = 3) -> tuple[str, np.ndarray] | None:
    """The newest file of an `ipywidgets.FileUpload` value as (name, uint8 (H, W, channels)).

    value: the FileUpload's value in ipywidgets 8, a tuple of dicts with "name", "type",
    "size", "content" (a memoryview) and "last_modified" (one such dict is accepted too); an
    empty value (nothing chosen yet) gives None. The bytes are read by the course's own image
    reader (`pix2pix_lib.data.load_image`: the formats of `pairs.IMAGE_FORMATS`, at most
    `pairs.MAX_IMAGE_PIXELS`), through a temporary file of the upload's name. Anything that
    cannot be translated raises UploadError, whose message names the file and says what to do.
    """
    files = [value] if isinstance(value, Mapping) else list(value or ())
    if not files:
        return None
    item = files[-1]
    name = _upload_name(item.get("name"))
    content = item.get("content")
    data = bytes(content) if content is not None else b""
    if not data:
        raise UploadError(f"{name} is empty (0 bytes); choose the file again.")
    with tempfile.TemporaryDirectory(prefix="p2p-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            pixels = load_image(path, channels=channels)
        except (ValueError, OSError) as error:  # load_image's DataError is a ValueError
            raise UploadError(_upload_problem(name, str(error), path)) from None
    return name, pixels


def _upload_problem(name: str, reason: str, path: Path) -> str:
    """The reader's message about the temporary file, told about the upload instead."""
    reason = reason.replace(str(path), name).replace(str(path.parent), "").strip()
    reason = reason.removeprefix(f"{name}: ").rstrip(".")
    return (f"{name} cannot be translated: {reason}. Upload a photo in one of the formats "
            f"{', '.join(IMAGE_FORMATS)}.")


def free_path(folder, stem: str, suffix: str) -> Path:
    """folder/stem+suffix, or stem-2, stem-3, ... : the first name that does not exist yet, so
    that saving never replaces a file someone already has."""
    folder = Path(folder)
    path, number = folder / f"{stem}{suffix}", 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{number}{suffix}"
    return path


def translation_figure(source, result, name: str = "your photo", cell: float = 3.5) -> Figure:
    """A photo and its translation side by side, titled with their sizes (W x H)."""
    height, width = np.asarray(source).shape[:2]
    return show_images([source, result], cell=cell,
                       titles=[f"{name} ({width}x{height})", f"translated ({width}x{height})"])


class UploadTranslator(ipywidgets.VBox):
    """A FileUpload (class ``p2p-upload``) and a save button (``p2p-upload-save``) above a
    message line (``p2p-upload-message``) and a picture (``p2p-upload-output``) showing the
    photo | its translation; the whole box has class ``p2p-upload-box``. Built by
    `upload_translator`. `name`, `source`, `result` and `png` describe what is shown, `error`
    the last problem (None after a success), `saved` the files written so far."""

    def __init__(self, generator, save_dir, *, example=None, example_name: str = "example",
                 example_result=None, paper_mode: bool = True, batch_size: int = 1,
                 cell: float = 3.5):
        self._generator = generator
        self._options = {"paper_mode": paper_mode, "batch_size": batch_size}
        self._channels = 1 if int(generator.input_shape[-1]) == 1 else 3
        self._cell = cell
        self.save_dir = Path(save_dir)
        self.upload = ipywidgets.FileUpload(accept=",".join(IMAGE_EXTENSIONS), multiple=False,
                                            description="your photo")
        self.upload.add_class("p2p-upload")
        self.save_button = ipywidgets.Button(description="save the result", disabled=True)
        self.save_button.add_class("p2p-upload-save")
        self.message = ipywidgets.HTML()
        self.message.add_class("p2p-upload-message")
        self.output, self.picture = _picture_box("p2p-upload-output")
        super().__init__([ipywidgets.HBox([self.upload, self.save_button]), self.message,
                          self.output])
        self.add_class("p2p-upload-box")
        self.name: str | None = None
        self.source = self.result = None
        self.png: bytes = b""
        self.error: str | None = None
        self.saved: list[Path] = []
        self.upload.observe(self._on_upload, names="value")
        self.save_button.on_click(lambda _: self._on_save())
        if example is None:
            self.message.value = status_html("Choose a photo: any size, any common format.")
        else:
            self.show(example_name, example, example_result)

    def _on_upload(self, change) -> None:
        try:
            decoded = decode_upload(change["new"], channels=self._channels)
        except UploadError as error:
            self._fail(str(error))
            return
        if decoded is not None:
            self.show(*decoded)

    def _fail(self, text: str) -> None:
        self.error = text
        kept = " The picture below is the one from before." if self.result is not None else ""
        self.message.value = status_html(text + kept, error=True)

    def show(self, name: str, pixels, result=None) -> None:
        """Translate uint8 `pixels` (H, W[, C]) and show them with the result, as for an
        upload; a `result` translated before (uint8, the same size) is shown as it is."""
        pixels = np.asarray(pixels)
        size = int(self._generator.input_shape[1])
        try:
            plan = describe_plan(*pixels.shape[:2], image_size=size)
            self.message.value = status_html(f"translating {name}: {plan} ...")
            if result is None:
                (result,) = translate(self._generator, [pixels], **self._options)
            elif np.shape(result)[:2] != pixels.shape[:2]:
                raise ValueError(f"its result is {np.shape(result)[1]}x{np.shape(result)[0]}, "
                                 f"not {pixels.shape[1]}x{pixels.shape[0]}")
        except ValueError as error:
            self._fail(f"{name} cannot be translated: {error}")
            return
        self.name, self.source, self.result, self.error = name, pixels, result, None
        self.png = figure_png(translation_figure(pixels, result, name, self._cell))
        self.picture.value = self.png
        self.save_button.disabled = False
        self.message.value = status_html(f"{name}: {plan}.")

    def save(self) -> Path:
        """Write the result shown as PNG into save_dir under a new name; return its path."""
        if self.result is None:
            raise ValueError("nothing has been translated yet: upload a photo first.")
        self.save_dir.mkdir(parents=True, exist_ok=True)
        path = free_path(self.save_dir, f"{Path(self.name).stem}-translated", ".png")
        result = self.result[..., 0] if self.result.shape[-1] == 1 else self.result
        write_atomically(path, lambda tmp: Image.fromarray(result).save(tmp, format="PNG"))
        self.saved.append(path)
        return path

    def _on_save(self) -> None:
        try:
            path = self.save()
        except (OSError, ValueError) as error:
            self._fail(f"could not save: {error}")
            return
        self.message.value = status_html(f"saved {path}")


def upload_translator(generator, run_dir, *, example=None, example_name: str = "example",
                      example_result=None, paper_mode: bool = True,
                      batch_size: int = 1) -> UploadTranslator:
    """Translate a photo you upload: a file picker, the photo | its translation, a save button.

    Any size up to `pairs.MAX_IMAGE_PIXELS`, in any of `pairs.IMAGE_FORMATS` (read by
    `pix2pix_lib.data.load_image`); large photos are tiled as `inference.translate` does, in
    the course's paper mode by default (batch_size: the training batch size, so that BatchNorm
    normalises as in training). A file that cannot be used gives a message in the widget.
    "save the result" writes a PNG into the run's `RunFolder.translations_dir` under a new name each
    time. `example` (uint8 pixels) is shown until the first upload, with `example_result` if it
    was translated already. Display the returned widget; show `translation_figure(...)` of the
    example as well for readers without a front end.
    """
    return UploadTranslator(generator, RunFolder(run_dir).translations_dir, example=example,
                            example_name=example_name, example_result=example_result,
                            paper_mode=paper_mode, batch_size=batch_size)
