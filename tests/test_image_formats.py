"""Every image format the course reads, end to end: pairs (check, training and evaluation
pipelines, `evaluate_run`) and your own images (`translate_files`, the CLI), plus the files that
are not images and the images too large to open.

All files are made here in tmp_path: the formats Pillow writes by Pillow, the ones it cannot
write (16-bit RGB TIFF, a 5-band TIFF, a 30000 x 15000 PNG) byte by byte (see the helpers).
"""

from __future__ import annotations

import struct
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from pix2pix_lib import data, inference_files, pairs
from pix2pix_lib.cli import main
from pix2pix_lib.config import TrainConfig
from pix2pix_lib.metrics import evaluate_run
from pix2pix_lib.tf_quiet import keras

SIZE = 32  # model size; pairs are SIZE x 2*SIZE
# A few flat colours, as in a map: every format here (GIF's palette too) holds them exactly.
PALETTE = np.array(
    [[0, 0, 0], [255, 255, 255], [200, 30, 40], [20, 160, 60], [30, 60, 220], [250, 210, 20]],
    np.uint8,
)
# The lossless formats written by Pillow: extension -> save options.
LOSSLESS = {
    ".png": {},
    ".webp": {"lossless": True},
    ".tif": {"compression": "tiff_lzw"},
    ".bmp": {},
    ".gif": {},
}


# --- helpers: writing files ------------------------------------------------------------------


def flat_colours(height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 (height, width, 3) blocks of PALETTE colours (4 x 4 pixel blocks)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, len(PALETTE), (height // 4 + 1, width // 4 + 1))
    indices = np.kron(blocks, np.ones((4, 4), int))[:height, :width]
    return PALETTE[indices]


def save_image(path: Path, pixels: np.ndarray) -> Path:
    """Save uint8 RGB pixels losslessly in the format of `path`'s extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    extension = path.suffix.lower()
    if extension == ".gif":  # an explicit palette, so that no colour is approximated
        colours = {tuple(c): i for i, c in enumerate(PALETTE)}
        indices = np.array([[colours[tuple(p)] for p in row] for row in pixels], np.uint8)
        image = Image.fromarray(indices, "P")
        image.putpalette(PALETTE.tobytes())
        image.save(path)
    else:
        options = LOSSLESS[".tif" if extension == ".tiff" else extension]
        Image.fromarray(pixels).save(path, **options)
    return path


def write_tiff(path: Path, pixels: np.ndarray, photometric: int) -> Path:
    """An uncompressed little-endian TIFF, written byte by byte (Pillow cannot write 16-bit RGB
    or more than 4 bands). pixels: (H, W, bands) uint8 or uint16; photometric 1 (gray) or 2
    (RGB); bands beyond the colour ones are marked as extra samples."""
    height, width, bands = pixels.shape
    strip = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    colour_bands = 3 if photometric == 2 else 1
    tags = {
        256: (4, [width]),
        257: (4, [height]),
        258: (3, [8 * pixels.dtype.itemsize] * bands),
        259: (3, [1]),  # no compression
        262: (3, [photometric]),
        273: (4, [0]),  # strip offset, set below
        277: (3, [bands]),
        278: (4, [height]),
        279: (4, [len(strip)]),
        284: (3, [1]),  # contiguous samples
    }
    if bands > colour_bands:
        tags[338] = (3, [0] * (bands - colour_bands))
    codes = {3: "H", 4: "I"}
    ifd_end = 8 + 2 + 12 * len(tags) + 4
    arrays, offsets = b"", {}
    for tag, (kind, values) in sorted(tags.items()):
        packed = struct.pack(f"<{len(values)}{codes[kind]}", *values)
        if len(packed) > 4:  # does not fit in the entry: stored after the IFD
            offsets[tag] = ifd_end + len(arrays)
            arrays += packed
    tags[273] = (4, [ifd_end + len(arrays)])
    entries = b""
    for tag, (kind, values) in sorted(tags.items()):
        packed = struct.pack(f"<{len(values)}{codes[kind]}", *values)
        field = struct.pack("<I", offsets[tag]) if tag in offsets else packed.ljust(4, b"\0")
        entries += struct.pack("<HHI", tag, kind, len(values)) + field
    ifd = struct.pack("<H", len(tags)) + entries + b"\0\0\0\0"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"II*\0" + struct.pack("<I", 8) + ifd + arrays + strip)
    return path


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_huge_png(path: Path, width: int = 30000, height: int = 15000) -> Path:
    """A valid all-black 1-bit PNG of width x height: 450 Mpx in ~55 KB, by hand (zeros
    compress 1000:1), so that nothing big is ever held in memory or on disk."""
    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the bits
    compressor = zlib.compressobj(9)
    rows_per_piece = 1000
    body = b"".join(
        compressor.compress(row * min(rows_per_piece, height - start))
        for start in range(0, height, rows_per_piece)
    )
    body += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grayscale
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )
    return path


def ramp16(height: int, width: int) -> np.ndarray:
    """uint16 values spread over the whole 0..65535 range, 65535 included."""
    values = np.linspace(0, 65535, height * width).round().astype(np.uint16)
    return values.reshape(height, width)


def as_8bit(values16: np.ndarray) -> np.ndarray:
    """16 -> 8 bits as the course scales them, as TensorFlow does: the high byte, v // 256."""
    return (values16 >> 8).astype(np.uint8)


# --- fixtures --------------------------------------------------------------------------------


def _identity_generator() -> keras.Model:
    """out = in: whatever the pipeline feeds it shows up in the outputs and metrics."""
    inputs = keras.Input((SIZE, SIZE, 3))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


@pytest.fixture(scope="module")
def config() -> TrainConfig:
    return TrainConfig(image_size=SIZE, g_filters=8, d_filters=8, batch_size=1)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, config) -> Path:
    """A finished run folder holding the identity generator (for evaluate_run and the CLI)."""
    run = tmp_path_factory.mktemp("formats") / "run"
    run.mkdir()
    config.save(run / "config.json")
    _identity_generator().save(run / "generator.keras")
    return run


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory) -> Path:
    return write_huge_png(tmp_path_factory.mktemp("huge") / "huge.png")


