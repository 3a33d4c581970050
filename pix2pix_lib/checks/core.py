"""What every graded check shares: the failure it raises, calling the learner's code, comparing.

A check compares a piece the learner wrote (a function, a block, a network, a loss, a step)
with the library's version of the same piece (`pix2pix_lib.checks.reference`) and raises
`CheckFailed` at the first difference, with a message that names the piece and says what
differs ("decoder block 2 (up2): expected Dropout(0.5) after BatchNormalization, found
ReLU"). A learner reads that message in a notebook, so `CheckFailed` shows itself in Jupyter as
that message alone, not as a traceback through this package (IPython's `_render_traceback_`).
"""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "CheckFailed",
    "assert_close",
    "call_learner",
    "compare_layer_lists",
    "describe_layer",
    "layer_settings",
    "passed",
]

NOT_WRITTEN = (
    "not written yet: replace `# YOUR CODE HERE` and `raise NotImplementedError()` in the cell "
    "that defines it with your code, run that cell, then run this check again"
)


class CheckFailed(AssertionError):
    """A graded check found a difference between the learner's piece and the library's.

    `piece` names the exercise ("the encoder block ck"), `message` what differs. In Jupyter
    only the message is shown (plus the learner's own lines when their code raised), so the
    learner reads what to fix instead of a stack of library frames.
    """

    def __init__(self, piece: str, message: str):
        super().__init__(f"{piece}: {message}")
        self.piece = piece
        self.message = message

    def _render_traceback_(self) -> list[str]:  # IPython calls this instead of its traceback
        lines = []
        cause = self.__cause__
        if cause is not None and not isinstance(cause, NotImplementedError):
            lines += [line.rstrip("\n") for line in traceback.format_exception(cause)]
            lines.append("")
        lines.append(f"\x1b[1;31mCheck failed\x1b[0m: {self}")
        return lines


