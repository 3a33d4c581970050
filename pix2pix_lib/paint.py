"""Paint a map, get a satellite photo: a painting canvas wired to a map -> photo generator.

    BRUSHES / brush_colours       the painter's brushes (road, street, water, park, forest,
                                  field, building, land) as colours of the web-map palette
                                  `pix2pix_lib.datasets.MAP_PALETTE`, the palette's one home
    paint_stroke                  one stroke on a map array, as the canvas paints it (for
                                  scripted edits, the static figure and the tests)
    MapCanvas                     the canvas itself: a small anywidget painted in the browser
    MapPainter / map_painter      palette, brush size, canvas | generated photo side by side;
                                  every finished stroke is translated at once

Why anywidget and not ipycanvas. Painting must feel immediate, also on Colab where the kernel
is a network hop away. ipycanvas draws from Python: every mouse move travels to the kernel and
every drawing command back, a round trip per move. Here the strokes are drawn by a few lines of
JavaScript in the browser (``web/paint_canvas.js``, shared with the exported web page of
`pix2pix_lib.web_page`), and only when a stroke ends (the pointer is
released) the map travels to the kernel once, as a PNG: painting is debounced by construction,
and the kernel translates one map per stroke. anywidget ships its JupyterLab 4 extension
prebuilt inside its wheel, and our JavaScript ships inside this package, so nothing is fetched
from a CDN at run time in JupyterLab or Jupyter Notebook 7 (the browser test runs offline).
Colab shows third-party widgets only through its "custom widget manager"; anywidget switches
it on itself when a widget is displayed there (it calls
``google.colab.output.enable_custom_widget_manager()``), and Colab then loads anywidget's
front end from a CDN, which Colab can reach.

Crisp strokes. The maps are flat colours with crisp edges; a browser canvas antialiases its
strokes, which would add in-between colours the generator never saw. The canvas therefore draws
each stroke on a scratch canvas, snaps every pixel of it to the brush's colours (or leaves it
untouched) and only then lays it on the map; `paint_stroke` (Pillow, not antialiased) paints
the same kind of stroke in Python.

Front ends: as for every explorer of `pix2pix_lib.widgets`, the notebook also shows a static
figure (`MapPainter.figure`), which is what nbval, nbconvert and notebook viewers keep.
"""

from __future__ import annotations

import base64
import binascii
import io
import time
from collections.abc import Sequence
from pathlib import Path

import anywidget
import ipywidgets
import numpy as np
import traitlets
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, UnidentifiedImageError

from pix2pix_lib.datasets import MAP_PALETTE
from pix2pix_lib.inference import translate
from pix2pix_lib.viz import show_images
from pix2pix_lib.widgets import status_html

__all__ = [
    "BRUSHES",
    "MapCanvas",
    "MapPainter",
    "brush_colours",
    "decode_data_url",
    "hex_colour",
    "map_painter",
    "paint_stroke",
    "png_data_url",
]

# Brush name -> (fill, outline) as MAP_PALETTE keys. Roads, streets and buildings are drawn with
# the outline ("casing") the synthetic maps give them, one pixel wide on each side.
BRUSHES: dict[str, tuple[str, str | None]] = {
    "road": ("major_road", "major_road_casing"),
    "street": ("road", "road_casing"),
    "water": ("water", None),
    "park": ("grass", None),
    "forest": ("forest", None),
    "field": ("farmland", None),
    "building": ("building", "building_outline"),
    "land": ("background", None),  # bare land: paints over anything, like an eraser
}
OUTLINE_WIDTH = 1  # pixels of outline on each side of a road, street or building stroke
_DATA_URL_PREFIX = "data:image/png;base64,"

RGB = tuple[int, int, int]


def brush_colours(brush: str) -> tuple[RGB, RGB | None]:
    """(fill, outline or None) RGB colours of a brush, looked up in MAP_PALETTE."""
    if brush not in BRUSHES:
        raise ValueError(f"brush={brush!r} is not one of {', '.join(BRUSHES)}.")
    fill, outline = BRUSHES[brush]
    return MAP_PALETTE[fill], (MAP_PALETTE[outline] if outline else None)


