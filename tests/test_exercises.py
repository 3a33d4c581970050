"""The exercises: every catalogued mistake caught, solutions pass, student copies up to date.

Each mistake of `pix2pix_lib.checks.mistakes.CATALOGUE` is planted in its course notebook's
solution (a text edit) and the notebook's check cell is run on it, without running the
whole notebook (`exercises.run_mistake`). The student copies in notebooks/exercises/ must be
exactly what `pix2pix exercises write` makes, and each must stop at its first exercise with a
message that names what to write.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pix2pix_lib import exercises
from pix2pix_lib.checks.mistakes import CATALOGUE, Mistake

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _id(mistake: Mistake) -> str:
    return f"{mistake.notebook[:2]}-{mistake.check}-{mistake.mistake}"


@pytest.mark.parametrize("mistake", CATALOGUE, ids=_id)
def test_every_catalogued_mistake_is_caught(mistake):
    result = exercises.run_mistake(mistake)
    assert result.message is not None, f"the check passed although {mistake.mistake}"
    assert mistake.expect in result.message, result.message
    piece = result.message.split(":", 1)[0]
    assert piece, "the message names the piece first"


def _check_cells():
    for path in exercises.exercise_notebooks():
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                yield path, meta["grade_id"]


@pytest.mark.parametrize(("path", "check_id"), list(_check_cells()),
                         ids=lambda value: getattr(value, "stem", value))
def test_the_course_solutions_pass_their_checks(path, check_id):
    assert exercises.run_check(path, check_id) is None


def test_the_catalogue_covers_every_check_and_is_big_enough():
    checks = {(path.stem, check_id) for path, check_id in _check_cells()}
    covered = {(m.notebook, m.check) for m in CATALOGUE}
    assert checks <= covered, f"checks without a catalogued mistake: {sorted(checks - covered)}"
    per_notebook = Counter(m.notebook for m in CATALOGUE)
    assert set(per_notebook) == {path.stem for path in exercises.exercise_notebooks()}
    assert min(per_notebook.values()) >= 6, per_notebook
    assert len(CATALOGUE) >= 35
    assert len({(m.check, m.mistake) for m in CATALOGUE}) == len(CATALOGUE), "duplicates"


def test_student_notebooks_are_up_to_date():
    stale = exercises.stale_student_notebooks()
    assert not stale, (f"notebooks/exercises/ is stale ({', '.join(stale)}): run "
                       "`pix2pix exercises write`")


def test_clear_solutions_keeps_the_signature_and_indents_the_stub():
    source = ('def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    y = 2 * x\n'
              '    return y\n    ### END SOLUTION\n\nprint(f)')
    assert exercises.clear_solutions(source) == (
        'def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\n'
        'print(f)')
    assert exercises.clear_solutions("x = 1") == "# YOUR CODE HERE\nraise NotImplementedError()"
    with pytest.raises(ValueError, match="without"):
        exercises.clear_solutions("### BEGIN SOLUTION\nx = 1")


def test_a_planted_mistake_must_match_its_solution_once():
    mistake = Mistake("04_combined_loss", "discriminator_loss", "check_discriminator_loss",
                      "nothing", "this text is not in the solution", "x", "y")
    with pytest.raises(ValueError, match="occurs 0 times"):
        exercises.run_mistake(mistake)


def test_student_copies_link_to_the_course_notebooks():
    for path in (NOTEBOOKS / exercises.EXERCISES_FOLDER).glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "YOUR CODE HERE" in text, path.name
        assert "](0" not in text, f"{path.name}: a link to a sibling notebook not made ../"


def test_catalogue_table_says_what_the_learner_sees():
    mistake = next(m for m in CATALOGUE if m.notebook.startswith("04"))
    table = exercises.catalogue_table([exercises.run_mistake(mistake)])
    assert mistake.mistake in table and "[caught]" in table and "1 of 1 mistakes caught" in table


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted((NOTEBOOKS / exercises.EXERCISES_FOLDER).glob("*.ipynb")),
                         ids=lambda p: p.stem)
def test_a_student_copy_stops_at_its_first_exercise_naming_it(path, monkeypatch):
    """Run as a learner would (smoke profile): the first graded check says what to write."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("PIX2PIX_PROFILE", "smoke")
    monkeypatch.setenv("PIX2PIX_DATASET", "synthetic")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    with pytest.raises(nbclient.exceptions.CellExecutionError) as failure:
        client.execute()
    failed = next(cell for cell in notebook.cells if cell.cell_type == "code"
                  and any(out.get("output_type") == "error" for out in cell.get("outputs", [])))
    assert failed.metadata.get("nbgrader", {}).get("grade"), "stopped in a cell that is no check"
    assert "not written yet" in str(failure.value), str(failure.value)[-2000:]
    assert "YOUR CODE HERE" in str(failure.value)


def test_the_exercise_tools_are_reachable_from_the_cli(tmp_path, capsys):
    from pix2pix_lib.cli import main

    assert main(["exercises", "write", "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.glob("*.ipynb"))
    assert written == sorted(p.name for p in exercises.exercise_notebooks())
    assert main(["exercises", "nbgrader", str(tmp_path / "course")]) == 0
    assert (tmp_path / "course" / "nbgrader_config.py").exists()
    assert main(["exercises", "nbgrader", str(tmp_path / "course")]) == 1  # never overwritten
    assert "exists" in capsys.readouterr().err


def test_the_teachers_guide_is_up_to_date():
    from pix2pix_lib import teaching

    guide = NOTEBOOKS.parent / "docs" / "teaching.md"
    assert not teaching.update_guide(guide, NOTEBOOKS, write=False), (
        "docs/teaching.md's generated part is stale: run `pix2pix exercises guide`")
    text = guide.read_text(encoding="utf-8")
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        assert len(teaching.check_yourself(path)) >= 3, path.name
    assert all(m.mistake in text for m in CATALOGUE)
