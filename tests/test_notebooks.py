"""Notebook hygiene: every notebooks/*.ipynb is clean, has the course's shape, and runs in CI.

Running them is nbval's job (`pytest --nbval-lax notebooks/`, with PIX2PIX_PROFILE=smoke and
PIX2PIX_DATASET=synthetic); these checks are about what is committed:

* valid nbformat 4, no outputs, no execution counts, no saved widget state;
* a markdown title cell first;
* exactly one code cell tagged `parameters`, which reads PIX2PIX_PROFILE from the environment;
* it ends with "Try it", "Summary" (3-6 bullets) and "Check yourself" (3-5 questions, each
  answer folded in a <details> block), in that order;
* no absolute paths and no sys.path hacks (the package is installed editable; data lives in
  ../data and runs in ../runs, relative to the notebook).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))

# Absolute paths in code: "/home/...", "/tmp/...", "C:\\...", "~/..." inside a string literal.
ABSOLUTE_PATH = re.compile(
    r"""["'](?:/(?:home|Users|tmp|root|mnt|data|work|opt|usr|var)\b|[A-Za-z]:\\|~/)"""
)
SYS_PATH_HACK = re.compile(r"sys\.path\.(?:append|insert|extend)|sys\.path\s*(?:\+=|=)")


def load(path: Path):
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_notebook_names_are_numbered():
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
class TestNotebook:
    def test_valid_nbformat_4(self, path):
        notebook = load(path)
        assert notebook.nbformat == 4
        nbformat.validate(notebook)

    def test_no_outputs_or_execution_counts(self, path):
        notebook = load(path)
        dirty = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
                 and (cell.get("outputs") or cell.get("execution_count") is not None)]
        assert not dirty, f"cells {dirty} have outputs or execution counts: strip them"
        assert "widgets" not in notebook.metadata, "remove metadata.widgets (saved widget state)"

    def test_starts_with_a_markdown_title(self, path):
        first = load(path).cells[0]
        assert first.cell_type == "markdown"
        assert first.source.lstrip().startswith("# "), "the first cell is a '# Title' heading"

    def test_one_parameters_cell_reading_the_profile(self, path):
        tagged = [cell for cell in code_cells(load(path))
                  if "parameters" in cell.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{len(tagged)} cells tagged 'parameters', expected 1"
        source = tagged[0].source
        assert re.search(r"os\.environ\.get\(\s*[\"']PIX2PIX_PROFILE[\"']", source), source

    def test_ends_with_try_it_summary_and_check_yourself(self, path):
        cells = load(path).cells
        sections = [(i, match.group(1).strip().lower()) for i, cell in enumerate(cells)
                    if cell.cell_type == "markdown"
                    for match in re.finditer(r"^#+\s+(.*)$", cell.source, re.MULTILINE)]
        assert [title for _, title in sections[-3:]] == ["try it", "summary", "check yourself"], (
            "the last three sections must be 'Try it', 'Summary', 'Check yourself'")
        summary = next(cells[i].source for i, title in sections if title == "summary")
        bullets = re.findall(r"^\s*[-*] ", summary, re.MULTILINE)
        assert 3 <= len(bullets) <= 6, f"Summary has {len(bullets)} bullets, expected 3-6"
        check = "\n".join(cell.source for cell in cells[sections[-1][0]:]
                          if cell.cell_type == "markdown")
        questions = re.findall(r"^\d+\.\s", check, re.MULTILINE)
        answers = re.findall(r"<details>\s*<summary>Answer</summary>(.+?)</details>", check, re.S)
        assert 3 <= len(questions) <= 5, f"Check yourself has {len(questions)} questions"
        assert len(answers) == len(questions), "every question needs its folded answer"
        assert all(answer.strip() for answer in answers), "an answer is empty"

    def test_no_absolute_paths_or_sys_path_hacks(self, path):
        for i, cell in enumerate(code_cells(load(path))):
            assert not ABSOLUTE_PATH.search(cell.source), f"cell {i}: absolute path"
            assert not SYS_PATH_HACK.search(cell.source), f"cell {i}: sys.path hack"

    def test_no_direct_tensorflow_import(self, path):
        """TF's start-up chatter is silenced only when the library imports it first."""
        for i, cell in enumerate(code_cells(load(path))):
            assert not re.search(r"^\s*(import tensorflow|from tensorflow)", cell.source, re.M), (
                f"cell {i}: import TF quietly with `from pix2pix_lib.tf_quiet import keras, tf`, "
                "not directly"
            )