def hex_colour(colour: RGB | None) -> str:
    """"#rrggbb" for the canvas (the widget's and the web page's), "" for no colour."""
    return "" if colour is None else "#{:02x}{:02x}{:02x}".format(*colour)


def _check_map(image, what: str = "the map") -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"{what} must be a uint8 (H, W, 3) RGB array, got {image.dtype} "
                         f"{image.shape} (convert [-1, 1] floats with data.to_uint8).")
    return image


def paint_stroke(image, points: Sequence[Sequence[float]], brush: str, width: int) -> np.ndarray:
    """A copy of the uint8 RGB map `image` with one stroke painted on it.

    points: (x, y) pixel positions the stroke passes through (one point paints a dot). The
    stroke is `width` pixels wide with round ends and joints, in the brush's fill colour, and
    roads, streets and buildings get their outline around it, as on the canvas. Not
    antialiased: every pixel is either a palette colour of the brush or untouched.
    """
    image = _check_map(image)
    if isinstance(width, bool) or not isinstance(width, int | np.integer) or width < 1:
        raise ValueError(f"width must be a whole number of pixels >= 1, got {width!r}")
    points = [(float(x), float(y)) for x, y in points]
    if not points:
        raise ValueError("a stroke needs at least one (x, y) point")
    fill, outline = brush_colours(brush)
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    layers = [(outline, width + 2 * OUTLINE_WIDTH)] if outline else []
    for colour, line_width in [*layers, (fill, int(width))]:
        if len(points) > 1:
            draw.line(points, fill=colour, width=line_width, joint="curve")
        radius = (line_width - 1) / 2
        for x, y in (points[0], points[-1]):  # round ends
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)
    return np.asarray(canvas)


def png_data_url(image) -> str:
    """A uint8 RGB image as a PNG data URL (what the canvas draws and sends back)."""
    buffer = io.BytesIO()
    Image.fromarray(_check_map(image)).save(buffer, format="PNG")
    return _DATA_URL_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_data_url(url: str) -> np.ndarray:
    """The uint8 RGB pixels of a PNG data URL from the canvas; ValueError if it is not one."""
    if not isinstance(url, str) or not url.startswith(_DATA_URL_PREFIX):
        raise ValueError("the canvas sent something that is not a PNG data URL")
    try:
        data = base64.b64decode(url[len(_DATA_URL_PREFIX):], validate=True)
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))
    except (binascii.Error, UnidentifiedImageError, OSError) as error:
        raise ValueError(f"the canvas sent an unreadable PNG ({error})") from None


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# The canvas (JavaScript, run by anywidget in the browser)
# --------------------------------------------------------------------------------------------

# The drawing code lives in web/paint_canvas.js, shared with the exported web page
# (pix2pix_lib.web_page); the widget adds only its wiring to the kernel. anywidget takes one
# ES module as a string, so the two are joined here.
PAINT_CANVAS_JS = Path(__file__).resolve().parent / "web" / "paint_canvas.js"

_WIDGET_JS = r"""
function render({ model, el }) {
  let sent = null;  // the data URL of our own last stroke: already on the canvas
  const painter = createPaintCanvas({
    size: model.get("size"),
    displaySize: model.get("display_size"),
    brush: () => ({ width: model.get("brush"), fill: model.get("fill"),
                    outline: model.get("outline"), outlineWidth: model.get("outline_width") }),
    onStroke: canvas => {
      sent = canvas.toDataURL("image/png");  // one message per stroke
      model.set("map_url", sent);
      model.save_changes();
    },
  });
  el.appendChild(painter.canvas);
  const showMap = () => {
    const url = model.get("map_url");
    if (url && url !== sent) painter.showImage(url);
  };
  showMap();
  model.on("change:map_url", showMap);
  model.on("change:size", () => {
    painter.layout(model.get("size"), model.get("display_size"));
    sent = null;
    showMap();
  });
  model.on("change:display_size",
           () => painter.layout(model.get("size"), model.get("display_size")));
}

export default { render };
"""


