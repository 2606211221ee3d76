"""`python manage.py migrate squash [--to REV] [--dry-run]`: replace the revisions from the
base up to REV with one baseline revision, proven to build the same schema before any file
changes. REV by default: the head, or, while one of the app's databases is behind it, the
newest revision every database has reached (the later ones stay).

The baseline keeps REV's revision id: a database at REV, or past it, is at the baseline
already and needs nothing (no `stamp`). A database at an older squashed revision could no
longer be upgraded: squash refuses (--to) while one of the app's own databases is there,
and others must be upgraded to REV before the squash reaches them.

How, for each database of the app (the default one and every bind), on scratch databases
beside it (dropped afterwards; the app's databases are only read):
1. the old history is replayed up to REV, and the schema it built is reflected;
2. the baseline is written by the project's own `revision --autogenerate` (env.py,
   script.py.mako, the ruff hook), with the operations that create that schema instead
   of the models', next to copies of the revisions after REV: the new history;
3. the new history is replayed: the baseline must build the schema the old revisions
   built, its downgrade must leave an empty database, and the revisions after REV must
   give the same schema at the heads as before.
Only then are the squashed revision files removed and the baseline put in their place, in
one swap (history_swap.py): killed at any moment, the folder holds the old history or the
new one, and the next squash, rebase or doctor completes or undoes the swap.
"""