@pytest.fixture
def pillow_settings():
    """Pillow's process-wide settings as a test found them; the test must leave them so."""
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    yield before
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before


# --- which files are images -----------------------------------------------------------------


def test_one_list_of_formats_for_every_reader():
    assert set(pairs.IMAGE_FORMATS) == {"JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF"}
    assert pairs.IMAGE_EXTENSIONS == (
        ".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"
    )
    registered = Image.registered_extensions()  # every one is a format this Pillow opens
    for name, extensions in pairs.IMAGE_FORMATS.items():
        assert all(registered[ext] == name for ext in extensions)
    assert set(inference_files._SAVE_OPTIONS) == set(pairs.IMAGE_FORMATS)  # and writes back
    assert data.IMAGE_EXTENSIONS is pairs.IMAGE_EXTENSIONS
    assert pairs.format_for_name(Path("scene.TIFF")) == "TIFF"
    assert pairs.format_for_name(Path("scene.tif.aux.xml")) is None


def _folder_with_other_files(folder: Path) -> list[Path]:
    """Images in several formats next to files that are not images; returns the images."""
    images = [
        save_image(folder / f"img{ext.upper() if ext == '.tif' else ext}", flat_colours(16, 32))
        for ext in LOSSLESS
    ]
    (folder / "notes.txt").write_text("field notes")
    (folder / "scene.xml").write_text("<metadata/>")
    (folder / "img.TIF.aux.xml").write_text("<PAMDataset/>")  # a GeoTIFF's sidecar
    (folder / ".DS_Store").write_bytes(b"\0\1")  # hidden: silent
    (folder / "subfolder").mkdir()  # silent
    return images


def test_other_files_are_named_one_line_each(tmp_path):
    folder = tmp_path / "mixed"
    images = _folder_with_other_files(folder)
    found, others = pairs.folder_files(folder)
    assert found == sorted(images, key=lambda p: p.name)
    assert [path.name for path in others] == ["img.TIF.aux.xml", "notes.txt", "scene.xml"]

    lines = []
    pairs.report_skipped(others, lines.append)
    assert len(lines) == 3
    for line, path in zip(lines, others, strict=True):
        assert line.startswith(f"skipped {path}: not an image file") and "\n" not in line
    with pytest.warns(UserWarning, match=r"^skipped .*: not an image file") as record:
        pairs.report_skipped(others)
    assert len(record) == 3


