"""revision_files.py through the error path: each way a revision file breaks the history is
one line naming the file and the fix, on every command tried, and nothing changes."""

from collections.abc import Callable
from pathlib import Path

import pytest

from flask_alembic_runtime.lint import revisions
from flask_alembic_runtime.revision_files import cycle_problem, history_problem, read

from .conftest import Project

A1 = "migrations/versions/a1_a1.py"
B2 = "migrations/versions/b2_b2.py"
C3 = "migrations/versions/c3_c3.py"


def points_nowhere(project: Project) -> None:
    project.write_revision("b2", "ffffffffffff")


def no_down_revision(project: Project) -> None:
    path = project.write_revision("b2", "a1")
    path.write_text(path.read_text().replace("down_revision = 'a1'\n", ""))


def no_revision_line(project: Project) -> None:
    path = project.write_revision("b2", "a1")
    path.write_text(path.read_text().replace("revision = 'b2'\n", "", 1))


def unknown_depends_on(project: Project) -> None:
    project.write_revision("b2", "a1", depends_on="zzzz")


def a_circle(project: Project) -> None:
    project.write_revision("b2", "c3")
    project.write_revision("c3", "b2")


def its_own_parent(project: Project) -> None:
    project.write_revision("b2", "b2")


def a_duplicate_id(project: Project) -> None:
    project.write_revision("b2", "a1")
    copy = project.versions / "b2_copy.py"
    copy.write_text((project.versions / "b2_b2.py").read_text())


def an_import_error(project: Project) -> None:
    path = project.write_revision("b2", "a1")
    path.write_text("import no_such_module\n" + path.read_text())


def a_name_error(project: Project) -> None:
    path = project.write_revision("b2", "a1")
    path.write_text(path.read_text().replace("\nrevision =", "\nx = undefined_name\nrevision ="))


def a_syntax_error(project: Project) -> None:
    path = project.write_revision("b2", "a1")
    path.write_text(path.read_text() + "\ndef broken(:\n")


BROKEN: list[tuple[Callable[[Project], None], str]] = [
    (points_nowhere, f"{B2}: down_revision 'ffffffffffff' is no revision here: set it to the one before, or None"),
    (no_down_revision, f"{B2}: no down_revision: set it to the revision before it, or None"),
    (no_revision_line, f'{B2}: no `revision = "<id>"` line: give the file its id'),
    (unknown_depends_on, f"{B2}: depends_on 'zzzz' is no revision or branch here: fix or remove it"),
    (a_circle, f"revisions b2 -> c3 -> b2 form a circle: point the down_revision of {B2} to an earlier one"),
    (its_own_parent, f"revisions b2 -> b2 form a circle: point the down_revision of {B2} to an earlier one"),
    (a_duplicate_id, f"migrations/versions/b2_copy.py and {B2} have the same revision id 'b2': give one a new id"),
    (an_import_error, f"{B2}:1: ModuleNotFoundError: No module named 'no_such_module'"),
    (a_name_error, f"{B2}:11: NameError: name 'undefined_name' is not defined"),
    (a_syntax_error, f"{B2}:24: SyntaxError: invalid syntax"),
]  # fmt: skip


# Failures on import: lint, which reads the files without importing them, finds nothing.
ON_IMPORT = (an_import_error, a_name_error)


@pytest.mark.parametrize(
    ("break_history", "line", "argv"),
    [
        pytest.param(break_history, line, argv, id=f"{argv[0]}-{break_history.__name__}")
        for break_history, line in BROKEN
        for argv in (["heads"], ["current"], ["upgrade"], ["doctor"], ["lint"])
        if not (argv == ["lint"] and break_history in ON_IMPORT)
    ],
)
def test_a_broken_revision_file_is_one_line_naming_it(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    break_history: Callable[[Project], None],
    line: str,
    argv: list[str],
) -> None:
    monkeypatch.chdir(project.root)
    project.write_revision("a1", None, 'op.create_table("notes", sa.Column("id", sa.Integer))')
    break_history(project)
    files = {path: path.read_bytes() for path in project.versions.iterdir() if path.is_file()}
    assert project.failure(*argv, in_app_context=False) == f"FAILED: {line}"
    assert {path: path.read_bytes() for path in files} == files
    assert "notes" not in project.tables()


@pytest.mark.parametrize(
    ("rev_id", "line"),
    [
        ("a1", f"--rev-id 'a1' is taken by {A1}: pick another"),
        ("../evil", "--rev-id '../evil' is not a plain id: use letters, digits and _ only"),
        ("", "--rev-id '' is not a plain id: use letters, digits and _ only"),
    ],
)
def test_a_rev_id_that_would_break_the_history_is_refused(
    project: Project, monkeypatch: pytest.MonkeyPatch, rev_id: str, line: str
) -> None:
    monkeypatch.chdir(project.root)
    project.write_revision("a1", None)
    assert project.failure("revision", "-m", "x", "--rev-id", rev_id) == f"FAILED: {line}"
    assert [path.name for path in project.versions.glob("*.py")] == ["a1_a1.py"]
    assert not (project.root / "evil_x.py").exists()


def test_a_plain_new_rev_id_is_taken(project: Project) -> None:
    project.write_revision("a1", None)
    project.migrate("revision", "-m", "second", "--rev-id", "b2_second")
    assert read(next(project.versions.glob("b2_second_*.py"))).revision == "b2_second"  # type: ignore[union-attr]


def test_a_whole_history_has_no_problem(project: Project) -> None:
    project.write_revision("a1", None, branch_labels="base_line")
    project.write_revision("b2", "a1")
    project.write_revision("c3", "a1", depends_on="base_line")
    project.write_revision("d4", ("b2", "c3"))
    assert history_problem([project.versions]) is None


def test_computed_identifiers_are_left_to_alembic(project: Project) -> None:
    path = project.write_revision("b2", None)
    path.write_text(path.read_text().replace("revision = 'b2'", "revision = 'b' + '2'"))
    assert read(path) is None
    assert history_problem([project.versions]) is None


def test_a_circle_through_a_merge_is_found(tmp_path: Path, project: Project) -> None:
    project.write_revision("a1", "d4")
    project.write_revision("b2", "a1")
    project.write_revision("c3", "a1")
    project.write_revision("d4", ("b2", "c3"))
    files = {
        found.revision: found for path in project.versions.glob("*.py") if (found := read(path))
    }
    assert "form a circle" in str(cycle_problem(files))


@pytest.mark.parametrize("break_history", ON_IMPORT)
def test_lint_reads_the_files_without_importing_them(
    project: Project, break_history: Callable[[Project], None]
) -> None:
    """A revision whose module-level code fails is listed by lint, its code never run."""
    project.write_revision("a1", None)
    break_history(project)
    found = revisions(project.config(), None, "python manage.py migrate")
    assert [path.path.name for path in found] == ["a1_a1.py", "b2_b2.py"]
