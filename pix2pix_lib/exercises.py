"""The course notebooks as exercises: student copies, planted mistakes, a course for nbgrader.

The course notebooks (``notebooks/NN_*.ipynb``) hold every exercise's solution between
nbgrader's markers, in a cell whose metadata marks it as a solution, followed by a graded
check cell (metadata ``"grade": true`` with its points) that calls `pix2pix_lib.checks`::

    def ck(k, norm=True, name=None):
        \"\"\"The encoder block Ck ... (the docstring and hint stay in the student copy)\"\"\"
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

From them this module makes

* the student copies in ``notebooks/exercises/`` (`write_student_notebooks`): each solution
  region replaced by nbgrader's own stub, ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()``, exactly as ``nbgrader generate_assignment`` does, so a
  learner on Colab and a teacher's class get the same notebooks;
* a planted mistake (`run_mistake`): one `checks.mistakes.Mistake` edited into a solution,
  the notebook's imports and solution cells run, then its check cell, and what the check said;
* an nbgrader course folder (`make_nbgrader_course`): ``source/<lesson>/<lesson>.ipynb`` and an
  ``nbgrader_config.py`` that points the notebooks at this checkout's data and runs.

Notebooks are read and written as plain JSON (``indent=1``, sorted keys, as Jupyter writes
them), so nothing here needs nbformat or nbgrader.
"""

from __future__ import annotations

import copy
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from pix2pix_lib.checks.mistakes import Mistake

__all__ = [
    "EXERCISES_FOLDER",
    "MistakeResult",
    "catalogue_markdown",
    "catalogue_table",
    "clear_solutions",
    "course_notebooks_dir",
    "exercise_notebooks",
    "make_nbgrader_course",
    "plant",
    "planted_notebook",
    "run_check",
    "run_mistake",
    "stale_student_notebooks",
    "student_notebook",
    "write_notebook",
    "write_student_notebooks",
]

EXERCISES_FOLDER = "exercises"  # the student copies: notebooks/exercises/
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
# nbgrader's ClearSolutions.code_stub for Python, so our copies equal generate_assignment's
STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError()")
# A link to a sibling course notebook, e.g. "](08_appendix_engineering.ipynb"
_SIBLING_LINK = re.compile(r"\]\((\d\d_[A-Za-z0-9_]+\.ipynb)")


def course_notebooks_dir() -> Path:
    """``notebooks/`` of the checkout this library is installed from (editable install)."""
    folder = Path(__file__).resolve().parent.parent / "notebooks"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} not found: the exercise tools work on a clone of the course "
            "(pip install -e . in it), not on an installed wheel."
        )
    return folder


def _read(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _dumps(notebook: dict) -> str:
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _set_source(cell: dict, text: str) -> None:
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution(cell: dict) -> bool:
    return bool(_nbgrader(cell).get("solution"))


def is_graded(cell: dict) -> bool:
    return bool(_nbgrader(cell).get("grade"))


def exercise_notebooks(course_dir: Path | None = None) -> list[Path]:
    """The course notebooks that hold at least one solution cell, in course order."""
    course_dir = Path(course_dir) if course_dir else course_notebooks_dir()
    return [path for path in sorted(course_dir.glob("[0-9][0-9]_*.ipynb"))
            if any(is_solution(cell) for cell in _read(path)["cells"])]


# ---------------------------------------------------------------------------------------------
# Student copies
# ---------------------------------------------------------------------------------------------


def clear_solutions(source: str) -> str:
    """`source` with every solution region replaced by the stub, indented like its BEGIN line.

    nbgrader's algorithm (ClearSolutions): a line containing the begin marker starts a region,
    one containing the end marker ends it; both marker lines go. A cell without markers is
    replaced whole.
    """
    out, inside, replaced = [], False, False
    for line in source.split("\n"):
        if "BEGIN SOLUTION" in line:
            if inside:
                raise ValueError(f"nested {BEGIN_SOLUTION} in:\n{source}")
            inside = replaced = True
            indent = re.match(r"\s*", line).group(0)
            out += [indent + stub for stub in STUB_LINES]
        elif "END SOLUTION" in line:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN_SOLUTION} without {END_SOLUTION} in:\n{source}")
    return "\n".join(out) if replaced else "\n".join(STUB_LINES)