def call_learner(piece: str, function: Callable, *args, **kwargs):
    """`function(*args, **kwargs)` for the learner's `function`, failures named after `piece`.

    A stub's NotImplementedError becomes "not written yet" with what to do; any other error
    becomes a CheckFailed that keeps the original as its cause (shown above the message).
    """
    if not callable(function):
        raise CheckFailed(piece, f"expected a function, got {type(function).__name__}")
    try:
        return function(*args, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError as error:
        raise CheckFailed(piece, NOT_WRITTEN) from error
    except Exception as error:  # the learner's code failed: say so, keep the details
        raise CheckFailed(
            piece, f"calling it raised {type(error).__name__}: {error} (the lines above show where)"
        ) from error


def passed(piece: str, what: str) -> None:
    """Print the line a learner sees when a check passes."""
    print(f"\u2713 {piece}: {what}")


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


def assert_close(piece: str, what: str, yours, library, *, atol: float = 1e-6,
                 rtol: float = 1e-6) -> float:
    """Fail unless `yours` equals `library` within atol + rtol * |library|; the largest gap.

    Shapes must match first: a shape difference is the more useful message.
    """
    yours, library = np.asarray(yours, dtype=np.float64), np.asarray(library, dtype=np.float64)
    if yours.shape != library.shape:
        raise CheckFailed(piece, f"{what}: expected shape {library.shape}, found {yours.shape}")
    if not np.all(np.isfinite(yours)) and np.all(np.isfinite(library)):
        raise CheckFailed(piece, f"{what}: yours has inf or NaN where the library's is finite")
    gap = np.abs(yours - library)
    allowed = atol + rtol * np.abs(library)
    if np.any(gap > allowed):
        index = np.unravel_index(np.argmax(gap - allowed), gap.shape)
        where = f" at index {tuple(int(i) for i in index)}" if yours.ndim else ""
        raise CheckFailed(
            piece, f"{what}: yours is {yours[index]:.6g}, the library's {library[index]:.6g}"
            f"{where} (largest difference {gap.max():.3g})"
        )
    return float(gap.max()) if gap.size else 0.0


# ---------------------------------------------------------------------------------------------
# Layers: what a learner can get wrong in a block, described in words
# ---------------------------------------------------------------------------------------------


def _initializer(config) -> str:
    """An initializer's config as the course writes it: N(0, 0.02), or its Keras name."""
    if isinstance(config, str):
        return config
    if not isinstance(config, dict):
        return repr(config)
    name = config.get("class_name", "?")
    values = config.get("config", {})
    if name == "RandomNormal":
        return f"N({values.get('mean', 0.0):g}, {values.get('stddev', 0.05):g})"
    if name in ("GlorotUniform", "Zeros", "Ones"):
        return f"{name} (Keras' default)" if name != "Ones" else "Ones (Keras' default: 1)"
    return name


def layer_settings(layer) -> tuple[str, dict[str, object]]:
    """(type name, the settings a learner chooses) for one Keras layer.

    Only what changes what the layer computes or how it starts is listed; names and dtypes
    are not. Unknown layer types are compared by type alone.
    """
    kind = type(layer).__name__
    config = layer.get_config()
    settings: dict[str, object] = {}
    if kind in ("Conv2D", "Conv2DTranspose", "Conv1DTranspose", "Conv1D"):
        settings = {
            "filters": config["filters"],
            "kernel": tuple(config["kernel_size"]),
            "strides": tuple(config["strides"]),
            "padding": config["padding"],
            "bias": config["use_bias"],
            "activation": config["activation"],
            "initial weights": _initializer(config["kernel_initializer"]),
        }
    elif kind == "BatchNormalization":
        settings = {
            "initial scale": _initializer(config["gamma_initializer"]),
            "epsilon": config["epsilon"],
        }
    elif kind == "Dropout":
        settings = {"rate": config["rate"]}
    elif kind == "LeakyReLU":
        settings = {"negative_slope": round(float(config["negative_slope"]), 6)}
    elif kind == "ReLU":
        settings = {"negative_slope": config.get("negative_slope", 0.0),
                    "max_value": config.get("max_value")}
    elif kind == "Activation":
        settings = {"activation": config["activation"]}
    elif kind == "ZeroPadding2D":
        settings = {"padding": tuple(tuple(p) for p in config["padding"])}
    elif kind == "Concatenate":
        settings = {"axis": config["axis"]}
    return kind, settings


def describe_layer(layer) -> str:
    """One layer in words, e.g. "Conv2D(64, kernel (4, 4), strides (2, 2), ...)"."""
    kind, settings = layer_settings(layer)
    inside = ", ".join(f"{key} {value}" for key, value in settings.items())
    return f"{kind}({inside})" if inside else kind


def _short(layer) -> str:
    kind, settings = layer_settings(layer)
    if kind == "Dropout":
        return f"Dropout({settings['rate']:g})"
    if kind == "LeakyReLU":
        return f"LeakyReLU({settings['negative_slope']:g})"
    return kind


def compare_layer_lists(piece: str, where: str, yours: Sequence, library: Sequence) -> None:
    """Fail at the first layer of `yours` that differs from `library`, in order and settings.

    Messages say what is missing, extra or different, and where: "`where`: expected
    Dropout(0.5) after BatchNormalization, found ReLU".
    """
    your_kinds = [_short(layer) for layer in yours]
    library_kinds = [_short(layer) for layer in library]
    matcher = difflib.SequenceMatcher(a=library_kinds, b=your_kinds, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for reference, mine in zip(library[i1:i2], yours[j1:j2], strict=True):
                _compare_settings(piece, where, mine, reference)
            continue
        before = f"after {library_kinds[i1 - 1]}" if i1 > 0 else "first"
        found = f"found {your_kinds[j1]}" if j1 < len(your_kinds) else "found nothing"
        if tag == "insert":
            raise CheckFailed(piece, f"{where}: found an extra {your_kinds[j1]} "
                                     f"{before.replace('first', 'at the start')}; "
                                     "the library's has none there")
        raise CheckFailed(piece, f"{where}: expected {library_kinds[i1]} {before}, "
                                 f"{found if tag == 'replace' else found + ' there'}")


def _compare_settings(piece: str, where: str, mine, reference) -> None:
    kind, expected = layer_settings(reference)
    _, found = layer_settings(mine)
    for key, value in expected.items():
        if found.get(key) != value:
            raise CheckFailed(piece, f"{where}: the {kind}'s {key} should be {value}, "
                                     f"found {found.get(key)}")