def canvas_module() -> str:
    """The widget's ES module: the shared canvas code, then the widget's wiring."""
    return PAINT_CANVAS_JS.read_text() + _WIDGET_JS


_CANVAS_CSS = """
.p2p-paint-surface {
  image-rendering: pixelated;
  cursor: crosshair;
  touch-action: none;
  border: 1px solid #888;
}
"""


class MapCanvas(anywidget.AnyWidget):
    """A square canvas of `size` map pixels, shown `display_size` CSS pixels wide, on which the
    mouse (or a finger, or a pen) paints with the `fill` / `outline` colours and the `brush`
    width in map pixels. `map_url` is the map as a PNG data URL: set it from Python to show a
    map; the canvas sets it when a stroke ends."""

    _esm = canvas_module()
    _css = _CANVAS_CSS
    size = traitlets.Int(128).tag(sync=True)
    display_size = traitlets.Int(320).tag(sync=True)
    map_url = traitlets.Unicode("").tag(sync=True)
    fill = traitlets.Unicode("#ffffff").tag(sync=True)
    outline = traitlets.Unicode("").tag(sync=True)
    outline_width = traitlets.Int(OUTLINE_WIDTH).tag(sync=True)
    brush = traitlets.Int(4).tag(sync=True)


# --------------------------------------------------------------------------------------------
# The painter: palette, brush size, canvas | photo
# --------------------------------------------------------------------------------------------

_SELECTED_BORDER = "3px solid #333"
_BORDER = "1px solid #999"  # so that the white street button shows on a white page


