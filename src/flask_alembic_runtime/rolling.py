"""`python manage.py migrate lint --compat [GIT_REF]`: prove that the release running now
keeps working while, and after, the new revisions are applied. In a rolling deploy the
old release's replicas go on serving against the upgraded database until the new ones
replace them (its health check says ready: the database is ahead, not behind).

GIT_REF is the code running now. By default it is where this branch left the main branch
(`git merge-base HEAD origin/main`, else `main`, `origin/master`, `master`); where that
leaves no new revision (on the main branch itself), the commit before the one that added
the newest revision. The revisions the working tree has and GIT_REF has not are the new
ones.

The old release's models are read by importing its app, from a copy of GIT_REF (`git
archive`), in a subprocess with this interpreter (`main` below): which tables and columns
it maps, and which columns its INSERTs may leave out. The schema before the new revisions
and after each one is what the history, replayed on a scratch database, builds (schema.py,
as doctor does). A new revision breaks the old release when a table or column its models
map is dropped or renamed, narrowed or changed to another type, or when a column its
INSERTs leave out becomes NOT NULL without a server default (a new column, or one made NOT
NULL). Each is one line naming the revision that does it, with the expand/contract steps
to write instead: add, backfill, switch the code, then drop or tighten in a later release
(the discipline of django-migration-linter's backward-incompatibility rules, Atlas's
backward-incompatible analyzer and pgroll).
"""

from __future__ import annotations

import inspect
import io
import json
import re
import runpy
import subprocess
import sys
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from alembic import command
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError

from .config import command_of, project_root
from .databases import app_databases, current_databases, sqlalchemy_object, target_metadata
from .doctor import quiet_config
from .leftovers import temporary_folder
from .lint import FAMILIES, INTEGER_BYTES, PARAMETERS, Type, narrows
from .output import shown
from .schema import Schema, SchemaObject, describe_schema, scratch_database

if TYPE_CHECKING:
    from alembic.config import Config
    from flask import Flask
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Engine

#: The branches a default GIT_REF is looked for on, in this order.
MAIN_BRANCHES = ("origin/main", "main", "origin/master", "master")

#: Type changes between families that keep every value and its Python type.
WIDENINGS = {("String", "Text"), ("Float", "Double")}

#: What the old release does with one mapped column: whether its INSERTs may leave it out
#: (nullable, or filled by the database's default, and no Python-side default), and the
#: type its model declares, as SQLAlchemy spells it (e.g. "VARCHAR(50)"; None if unknown).
Models = dict[str, dict[str, tuple[bool, str | None]]]  # table: {column: (left out, type)}


@dataclass(frozen=True)
class Break:
    """One way a new revision breaks the release running: the object, what fails in the
    old release, and what to write instead."""

    name: str  # "users", "users.email"
    kind: str  # "gone", "type", "not null", "new not null": one break of each per object
    breaks: str
    instead: str
    renamed_to: str | None = None  # a column's new name: not a new column besides


