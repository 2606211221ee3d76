"""heads.py: the pre-commit hook `single-migration-head` fails when the history has more
than one head, naming them and the merge to write."""

import runpy

import pytest

from flask_alembic_runtime.heads import main

from .conftest import Project


@pytest.fixture
def in_project(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The project, its hook run from a folder inside it (pre-commit runs from the root)."""
    (project.root / "package").mkdir()
    monkeypatch.chdir(project.root / "package")
    return project


def test_one_head_or_none_passes(in_project: Project) -> None:
    main()
    in_project.write_revision("a1", None)
    in_project.write_revision("a2", "a1")
    main()


def test_two_heads_fail_with_the_merge_to_write(in_project: Project) -> None:
    in_project.write_revision("a1", None)
    in_project.write_revision("b2", "a1")
    in_project.write_revision("c2", "a1")
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == (
        "FAILED: the migrations have 2 heads (b2, c2): merge them with "
        '`python manage.py migrate merge heads -m "merge"`, then commit the new revision'
    )


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
def test_pre_commit_runs_it_as_a_module(in_project: Project) -> None:
    """`python -m flask_alembic_runtime.heads`, as .pre-commit-config.yaml runs it."""
    in_project.write_revision("a1", None)
    in_project.write_revision("b2", "a1")
    in_project.write_revision("c2", "a1")
    with pytest.raises(SystemExit, match="the migrations have 2 heads"):
        runpy.run_module("flask_alembic_runtime.heads", run_name="__main__")
