"""Checks for 01 · the input pipeline: split a pair, scale its pixels, jitter it.

Each check runs the learner's function on small inputs made here (fixed seeds, the same on
every machine) and compares with the library's (`reference`, over `pix2pix_lib.data`):

* `pair_split`: side-by-side pairs of two sizes, split "AtoB", "BtoA" and with the default
  direction; the halves must be the library's exactly (they are copies of pixels).
* `scaling`: an image holding every uint8 value 0..255; each must become the library's float32
  value in [-1, 1].
* `jitter`: a random pair of 32x32 float32 images jittered with 24 seeds. The learner may draw
  the crop and the mirror with any random generator, so the check does not compare with the
  library's draws: it finds WHERE each output sits in the library's enlarged image (bilinear,
  36x36 for 32), mirrored or not, and requires the same place and mirror for source and
  target, the same result for the same seed, a crop that moves with the seed and both mirror
  states. An output that is no such crop is compared with the known mistakes (an up-down
  flip, a nearest-neighbour resize, no enlarging, another enlarged size) to say which.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pix2pix_lib import data
from pix2pix_lib.checks import reference
from pix2pix_lib.checks.core import CheckFailed, call_learner, passed
from pix2pix_lib.checks.mistakes import planted_in
from pix2pix_lib.tf_quiet import tf

__all__ = ["MISTAKES", "jitter", "pair_split", "scaling"]

SPLIT_PIECE = "the pair split (split_pair)"
FLOAT_PIECE = "the scaling to [-1, 1] (to_float)"
JITTER_PIECE = "the random jitter (random_jitter)"


def _returned(value) -> str:
    """What a learner's function returned, in a few words."""
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)}"
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def _two_images(piece: str, call: str, value) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise CheckFailed(piece, f"{call} should return two images, (source, target); it "
                                 f"returned {_returned(value)}")
    return np.asarray(value[0]), np.asarray(value[1])


# ---------------------------------------------------------------------------------------------
# split_pair
# ---------------------------------------------------------------------------------------------

_SPLIT_HEIGHTS = (8, 5)  # two sizes, so a half width written as a number shows


def _split_pair_image(height: int) -> np.ndarray:
    rng = np.random.default_rng(height)
    return rng.integers(0, 256, (height, 2 * height, 3), dtype=np.uint8)


