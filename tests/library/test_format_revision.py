"""format_revision.py: the post-write hook that gives each new revision `ruff check --fix`
and `ruff format`, or leaves it as written where ruff is not installed."""

import runpy
import sys
from pathlib import Path

import pytest

from flask_alembic_runtime import format_revision

# A revision as autogenerate writes it: an unused import, single quotes, odd wrapping.
WRITTEN = """\
import os
import sqlalchemy as sa
from alembic import op

revision = 'abc'


def upgrade() -> None:
    op.create_table('notes',
    sa.Column('id', sa.Integer(), nullable=False)
    )
"""

FORMATTED = """\
import sqlalchemy as sa
from alembic import op

revision = "abc"


def upgrade() -> None:
    op.create_table("notes", sa.Column("id", sa.Integer(), nullable=False))
"""


@pytest.fixture
def revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new revision file in a project with ruff's default settings."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.ruff.lint]\nselect = ['F', 'I']\n")
    path = tmp_path / "abc_notes.py"
    path.write_text(WRITTEN)
    return path


def test_a_new_revision_is_fixed_and_formatted_by_ruff(revision: Path) -> None:
    format_revision.main(str(revision))
    assert revision.read_text() == FORMATTED


def test_without_ruff_the_revision_stays_as_written(
    revision: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in for an environment without ruff (the project's dev extra has it)."""
    monkeypatch.setattr(format_revision, "find_spec", lambda name: None)
    format_revision.main(str(revision))
    assert revision.read_text() == WRITTEN


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
def test_alembic_runs_it_as_a_module_on_the_new_file(
    revision: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m flask_alembic_runtime.format_revision FILE`: Alembic's `module` hook."""
    monkeypatch.setattr(sys, "argv", ["format_revision", str(revision)])
    runpy.run_module("flask_alembic_runtime.format_revision", run_name="__main__")
    assert revision.read_text() == FORMATTED
