"""The course as a learner sees it: notebooks run through JupyterLab's UI in a real browser.

For every notebook (smoke profile, synthetic maps): open it, Run > Run All Cells, wait until
every code cell has run, then assert that no output is red (tracebacks, warnings and stderr
prints all render as `application/vnd.jupyter.stderr`) and that the figures are real images.
The widgets must answer a learner: moving 06's image-browser slider, 07's lambda slider and
clicking 03's patch-size chooser each redraw their picture; in 06 a photo uploaded through the
file picker is translated, and a stroke painted with the mouse changes the generated photo. A
screenshot of each notebook (and of each widget after its change) goes to tests/e2e/artifacts/
for a person to look at.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # git-ignored

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PANEL = ".jp-NotebookPanel"
IDLE = f'{PANEL} .jp-Notebook-ExecutionIndicator[data-status="idle"]'
RED_OUTPUT = f'{PANEL} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
RUN_MENU = ".lm-MenuBar-item:has(.lm-MenuBar-itemLabel:text-is('Run'))"
RUN_ALL = '.lm-Menu-item[data-command="runmenu:run-all"]'
BROWSER_HANDLE = '.p2p-image-browser .noUi-handle[role="slider"]'
BROWSER_IMAGE = ".p2p-image-browser-output img"
LAMBDA_HANDLE = '.p2p-lambda-slider .noUi-handle[role="slider"]'
PATCH_BUTTON = ".p2p-patch-chooser button:not(.mod-active)"
UPLOAD_BUTTON = "button.p2p-upload"
PAINT_CANVAS = ".p2p-paint-canvas canvas"
PAINT_WATER = ".p2p-paint-palette button:text-is('water')"
RUN_ALL_TIMEOUT_MS = int(float(os.environ.get("PIX2PIX_E2E_TIMEOUT", 480)) * 1000)

# Set before Run All: a MutationObserver that records a `[*]:` prompt, so a notebook whose
# prompts already look finished cannot pass for done before it has run (docs/architecture.md).
ARM_BUSY_WATCH = """() => {
  window.__p2pBusySeen = false;
  const busy = () => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
      .some(prompt => prompt.textContent.includes('[*]'));
  new MutationObserver(() => { if (busy()) window.__p2pBusySeen = true; })
      .observe(document.body, {subtree: true, childList: true, characterData: true});
}"""

# Done: the kernel is idle, no cell is running or queued (`[*]:`), and either every code cell
# shows `[n]:` after having been busy, or a red output exists (Run All stops at an error and
# leaves later prompts at `[ ]:`); or a dialog waits for an answer.
RUN_ALL_FINISHED = f"""() => {{
  if (document.querySelector('.jp-Dialog')) return true;
  if (document.querySelector('{IDLE}') === null) return false;
  const prompts = [...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputArea-prompt')]
      .map(prompt => prompt.textContent.trim());
  if (prompts.length === 0 || prompts.some(prompt => prompt.includes('*'))) return false;
  if (document.querySelector('{RED_OUTPUT}')) return true;
  return window.__p2pBusySeen && prompts.every(prompt => /^\\[\\d+\\]:$/.test(prompt));
}}"""

# A short hash of an image's src: comparing hashes inside the page keeps kilobytes of base64
# out of failure messages (docs/architecture.md).
HASH_JS = """const hash = text => { let h = 5381; for (let i = 0; i < text.length; i++)
    h = ((h * 33) ^ text.charCodeAt(i)) >>> 0; return h.toString(16) + ':' + text.length; };"""

# Each image as (index of its cell, naturalWidth, hash of its src).
IMAGES = f"""() => {{
  {HASH_JS}
  const cells = [...document.querySelectorAll('{PANEL} .jp-Cell')];
  return [...document.querySelectorAll('{PANEL} .jp-OutputArea-output img')].map(img => [
      cells.findIndex(cell => cell.contains(img)), img.naturalWidth, hash(img.src)]);
}}"""

RED_TEXTS = f"""() => {{
  const cells = [...document.querySelectorAll('{PANEL} .jp-Cell')];
  return [...document.querySelectorAll('{RED_OUTPUT}')].map(output =>
      'cell ' + cells.findIndex(cell => cell.contains(output)) + ': '
      + output.innerText.slice(0, 1500));
}}"""

def image_hash_js(selector: str) -> str:
    """JS: a short hash of the src of the first loaded image matching `selector`, else null."""
    return f"""() => {{
  {HASH_JS}
  const img = document.querySelector('{selector}');
  if (!img || !img.complete || img.naturalWidth === 0) return null;
  return hash(img.src);
}}"""


def press_slider(page, handle_selector: str) -> None:
    """Move a noUiSlider (ipywidgets' IntSlider/SelectionSlider) one step with the keyboard,
    left when it is at its maximum, and wait until the slider's value has changed."""
    handle = page.locator(handle_selector)
    handle.scroll_into_view_if_needed()
    value = float(handle.get_attribute("aria-valuenow"))
    top = float(handle.get_attribute("aria-valuemax"))
    handle.focus()
    page.keyboard.press("ArrowLeft" if value >= top else "ArrowRight")
    page.wait_for_function(f"() => Number(document.querySelector('{handle_selector}')"
                           f".getAttribute('aria-valuenow')) !== {value}", timeout=10_000)


def assert_widget_redraws(page, act, image_selector: str, box_selector: str, shot: str) -> None:
    """`act()` on a widget must replace its picture (compared by hash inside the page), with
    no red output; the widget's box is screenshot afterwards."""
    page.locator(box_selector).scroll_into_view_if_needed()
    page.wait_for_function(image_hash_js(image_selector), timeout=30_000)
    before = page.evaluate(image_hash_js(image_selector))
    act()
    page.wait_for_function(f"() => {{ const h = ({image_hash_js(image_selector)})(); "
                           f"return h !== null && h !== '{before}'; }}", timeout=60_000)
    page.locator(box_selector).screenshot(path=str(ARTIFACTS / shot))
    assert page.evaluate(RED_TEXTS) == [], "using the widget produced red output"


def wait_for_kernel(lab_server, notebook: str, timeout: float = 120.0) -> None:
    """Until the server reports the notebook's kernel idle: the toolbar's indicator can read
    idle before the session exists, and Run All then asks which kernel to start."""
    deadline = time.monotonic() + timeout
    while lab_server.kernel_state(notebook) != "idle":
        if time.monotonic() > deadline:
            raise AssertionError(f"{notebook}: no idle kernel after {timeout:.0f} s:\n"
                                 f"{lab_server.log_tail()}")
        time.sleep(0.5)


def open_and_run_all(page, lab_server, notebook: str) -> None:
    """Open `notebook` alone in a fresh workspace, run all its cells through the Run menu and
    wait for the end; screenshot it whatever happened."""
    stem = notebook.removesuffix(".ipynb").replace("/", "-")
    page.goto(lab_server.notebook_url(notebook, workspace=f"e2e-{stem[:2]}"))
    try:
        page.wait_for_selector(PANEL, timeout=60_000)
        wait_for_kernel(lab_server, notebook)
        page.wait_for_selector(IDLE, timeout=60_000)
        page.evaluate(ARM_BUSY_WATCH)
        page.click(RUN_MENU)
        page.click(RUN_ALL)
        page.wait_for_function(RUN_ALL_FINISHED, timeout=RUN_ALL_TIMEOUT_MS, polling=500)
        dialogs = page.locator(".jp-Dialog").all_inner_texts()
        assert not dialogs, f"{notebook}: a dialog interrupted the run: {dialogs}"
    finally:
        screenshot_notebook(page, ARTIFACTS / f"{stem}.png")


def screenshot_notebook(page, path) -> None:
    """The whole notebook in one picture: the notebook scrolls inside its own panel, so a
    page screenshot shows one screenful; grow the window to the notebook's height first."""
    height = page.evaluate(f"""() => {{
      const scroller = document.querySelector('{PANEL} .jp-WindowedPanel-outer');
      return scroller ? scroller.scrollHeight : 1000; }}""")
    original = page.viewport_size
    page.set_viewport_size({"width": original["width"], "height": min(height + 150, 15000)})
    page.wait_for_timeout(500)  # let JupyterLab lay the panel out again
    page.evaluate(f"""() => {{
      const scroller = document.querySelector('{PANEL} .jp-WindowedPanel-outer');
      if (scroller) scroller.scrollTop = 0; }}""")
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    page.set_viewport_size(original)


def assert_clean_run(page, notebook: str, min_images: int) -> list:
    red = page.evaluate(RED_TEXTS)
    assert not red, f"{notebook}: a learner sees red output boxes:\n" + "\n---\n".join(red)
    unrun = page.locator(f"{PANEL} .jp-CodeCell .jp-InputArea-prompt", has_text="[ ]").count()
    assert unrun == 0, f"{notebook}: {unrun} code cells did not run"
    images = page.evaluate(IMAGES)
    broken = [image for image in images if image[1] == 0]
    assert not broken, f"{notebook}: images that did not render (cell, width, hash): {broken}"
    assert len(images) >= min_images, (
        f"{notebook}: expected at least {min_images} figures, found {len(images)}: {images}")
    return images


def test_notebook_01_runs_clean_with_figures(browser_page, lab_server):
    notebook = "01_data_loading_and_splitting.ipynb"
    open_and_run_all(browser_page, lab_server, notebook)
    # the pair, AtoB vs BtoA, the jitter, a pipeline batch, a BtoA batch
    images = assert_clean_run(browser_page, notebook, min_images=5)
    assert len({cell for cell, _, _ in images}) >= 5, f"figures from too few cells: {images}"


WIDGET_CASES = {
    # notebook: (its minimum figures, what a learner does, the picture that must change,
    #            the widget's box for the screenshot, the screenshot's name)
    "06_evaluation_and_inference.ipynb": (
        # static browser figure, the widget's picture, a translated photo, the upload widget's
        # picture, the SavedModel, a painted map (static figure) and the painter's photo
        7,
        lambda page: press_slider(page, BROWSER_HANDLE), BROWSER_IMAGE,
        ".p2p-image-browser-box", "06_image_browser_moved.png"),
    "07_experiments.ipynb": (
        3, lambda page: press_slider(page, LAMBDA_HANDLE), ".p2p-lambda-output img",
        ".p2p-lambda-explorer", "07_lambda_slider_moved.png"),
    "03_patchgan_discriminator.ipynb": (
        3, lambda page: page.locator(PATCH_BUTTON).first.click(),
        "img.p2p-patch-chooser-figure", ".p2p-patch-chooser-box",
        "03_patch_chooser_clicked.png"),
}


# The canvas's RGB at the middle point of `paint_with_mouse`'s stroke (50% across, 55% down):
# the brush paints crisp palette colours, so it must be the brush's colour exactly.
CANVAS_PIXEL = f"""() => {{
  const canvas = document.querySelector('{PAINT_CANVAS}');
  const x = Math.floor(canvas.width * 0.5), y = Math.floor(canvas.height * 0.55);
  return Array.from(canvas.getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3));
}}"""


def paint_with_mouse(page) -> None:
    """One stroke across the painter's canvas, as a learner draws it: press, drag, release."""
    canvas = page.locator(PAINT_CANVAS)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    left, top, width, height = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(left + 0.15 * width, top + 0.3 * height)
    page.mouse.down()
    page.mouse.move(left + 0.5 * width, top + 0.55 * height, steps=8)
    page.mouse.move(left + 0.85 * width, top + 0.5 * height, steps=8)
    page.mouse.up()


def choose_file(page, path) -> None:
    """Click ipywidgets' upload button and answer the file chooser it opens: its
    `<input type=file>` is created by the widget but never attached to the page, so there is
    nothing to call set_input_files on before the click."""
    with page.expect_file_chooser() as chooser:
        page.locator(UPLOAD_BUTTON).click()
    chooser.value.set_files(str(path))


def check_upload_and_paint(page, tmp_path) -> None:
    """06's hands-on widgets: a WebP photo of another size, chosen in the file picker, is
    translated and shown; a water stroke painted on the canvas changes the generated photo."""
    from PIL import Image

    from pix2pix_lib.datasets import MAP_PALETTE, render_synthetic_pair

    photo, _ = render_synthetic_pair(256, seed=11)
    path = tmp_path / "my_satellite_photo.webp"
    Image.fromarray(photo[28:228]).save(path, format="WEBP", quality=90)  # 256x200
    assert_widget_redraws(page, lambda: choose_file(page, path), ".p2p-upload-output img",
                          ".p2p-upload-box", "06_upload_translated.png")
    message = page.locator(".p2p-upload-message").inner_text()
    assert "my_satellite_photo.webp" in message and "256x200" in message, message
    page.locator(PAINT_WATER).click()
    assert_widget_redraws(page, lambda: paint_with_mouse(page), "img.p2p-paint-photo",
                          ".p2p-paint-box", "06_paint_stroke.png")
    status = page.locator(".p2p-paint-status").inner_text()
    assert "→ photo in" in status, status
    under_the_stroke = page.evaluate(CANVAS_PIXEL)  # the middle point of the stroke
    assert under_the_stroke == list(MAP_PALETTE["water"]), under_the_stroke


# What else a notebook's learner does after its widget case (06: upload, paint).
HANDS_ON = {"06_evaluation_and_inference.ipynb": check_upload_and_paint}


@pytest.mark.parametrize("notebook", list(WIDGET_CASES))
def test_notebook_runs_clean_and_its_widget_redraws(browser_page, lab_server, notebook, tmp_path):
    min_images, act, image, box, shot = WIDGET_CASES[notebook]
    open_and_run_all(browser_page, lab_server, notebook)
    assert_clean_run(browser_page, notebook, min_images=min_images)
    assert_widget_redraws(browser_page, lambda: act(browser_page), image, box, shot)
    if notebook in HANDS_ON:
        HANDS_ON[notebook](browser_page, tmp_path)


@pytest.mark.parametrize("notebook", [
    "00_welcome_and_setup.ipynb", "02_encoder_decoder_blocks.ipynb", "04_combined_loss.ipynb",
    "05_training_on_gpu.ipynb", "08_appendix_engineering.ipynb",
])
def test_other_notebooks_run_clean(browser_page, lab_server, notebook):
    """The rest of the course: no red box and real figures for a learner there either."""
    open_and_run_all(browser_page, lab_server, notebook)
    assert_clean_run(browser_page, notebook, min_images=1)


def test_a_student_copy_stops_at_its_first_check_saying_what_to_write(browser_page, lab_server):
    """A learner opens an exercise copy and runs it all: the first graded check stops the run
    with one red box that says what to write (no traceback through the library)."""
    notebook = "exercises/04_combined_loss.ipynb"
    open_and_run_all(browser_page, lab_server, notebook)
    red = browser_page.evaluate(RED_TEXTS)
    assert len(red) == 1, red
    assert "Check failed" in red[0] and "not written yet" in red[0], red[0]
    assert "discriminator_loss" in red[0] and "Traceback" not in red[0], red[0]


def test_red_output_is_detected(browser_page, lab_server):
    """The detector itself: a notebook that writes to stderr and warns must be caught, or the
    clean runs above would prove nothing."""
    nbformat = pytest.importorskip("nbformat")
    notebook = "zz_e2e_red_output.ipynb"
    cells = [nbformat.v4.new_code_cell("import sys\nprint('to stderr', file=sys.stderr)"),
             nbformat.v4.new_code_cell("import warnings\nwarnings.warn('a learner sees this')"),
             nbformat.v4.new_code_cell("print('fine')")]
    document = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    nbformat.write(document, lab_server.root / "notebooks" / notebook)
    open_and_run_all(browser_page, lab_server, notebook)
    red = " ".join(browser_page.evaluate(RED_TEXTS))
    assert "to stderr" in red and "a learner sees this" in red, red