import ast
import io
import os
import re
import shutil
from contextlib import ExitStack, redirect_stdout
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import produce_migrations
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import ops
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError, to_tuple
from sqlalchemy import (
    Constraint,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import CompileError
from sqlalchemy.sql.elements import conv
from sqlalchemy.types import TypeEngine

from .config import command_of
from .databases import current_databases
from .doctor import quiet_config
from .history_swap import recovered_script, swap_history, work_folder
from .output import shown
from .schema import (
    VERSION_TABLE,
    Schema,
    describe_schema,
    differences,
    scratch_database,
    table_count,
    version_of,
)
from .sql_calls import sql_calls

# A literal with PostgreSQL's cast to the column's type, e.g. 'draft'::status.
CAST_LITERAL = re.compile(r"""^('(?:[^']|'')*'|-?\d+(?:\.\d+)?)::(?:"[^"]+"|[\w ]+)(?:\(\d+\))?$""")

# The default of a PostgreSQL serial column: the sequence it takes its values from.
SERIAL_DEFAULT = re.compile(r"^nextval\('(\w+)'::regclass\)$")

# MariaDB spells the integer types with a display width: int(11) is what sa.Integer() makes.
DEFAULT_WIDTH = re.compile(r"^(?:INTEGER\(11\)|BIGINT\(20\)|SMALLINT\(6\))$")


def squash(config: Config, to: str | None = None, dry_run: bool = False) -> None:
    """Squash, or with `dry_run` only show the plan and the proof; one line per step."""
    script = recovered_script(config)
    engines = current_databases()
    versions = {name: version_of(engine) for name, engine in engines.items()}
    why = ""
    if to is None:
        to, why = default_target(config, script, versions)
    target, squashed = plan(config, script, to)
    if len(squashed) == 1:
        config.print_stdout(f"nothing to squash: {target.revision}{why} is the first revision")
        return
    config.print_stdout(
        f"squash: the {len(squashed)} revisions from the base up to {target.revision}{why} "
        f"become one baseline revision {target.revision}"
    )
    check_databases(config, versions, squashed)
    # Revisions that run SQL of their own may make what the schema comparison does not see.
    own_sql = [revision for revision in squashed if sql_calls(ast.parse(source(revision)))]
    with ExitStack() as stack:
        # Inside the migration environment's folder, so that the ruff hook formats the
        # baseline with the project's settings.
        work = Path(stack.enter_context(work_folder(Path(script.dir), "squash")))
        say = config.print_stdout
        old = {name: stack.enter_context(scratch_database(e, say)) for name, e in engines.items()}
        new = {name: stack.enter_context(scratch_database(e, say)) for name, e in engines.items()}
        replay(config, old, None, target.revision)
        built = {name: reflect(engine) for name, engine in old.items()}
        refuse_rows(old, built, own_sql)
        baseline = write_baseline(config, new, work / "baseline", target, squashed, built)
        history = new_history(script, squashed, work / "history", baseline)
        problems = prove(config, old, new, history, target)
        if problems:
            raise CommandError(
                f"the baseline would not build what the old revisions build ({problems} "
                "difference(s), listed above), so nothing was changed: squash up to a "
                "revision before the one that makes the difference (--to)"
            )
        for revision in own_sql:
            config.print_stdout(
                f"note: {revision.revision} ({revision.doc}) runs SQL of its own "
                f"({first_own_sql(revision)}): the proof compares tables, views, columns, "
                "indexes, constraints, enum types and rows; anything else it did (changes to "
                "rows already there, functions, triggers, extensions) is not in the baseline: "
                "check before you commit"
            )
        old_file = Path(target.path)
        destination = old_file.parent / file_name(old_file.name, baseline.name, target.revision)
        what = f"{shown(destination)} in place of {len(squashed)} revision files"
        if dry_run:
            config.print_stdout(f"dry run: would write {what}; nothing was changed")
            return
        changes: dict[Path, bytes | None] = {Path(revision.path): None for revision in squashed}
        changes[destination] = baseline.read_bytes()
        swap_history(Path(script.dir), "squash", changes, what)
    config.print_stdout(
        f"wrote {what}. A database at {target.revision} or later needs nothing; upgrade one "
        f"at an older revision to {target.revision} before this change reaches it"
    )


def default_target(
    config: Config, script: ScriptDirectory, versions: dict[str, tuple[set[str], str]]
) -> tuple[str, str]:
    """The revision to squash up to when --to names none, and why, in a few words: the head,
    or the newest revision every reachable database has reached.

    Refused: a history with several heads, a database at a revision the history does not
    have, and a database with no revision while another has one (nothing it has reached).
    """
    heads = script.get_heads()
    if not heads:
        raise CommandError("there are no revisions to squash")
    if len(heads) > 1:
        raise CommandError(
            f"the history has {len(heads)} heads ({', '.join(sorted(heads))}): merge "
            f'them first (`{command_of(config)} merge heads -m "merge"`), or name the '
            "newest revision to squash with --to"
        )
    head = heads[0]
    known = {revision.revision for revision in script.walk_revisions()}
    reachable = {
        name: current
        for name, (current, state) in versions.items()
        if not state.startswith("not reachable")
    }
    at = {name: current for name, current in reachable.items() if current}
    if not at:
        return head, " (the head: no database has a revision yet)"
    for name, current in at.items():
        if current - known:
            raise CommandError(
                f"the {name} database is at {', '.join(sorted(current - known))}, which is not "
                "in this history: bring its revision file back (e.g. from git), or name the "
                "newest revision to squash with --to"
            )
    empty = [name for name in reachable if name not in at]
    if empty:
        others = ", ".join(f"{name} is at {', '.join(sorted(at[name]))}" for name in at)
        raise CommandError(
            f"the {', '.join(empty)} database{'s have' if len(empty) > 1 else ' has'} no "
            f"revision yet ({others}), so no revision is one every database has reached: "
            f"upgrade {'them' if len(empty) > 1 else 'it'} first (`{command_of(config)} upgrade`), "
            "or name the newest revision to squash with --to"
        )
    if all(current == {head} for current in at.values()):
        return head, " (the head: every database is at it)"
    # Each database has reached its revisions and every one before them.
    reached = [
        {rev.revision for rev in script.iterate_revisions(tuple(c), "base")} for c in at.values()
    ]
    common = set.intersection(*reached)
    newest = next(
        revision.revision for revision in script.walk_revisions() if revision.revision in common
    )
    behind = ", ".join(
        f"{name} is at {', '.join(sorted(current))}"
        for name, current in at.items()
        if current != {head}
    )
    return newest, f" (the newest every database has reached: {behind})"


def plan(config: Config, script: ScriptDirectory, to: str) -> tuple[Script, list[Script]]:
    """The newest revision to squash, and it with every revision before it, newest first.

    Refused: a revision that follows (or depends on) a squashed revision other than the
    newest: it would lose its parent.
    """
    target = script.get_revision(to) if to.strip() else None
    if target is None:
        raise CommandError(f"--to {to!r}: name a revision, e.g. its id")
    squashed = list(script.iterate_revisions(target.revision, "base"))
    removed = {revision.revision for revision in squashed} - {target.revision}
    for revision in script.walk_revisions():
        parents = {*to_tuple(revision.down_revision, ()), *to_tuple(revision.dependencies, ())}
        if revision not in squashed and parents & removed:
            raise CommandError(
                f"{revision.revision} ({revision.doc}) follows "
                f"{', '.join(sorted(parents & removed))}, which a squash up to "
                f"{target.revision} removes: squash up to a revision after which the history "
                "does not branch, or move that branch first"
            )
    return target, squashed


def check_databases(
    config: Config, versions: dict[str, tuple[set[str], str]], squashed: list[Script]
) -> None:
    """Refuse while one of the app's own databases is at a revision the squash removes: it
    could not be upgraded afterwards. Say which databases were checked."""
    removed = {revision.revision for revision in squashed[1:]}
    checked = []
    for name, (current, state) in versions.items():
        if current & removed:
            raise CommandError(
                f"the {name} database is at {', '.join(sorted(current & removed))}, which the "
                f"squash removes: upgrade it first (`{command_of(config)} upgrade "
                f"{squashed[0].revision}`), then squash"
            )
        checked.append(f"{name} ({state})")
    config.print_stdout(f"databases checked: {', '.join(checked)}")


def replay(
    config: Config, engines: dict[str, Engine], history: list[Path] | None, revision: str
) -> None:
    """Run the project's history, or the one in `history`'s folders, on these databases
    (by name) up to `revision`, or down to "base"."""
    run = quiet_config(config, "lock=off")
    if history is not None:
        use_history(run, history)
    run.attributes["connections"] = engines
    if revision == "base":
        command.downgrade(run, "base")
    else:
        command.upgrade(run, revision)


def use_history(config: Config, folders: list[Path]) -> None:
    """Make `config` read its revisions from these folders instead of the project's."""
    config.set_main_option("path_separator", "os")
    locations = os.pathsep.join(str(folder) for folder in folders)
    config.set_main_option("version_locations", locations.replace("%", "%%"))


def reflect(engine: Engine) -> MetaData:
    """The tables in a database, as autogenerate reflects them (a PostgreSQL serial column
    stays a serial column), then written as a person would write them wherever the
    database builds the same (see `simplest` and `tidy`). Each constraint and index keeps
    its name as it is: the naming convention does not apply to it a second time. A serial
    column's sequence named after an older name of its table is in `info["sequences"]`."""
    metadata = MetaData()
    with engine.connect() as connection:
        impl = MigrationContext.configure(connection).impl
        dialect = connection.dialect

        def column_reflect(inspector: Any, table: Table, column: dict[str, Any]) -> None:
            default = column.get("default")
            impl.autogen_column_reflect(inspector, table, column)  # type: ignore[no-untyped-call]
            serial = SERIAL_DEFAULT.match(default) if isinstance(default, str) else None
            if serial and "default" not in column:  # a serial column; its table renamed?
                created = f"{table.name}_{column['name']}_seq"  # what PostgreSQL names it
                if serial[1] != created and len(created) < 64:
                    metadata.info.setdefault("sequences", {})[created] = serial[1]
            column["type"] = simplest(column["type"], dialect)
            if isinstance(column.get("default"), str):
                column["default"] = CAST_LITERAL.sub(r"\1", column["default"])

        event.listen(metadata, "column_reflect", column_reflect)
        metadata.reflect(connection)
        if VERSION_TABLE in metadata.tables:
            metadata.remove(metadata.tables[VERSION_TABLE])
        server_defaults = mysql_defaults(connection) if dialect.name == "mysql" else {}
        inspector = inspect(connection)
        for table in metadata.tables.values():
            # MySQL reflects a unique constraint as its index.
            uniques = inspector.get_unique_constraints(table.name)
            constraints = {name for unique in uniques if (name := unique.get("duplicates_index"))}
            tidy(table, server_defaults, constraints)
    return metadata


def simplest(type_: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """The generic type, with no arguments if it needs none, where the database spells it
    the same: `sa.Double()` for DOUBLE_PRECISION(precision=53), `sa.String(length=100)`
    for VARCHAR(length=100), `sa.Integer()` for MariaDB's INTEGER(display_width=11)."""
    spelled = type_.compile(dialect=dialect)
    if DEFAULT_WIDTH.match(spelled):
        spelled = spelled.split("(")[0]
    try:
        plain = type_.as_generic()
        candidates = [type(plain)(), plain]
    except (NotImplementedError, TypeError):
        return type_
    for candidate in candidates:
        try:
            if candidate.compile(dialect=dialect) == spelled:
                return candidate
        except CompileError:  # e.g. an ENUM without its name
            continue
    return type_


def tidy(table: Table, server_defaults: dict[str, str], unique_constraints: set[str]) -> None:
    """Leave out of a reflected table what says the default: autoincrement where SQLAlchemy
    decides the same unasked, empty or false dialect options (postgresql_include=[]),
    MySQL's table options equal to the server's, and the index MySQL makes for each foreign
    key itself. The unique indexes named in `unique_constraints` become the constraints
    they are."""
    for column in table.columns:
        serial = column.primary_key and len(table.primary_key.columns) == 1
        if column.autoincrement is serial:
            column.autoincrement = "auto"
    for option, value in server_defaults.items():
        if str(table.dialect_kwargs.get(option, "")).lower() == value.lower():
            del table.dialect_kwargs[option]
    if server_defaults:
        keys = {(fk.name, tuple(fk.column_keys)) for fk in table.foreign_key_constraints}
        for index in list(table.indexes):
            if (index.name, tuple(column.name for column in index.columns)) in keys:
                table.indexes.remove(index)
    for index in table.indexes:
        index.unique = bool(index.unique)  # SQLite reflects 1
    for index in [index for index in table.indexes if index.name in unique_constraints]:
        table.indexes.remove(index)
        table.append_constraint(UniqueConstraint(*index.columns, name=index.name))
    named: list[Constraint | Index] = [*table.constraints, *table.indexes]
    for item in named:
        if isinstance(item.name, str):
            item.name = conv(item.name)
    for item_with_options in [table, *named]:
        options = item_with_options.dialect_kwargs
        for option, value in list(options.items()):
            if value in ([], False, None):  # e.g. postgresql_ignore_search_path=False
                del options[option]


def mysql_defaults(connection: Connection) -> dict[str, str]:
    """The table options a MySQL or MariaDB database gives a table that names none."""
    row = connection.exec_driver_sql(
        "SELECT @@default_storage_engine, @@character_set_database, @@collation_database"
    ).one()
    return dict(zip(("mysql_engine", "mysql_default charset", "mysql_collate"), row, strict=True))


def refuse_rows(
    engines: dict[str, Engine], built: dict[str, MetaData], own_sql: list[Script]
) -> None:
    """Refuse when the squashed revisions leave rows: a baseline holds the schema only."""
    filled = []
    for name, engine in engines.items():
        with engine.connect() as connection:
            for table in built[name].sorted_tables:
                count = connection.execute(select(func.count()).select_from(table)).scalar()
                if count:
                    filled.append(f"{name}: {table.name} ({count})")
    if filled:
        where = f" (see {', '.join(revision.revision for revision in own_sql)})" if own_sql else ""
        raise CommandError(
            f"the squashed revisions insert rows{where}, and a baseline holds the schema only: "
            f"{', '.join(filled)}; squash up to a revision before them, or insert those rows "
            "elsewhere (e.g. a command that seeds the database)"
        )


def write_baseline(
    config: Config,
    empty: dict[str, Engine],
    folder: Path,
    target: Script,
    squashed: list[Script],
    built: dict[str, MetaData],
) -> Path:
    """Write the baseline revision into `folder`: `revision --autogenerate` against empty
    databases, with the operations that build `built` (by database name) instead of those
    the models would give. Its id is the target's; its docstring lists what it replaces."""
    folder.mkdir()
    names = {engine: name for name, engine in empty.items()}

    def create_built_schema(migration_context: Any, revision: Any, directives: list[Any]) -> None:
        """Called after autogenerate compares each database, before env.py's own tidying:
        that database's operations instead of the models'."""
        name = names[migration_context.connection.engine]
        operations = produce_migrations(migration_context, built[name])
        upgrade_ops, downgrade_ops = operations.upgrade_ops, operations.downgrade_ops
        assert upgrade_ops is not None and downgrade_ops is not None  # produce_migrations made both
        # A serial column's sequence keeps its name from before a table's rename.
        for created, sequence in built[name].info.get("sequences", {}).items():
            rename = f"ALTER SEQUENCE {created} RENAME TO {sequence}"
            upgrade_ops.ops.append(ops.ExecuteSQLOp(rename))
        directives[0].upgrade_ops_list[-1].ops = upgrade_ops.ops
        directives[0].downgrade_ops_list[-1].ops = downgrade_ops.ops

    run = quiet_config(config, "lock=off")
    use_history(run, [folder])
    run.attributes["connections"] = empty
    message = f"Baseline: {len(squashed)} revisions squashed"
    with redirect_stdout(io.StringIO()):  # Alembic prints "Running post write hook" even when quiet
        command.revision(
            run,
            message=message,
            autogenerate=True,
            rev_id=target.revision,
            branch_label=declared_labels(squashed) or None,
            process_revision_directives=create_built_schema,
        )
    [baseline] = folder.glob("*.py")
    # The list goes into the docstring afterwards: in the message, it would lengthen the
    # file's name.
    listed = "".join(f"\n- {revision.revision} {revision.doc}" for revision in reversed(squashed))
    replaces = f"{message}\n\nIt replaces these revisions, oldest first (`migrate squash`):{listed}"
    text = baseline.read_text(encoding="utf-8")
    baseline.write_text(text.replace(message, replaces, 1), encoding="utf-8")
    return baseline


def file_name(old: str, new: str, revision: str) -> str:
    """The baseline's file name: the old one's up to the revision id (the date, where
    `file_template` puts it first, so that the files keep their order), then the new one's."""
    if revision in old and revision in new:
        return old[: old.index(revision)] + new[new.index(revision) :]
    return new


def declared_labels(revisions: list[Script]) -> tuple[str, ...]:
    """The branch labels the revisions' files declare, each once (Alembic lends a label to
    the revisions after the one that declares it too)."""
    labels = [to_tuple(getattr(script.module, "branch_labels", None), ()) for script in revisions]
    return tuple(dict.fromkeys(label for group in reversed(labels) for label in group))


def new_history(
    script: ScriptDirectory, squashed: list[Script], folder: Path, baseline: Path
) -> list[Path]:
    """The new history: copies of the revisions the squash keeps, a folder for each folder
    of the project's history, and the baseline beside the copies of the target's folder."""
    kept = [revision for revision in script.walk_revisions() if revision not in squashed]
    places = sorted({Path(revision.path).parent for revision in [*kept, squashed[0]]})
    copies = {place: folder / str(number) for number, place in enumerate(places)}
    for copy in copies.values():
        copy.mkdir(parents=True)
    for revision in kept:
        shutil.copy2(revision.path, copies[Path(revision.path).parent])
    shutil.copy2(baseline, copies[Path(squashed[0].path).parent])
    return list(copies.values())


def prove(
    config: Config,
    old: dict[str, Engine],
    new: dict[str, Engine],
    history: list[Path],
    target: Script,
) -> int:
    """Replay the new history beside the old one (`old` is at the target already); print
    what was found, database by database; return the number of differences."""
    findings: dict[str, list[str]] = {name: [] for name in new}
    problems = 0

    def compare(first: dict[str, Any], second: dict[str, Any], what: str) -> None:
        nonlocal problems
        for name in new:
            found = differences(first[name], second[name], ("old revisions", "baseline"))
            problems += len(found)
            if found:
                findings[name] += [f"PROBLEM {what} differs:", *(f"  {line}" for line in found)]
            else:
                findings[name].append(f"{what} is the same ({tables(first[name])})")

    replay(config, new, history, target.revision)
    compare(described(old), described(new), f"the schema at {target.revision}")
    replay(config, new, history, "base")
    for name, leftover in described(new).items():
        problems += len(leftover)
        findings[name].append(
            f"PROBLEM the baseline's downgrade leaves {', '.join(map(str, leftover))}"
            if leftover
            else "the baseline's downgrade leaves an empty database"
        )
    if not target.is_head:
        replay(config, old, None, "heads")
        replay(config, new, history, "heads")
        compare(described(old), described(new), "the schema at the heads")
    for name, lines in findings.items():
        for line in lines:
            config.print_stdout(f"{name}: {line}")
    return problems


def described(engines: dict[str, Engine]) -> dict[str, Schema]:
    """The schema of each database, by name."""
    schemas = {}
    for name, engine in engines.items():
        with engine.connect() as connection:
            schemas[name] = describe_schema(connection)
    return schemas


def tables(schema: Schema) -> str:
    count = table_count(schema)
    return f"{count} table{'' if count == 1 else 's'}"


def source(revision: Script) -> str:
    return Path(revision.path).read_text(encoding="utf-8")


def first_own_sql(revision: Script) -> str:
    """Where a revision first runs SQL of its own, e.g. `line 14: op.execute("UPDATE ...`."""
    text = source(revision)
    number = sql_calls(ast.parse(text))[0].lineno
    code = text.splitlines()[number - 1].strip()
    return f"line {number}: {code if len(code) <= 72 else code[:69] + '...'}"