def compat_check(config: Config, ref: str | None) -> None:
    """`lint --compat [GIT_REF]`: print each new revision's change that breaks the release
    at GIT_REF, and fail if any (run in the app's context)."""
    command_ = command_of(config)
    script = ScriptDirectory.from_config(config)
    root = project_root(Path(config.toml_file_name).parent if config.toml_file_name else None)
    top = Path(git(root, "rev-parse", "--show-toplevel")).resolve()
    if ref is None:
        ref, why = default_ref(top, script, command_)
    else:
        why = "given"
    unknown = (
        f"GIT_REF {ref} is not a commit of this repository: name a branch, a tag or a "
        f"commit, e.g. `{command_} lint --compat origin/main` (git fetch a remote one first)"
    )
    commit = git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", fix=unknown)
    described = git(top, "log", "-1", "--format=%h %s", commit)
    config.print_stdout(f"The release running: {ref} ({why}), {described}")
    with temporary_folder("compat") as old_top:
        export(top, commit, old_top)

        def moved(path: str | Path) -> Path:
            """Where a file of this project is in the old release's copy."""
            return old_top / Path(path).resolve().relative_to(top)

        old_ids, old_heads = old_history(script, moved, ref, command_)
        load = loader(config.attributes.get("load_app"), top)
        models = old_models(old_top, moved(root), load, ref)
    new = [
        revision
        for revision in reversed(list(script.walk_revisions()))
        if revision.revision not in old_ids
    ]
    if not new:
        config.print_stdout(f"No new revisions after {ref}: nothing to check")
        return
    found: list[tuple[Script, Break]] = []
    for name, engine in current_databases().items():
        if models.get(name):
            found += database_breaks(config, name, engine, models[name], old_heads, new)
    order = {revision.revision: index for index, revision in enumerate(new)}
    found.sort(key=lambda item: (order[item[0].revision], item[1].name))
    for revision, break_ in found:  # shown under `-q` too: they are what the command is for
        print(
            f"{shown(revision.path)}: {break_.name}: {break_.breaks}; instead, {break_.instead}",
            file=config.stdout,
        )
    checked = f"{len(new)} new revision{'s' if len(new) != 1 else ''}"
    if found:
        raise CommandError(
            f"{len(found)} change{'s' if len(found) != 1 else ''} in {checked} would break "
            f"the release running ({ref}) during a rolling deploy: write each in steps, as "
            "its line says (expand, then contract in a later release)"
        )
    config.print_stdout(
        f"{checked} checked against the models of {ref}: the release running keeps working"
    )


def git(folder: Path, *arguments: str, fix: str | None = None) -> str:
    """What a git command prints, stripped; a failure is one line (`fix`, where given)."""
    try:
        done = subprocess.run(
            ["git", *arguments], cwd=folder, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise CommandError(
            "git is not installed: `lint --compat` reads the release running from git"
        ) from None
    if done.returncode:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        if "not a git repository" in reason:
            fix = (
                f"{folder} is not in a git repository: `lint --compat` compares with the code "
                "of a commit (git init, then commit the project)"
            )
        raise CommandError(fix or f"git {' '.join(arguments)}: {reason}")
    return done.stdout.strip()


def has_commit(top: Path, name: str) -> bool:
    try:
        git(top, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    except CommandError:
        return False
    return True


def default_ref(top: Path, script: ScriptDirectory, command_: str) -> tuple[str, str]:
    """The release running when none is named, and why: where this branch left the main
    branch, where that leaves new revisions; else the commit before the one that added the
    newest revision (on the main branch itself)."""
    files = {
        revision.revision: Path(revision.path).resolve().relative_to(top).as_posix()
        for revision in script.walk_revisions()
    }
    for branch in MAIN_BRANCHES:
        if has_commit(top, branch):
            base = git(top, "merge-base", "HEAD", branch)
            known = set(git(top, "ls-tree", "-r", "--name-only", base).splitlines())
            if set(files.values()) - known:
                return base[:12], f"where this branch left {branch}"
            break
    heads = [files[head] for head in script.get_heads()]
    committed = set(git(top, "ls-tree", "-r", "--name-only", "HEAD").splitlines())
    if not set(heads) <= committed:
        return "HEAD", "the last commit: the newest revision is not committed yet"
    added = [
        git(top, "log", "--diff-filter=A", "--format=%ct %H", "-1", "--", head) for head in heads
    ]
    oldest = min(added).split()[1]
    if not has_commit(top, f"{oldest}^"):
        raise CommandError(
            f"the first commit added {', '.join(heads)}: there is no release before it to "
            f"check against; name one with `{command_} lint --compat GIT_REF`"
        )
    parent = git(top, "rev-parse", f"{oldest}^")
    return parent[:12], "the commit before the newest revision was added"


def export(top: Path, commit: str, destination: Path) -> None:
    """The files of `commit` (the whole repository) in `destination`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=top, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # Files and folders only (Python 3.11.4 and newer have the filter; git wrote these).
        tar.extraction_filter = getattr(tarfile, "data_filter", None)
        tar.extractall(destination)


def old_history(
    script: ScriptDirectory, moved: Callable[[str], Path], ref: str, command_: str
) -> tuple[set[str], set[str]]:
    """The ids of the revisions the release running has, read from its copy, and its
    heads; each must be a revision of this history."""
    directory = moved(script.dir)
    if not directory.is_dir():
        return set(), set()  # no migrations yet: every revision is new
    old = ScriptDirectory(
        str(directory),
        # Every version location, resolved (`version_locations` is None when unset).
        version_locations=[str(moved(str(location))) for location in script._version_locations],
        recursive_version_locations=script.recursive_version_locations,
    )
    try:
        ids = {revision.revision for revision in old.walk_revisions()}
        heads = set(old.get_heads())
    except CommandError as error:
        raise CommandError(f"the revisions of {ref} do not load: {error}") from None
    missing = ids - {revision.revision for revision in script.walk_revisions()}
    if missing:
        raise CommandError(
            f"{ref} has revision(s) {', '.join(sorted(missing))}, which this history lacks "
            f"(squashed or rebased since, or {ref} is ahead): merge {ref} first, or name an "
            f"older release with `{command_} lint --compat GIT_REF`"
        )
    return ids, heads


def loader(load_app: Callable[[], Flask] | None, top: Path) -> tuple[str, str, str]:
    """How the subprocess loads the old app, as `load_app` loads this one: a function's
    file in the repository and its name (manage.py's `load_app`), or `flask --app`'s
    import path (`flask migrate`), or neither: as `flask` finds it (FLASK_APP, wsgi.py)."""
    import_path = getattr(getattr(load_app, "__self__", None), "app_import_path", None)
    try:
        source = Path(inspect.getsourcefile(load_app) or "/").resolve()  # type: ignore[arg-type]
    except TypeError:  # not a Python function
        source = Path("/")
    name = getattr(load_app, "__qualname__", "")
    if source.is_relative_to(top) and name.isidentifier():
        return source.relative_to(top).as_posix(), name, ""
    return "", "", import_path or ""


def old_models(top: Path, root: Path, load: tuple[str, str, str], ref: str) -> dict[str, Models]:
    """The old release's models, by database, from its copy (`top`, the project at `root`):
    its app imported by a subprocess with this interpreter (`main`)."""
    with temporary_folder("models") as folder:
        output = folder / "models.json"
        done = subprocess.run(
            [sys.executable, "-m", __name__, str(output), str(top), *load],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode or not output.exists():
            reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise CommandError(
                f"the app of {ref} does not load from a copy of it ({reason}): `lint "
                "--compat` imports it with this environment's packages"
            )
        models: dict[str, Models] = json.loads(output.read_text())
    return models


def mapped(metadata: MetaData) -> Models:
    """The tables and columns of a MetaData, each column with whether an INSERT from the
    ORM may leave it out: no Python-side default, and nullable or filled by the database's
    default (a primary key is always given: its value, or the database's counter); and its
    declared type."""
    return {
        table.name: {
            column.name: (
                column.default is None
                and not column.primary_key
                and (column.nullable is not False or column.server_default is not None),
                declared_type(column.type),
            )
            for column in table.columns
        }
        for table in metadata.tables.values()
        if table.schema is None
    }


def declared_type(type_: Any) -> str | None:
    """A model's column type as SQLAlchemy's generic SQL spells it, e.g. "VARCHAR(50)";
    None for a type only its database can spell."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return str(type_.compile())
    except (SQLAlchemyError, NotImplementedError):
        return None


def database_breaks(
    config: Config,
    name: str,
    engine: Engine,
    models: Models,
    old_heads: set[str],
    new: list[Script],
) -> list[tuple[Script, Break]]:
    """What breaks the old release's `models` in one database, each with the revision that
    does it: the history replayed on a scratch database up to the old heads, then one new
    revision at a time. A break counts from the revision after which it holds to the end;
    one the old release already had is not the new revisions'."""
    with scratch_database(engine) as scratch:
        replay = quiet_config(config, f"bind={name}", "lock=off")
        replay.attributes["connections"] = {name: scratch}
        for head in sorted(old_heads):
            command.upgrade(replay, head)
        base = described(scratch)
        holding: dict[tuple[str, str], tuple[Script | None, Break]] = {
            (found.name, found.kind): (None, found) for found in breaks(models, base, base, base)
        }
        before = base
        for revision in new:
            command.upgrade(replay, f"{revision.revision}")
            after = described(scratch)
            now = {(found.name, found.kind): found for found in breaks(models, base, before, after)}
            holding = {key: holding.get(key, (revision, found)) for key, found in now.items()}
            before = after
    return [(revision, found) for revision, found in holding.values() if revision is not None]


def described(engine: Engine) -> Schema:
    with engine.connect() as connection:
        return describe_schema(connection)


def columns_of(schema: Schema, table: str) -> dict[str, Any]:
    """A described table's columns: name: (type, nullability, default)."""
    return {
        item.name.split(".", 1)[1]: value
        for item, value in schema.items()
        if item.kind == "column" and item.name.split(".", 1)[0] == table
    }


def breaks(models: Models, base: Schema, before: Schema, after: Schema) -> list[Break]:
    """How the schema `after` a revision breaks the old release's `models`: `base` is the
    schema the old release ran on, `before` the one before this revision (to tell a rename
    from a drop)."""
    found = []
    for table, columns in models.items():
        if SchemaObject("table", table) not in after:
            found.append(table_gone(table, before, after))
            continue
        now, was, old = columns_of(after, table), columns_of(before, table), columns_of(base, table)
        key = SchemaObject("primary key", table)
        primary_key = set(after[key][1]) if key in after else set()
        renamed = set()
        for column, (left_out, declared) in columns.items():
            name = f"{table}.{column}"
            if column not in now:
                found.append(gone := column_gone(table, column, was, now))
                renamed.add(gone.renamed_to)
            elif column in old and (
                changed := type_break(name, old[column][0], now[column][0], declared)
            ):
                found.append(changed)
            if column in now and left_out and now[column][1:] == ("NOT NULL", ""):
                found.append(
                    Break(
                        name,
                        "not null",
                        "becomes NOT NULL without a server default, and the release running "
                        "may leave it out of its INSERTs (its model has it nullable or filled "
                        "by the database), which then fail",
                        "give it a server_default, or release code that always writes it "
                        "first, backfill the empty rows, then make it NOT NULL in a later "
                        "release",
                    )
                )
        for column in now.keys() - columns.keys() - primary_key - renamed:
            if now[column][1:] == ("NOT NULL", ""):
                found.append(
                    Break(
                        f"{table}.{column}",
                        "new not null",
                        "is added NOT NULL without a server default: the release running "
                        f"does not write it, so each of its INSERTs into {table} fails",
                        "add it nullable (or with a server_default), backfill it, release "
                        "the code that writes it, then make it NOT NULL in a later release",
                    )
                )
    return found


def table_gone(table: str, before: Schema, after: Schema) -> Break:
    """A table the old release maps, dropped or renamed (a new table with its columns)."""
    columns = set(columns_of(before, table))
    renamed = [
        item.name
        for item in after
        if item.kind == "table"
        and item not in before
        and columns
        and set(columns_of(after, item.name)) == columns
    ]
    if renamed:
        return Break(
            table,
            "gone",
            f"is renamed to {renamed[0]}, and the release running still queries {table}, "
            "which then fails",
            f"create {renamed[0]} beside {table}, write to both and copy the rows, release "
            f"the code that uses {renamed[0]}, then drop {table} in a later release",
        )
    return Break(
        table,
        "gone",
        "is dropped, and the release running still queries it, which then fails",
        f"release the code without its model first, then drop {table} in a later release",
    )


def column_gone(
    table: str, column: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> Break:
    """A column the old release maps, dropped or renamed (a new column of its type)."""
    type_ = before[column][0] if column in before else None
    renamed = [name for name in after if name not in before and after[name][0] == type_]
    if renamed:
        new = renamed[0]
        return Break(
            f"{table}.{column}",
            "gone",
            f"is renamed to {new}, and the release running still reads and writes {column}: "
            f"its queries on {table} fail",
            f"add {new} beside {column}, write to both and backfill {new}, release the code "
            f"that reads {new}, then drop {column} in a later release",
            renamed_to=new,
        )
    return Break(
        f"{table}.{column}",
        "gone",
        f"is dropped, and the release running still reads and writes it: its queries on "
        f"{table} fail",
        "release the code without it first (remove it from the model), then drop the "
        "column in a later release",
    )


def parsed_type(spelled: str) -> Type:
    """A type as the database spells it, e.g. "VARCHAR(50)", as lint's (family, arguments):
    ("String", {"length": 50})."""
    words = re.match(r"[A-Za-z_ ]*", spelled)
    name = re.sub(r"\s+", "_", words[0].strip() if words else spelled)
    family = FAMILIES.get(name, name)
    inside = re.search(r"\(([^)]*)\)", spelled)
    numbers = [int(number) for number in re.findall(r"\d+", inside[1])] if inside else []
    return family, dict(zip(PARAMETERS.get(family, []), numbers, strict=False))


def type_break(name: str, old: str, new: str, declared: str | None = None) -> Break | None:
    """How a column's type change from `old` to `new` (as the database spells them) breaks
    the release running, whose model declares the type `declared`; None where every value
    it writes still fits, read the same (a narrowing to the size its model keeps to: the
    contract step of an expand/contract narrowing)."""
    if old == new:
        return None
    before, after = parsed_type(old), parsed_type(new)
    if narrows(before, after):
        if declared is not None and not narrows(parsed_type(declared), after):
            return None
        return Break(
            name,
            "type",
            f"narrows from {old} to {new}: values the release running writes that fit "
            f"{old} fail or are cut",
            "release code that keeps to the new size first, shorten the longer values, "
            "then narrow the column in a later release",
        )
    integers = {before[0], after[0]} <= INTEGER_BYTES.keys()
    known = before[0] == after[0] and before[0] in FAMILIES.values()
    if integers or known or (before[0], after[0]) in WIDENINGS:
        return None
    return Break(
        name,
        "type",
        f"changes type from {old} to {new}: the release running reads and writes it as {old}",
        f"add a new column of type {new}, write to both and backfill it, release the code "
        "that uses it, then drop the old column in a later release",
    )


def main(arguments: list[str]) -> None:
    """`python -m flask_alembic_runtime.rolling OUTPUT TOP FILE FUNCTION IMPORT_PATH`, run
    in a copy of the old release's project: write its models by database (`mapped`) to
    OUTPUT as JSON. Its app is FUNCTION() of FILE (below TOP, the copy of the repository),
    else the one `flask` finds (IMPORT_PATH, FLASK_APP, wsgi.py...)."""
    from .environment import find_app, made_app

    output, top, file, function, import_path = arguments
    sys.path.insert(0, str(Path.cwd()))  # the old release's modules, not this one's

    def load_app() -> Flask:
        if file:
            path = str(Path(top) / file)
            return cast("Flask", runpy.run_path(path, run_name="release_running")[function]())
        return find_app(import_path or None)

    app = made_app(load_app)
    with app.app_context():
        db = sqlalchemy_object(app)
        models = {name: mapped(target_metadata(db, name)) for name in app_databases(db)}
    Path(output).write_text(json.dumps(models))


if __name__ == "__main__":
    main(sys.argv[1:])