def student_notebook(notebook: dict) -> dict:
    """The student copy of a course notebook: solutions cleared, links to sibling notebooks
    pointed at the course folder one level up (the copies live in notebooks/exercises/)."""
    student = copy.deepcopy(notebook)
    for cell in student["cells"]:
        if is_solution(cell):
            if cell["cell_type"] != "code":
                raise ValueError("only code cells can be solution cells in this course")
            _set_source(cell, clear_solutions(_source(cell)))
        elif "BEGIN SOLUTION" in _source(cell):
            raise ValueError(f"a solution region outside a solution cell:\n{_source(cell)}")
        if cell["cell_type"] == "markdown":
            _set_source(cell, _SIBLING_LINK.sub(r"](../\1", _source(cell)))
    return student


def _student_texts(course_dir: Path) -> dict[str, str]:
    return {path.name: _dumps(student_notebook(_read(path)))
            for path in exercise_notebooks(course_dir)}


def write_student_notebooks(course_dir: Path | None = None,
                            out_dir: Path | None = None) -> list[Path]:
    """Write the student copy of every exercise notebook into `out_dir` (notebooks/exercises).

    Copies of notebooks that no longer have exercises are removed; nothing else in the
    folder is touched.
    """
    course_dir = Path(course_dir) if course_dir else course_notebooks_dir()
    out_dir = Path(out_dir) if out_dir else course_dir / EXERCISES_FOLDER
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = _student_texts(course_dir)
    for old in out_dir.glob("[0-9][0-9]_*.ipynb"):
        if old.name not in texts:
            old.unlink()
    written = []
    for name, text in texts.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_student_notebooks(course_dir: Path | None = None,
                            out_dir: Path | None = None) -> list[str]:
    """Names of the student copies that are missing, extra or differ from their course
    notebook's; empty when `write_student_notebooks` would change nothing."""
    course_dir = Path(course_dir) if course_dir else course_notebooks_dir()
    out_dir = Path(out_dir) if out_dir else course_dir / EXERCISES_FOLDER
    texts = _student_texts(course_dir)
    existing = {path.name for path in out_dir.glob("[0-9][0-9]_*.ipynb")}
    stale = sorted(existing - set(texts))
    for name, text in texts.items():
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return sorted(stale)


# ---------------------------------------------------------------------------------------------
# Running checks on planted mistakes
# ---------------------------------------------------------------------------------------------


def _cell(notebook: dict, grade_id: str) -> dict:
    for cell in notebook["cells"]:
        if _nbgrader(cell).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def _python(source: str) -> str:
    """A cell's source without IPython's %magics (the setup cell's %matplotlib inline)."""
    return "\n".join(line for line in source.split("\n") if not line.lstrip().startswith("%"))


def plant(solution_source: str, mistake: Mistake) -> str:
    """`solution_source` with the mistake edited in; fails if `old` is not there exactly once."""
    count = solution_source.count(mistake.old)
    if count != 1:
        raise ValueError(
            f"mistake {mistake.mistake!r}: {mistake.old!r} occurs {count} times in the solution "
            f"{mistake.solution!r} of {mistake.notebook}, expected once"
        )
    return solution_source.replace(mistake.old, mistake.new)


def planted_notebook(mistake: Mistake, course_dir: Path | None = None) -> dict:
    """The course notebook of `mistake` with the mistake edited into its solution cell."""
    course_dir = Path(course_dir) if course_dir else course_notebooks_dir()
    notebook = _read(course_dir / f"{mistake.notebook}.ipynb")
    cell = _cell(notebook, mistake.solution)
    _set_source(cell, plant(_source(cell), mistake))
    return notebook


def write_notebook(notebook: dict, path: Path) -> Path:
    """Write `notebook` as Jupyter does (indent 1, sorted keys)."""
    Path(path).write_text(_dumps(notebook), encoding="utf-8")
    return Path(path)


def run_check(notebook_path: Path, check_id: str, mistake: Mistake | None = None) -> str | None:
    """Run a notebook's check cell `check_id` on its solutions (with `mistake` planted).

    Runs, in a fresh namespace, the notebook's first code cell (its imports), every solution
    cell in order, then the check cell. Returns None when the check passes, else the
    message of its `CheckFailed`. Any other error is raised: the notebook is broken.
    """
    from pix2pix_lib.checks import CheckFailed

    notebook = _read(notebook_path)
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    namespace: dict = {"__name__": f"exercise_{Path(notebook_path).stem}"}
    exec(compile(_python(_source(code_cells[0])), f"{notebook_path}:setup", "exec"), namespace)
    for cell in code_cells:
        if is_solution(cell):
            source = _source(cell)
            grade_id = _nbgrader(cell).get("grade_id")
            if mistake is not None and grade_id == mistake.solution:
                source = plant(source, mistake)
            exec(compile(source, f"{notebook_path}:{grade_id}", "exec"), namespace)
    check = _source(_cell(notebook, check_id))
    try:
        exec(compile(check, f"{notebook_path}:{check_id}", "exec"), namespace)
    except CheckFailed as failure:
        return str(failure)
    return None


