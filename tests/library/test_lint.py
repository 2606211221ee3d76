"""lint.py: `migrate lint [REV_RANGE]` flags each revision that loses data or locks a
table at the operation's line (drop-add-rename, drop-table, drop-column,
not-null-without-default, narrowed-type), leaves the safe form and the one accepted with
`# lint: allow RULE` alone; REV_RANGE; the pre-commit entry and its `--warn` mode, run
after `migrate revision`."""

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from flask_alembic_runtime.lint import check_file, main, sql_findings
from lint_rules import RULES

from .conftest import Project

ACCEPT = "fix each, or accept it on purpose with `# lint: allow RULE` on its line"


@pytest.fixture
def linted(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The project with a first revision (users and posts), worked on from its folder."""
    monkeypatch.chdir(project.root)
    project.write_revision(
        "first",
        None,
        'op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True),'
        ' sa.Column("name", sa.String(length=100)))\n'
        'op.create_table("posts", sa.Column("id", sa.Integer(), primary_key=True),'
        ' sa.Column("title", sa.String(length=200)))',
    )
    return project


def accepted(rule: str) -> str:
    """How a finding ends: the comment that accepts it."""
    return f"; if that is meant, accept it with `# lint: allow {rule}`"


def write_case(project: Project, upgrade: str, downgrade: str = "pass", **options: str) -> Path:
    return project.write_revision("case1", options.pop("down", "first"), upgrade, downgrade)


def line_of(path: Path, fragment: str) -> int:
    """The number of the one line of `path` holding `fragment`."""
    [number] = [n for n, line in enumerate(path.read_text().splitlines(), 1) if fragment in line]
    return number


def lint(project: Project, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """What a `migrate lint` that passes prints."""
    capsys.readouterr()
    project.migrate(*argv)
    return capsys.readouterr().out


def refused(project: Project, capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """The findings a failing `migrate lint` prints, then its FAILED line."""
    capsys.readouterr()
    failure = project.failure(*argv)
    return [*capsys.readouterr().out.splitlines(), failure]


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_flags_its_revision_not_the_safe_or_accepted_form(
    linted: Project, capsys: pytest.CaptureFixture[str], rule: str
) -> None:
    risky, downgrade, safe_forms = RULES[rule]
    path = write_case(linted, risky, downgrade)
    flagged = line_of(path, "def upgrade") + 1
    finding, failure = refused(linted, capsys, "lint")
    assert finding.startswith(f"migrations/versions/case1_case1.py:{flagged}: {rule}: ")
    assert failure == f"FAILED: 1 finding in 2 revisions: {ACCEPT}"
    # Shown under -q too: they are what the command is for.
    assert refused(linted, capsys, "-q", "lint") == [finding, failure]
    # The pre-commit hook's entry point: the same finding, exit 1.
    with pytest.raises(SystemExit) as exit_:
        main([str(path)])
    assert exit_.value.code == 1
    assert capsys.readouterr().out.splitlines() == [finding]

    # Accepted on purpose: a comment on the line above, or at the end of the line.
    first, *rest = risky.splitlines()
    above = "\n".join([f"# lint: allow {rule}", first, *rest])
    at_the_end = "\n".join([f"{first}  # lint: allow {rule}", *rest])
    for accepted in (above, at_the_end):
        write_case(linted, accepted, downgrade)
        assert lint(linted, capsys, "lint") == (
            "2 revisions linted, no findings (1 accepted by `# lint: allow`)\n"
        )
    # Another rule's name accepts nothing.
    write_case(linted, f"# lint: allow squawk:{rule}\n{risky}", downgrade)
    assert len(refused(linted, capsys, "lint")) == 2

    for safe in safe_forms:
        write_case(linted, safe, downgrade)
        assert lint(linted, capsys, "lint") == "2 revisions linted, no findings\n"
        assert lint(linted, capsys, "-q", "lint") == ""


def test_each_finding_says_what_happens_and_what_to_write(linted: Project) -> None:
    path = write_case(
        linted,
        'op.drop_table(op.f("posts"))\n'
        'op.drop_column("users", "email")\n'
        'op.add_column("users", sa.Column("age", sa.Integer(), nullable=False,'
        " server_default=None))\n"
        'op.alter_column("users", "name", existing_type=sa.Unicode(100), type_=sa.String(10))',
    )
    messages = [f"{finding.rule}: {finding.message}" for finding in check_file(path)]
    assert messages == [
        f"drop-table: posts is dropped with its rows{accepted('drop-table')}",
        f"drop-column: users.email is dropped with its data{accepted('drop-column')}",
        (
            "not-null-without-default: users.age is added NOT NULL without a server_default: "
            "the upgrade fails on a table with rows; give it server_default=..., or add it "
            "nullable, fill it, then alter_column(..., nullable=False)"
            f"{accepted('not-null-without-default')}"
        ),
        (
            "narrowed-type: users.name narrows from String(length=100) to String(length=10): "
            f"values that do not fit fail or are cut{accepted('narrowed-type')}"
        ),
    ]


def test_a_rename_in_a_batch_is_shown_as_the_batchs_alter_column(linted: Project) -> None:
    """As autogenerate writes a renamed column on SQLite."""
    path = write_case(
        linted,
        'with op.batch_alter_table("users", schema=None) as batch_op:\n'
        '    batch_op.add_column(sa.Column("full_name", sa.String(length=100), nullable=True))\n'
        '    batch_op.drop_column("name")',
        'with op.batch_alter_table("users", schema=None) as batch_op:\n'
        '    batch_op.add_column(sa.Column("name", sa.VARCHAR(length=100), nullable=True))\n'
        '    batch_op.drop_column("full_name")',
    )
    [finding] = check_file(path)
    assert (finding.line, finding.rule) == (line_of(path, 'drop_column("name")'), "drop-add-rename")
    assert finding.message == (
        "users.name is dropped and users.full_name added, both String(length=100): a rename "
        "written this way loses the column's data; write instead: "
        'batch_op.alter_column("name", new_column_name="full_name")'
    )


def test_a_column_built_elsewhere_is_not_judged(linted: Project) -> None:
    path = write_case(
        linted, 'age = sa.Column("age", sa.Integer(), nullable=False)\nop.add_column("users", age)'
    )
    assert check_file(path) == []


def test_a_drop_and_an_add_of_another_type_are_no_rename(linted: Project) -> None:
    path = write_case(
        linted,
        'op.drop_column("users", "name")\n'
        'op.add_column("users", sa.Column("full_name", sa.Text()))',
        'op.add_column("users", sa.Column("name", sa.VARCHAR(length=100)))',
    )
    assert [finding.rule for finding in check_file(path)] == ["drop-column"]


@pytest.mark.parametrize(
    ("existing", "new", "narrows"),
    [
        ("sa.String(200)", "sa.String(length=50)", True),
        ("sa.String()", "sa.String(50)", True),
        ("sa.Text()", "sa.String(1000)", True),
        ("sa.VARCHAR(length=100)", "sa.Unicode(10)", True),
        ("sa.Integer()", "sa.SmallInteger()", True),
        ("sa.BIGINT()", "sa.Integer()", True),
        ("sa.Numeric(10, 2)", "sa.Numeric(8, 2)", True),
        ("sa.NUMERIC(precision=10, scale=2)", "sa.Numeric(10, 1)", True),
        ("sa.Double()", "sa.Float()", True),
        ("sa.Float()", "sa.Integer()", True),
        ("sa.Numeric(10, 2)", "sa.BigInteger()", True),
        ("sa.String(50)", "sa.String(100)", False),
        ("sa.String(50)", "sa.Text()", False),
        ("sa.Text()", "sa.Text()", False),
        ("sa.Integer()", "sa.BigInteger()", False),
        ("sa.Numeric(8)", "sa.Numeric(10)", False),
        ("sa.Float()", "sa.Double()", False),
        ("sa.Integer()", "sa.String(20)", False),
        ("sa.DateTime()", "sa.TIMESTAMP()", False),
        ("postgresql.ENUM('a', name='kind')", "sa.String(10)", False),
    ],
)
def test_a_type_is_narrowed_when_old_values_may_not_fit(
    linted: Project, existing: str, new: str, narrows: bool
) -> None:
    alter = f'op.alter_column("users", "name", existing_type={existing}, type_={new})'
    assert [finding.rule for finding in check_file(write_case(linted, alter))] == (
        ["narrowed-type"] if narrows else []
    )


def test_an_alter_column_without_the_old_type_is_not_judged(linted: Project) -> None:
    path = write_case(linted, 'op.alter_column("users", "name", type_=sa.String(10))')
    assert check_file(path) == []


def test_each_databases_upgrade_is_checked_with_its_own_downgrade(linted: Project) -> None:
    path = linted.write_revision(
        "case1",
        "first",
        functions={
            "upgrade_default": 'op.drop_table("posts")',
            "downgrade_default": "pass",
            "upgrade_analytics": (
                'op.drop_column("events", "name")\n'
                'op.add_column("events", sa.Column("label", sa.String(100)))'
            ),
            "downgrade_analytics": 'op.add_column("events", sa.Column("name", sa.String(100)))',
            "helper": 'op.drop_table("users")',  # not an upgrade: not read
        },
    )
    findings = [(finding.line, finding.rule) for finding in check_file(path)]
    assert findings == [
        (line_of(path, 'drop_table("posts")'), "drop-table"),
        (line_of(path, 'drop_column("events", "name")'), "drop-add-rename"),
    ]


def test_one_comment_may_accept_several_rules(
    linted: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    write_case(
        linted,
        "# lint: allow drop-column, drop-table\n"
        'op.drop_table("posts")\n'
        "#lint:allow drop-table,drop-column\n"
        'op.drop_column("users", "name")',
    )
    assert lint(linted, capsys, "lint") == (
        "2 revisions linted, no findings (2 accepted by `# lint: allow`)\n"
    )
    write_case(linted, 'op.drop_table("posts")\nop.drop_column("users", "name")')
    assert refused(linted, capsys, "lint")[-1] == f"FAILED: 2 findings in 2 revisions: {ACCEPT}"


def test_rev_range_limits_what_is_linted(
    linted: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    linted.write_revision("dropper", "first", 'op.drop_table("posts")')
    linted.write_revision("adder", "dropper", 'op.create_table("tags")')
    assert lint(linted, capsys, "lint", "base:first") == "1 revision linted, no findings\n"
    # As `upgrade FROM:TO` runs them: after FROM, up to TO.
    assert lint(linted, capsys, "lint", "dropper:head") == "1 revision linted, no findings\n"
    assert lint(linted, capsys, "lint", "adder") == "1 revision linted, no findings\n"
    for flagged, count in [
        ("first:head", 2), ("first:dropper", 1), ("dropper", 1), (":head", 3), ("first:", 2),
    ]:  # fmt: skip
        finding, failure = refused(linted, capsys, "lint", flagged)
        assert finding.startswith("migrations/versions/dropper_dropper.py:"), flagged
        revisions = f"{count} revision{'s' if count > 1 else ''}"
        assert failure == f"FAILED: 1 finding in {revisions}: {ACCEPT}", flagged


HISTORY_HINT = (
    "`python manage.py migrate history` lists the revisions: e.g. "
    "`python manage.py migrate lint <revision>:head`"
)


@pytest.mark.parametrize(
    ("revision_range", "line"),
    [
        ("nope:head", f"REV_RANGE nope:head: No such revision or branch 'nope'; {HISTORY_HINT}"),
        ("nope", f"REV_RANGE nope: No such revision or branch 'nope'; {HISTORY_HINT}"),
        ("base", "REV_RANGE base names no revision: e.g. `python manage.py migrate lint head`"),
    ],
)
def test_a_rev_range_that_names_no_revision_is_one_line(
    linted: Project, revision_range: str, line: str
) -> None:
    assert linted.failure("lint", revision_range) == f"FAILED: {line}"


def test_the_pre_commit_entry_warns_without_failing_after_a_new_revision(
    linted: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    risky = write_case(linted, 'op.drop_table("posts")')
    first = linted.versions / "first_first.py"
    main(["--warn", str(first), str(risky)])
    assert capsys.readouterr().out == (
        f"warning: migrations/versions/case1_case1.py:{line_of(risky, 'drop_table')}: "
        f"drop-table: posts is dropped with its rows{accepted('drop-table')}\n"
    )
    main([str(first)])
    assert capsys.readouterr().out == ""


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
def test_pre_commit_runs_it_as_a_module_on_the_files_it_names(
    linted: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    risky = write_case(linted, 'op.drop_table("posts")')
    monkeypatch.setattr(sys, "argv", ["lint", str(risky)])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("flask_alembic_runtime.lint", run_name="__main__")
    assert exit_.value.code == 1
    assert capsys.readouterr().out.startswith("migrations/versions/case1_case1.py:")


def test_migrate_revision_warns_of_a_rename_through_the_post_write_hook(
    project: Project, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """pyproject.toml's post_write_hooks, as the template writes them: the new revision is
    written, then linted as warnings."""
    monkeypatch.chdir(project.root)
    with (project.root / "pyproject.toml").open("a") as settings:
        settings.write(
            "\n[[tool.alembic.post_write_hooks]]\n"
            'name = "lint"\ntype = "module"\nmodule = "flask_alembic_runtime.lint"\n'
            'options = "--warn REVISION_SCRIPT_FILENAME"\ncwd = "%(here)s"\n'
        )
    project.migrate("revision", "--autogenerate", "-m", "first")
    project.migrate("upgrade")
    project.make_app(name_column="full_name")
    capfd.readouterr()
    project.migrate("revision", "--autogenerate", "-m", "rename name")
    [path] = project.versions.glob("*_rename_name.py")
    output = capfd.readouterr().out
    drop = line_of(path, "batch_op.drop_column('name')")
    assert (
        f"warning: migrations/versions/{path.name}:{drop}: drop-add-rename: users.name is "
        "dropped and users.full_name added, both String(length=100)"
    ) in output


def test_squawk_lints_only_postgresql_projects(linted: Project) -> None:
    """A PostgreSQL project's dependencies include alembic-postgresql-enum; this one's
    do not: no SQL is written or linted."""
    config = linted.config()
    assert sql_findings(config, [], None) == []


def test_after_an_adoption_lint_checks_the_revisions_written_since_its_baseline(
    linted: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """An adopted history's old drop_column was deployed long ago: with the baseline the
    adoption recorded, `lint` checks only newer revisions; `lint base:heads` checks all."""
    write_case(linted, 'op.drop_column("posts", "title")')
    pyproject = linted.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'lint_after = "case1"\n')
    assert lint(linted, capsys, "lint").splitlines() == [
        (
            "Linting the revisions after case1, where the project was adopted (lint_after); "
            "`python manage.py migrate lint base:heads` lints them all"
        ),
        "0 revisions linted, no findings",
    ]
    assert "drop-column: posts.title" in refused(linted, capsys, "lint", "base:heads")[0]
    linted.write_revision("case2", "case1", 'op.drop_column("users", "name")')
    assert "case2" in refused(linted, capsys, "lint")[1]


def test_the_post_write_hook_checks_a_file_without_importing_alembic(tmp_path: Path) -> None:
    """`python -m flask_alembic_runtime.lint --warn FILE` runs after each `migrate revision`:
    it reads one file, and Alembic and SQLAlchemy (most of a second to import) stay out."""
    revision = tmp_path / "a1_a1.py"
    revision.write_text("def upgrade():\n    op.drop_column('users', 'email')\n")
    probe = (
        "import sys; from flask_alembic_runtime.lint import main; main(['--warn', sys.argv[1]]);"
        " print(sorted({'alembic', 'sqlalchemy', 'flask'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(revision)], capture_output=True, text=True, check=True
    )
    assert "drop-column" in result.stdout
    assert result.stdout.splitlines()[-1] == "[]"


def test_an_unnamed_constraint_in_a_batch_is_flagged_with_its_table(
    linted: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """As Flask-Migrate's autogenerate writes it (render_as_batch)."""
    write_case(
        linted,
        'with op.batch_alter_table("books") as batch_op:\n'
        '    batch_op.create_unique_constraint(None, ["title"])',
        "pass",
    )
    finding, _ = refused(linted, capsys, "lint")
    assert "unnamed-constraint: a unique constraint on books is created with no name" in finding
