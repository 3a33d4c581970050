"""Small helpers that several modules share, each written once: atomic file writes, aligned
text tables, whole-number argument checks and a progress line redrawn in place.

This module imports no TensorFlow (nor numpy), so any module may use it.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

__all__ = ["TMP_PREFIX", "ProgressLine", "check_whole_number", "text_table", "write_atomically"]

TMP_PREFIX = ".tmp-"  # what a file being written is called until it is complete


def write_atomically(path, write: Callable[[Path], object]) -> Path:
    """Call write(tmp) for a temporary file beside `path`, then rename it onto `path`.

    Readers never see half a file: a process killed mid-write (even by SIGKILL) leaves the old
    file, or none, plus a `.tmp-PID-NAME` file (a run folder removes those when it resumes).
    The temporary name ends with the file's own name, so writers that insist on an extension
    (Keras' `.keras`, Pillow's format from the suffix) get the one they expect.
    """
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def text_table(rows: Sequence[Sequence[str] | None], left_columns: int = 1) -> list[str]:
    """Rows of cell strings as aligned lines, two spaces between columns.

    The first `left_columns` columns are left-aligned (names), the others right-aligned
    (numbers). A row given as None becomes a rule: dashes as wide as each column. Shorter rows
    are padded with empty cells; no line ends in spaces.
    """
    cells = [list(row) for row in rows if row is not None]
    count = max((len(row) for row in cells), default=0)
    cells = [row + [""] * (count - len(row)) for row in cells]
    widths = [max(len(row[i]) for row in cells) for i in range(count)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.ljust(width) if i < left_columns else value.rjust(width)
            for i, (value, width) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    rule = ["-" * width for width in widths]
    lines, padded = [], iter(cells)
    for row in rows:
        lines.append(line(rule if row is None else next(padded)))
    return lines


def check_whole_number(name: str, value, minimum: int = 1) -> int:
    """`value` as an int if it is a whole number >= `minimum`; otherwise a ValueError naming it.

    Python and numpy integers pass; bools (True would pass as 1) and floats (even 2.0) do not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


class ProgressLine:
    """One line of text redrawn in place with "\\r": plain text, so it works in terminals,
    notebooks and CI logs alike.

    `show` redraws it (padded over a longer previous text); `end` finishes it with a newline,
    and must come before any other output, so that an error or a warning starts on a line of
    its own (`ended_before_warnings` does it for warnings). `stream`: None is sys.stdout at the
    time of each write (what a notebook or pytest has put there).
    """

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream
        self.open = False
        self._width = 0

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def show(self, text: str) -> None:
        out = self._out()
        out.write("\r" + text + " " * max(0, self._width - len(text)))
        out.flush()
        self._width, self.open = len(text), True

    def end(self) -> None:
        """End the line (nothing when none is shown)."""
        if self.open:
            out = self._out()
            out.write("\n")
            out.flush()
            self.open, self._width = False, 0

    @contextlib.contextmanager
    def ended_before_warnings(self):
        """While inside, a warning shown ends the line first instead of being appended to it."""
        original = warnings.showwarning

        def show_on_a_line_of_its_own(*args, **kwargs):
            self.end()
            original(*args, **kwargs)

        warnings.showwarning = show_on_a_line_of_its_own
        try:
            yield self
        finally:
            warnings.showwarning = original