@dataclass(frozen=True)
class MistakeResult:
    mistake: Mistake
    message: str | None  # what the learner sees; None: the check passed (not caught)

    @property
    def caught(self) -> bool:
        """Caught: the check failed, and its message says what the catalogue expects."""
        return self.message is not None and self.mistake.expect in self.message


def run_mistake(mistake: Mistake, course_dir: Path | None = None) -> MistakeResult:
    """Plant `mistake` in its course notebook's solution and run the check that must catch it."""
    course_dir = Path(course_dir) if course_dir else course_notebooks_dir()
    path = course_dir / f"{mistake.notebook}.ipynb"
    return MistakeResult(mistake, run_check(path, mistake.check, mistake))


def catalogue_table(results: list[MistakeResult], width: int = 100) -> str:
    """The catalogue for teachers: per mistake its exercise, what the learner did, caught or
    not, and the message the learner sees, wrapped to `width` columns."""
    lines = []
    for number, result in enumerate(results, start=1):
        m = result.mistake
        status = "caught" if result.caught else "NOT CAUGHT"
        lines.append(f"{number:>3}. {m.notebook} / {m.check}: {m.mistake}  [{status}]")
        message = result.message or "(the check passed)"
        lines += textwrap.wrap(message, width=width, initial_indent="       ",
                               subsequent_indent="       ")
    caught = sum(result.caught for result in results)
    lines.append(f"{caught} of {len(results)} mistakes caught")
    return "\n".join(lines)


def catalogue_markdown(results: list[MistakeResult]) -> str:
    """The same as a Markdown table per notebook (for docs/teaching.md)."""
    lines, notebook = [], None
    for result in results:
        m = result.mistake
        if m.notebook != notebook:
            notebook = m.notebook
            lines += ["", f"#### {notebook}", "",
                      "| mistake | check | caught | what the learner sees |", "|---|---|---|---|"]
        message = (result.message or "(the check passed)").replace("|", "\\|")
        lines.append(f"| {m.mistake} | `{m.check}` | {'yes' if result.caught else '**no**'} | "
                     f"{message} |")
    return "\n".join(lines).strip() + "\n"


# ---------------------------------------------------------------------------------------------
# A course folder for nbgrader
# ---------------------------------------------------------------------------------------------

_NBGRADER_CONFIG = """\
# nbgrader configuration of a pix2pix course folder (written by `pix2pix exercises nbgrader`).
import os

c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.assignment_id = ""
# The notebooks find the course's datasets and runs here, wherever nbgrader runs them.
os.environ.setdefault("PIX2PIX_DATA_ROOT", {data_root!r})
os.environ.setdefault("PIX2PIX_RUNS_ROOT", {runs_root!r})
# Training cells run longer than nbgrader's default 30 s per cell.
c.Execute.timeout = 1800
"""


def make_nbgrader_course(out: Path, course_dir: Path | None = None) -> list[str]:
    """Make an nbgrader course folder at `out`: one assignment per exercise notebook.

    ``out/source/<stem>/<stem>.ipynb`` is a copy of each course notebook (nbgrader's source
    version), and ``out/nbgrader_config.py`` points the notebooks at this checkout's
    ``data/`` and ``runs/`` (PIX2PIX_DATA_ROOT / PIX2PIX_RUNS_ROOT), since nbgrader runs them
    in folders of its own. An existing folder is refused. Returns the assignment names.
    """
    course_dir = Path(course_dir) if course_dir else course_notebooks_dir()
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new folder for the course")
    root = course_dir.resolve().parent
    assignments = []
    for path in exercise_notebooks(course_dir):
        folder = out / "source" / path.stem
        folder.mkdir(parents=True)
        (folder / path.name).write_bytes(path.read_bytes())
        assignments.append(path.stem)
    (out / "nbgrader_config.py").write_text(_NBGRADER_CONFIG.format(
        data_root=str(root / "data"), runs_root=str(root / "runs")), encoding="utf-8")
    return assignments
