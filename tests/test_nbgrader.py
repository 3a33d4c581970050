"""A teacher's round trip with nbgrader, in a temporary course folder (smoke profile).

`pix2pix exercises nbgrader` makes the course folder; nbgrader's own `generate_assignment`
must give the same student notebooks as notebooks/exercises/ (ours are made without
nbgrader, for learners who open them on Colab); `autograde` must give full points to the
course notebook's solutions, none to the untouched stubs, and fewer for a planted mistake.
nbgrader is the `teach` extra (`make test` installs it; a learner's install does not).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pix2pix_lib import exercises
from pix2pix_lib.checks.mistakes import CATALOGUE

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
GRADED = "04_combined_loss"  # the assignment graded end to end: the fastest to run


def _nbgrader(course: Path, *args: str) -> None:
    env = dict(os.environ, PIX2PIX_PROFILE="smoke", PIX2PIX_DATASET="synthetic")
    # nbgrader runs `alembic` (its database migrations) from PATH: the venv's bin folder
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    command = [sys.executable, "-m", "nbgrader", *args]
    done = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n" \
                                 f"{done.stderr[-3000:]}"


def _sources(path: Path) -> list[tuple[str, str]]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    # our copies link to the course notebooks one folder up; nbgrader's sit beside them
    return [(cell["cell_type"], re.sub(r"\]\(\.\./", "](", "".join(cell["source"])))
            for cell in cells]


def _submit(course: Path, student: str, notebook: Path | dict) -> None:
    folder = course / "submitted" / student / GRADED
    folder.mkdir(parents=True)
    if isinstance(notebook, dict):
        exercises.write_notebook(notebook, folder / f"{GRADED}.ipynb")
    else:
        shutil.copy(notebook, folder / f"{GRADED}.ipynb")


def test_generate_and_autograde_round_trip(tmp_path):
    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    assignments = exercises.make_nbgrader_course(course)
    assert GRADED in assignments
    for assignment in assignments:
        _nbgrader(course, "generate_assignment", assignment, "--force")
        released = course / "release" / assignment / f"{assignment}.ipynb"
        ours = NOTEBOOKS / exercises.EXERCISES_FOLDER / f"{assignment}.ipynb"
        assert _sources(released) == _sources(ours), f"{assignment}: nbgrader's copy differs"

    mistake = next(m for m in CATALOGUE
                   if m.notebook == GRADED and m.check == "check_discriminator_loss")
    _submit(course, "solutions", NOTEBOOKS / f"{GRADED}.ipynb")
    _submit(course, "stubs", course / "release" / GRADED / f"{GRADED}.ipynb")
    _submit(course, "mistake", exercises.planted_notebook(mistake))
    _nbgrader(course, "autograde", GRADED, "--create", "--force")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {student: gradebook.find_submission(GRADED, student)
                  for student in ("solutions", "stubs", "mistake")}
        maximum = scores["solutions"].max_score
        points = {student: submission.score for student, submission in scores.items()}
    assert maximum > 0
    assert points["solutions"] == maximum, points
    assert points["stubs"] == 0, points
    assert 0 < points["mistake"] < maximum, points