class MapPainter(ipywidgets.VBox):
    """Paint on a map, see the generator's photo of it (class ``p2p-paint-box``).

    Parts, each with a stable CSS class for the browser test: the palette buttons
    (``p2p-paint-palette``), the brush size (``p2p-paint-brush``), "start again"
    (``p2p-paint-reset``), the canvas (``p2p-paint-canvas``), the generated photo, an
    `ipywidgets.Image` (``p2p-paint-photo``), and a status line (``p2p-paint-status``).
    Built by `map_painter`. State for the tests and the notebook: `map` and `photo` (uint8),
    `png` (the photo shown), `translations` (how many maps were translated) and `seconds` (how
    long each translation took).
    """

    def __init__(self, generator, start_map, *, paper_mode: bool = True, brush: str = "road",
                 width: int | None = None, display_size: int = 320):
        start_map = _check_map(start_map, "start_map")
        size = int(generator.input_shape[1])
        if start_map.shape[:2] != (size, size):
            raise ValueError(f"start_map is {start_map.shape[1]}x{start_map.shape[0]} but the "
                             f"generator paints {size}x{size} maps; load the map at image_size.")
        brush_colours(brush)  # a clear error for an unknown brush, before anything is built
        self._generator, self._paper_mode, self.start_map = generator, paper_mode, start_map
        self.map, self.photo, self.start_photo, self.png = start_map, None, None, b""
        self.translations, self.seconds = 0, []
        self.canvas = MapCanvas(size=size, display_size=display_size)
        self.canvas.add_class("p2p-paint-canvas")
        self.buttons = {name: self._palette_button(name) for name in BRUSHES}
        palette = ipywidgets.HBox(list(self.buttons.values()))
        palette.add_class("p2p-paint-palette")
        self.brush_size = ipywidgets.IntSlider(
            value=width or max(2, size // 32), min=1, max=max(8, size // 6),
            description="brush (px)", continuous_update=False,
            style={"description_width": "initial"})
        self.brush_size.add_class("p2p-paint-brush")
        self.reset_button = ipywidgets.Button(description="start again")
        self.reset_button.add_class("p2p-paint-reset")
        self.photo_image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(
            width=f"{display_size}px", height=f"{display_size}px"))
        self.photo_image.add_class("p2p-paint-photo")
        self.status = ipywidgets.HTML()
        self.status.add_class("p2p-paint-status")
        super().__init__([palette, ipywidgets.HBox([self.brush_size, self.reset_button]),
                          ipywidgets.HBox([self.canvas, self.photo_image]), self.status])
        self.add_class("p2p-paint-box")
        self.select(brush)
        self.brush_size.observe(self._on_width, names="value")
        self._on_width()
        self.reset_button.on_click(lambda _: self.reset())
        self.canvas.observe(self._on_map, names="map_url")
        self.canvas.map_url = png_data_url(start_map)  # draws it and translates it

    def _palette_button(self, name: str) -> ipywidgets.Button:
        fill, _ = brush_colours(name)
        button = ipywidgets.Button(description=name, tooltip=f"paint {name}",
                                   layout=ipywidgets.Layout(width="auto"))
        button.style.button_color = hex_colour(fill)
        button.on_click(lambda _: self.select(name))
        return button

    def select(self, brush: str) -> None:
        """Paint with `brush` from now on (what clicking its palette button does)."""
        fill, outline = brush_colours(brush)
        self.brush = brush
        self.canvas.fill, self.canvas.outline = hex_colour(fill), hex_colour(outline)
        for name, button in self.buttons.items():
            button.layout.border = _SELECTED_BORDER if name == brush else _BORDER

    def _on_width(self, change=None) -> None:
        self.canvas.brush = int(self.brush_size.value)

    def paint(self, points: Sequence[Sequence[float]], brush: str | None = None,
              width: int | None = None) -> None:
        """Paint one stroke from Python, as the mouse would (then the photo is redrawn)."""
        edited = paint_stroke(self.map, points, brush or self.brush,
                              int(width or self.brush_size.value))
        self.canvas.map_url = png_data_url(edited)

    def reset(self) -> None:
        """Back to the map the painter started from."""
        self.canvas.map_url = png_data_url(self.start_map)

    def _on_map(self, change) -> None:
        """A new map from the canvas (a finished stroke) or from Python: translate it."""
        try:
            painted = decode_data_url(change["new"])
        except ValueError as error:
            self.status.value = status_html(f"{error}; paint again.", error=True)
            return
        if painted.shape != self.start_map.shape:
            (height, width), (size, _) = painted.shape[:2], self.start_map.shape[:2]
            self.status.value = status_html(
                f"the canvas sent a {width}x{height} map; expected {size}x{size}.", error=True)
            return
        start = time.perf_counter()
        (photo,) = translate(self._generator, [painted], paper_mode=self._paper_mode,
                             batch_size=1)
        self.seconds.append(time.perf_counter() - start)
        self.map, self.photo, self.png = painted, photo, _png(photo)
        if self.start_photo is None:
            self.start_photo = photo
        self.translations += 1
        self.photo_image.value = self.png
        self.status.value = status_html(
            f"map {self.translations} → photo in {1000 * self.seconds[-1]:.0f} ms")

    def figure(self, cell: float = 2.6) -> Figure:
        """The static counterpart: start map | its photo | the map now | the photo now."""
        return show_images([self.start_map, self.start_photo, self.map, self.photo], cell=cell,
                           titles=["the val map", "its photo", "painted map", "its photo"])


def map_painter(generator, start_map, *, paper_mode: bool = True, brush: str = "road",
                width: int | None = None) -> MapPainter:
    """A canvas to paint maps on, next to `generator`'s photo of the map (a BtoA model).

    start_map: uint8 (S, S, 3) at the generator's image size, e.g. a val map, so there is
    something to edit. Pick a colour from the palette (the synthetic maps' colours, see
    BRUSHES), set the brush size and paint: when the stroke ends the map is translated (the
    course's paper mode by default) and the photo beside it is replaced. "start again" restores
    the start map. Display the returned widget; show `painter.figure()` as well for readers
    without a front end.
    """
    return MapPainter(generator, start_map, paper_mode=paper_mode, brush=brush, width=width)