def _check_halves(call: str, direction: str, pair: np.ndarray, source, target) -> None:
    height = pair.shape[0]
    left, right = reference.split_pair(pair, "AtoB")
    expected = (left, right) if direction == "AtoB" else (right, left)
    for name, image in (("source", source), ("target", target)):
        if image.shape == (height // 2, 2 * height, 3):
            raise CheckFailed(SPLIT_PIECE, f"{call}: your {name} has shape {image.shape}, "
                                           f"expected {left.shape}: you cut the height (axis 0) "
                                           "in half; the two images sit side by side, so cut "
                                           "the width (axis 1): pair[:, :w // 2] and "
                                           "pair[:, w // 2:]")
        if image.shape != left.shape:
            raise CheckFailed(SPLIT_PIECE, f"{call}: your {name} has shape {image.shape}, "
                                           f"expected {left.shape} (the pair is {pair.shape}: "
                                           "height, width, channels; each half is "
                                           "height x height)")

    def same(a, b):
        return np.array_equal(a, b)

    if same(source, expected[0]) and same(target, expected[1]):
        return
    if same(source, target):
        raise CheckFailed(SPLIT_PIECE, f"{call}: your source and target are the same image; "
                                       "one must be the left half, the other the right half")
    if same(source, expected[1]) and same(target, expected[0]):
        if direction == "BtoA":
            raise CheckFailed(SPLIT_PIECE, f'{call}: you returned the same halves as for "AtoB" '
                                           '(source = left): with "BtoA" the source is the '
                                           "RIGHT half (B) and the target the left half (A); "
                                           "use the direction argument")
        if call.endswith("(no direction)"):
            raise CheckFailed(SPLIT_PIECE, f'{call}: without a direction split_pair must use '
                                           'its default, "AtoB" (source = left half); yours '
                                           'gave the "BtoA" halves')
        raise CheckFailed(SPLIT_PIECE, f'{call}: source and target are swapped: with "AtoB" '
                                       "the source (the model's input) is the LEFT half (A, "
                                       "the photo in the maps data) and the target the right "
                                       "half (B)")
    for name, image, want in (("source", source, expected[0]), ("target", target, expected[1])):
        if not same(image, want):
            where = "left" if same(want, left) else "right"
            raise CheckFailed(SPLIT_PIECE, f"{call}: your {name} is not the {where} half of "
                                           f"the pair (its pixels differ in "
                                           f"{int(np.sum(np.any(image != want, axis=-1)))} "
                                           f"of {height * height} places)")


def pair_split(learner: Callable) -> None:
    """Check `split_pair(pair, direction="AtoB")` -> (source, target) against the library's."""
    for height in _SPLIT_HEIGHTS:
        pair = _split_pair_image(height)
        for direction in ("AtoB", "BtoA", None):
            if direction is None:
                call = f"split_pair(pair) of the {height}x{2 * height} pair (no direction)"
                value = call_learner(SPLIT_PIECE, learner, pair.copy())
            else:
                call = f'split_pair(pair, "{direction}") of the {height}x{2 * height} pair'
                value = call_learner(SPLIT_PIECE, learner, pair.copy(), direction)
            source, target = _two_images(SPLIT_PIECE, call, value)
            _check_halves(call, direction or "AtoB", pair, source, target)
    passed(SPLIT_PIECE, 'AtoB, BtoA and the default direction give the library\'s halves of '
                        f"{' and '.join(f'{h}x{2 * h}' for h in _SPLIT_HEIGHTS)} pairs")


# ---------------------------------------------------------------------------------------------
# to_float
# ---------------------------------------------------------------------------------------------

_LEVELS = np.tile(np.arange(256, dtype=np.uint8), 3).reshape(16, 16, 3)  # every value, 3 times
_FLOAT_ATOL = 1e-5  # x / 127.5 - 1 and x / 255 * 2 - 1 differ by a few float32 ulps


def _per_level(values: np.ndarray) -> np.ndarray:
    """The learner's result for each uint8 value 0..255 (its first occurrence)."""
    return values.reshape(-1)[:256].astype(np.float64)


def _float_hint(yours: np.ndarray) -> str:
    lo, hi = yours[0], yours[255]

    def near(a, b):
        return abs(a - b) <= 1e-3

    if near(lo, 0) and near(hi, 1):
        return ("yours is in [0, 1]; the generator ends in tanh, whose outputs are in [-1, 1], "
                "so the pixels it is compared with must be too: x / 127.5 - 1")
    if near(lo, 0) and near(hi, 2):
        return "yours is in [0, 2]: subtract 1 after dividing by 127.5"
    if near(lo, 0) and near(hi, 255):
        return "the values are not scaled: divide by 127.5, then subtract 1"
    if np.any(np.diff(yours) < 0):
        return ("a brighter pixel became a smaller number: uint8 arithmetic wraps around at "
                "256 (200 * 2 is 144 in uint8); convert to float32 first, then compute")
    if near(lo, -1) and not near(hi, 1):
        return "255 must become 1: divide by 127.5 (255 / 2), then subtract 1"
    return "0 must become -1, 127.5 would be 0 and 255 becomes 1: x / 127.5 - 1"


def scaling(learner: Callable) -> None:
    """Check `to_float(image)`: uint8 0..255 -> float32 in [-1, 1], as the library's."""
    value = call_learner(FLOAT_PIECE, learner, _LEVELS.copy())
    yours = np.asarray(value)
    if yours.shape != _LEVELS.shape:
        raise CheckFailed(FLOAT_PIECE, f"for a {_LEVELS.shape} image yours has shape "
                                       f"{yours.shape}: keep the shape, change only the values")
    if not np.issubdtype(yours.dtype, np.number) or np.issubdtype(yours.dtype, np.complexfloating):
        raise CheckFailed(FLOAT_PIECE, f"yours returned {yours.dtype} values; expected float32")
    library = np.asarray(reference.to_float(_LEVELS))
    mine, theirs = _per_level(yours), _per_level(library)
    wrong = ~(np.abs(mine - theirs) <= _FLOAT_ATOL)  # NaN counts as wrong
    if np.any(wrong):
        numbers = (f"yours maps 0 -> {mine[0]:.6g} and 255 -> {mine[255]:.6g}, the library's "
                   "-1 and 1")
        if not (wrong[0] or wrong[255]):
            level = int(np.argmax(wrong))
            numbers += f"; {level} -> {mine[level]:.6g}, the library's {theirs[level]:.6g}"
        raise CheckFailed(FLOAT_PIECE, f"{_float_hint(mine)} ({numbers})")
    if yours.dtype != np.float32:
        hint = (" (numpy turns uint8 / 127.5 into float64)" if yours.dtype == np.float64 else "")
        raise CheckFailed(FLOAT_PIECE, f"the values are right but yours are {yours.dtype}"
                                       f"{hint}: the model computes in float32, so return "
                                       "float32, e.g. image.astype(np.float32) / 127.5 - 1")
    passed(FLOAT_PIECE, "every uint8 value 0..255 becomes the library's float32 in [-1, 1] "
                        "(0 -> -1, 255 -> 1)")


# ---------------------------------------------------------------------------------------------
# random_jitter
# ---------------------------------------------------------------------------------------------

JITTER_IMAGE_SIZE = 32  # crops of 32 from the image enlarged to data.jitter_size(32) = 36
JITTER_SEEDS = tuple(range(24))  # 24 fair tosses all alike: probability 2 ** -23
REPEATED_SEEDS = JITTER_SEEDS[:6]  # called twice: the same seed must give the same result
_JITTER_ATOL = 1e-4  # TF's bilinear resize in any order of operations; values are in [-1, 1]
_FLIPS = (("", lambda x: x), ("mirrored", lambda x: x[:, ::-1]))
_WRONG_FLIPS = (("upside down", lambda x: x[::-1]), ("upside down and mirrored",
                                                     lambda x: x[::-1, ::-1]))


def _jitter_inputs() -> tuple[np.ndarray, np.ndarray]:
    """A random source and target (noise: every crop of it is different), 32x32, float32."""
    rng = np.random.default_rng(2017)
    shape = (JITTER_IMAGE_SIZE, JITTER_IMAGE_SIZE, 3)
    return (rng.uniform(-1, 1, shape).astype(np.float32),
            rng.uniform(-1, 1, shape).astype(np.float32))


def _enlarged(image: np.ndarray, size: int, method: str = "bilinear") -> np.ndarray:
    if method == "bilinear":
        return np.asarray(data.resize(image, size), dtype=np.float64)
    return np.asarray(tf.image.resize(image, [size, size], method=method), dtype=np.float64)


def _position(big: np.ndarray, crop: np.ndarray) -> tuple[int, int] | None:
    """(top, left) where `crop` sits in `big` (within the tolerance), or None."""
    if crop.ndim != 3 or crop.shape[2] != big.shape[2]:
        return None
    rows, cols = big.shape[0] - crop.shape[0] + 1, big.shape[1] - crop.shape[1] + 1
    if rows < 1 or cols < 1 or crop.size == 0:
        return None
    corners = np.all(np.abs(big[:rows, :cols] - crop[0, 0]) <= _JITTER_ATOL, axis=-1)
    for top, left in zip(*np.nonzero(corners), strict=True):
        window = big[top:top + crop.shape[0], left:left + crop.shape[1]]
        if np.max(np.abs(window - crop)) <= _JITTER_ATOL:
            return int(top), int(left)
    return None


def _locate(big: np.ndarray, crop: np.ndarray, flips=_FLIPS) -> tuple[int, int, str] | None:
    """(top, left, how it is flipped) of `crop` in `big`, trying each flip in `flips`."""
    for name, flip in flips:
        found = _position(big, flip(crop))
        if found is not None:
            return (*found, name)
    return None


def _closest(big: np.ndarray, crop: np.ndarray) -> str:
    """How far `crop` is from the nearest right answer, for the generic message."""
    size = crop.shape[0]
    room = big.shape[0] - size + 1
    best = min((np.max(np.abs(big[t:t + size, c:c + size] - flip(crop))), t, c, name)
               for t in range(room) for c in range(room) for name, flip in _FLIPS)
    return (f"the closest crop, at (row {best[1]}, column {best[2]})"
            f"{' mirrored' if best[3] else ''}, differs by up to {best[0]:.3g}")


def _not_a_crop(what: str, crop: np.ndarray, image: np.ndarray) -> CheckFailed:
    """Why `crop` is not a crop of the enlarged `image`: the first known mistake that fits."""
    size = JITTER_IMAGE_SIZE
    big_size = data.jitter_size(size)
    big = _enlarged(image, big_size)
    right = (f"crop {size}x{size} from the image enlarged to data.jitter_size({size}) = "
             f"{big_size} (bilinear), then mirror left-right or not")
    if crop.shape == (size, size, 3):
        if _locate(big, crop, _WRONG_FLIPS) is not None:
            return CheckFailed(JITTER_PIECE, f"{what} is flipped upside down: mirror left-right, "
                                             "i.e. reverse the width (axis 1): image[:, ::-1] "
                                             "or tf.image.flip_left_right")
        if _locate(_enlarged(image, big_size, "nearest"), crop) is not None:
            return CheckFailed(JITTER_PIECE, f"{what} comes from an image enlarged with "
                                             "nearest-neighbour (blocky, repeated pixels): "
                                             "enlarge with bilinear interpolation, "
                                             "tf.image.resize's default (data.resize uses it)")
    if _locate(image.astype(np.float64), crop) is not None:
        return CheckFailed(JITTER_PIECE, f"{what} (shape {crop.shape}) is cut from the image as "
                                         f"it came in ({image.shape[0]}x{image.shape[1]}), not "
                                         f"enlarged: first enlarge both images to "
                                         f"data.jitter_size({size}) = {big_size} (bilinear), "
                                         f"then crop {size}x{size} and mirror left-right or not")
    if crop.shape == (size, size, 3):
        for other in (*range(size + 1, 3 * size + 1), 286):
            if other != big_size and _locate(_enlarged(image, other), crop) is not None:
                return CheckFailed(JITTER_PIECE, f"{what} is a crop of the image enlarged to "
                                                 f"{other}x{other}; enlarge to "
                                                 f"data.jitter_size({size}) = {big_size} "
                                                 "(round(s * 286 / 256): the paper's 286 for "
                                                 "256)")
        return CheckFailed(JITTER_PIECE, f"{what} is not a crop of the image enlarged to "
                                         f"{big_size}x{big_size} (bilinear), mirrored or not; "
                                         f"{_closest(big, crop)}. Expected: {right}")
    return CheckFailed(JITTER_PIECE, f"{what} has shape {crop.shape}, expected "
                                     f"{(size, size, 3)}: {right}")


def _jitter_once(learner: Callable, seed: int, inputs) -> tuple[np.ndarray, np.ndarray]:
    source, target = inputs
    call = f"random_jitter(source, target, {JITTER_IMAGE_SIZE}, seed={seed})"
    value = call_learner(JITTER_PIECE, learner, source.copy(), target.copy(), JITTER_IMAGE_SIZE,
                         seed)
    return _two_images(JITTER_PIECE, call, value)


def _where(top: int, left: int, flip: str) -> str:
    return f"(row {top}, column {left}){' mirrored' if flip else ''}"


def jitter(learner: Callable) -> None:
    """Check `random_jitter(source, target, image_size, seed)`: enlarge, the same random crop
    and mirror on both images, a pure function of `seed` (whatever random numbers it draws)."""
    size = JITTER_IMAGE_SIZE
    big_size = data.jitter_size(size)
    inputs = _jitter_inputs()
    enlarged = [_enlarged(image, big_size) for image in inputs]
    outputs, places = {}, {}
    for seed in JITTER_SEEDS:
        outputs[seed] = _jitter_once(learner, seed, inputs)
        found = []
        for name, crop, image, big in zip(("source", "target"), outputs[seed], inputs, enlarged,
                                          strict=True):
            where = _locate(big, crop.astype(np.float64)) if crop.shape == (size, size, 3) else None
            if where is None:
                raise _not_a_crop(f"for seed {seed} your {name}", crop.astype(np.float64), image)
            found.append(where)
        (s_top, s_left, s_flip), (t_top, t_left, t_flip) = found
        if (s_top, s_left) != (t_top, t_left):
            raise CheckFailed(JITTER_PIECE, f"for seed {seed} your source is cut at "
                                            f"{_where(s_top, s_left, '')} of the enlarged image "
                                            f"and your target at {_where(t_top, t_left, '')}: "
                                            "draw the crop's corner once and cut both images "
                                            "there, or the map no longer lies under the photo")
        if s_flip != t_flip:
            which = "source" if s_flip else "target"
            other = "target" if s_flip else "source"
            raise CheckFailed(JITTER_PIECE, f"for seed {seed} your {which} is mirrored and your "
                                            f"{other} is not: toss one coin per pair and mirror "
                                            "both images, or neither")
        places[seed] = found[0]
    for seed in REPEATED_SEEDS:
        again = _jitter_once(learner, seed, inputs)
        if not all(np.array_equal(a, b) for a, b in zip(again, outputs[seed], strict=True)):
            raise CheckFailed(JITTER_PIECE, f"called twice with seed={seed} it gave different "
                                            "crops: the result must depend only on `seed`; draw "
                                            "from np.random.default_rng(seed) (or TF's stateless "
                                            "random ops, seed=[seed, 0]), not from a global "
                                            "random generator")
    room = big_size - size
    distinct = set(places.values())
    if len(distinct) == 1:
        raise CheckFailed(JITTER_PIECE, f"all {len(JITTER_SEEDS)} seeds gave the same crop, "
                                        f"{_where(*places[0])}: the crop and the mirror must be "
                                        "drawn at random from `seed` (e.g. "
                                        "np.random.default_rng(seed)), not from a fixed seed")
    if len({place[:2] for place in places.values()}) == 1:
        raise CheckFailed(JITTER_PIECE, f"over {len(JITTER_SEEDS)} seeds the crop never moves: "
                                        f"it always starts at {_where(*places[0][:2], '')}; "
                                        f"draw its row and column at random from 0..{room} "
                                        f"({big_size} - {size})")
    for axis, name, move in ((0, "row", "up or down"), (1, "column", "sideways")):
        starts = {place[axis] for place in places.values()}
        if len(starts) == 1:
            raise CheckFailed(JITTER_PIECE, f"over {len(JITTER_SEEDS)} seeds the crop never "
                                            f"moves {move}: it always starts at {name} "
                                            f"{starts.pop()}; draw the {name} at random from "
                                            f"0..{room} ({big_size} - {size})")
    mirrored = sum(bool(place[2]) for place in places.values())
    if mirrored == 0:
        raise CheckFailed(JITTER_PIECE, f"none of {len(JITTER_SEEDS)} seeds gave a mirrored "
                                        "pair: mirror both images left-right half of the time "
                                        "(the paper's random mirroring)")
    if mirrored == len(JITTER_SEEDS):
        raise CheckFailed(JITTER_PIECE, f"all {len(JITTER_SEEDS)} seeds gave a mirrored pair: "
                                        "mirror half of the time, e.g. when rng.random() < 0.5 "
                                        "(note rng.integers(0, 1) is always 0: its high end is "
                                        "left out)")
    passed(JITTER_PIECE, f"{len(JITTER_SEEDS)} seeds: each a {size}x{size} crop of the pair "
                         f"enlarged to {big_size}, the same crop and mirror on source and target, "
                         f"{len(distinct)} different crops, {mirrored} mirrored, the same result "
                         "for the same seed")


# ---------------------------------------------------------------------------------------------
# The mistakes these checks must catch, planted in notebook 01's solutions
# ---------------------------------------------------------------------------------------------

_NB = "01_data_loading_and_splitting"
_split = planted_in(_NB, "split_pair", "check_split_pair")
_float = planted_in(_NB, "to_float", "check_to_float")
_jitter = planted_in(_NB, "random_jitter", "check_random_jitter")


_CORNER = "top, left = rng.integers(0, big - image_size + 1, size=2)"
_ENLARGE = "image = tf.image.resize(image, [big, big]).numpy()"
_MIRROR = "source, target = source[:, ::-1], target[:, ::-1]"

MISTAKES = (
    _split("source and target swapped (AtoB's source taken from the right)",
           'return (left, right) if direction == "AtoB" else (right, left)',
           'return (right, left) if direction == "AtoB" else (left, right)', "are swapped"),
    _split("the direction ignored",
           'return (left, right) if direction == "AtoB" else (right, left)', "return left, right",
           "use the direction argument"),
    _split("split along the height (axis 0)",
           "left, right = pair[:, :half], pair[:, half : 2 * half]",
           "left, right = pair[: pair.shape[0] // 2], pair[pair.shape[0] // 2 :]",
           "cut the width (axis 1)"),
    _split("the default direction BtoA", 'def split_pair(pair, direction="AtoB"):',
           'def split_pair(pair, direction="BtoA"):', "its default"),
    _float("scaled to [0, 1] instead of [-1, 1]", "return image.astype(np.float32) / 127.5 - 1",
           "return image.astype(np.float32) / 255", "[0, 1]"),
    _float("the - 1 forgotten", "return image.astype(np.float32) / 127.5 - 1",
           "return image.astype(np.float32) / 127.5", "subtract 1"),
    _float("uint8 arithmetic before the cast (wraps around)",
           "return image.astype(np.float32) / 127.5 - 1",
           "return (image * 2).astype(np.float32) / 255 - 1", "wraps around"),
    _float("divided by 128", "return image.astype(np.float32) / 127.5 - 1",
           "return image.astype(np.float32) / 128 - 1", "divide by 127.5"),
    _float("float64 left (no cast)", "return image.astype(np.float32) / 127.5 - 1",
           "return image / 127.5 - 1", "float64"),
    _jitter("cropped without enlarging first", _ENLARGE, "image = np.asarray(image)",
            "not enlarged"),
    _jitter("enlarged by 30 pixels at every size (286 - 256)",
            "big = data.jitter_size(image_size)", "big = image_size + 30", "enlarged to 62x62"),
    _jitter("nearest-neighbour resize", _ENLARGE,
            'image = tf.image.resize(image, [big, big], method="nearest").numpy()',
            "nearest-neighbour"),
    _jitter("a crop corner drawn for each image", _ENLARGE,
            f"{_CORNER}\n        {_ENLARGE}", "draw the crop's corner once"),
    _jitter("only the source mirrored", _MIRROR, "source = source[:, ::-1]",
            "toss one coin per pair"),
    _jitter("flipped up-down instead of left-right", _MIRROR,
            "source, target = source[::-1], target[::-1]", "upside down"),
    _jitter("never mirrored", "if rng.random() < 0.5:", "if False:", "none of 24 seeds"),
    _jitter("always mirrored (rng.integers(0, 1) is always 0)", "if rng.random() < 0.5:",
            "if rng.integers(0, 1) == 0:", "all 24 seeds gave a mirrored pair"),
    _jitter("a centre crop (never moves)", _CORNER, "top = left = (big - image_size) // 2",
            "never moves"),
    _jitter("the seed ignored (a fixed generator)", "rng = np.random.default_rng(seed)",
            "rng = np.random.default_rng(0)", "gave the same crop"),
    _jitter("an unseeded generator (a new crop at every call)",
            "rng = np.random.default_rng(seed)", "rng = np.random.default_rng()",
            "depend only on `seed`"),
)