# --- pairs: check, training and evaluation pipelines ----------------------------------------


FORMAT_CASES = [".webp", ".tif", ".bmp", ".gif"]


@pytest.mark.parametrize("extension", FORMAT_CASES)
def test_pairs_in_any_format_decode_as_their_png_twin(tmp_path, extension):
    """A pair saved losslessly in each format gives exactly the pixels of the same pair saved
    as PNG (which TensorFlow decodes), in the check, in both pipelines and cached or not."""
    pixels = [flat_colours(SIZE, 2 * SIZE, seed) for seed in range(3)]
    png = [save_image(tmp_path / "png" / f"p{k}.png", p) for k, p in enumerate(pixels)]
    other = [save_image(tmp_path / "other" / f"p{k}{extension}", p) for k, p in enumerate(pixels)]
    mixed = [png[0], other[1], other[2]]  # both decoders in one dataset
    good, bad = pairs.check_pairs(tmp_path / "other")
    assert good == other and bad == []

    expected = data.load_pairs_numpy(png, image_size=SIZE)
    for files in (other, mixed):
        got = data.load_pairs_numpy(files, image_size=SIZE)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(data.load_image(other[0]), pixels[0])

    def train_batches(files, cache_bytes):
        dataset = data.make_train_dataset(
            files, image_size=24, batch_size=2, seed=3, cache_bytes=cache_bytes
        )
        return [(s.numpy(), t.numpy()) for s, t in dataset.take(3)]

    reference = train_batches(png, 1 << 30)
    for cache_bytes in (1 << 30, 0):
        for (source, target), (ref_source, ref_target) in zip(
            train_batches(mixed, cache_bytes), reference, strict=True
        ):
            np.testing.assert_array_equal(source, ref_source)
            np.testing.assert_array_equal(target, ref_target)


def test_16_bit_tiff_and_png_pairs_are_scaled_not_clipped(tmp_path):
    values = ramp16(SIZE, 2 * SIZE)
    Image.fromarray(values).save(tmp_path / "gray16.tif")
    Image.fromarray(values).save(tmp_path / "gray16.png")
    rgb16 = np.stack([values, values[::-1], 65535 - values], axis=-1)
    write_tiff(tmp_path / "rgb16.tif", rgb16, photometric=2)
    with Image.open(tmp_path / "gray16.tif") as image:
        assert image.mode.startswith("I;16")  # really 16 bits on disk

    good, bad = pairs.check_pairs(tmp_path, channels=1)
    assert len(good) == 3 and bad == []
    expected = as_8bit(values)
    # Pillow (TIFF, and PNG in load_image) and TensorFlow (PNG in the pipelines) agree exactly
    for name in ("gray16.tif", "gray16.png"):
        np.testing.assert_array_equal(data.load_image(tmp_path / name, 1)[..., 0], expected)
        sources, targets = data.load_pairs_numpy([tmp_path / name], image_size=SIZE, channels=1)
        halves = np.concatenate([sources[0], targets[0]], axis=1)[..., 0]
        np.testing.assert_array_equal(data.to_uint8(halves), expected)
    np.testing.assert_array_equal(data.load_image(tmp_path / "rgb16.tif"), as_8bit(rgb16))
    sources, targets = data.load_pairs_numpy([tmp_path / "rgb16.tif"], image_size=SIZE)
    halves = np.concatenate([sources[0], targets[0]], axis=1)
    np.testing.assert_array_equal(data.to_uint8(halves), as_8bit(rgb16))
    assert expected.max() == 255 and len(np.unique(expected)) == 256  # scaled, not clipped


def test_evaluate_run_reads_every_format_and_names_other_files(tmp_path, run_dir):
    """The identity generator on pairs whose halves are equal scores L1 = 0 exactly: every
    format reached the metrics with the right pixels."""
    folder = tmp_path / "val"
    for k, extension in enumerate([".png", *FORMAT_CASES, ".tiff"]):
        half = flat_colours(SIZE, SIZE, seed=k)
        save_image(folder / f"pair{k}{extension}", np.concatenate([half, half], axis=1))
    values = ramp16(SIZE, SIZE)
    Image.fromarray(np.concatenate([values, values], axis=1)).save(folder / "gray16.tif")
    (folder / "notes.txt").write_text("how the pairs were made")
    lines = []
    results = evaluate_run(run_dir, folder, paper_mode=False, report=lines.append)
    assert results["model"]["n"] == 7
    assert results["model"]["l1"] == 0.0
    assert lines == [
        f"skipped {folder / 'notes.txt'}: not an image file "
        "(those end in .jpg .jpeg .png .webp .tif .tiff .bmp .gif)"
    ]
    with pytest.warns(UserWarning, match="skipped .*notes.txt"):
        evaluate_run(run_dir, folder, paper_mode=False)


