"""The catalogue of learner mistakes every graded check must catch.

Each `Mistake` is planted in the solution of a course notebook as a text edit (`old` ->
`new`, in the solution cell `solution`); the notebook's check cell `check` must then fail
with a message containing `expect`. Every check module lists the mistakes of its exercises
beside the check itself (`MISTAKES`); `CATALOGUE` is all of them, in course order.
`pix2pix_lib.exercises.run_mistake` plants one and runs the check;
`pix2pix exercises mistakes` prints the table for teachers, and tests/test_exercises.py
asserts that every one is caught.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["Mistake", "planted_in"]  # and CATALOGUE, built on first use (below)


@dataclass(frozen=True)
class Mistake:
    """One classic mistake, as an edit of a course notebook's solution."""

    notebook: str  # the course notebook's file name without .ipynb, e.g. "04_combined_loss"
    solution: str  # the grade_id of the solution cell the mistake is planted in
    check: str  # the grade_id of the check cell that must catch it
    mistake: str  # what the learner did, in words a teacher would use
    old: str  # text that occurs exactly once in that solution ...
    new: str  # ... and what the learner wrote instead
    expect: str  # part of the message the learner then sees


def planted_in(notebook: str, solution: str, check: str):
    """A maker of the `Mistake`s of one exercise: ``ck = planted_in(nb, "ck", "check_ck")``,
    then ``ck(mistake, old, new, expect)``."""
    return functools.partial(Mistake, notebook, solution, check)


def _catalogue() -> tuple[Mistake, ...]:
    from pix2pix_lib.checks import discriminator, generator, objective, pipeline, training

    return (*pipeline.MISTAKES, *generator.MISTAKES, *discriminator.MISTAKES,
            *objective.MISTAKES, *training.MISTAKES)


def __getattr__(name: str):  # CATALOGUE is built on first use: the check modules import TF
    if name == "CATALOGUE":
        return _catalogue()
    raise AttributeError(name)
