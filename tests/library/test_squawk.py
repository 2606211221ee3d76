"""squawk.py: in a PostgreSQL project, `migrate lint` also has squawk read the SQL each
revision runs (as `upgrade --sql` writes it), and places each finding at the line of the
operation that wrote the statement. No server is needed: the SQL is written offline."""

import ast
import shutil
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from flask_alembic_runtime import lint
from flask_alembic_runtime.squawk import line_of, revision_sql, squawk_findings, statement_at

from .conftest import Project

RULE = "squawk:require-concurrent-index-creation"
TAGS = 'op.create_table("tags", sa.Column("name", sa.Text()))'
INDEX = 'op.create_index("ix_tags_name2", "tags", ["name"])'


@pytest.fixture
def postgresql(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A PostgreSQL project (its app's URL names a server that need not run), worked on from
    its folder; `lint` sees alembic-postgresql-enum, the dependency that marks such a
    project (a stand-in: this environment does not install it)."""
    if shutil.which("squawk", path=Path(sys.executable).parent) is None:
        pytest.skip("squawk-cli is not installed")
    monkeypatch.chdir(project.root)
    monkeypatch.setattr(lint, "find_spec", lambda name: object())
    project.make_app(default="postgresql://nobody@127.0.0.1:1/nothing")
    project.write_revision(
        "aaaa", None, f"{TAGS}\nop.create_index('ix_tags_name', 'tags', ['name'])"
    )
    return project


def lines_of(path: Path, fragment: str) -> list[int]:
    return [n for n, line in enumerate(path.read_text().splitlines(), 1) if fragment in line]


def test_an_index_built_without_concurrently_is_flagged_at_its_line(
    postgresql: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not on the table created in the same revision; on one an earlier revision made."""
    path = postgresql.write_revision("bbbb", "aaaa", f"op.execute('SELECT 1')\n{INDEX}")
    capsys.readouterr()
    failure = postgresql.failure("lint")
    [finding] = capsys.readouterr().out.splitlines()
    assert finding.startswith(
        f"migrations/versions/bbbb_bbbb.py:{lines_of(path, 'ix_tags_name2')[0]}: {RULE}: "
    )
    assert finding.endswith(": CREATE INDEX ix_tags_name2 ON tags (name);")
    assert failure.startswith("FAILED: 1 finding in 2 revisions: ")

    postgresql.write_revision("bbbb", "aaaa", f"{INDEX}  # lint: allow {RULE}")
    postgresql.migrate("lint")
    assert capsys.readouterr().out == (
        "2 revisions linted, no findings (1 accepted by `# lint: allow`)\n"
    )
    postgresql.write_revision(
        "bbbb",
        "aaaa",
        "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_tags_name2", "tags", ["name"], postgresql_concurrently=True)',
    )
    postgresql.migrate("lint")
    assert capsys.readouterr().out == "2 revisions linted, no findings\n"


def test_rev_range_limits_the_sql_that_is_read(
    postgresql: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    postgresql.write_revision("bbbb", "aaaa", INDEX)
    postgresql.write_revision("cccc", "bbbb", 'op.create_index("ix_other", "tags", ["name"])')
    for revision_range, flagged in [
        ("aaaa:bbbb", ["bbbb"]),
        ("cccc", ["cccc"]),
        ("bbbb:", ["cccc"]),
    ]:
        capsys.readouterr()
        postgresql.failure("lint", revision_range)
        files = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
        assert files == [f"migrations/versions/{name}_{name}.py" for name in flagged]


def test_each_databases_sql_is_read_and_named(
    postgresql: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    postgresql.make_app(binds=["analytics"], default="postgresql://nobody@127.0.0.1:1/nothing",
                        analytics="postgresql://nobody@127.0.0.1:1/analytics")  # fmt: skip
    postgresql.write_revision(
        "bbbb",
        "aaaa",
        functions={
            "upgrade_default": "pass",
            "upgrade_analytics": f"{TAGS.replace('tags', 'events')}\n"
            'op.execute("SELECT 1")\n'
            'op.create_index("ix_events_name", "events", ["name"])',
        },
    )
    path = postgresql.write_revision(
        "cccc",
        "bbbb",
        functions={"upgrade_default": "pass", "upgrade_analytics": INDEX.replace("tags", "events")},
    )
    capsys.readouterr()
    postgresql.failure("lint", "aaaa:head")
    [finding] = capsys.readouterr().out.splitlines()
    # Not the index built in the revision that made its table: that one is new and empty.
    line = lines_of(path, "ix_events_name2")[0]
    assert finding.startswith(f"migrations/versions/cccc_cccc.py:{line}: {RULE}: ")
    assert finding.endswith(
        " in the analytics database: CREATE INDEX ix_events_name2 ON events (name);"
    )


def test_without_squawk_the_sql_is_not_linted_and_it_says_so(
    postgresql: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    postgresql.write_revision("bbbb", "aaaa", INDEX)
    monkeypatch.setattr(sys, "executable", str(postgresql.root / "python"))
    monkeypatch.setenv("PATH", str(postgresql.root))
    postgresql.migrate("lint")
    assert capsys.readouterr().out.splitlines() == [
        (
            "squawk is not installed, so the SQL was not linted: pip install -e '.[dev]' (or "
            "pip install squawk-cli)"
        ),
        "2 revisions linted, no findings",
    ]


def test_a_squawk_that_fails_is_one_line(
    postgresql: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in for a broken squawk: it prints an error, not its JSON report."""
    broken = postgresql.root / "bin"
    broken.mkdir()
    (broken / "squawk").write_text("#!/bin/sh\necho 'error: cannot parse' >&2\nexit 2\n")
    (broken / "squawk").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(broken / "python"))
    assert postgresql.failure("lint") == "FAILED: squawk failed: error: cannot parse"


def test_squawk_findings_of_revisions_with_no_sql_of_their_own_are_none(
    postgresql: Project,
) -> None:
    config = postgresql.config()
    scripts = list(ScriptDirectory.from_config(config).walk_revisions())
    with postgresql.app.app_context():
        assert squawk_findings(config, scripts, "aaaa:heads") == []


def test_the_sql_is_split_by_database_and_revision() -> None:
    sql = """\
CREATE TABLE alembic_version (...);
-- Running upgrade  -> aaaa
CREATE TABLE tags (name TEXT);

UPDATE alembic_version SET version_num='aaaa';

BEGIN;
-- Running upgrade aaaa -> bbbb
CREATE INDEX ix ON tags
    (name);

-- Database: analytics
BEGIN;
-- Running upgrade  -> aaaa
CREATE TABLE events (name TEXT);
COMMIT;
"""
    parts = revision_sql(sql)
    assert parts == {
        ("default", "aaaa"): [
            "BEGIN;", "CREATE TABLE tags (name TEXT);", "",
            "UPDATE alembic_version SET version_num='aaaa';",
        ],
        ("default", "bbbb"): ["BEGIN;", "CREATE INDEX ix ON tags", "    (name);"],
        ("analytics", "aaaa"): ["BEGIN;", "CREATE TABLE events (name TEXT);", "COMMIT;"],
    }  # fmt: skip
    lines = parts["default", "bbbb"]
    assert statement_at(lines, 2) == statement_at(lines, 1) == "CREATE INDEX ix ON tags     (name);"


def test_a_statement_no_operation_wrote_is_placed_at_its_function() -> None:
    upgrade = ast.parse(
        "def upgrade():\n"
        '    op.create_table("tags")\n'
        '    op.create_index("ix_tags_name", "tags", ["name"])\n'
    ).body[0]
    assert isinstance(upgrade, ast.FunctionDef)
    assert line_of(upgrade, "CREATE INDEX ix_tags_name ON tags (name);") == 3
    assert line_of(upgrade, "CREATE TABLE tags ();") == 2
    assert line_of(upgrade, "ALTER TABLE other ADD x INT;") == 1