# --- translate ------------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".webp", ".tif", ".TIFF", ".bmp", ".gif", ".png"])
def test_translate_files_reads_and_writes_each_format(tmp_path, config, extension):
    """In and out in the input's format, losslessly: the identity model at its own size gives
    back the very pixels (the GIF too: a map's few colours fit its palette)."""
    pixels = flat_colours(SIZE, SIZE)
    source = save_image(tmp_path / "in" / f"scene{extension}", pixels)
    other_size = save_image(tmp_path / "in" / f"wide{extension}", flat_colours(40, 56))
    lines = []
    written = inference_files.translate_files(
        _identity_generator(), [source, other_size], tmp_path / "out", config=config,
        paper_mode=False, report=lines.append,
    )
    assert written == [tmp_path / "out" / source.name, tmp_path / "out" / other_size.name]
    assert len(lines) == 2 and all(" -> " in line for line in lines)
    for path, size in zip(written, [(SIZE, SIZE), (56, 40)], strict=True):
        with Image.open(path) as image:
            assert image.format == pairs.format_for_name(source) and image.size == size
    with Image.open(written[0]) as image:
        np.testing.assert_array_equal(np.asarray(image.convert("RGB")), pixels)


def test_translate_uses_a_gifs_first_frame_and_writes_16_bit_tiff_as_8_bit(tmp_path, config):
    first, second = flat_colours(SIZE, SIZE, 1), flat_colours(SIZE, SIZE, 2)
    frames = [Image.fromarray(first), Image.fromarray(second)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    values = ramp16(SIZE, SIZE)
    Image.fromarray(values).save(tmp_path / "dem16.tif")
    written = inference_files.translate_files(
        _identity_generator(),
        [tmp_path / "anim.gif", tmp_path / "dem16.tif"],
        tmp_path / "out",
        config=config,
        paper_mode=False,
    )
    with Image.open(written[0]) as gif:
        assert getattr(gif, "n_frames", 1) == 1
        np.testing.assert_array_equal(np.asarray(gif.convert("RGB")), first)  # 32 px: exact
    with Image.open(written[1]) as tiff:
        assert tiff.format == "TIFF" and tiff.mode == "RGB"  # 8 bits per channel
        np.testing.assert_array_equal(np.asarray(tiff)[..., 0], as_8bit(values))


def test_translate_folder_names_skipped_files_and_refuses_named_ones(tmp_path, config):
    images = _folder_with_other_files(tmp_path / "in")
    lines = []
    written = inference_files.translate_files(
        _identity_generator(), [tmp_path / "in"], tmp_path / "out", config=config,
        paper_mode=False, report=lines.append,
    )
    assert sorted(path.name for path in written) == sorted(path.name for path in images)
    skipped = [line for line in lines if line.startswith("skipped ")]
    assert [line.split(":")[0].rsplit("/", 1)[-1] for line in skipped] == [
        "img.TIF.aux.xml", "notes.txt", "scene.xml"
    ]
    assert len(lines) == len(skipped) + len(images)  # plus one line per translated file
    with pytest.raises(ValueError, match=r"notes.txt is not an image file: give files ending"):
        inference_files.input_files([tmp_path / "in" / "notes.txt"])
    (tmp_path / "only_text").mkdir()
    (tmp_path / "only_text" / "a.txt").write_text("x")
    with pytest.warns(UserWarning, match="skipped"), pytest.raises(
        ValueError, match="holds no image files"
    ):
        inference_files.input_files([tmp_path / "only_text"])


# --- files that cannot be read --------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow, reading the cut TIFF
def test_unreadable_files_in_new_formats_name_the_file(tmp_path):
    folder = tmp_path / "bad"
    for extension in (".webp", ".tif", ".gif", ".bmp"):
        whole = save_image(tmp_path / f"whole{extension}", flat_colours(SIZE, 2 * SIZE))
        whole = whole.read_bytes()
        folder.mkdir(exist_ok=True)
        (folder / f"cut{extension}").write_bytes(whole[: len(whole) // 2])
    multispectral = np.zeros((SIZE, 2 * SIZE, 5), np.uint16)  # 16-bit, 5 bands: Pillow cannot
    write_tiff(folder / "bands5.tif", multispectral, photometric=2)
    Image.fromarray(np.zeros((SIZE, 2 * SIZE), np.float32)).save(folder / "float.tif")
    good, bad = pairs.check_pairs(folder)
    reasons = {item.path.name: item.reason for item in bad}
    assert good == [] and set(reasons) == {
        "cut.webp", "cut.tif", "cut.gif", "cut.bmp", "bands5.tif", "float.tif"
    }
    assert "floating-point" in reasons["float.tif"]
    assert "bands" in reasons["bands5.tif"] and "gdal_translate" in reasons["bands5.tif"]
    for name, reason in reasons.items():
        with pytest.raises(data.DataError) as caught:
            data.load_image(folder / name)
        assert str(caught.value).startswith(f"{folder / name}: ")
        assert name.startswith("cut") or str(caught.value) == f"{folder / name}: {reason}"


def test_an_oversized_image_is_refused_from_its_header(huge_png, tmp_path, config,
                                                       pillow_settings):
    assert huge_png.stat().st_size < 100_000  # 450 Mpx, never decoded by this test
    expected = (
        f"{huge_png}: 30000 x 15000 pixels = 450 Mpx, above the limit of "
        f"{pairs._mpx(pairs.MAX_IMAGE_PIXELS)}"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(data.DataError) as caught:
            data.load_image(huge_png)
        assert str(caught.value).startswith(expected)
        assert "downscale" in str(caught.value) and "MAX_IMAGE_PIXELS" in str(caught.value)
        good, bad = pairs.check_pairs(huge_png.parent)  # 2:1, a pair but for its size
        assert good == [] and str(bad[0]).startswith(expected)
        with pytest.raises(data.DataError, match="above the limit"):
            inference_files.translate_files(
                _identity_generator(), [huge_png], tmp_path / "out", config=config
            )
    assert not (tmp_path / "out").exists()


def test_cli_gives_one_line_for_an_oversized_image(huge_png, run_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["translate", "--run", str(run_dir), str(huge_png), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"pix2pix translate: error: {huge_png}: 30000 x 15000 pixels")
    assert "Mpx" in line and "Traceback" not in captured.out + captured.err
    assert not out.exists()
    assert main(["evaluate", "--run", str(run_dir), "--data", str(huge_png.parent)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pix2pix evaluate: error: 1 bad image file(s)")
    assert f"{huge_png}: 30000 x 15000 pixels = 450 Mpx" in err and "Traceback" not in err


def test_cli_translate_names_skipped_files(run_dir, tmp_path, capsys):
    images = _folder_with_other_files(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["translate", "--run", str(run_dir), str(tmp_path / "in"), "--out", str(out),
                 "--conventional"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert f"skipped {tmp_path / 'in' / 'notes.txt'}: not an image file" in "\n".join(printed)
    assert sum(line.startswith("skipped ") for line in printed) == 3
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in images)


def test_pillow_settings_are_restored_after_concurrent_reads(tmp_path, pillow_settings):
    """Readers in many threads at once (as tf.data's decoders are) leave Pillow's process-wide
    settings as they found them, and refuse truncated files even where a library has told
    Pillow to load them."""
    good = save_image(tmp_path / "good.png", flat_colours(SIZE, 2 * SIZE))
    whole = good.read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) // 2])
    saved = pillow_settings
    Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = 12345, True  # a library's choice
    try:
        def read(k):
            if k % 3 == 0:
                with pytest.raises(data.DataError, match="cut.png: truncated image"):
                    data.load_image(tmp_path / "cut.png")
                return None
            return data.load_image(good).shape

        with ThreadPoolExecutor(8) as pool:
            shapes = list(pool.map(read, range(60)))
        assert shapes.count((SIZE, 2 * SIZE, 3)) == 40
        assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == (12345, True)
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved
