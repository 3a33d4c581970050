"""The teacher's guide's generated part: per lesson, its Check-yourself answers and mistakes.

docs/teaching.md is written by hand (goals, what to know before, compute time, what to
explain at the board) except for one region between two markers, which
`pix2pix exercises guide` rewrites from the course notebooks and the mistakes catalogue:
the Check-yourself questions with their answers (their home is the notebooks, folded under
each question) and the names of the mistakes each lesson's checks catch. A test fails when
the region is stale, so the guide cannot drift from the notebooks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["BEGIN", "END", "check_yourself", "generated_part", "update_guide"]

BEGIN = "<!-- begin generated: pix2pix exercises guide -->"
END = "<!-- end generated -->"
_QUESTION = re.compile(
    r"^(\d+)\.\s+(.*?)\n\s*<details>\s*<summary>Answer</summary>\s*(.*?)</details>",
    re.MULTILINE | re.DOTALL)


def _unindent(text: str) -> str:
    return "\n".join(line.strip() for line in text.strip().splitlines()).strip()


def check_yourself(notebook_path: Path) -> list[tuple[str, str]]:
    """(question, answer) pairs of a notebook's "Check yourself" section, in order."""
    cells = json.loads(Path(notebook_path).read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    start = text.lower().rfind("## check yourself")
    if start < 0:
        return []
    return [(_unindent(question), _unindent(answer))
            for _, question, answer in _QUESTION.findall(text[start:])]


def _title(notebook_path: Path) -> str:
    cells = json.loads(Path(notebook_path).read_text(encoding="utf-8"))["cells"]
    first = "".join(cells[0]["source"]).lstrip()
    return first.splitlines()[0].lstrip("# ").strip() if first.startswith("#") else \
        Path(notebook_path).stem


def generated_part(course_dir: Path) -> str:
    """The generated region of the guide, markers included."""
    from pix2pix_lib.checks.mistakes import CATALOGUE

    lines = [BEGIN, "", "## Per lesson: Check yourself, answered; the mistakes the checks catch",
             "", "*Generated from the notebooks and the catalogue by `pix2pix exercises guide`;"
             " do not edit by hand.*"]
    for path in sorted(Path(course_dir).glob("[0-9][0-9]_*.ipynb")):
        lines += ["", f"### {_title(path)}", ""]
        mistakes = [m for m in CATALOGUE if m.notebook == path.stem]
        if mistakes:
            lines.append(f"**The {len(mistakes)} mistakes its checks catch** (what the learner "
                         f"sees: `pix2pix exercises mistakes --notebook {path.stem[:2]}`):")
            lines.append("")
            lines += [f"- {m.mistake} (`{m.check}`)" for m in mistakes]
            lines.append("")
        lines += ["**Check yourself, answered:**", ""]
        for number, (question, answer) in enumerate(check_yourself(path), start=1):
            lines += [f"{number}. {question}", "", "   " + answer.replace("\n", "\n   "), ""]
    lines.append(END)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def update_guide(guide: Path, course_dir: Path, *, write: bool = True) -> bool:
    """Rewrite the generated region of `guide`; True if it changed (with write=False: only
    say whether it would)."""
    text = Path(guide).read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{guide} has no region between {BEGIN!r} and {END!r}")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1].lstrip("\n")
    new = head + generated_part(course_dir) + ("\n" + tail if tail else "")
    if new == text:
        return False
    if write:
        Path(guide).write_text(new, encoding="utf-8")
    return True
