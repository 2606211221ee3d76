"""A history's revision files read with `ast`, nothing imported: what is wrong with them,
as one line that names the file and the fix (for the error path, errors.py, when Alembic
could not read the history, and for `revision --rev-id`), and the history itself for the
commands that only read the files (`lint`).
"""

from __future__ import annotations

import ast
import itertools
import linecache
import re
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .output import shown

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script.revision import RevisionMap

#: The module-level names that place a revision in its history.
IDENTIFIERS = ("revision", "down_revision", "depends_on", "branch_labels")

#: A revision id that is safe as a file name and as a value in alembic_version.
PLAIN_ID = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class RevisionFile:
    """The identifiers one revision file declares at module level."""

    path: Path
    revision: str
    down_revisions: tuple[str, ...]
    depends_on: tuple[str, ...]
    branch_labels: tuple[str, ...]


class Unreadable(Exception):
    """A revision file whose identifiers cannot be read: the message says why."""


def version_locations(config: Config) -> list[Path]:
    """The folders of the history's revision files."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    # Alembic's list of every version location, resolved (`versions` is only the first).
    return [Path(location) for location in script._version_locations]


def python_files(locations: Iterable[Path]) -> list[Path]:
    """The revision files in the version locations, as Alembic lists them (no recursion)."""
    return sorted(
        path
        for location in locations
        if location.is_dir()
        for path in location.glob("*.py")
        if not path.name.startswith(("__init__", ".#"))
    )


def read(path: Path) -> RevisionFile | None:
    """The identifiers `path` declares; None when its values are not literals (computed:
    only importing it would tell). Raises Unreadable with the reason."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as error:
        raise Unreadable(syntax_error_line(error)) from None
    found: dict[str, ast.expr] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in IDENTIFIERS:
                found[target.id] = value
    if "revision" not in found:
        raise Unreadable(f'{shown(path)}: no `revision = "<id>"` line: give the file its id')
    if "down_revision" not in found:
        raise Unreadable(
            f"{shown(path)}: no down_revision: set it to the revision before it, or None"
        )
    try:
        values = {name: literal_ids(value) for name, value in found.items()}
    except ValueError:
        return None
    if len(values["revision"]) != 1:
        raise Unreadable(f'{shown(path)}: revision is not one id: write `revision = "<id>"`')
    return RevisionFile(
        path,
        values["revision"][0],
        values["down_revision"],
        values.get("depends_on", ()),
        values.get("branch_labels", ()),
    )


def syntax_error_line(error: SyntaxError) -> str:
    """A file Python cannot parse, as `file:line: SyntaxError: what`."""
    return f"{shown(error.filename or '<unknown>')}:{error.lineno}: SyntaxError: {error.msg}"


def literal_ids(value: ast.expr) -> tuple[str, ...]:
    """A literal None, string or sequence of strings as a tuple; ValueError otherwise."""
    try:
        literal = ast.literal_eval(value)
    except ValueError:
        raise ValueError("not a literal") from None
    if literal is None:
        return ()
    if isinstance(literal, str):
        return (literal,)
    if isinstance(literal, list | tuple) and all(isinstance(item, str) for item in literal):
        return tuple(literal)
    raise ValueError("not identifiers")


def read_history(locations: Sequence[Path]) -> dict[str, RevisionFile] | None:
    """Every revision file of the history by id, read without importing any; None when a
    file computes its identifiers (only importing it would tell) or the history is broken
    (`history_problem` says how)."""
    if history_problem(locations) is not None:
        return None
    files = {}
    for path in python_files(locations):
        found = read(path)
        if found is None:
            return None
        files[found.revision] = found
    return files


def revision_map(files: dict[str, RevisionFile]) -> RevisionMap:
    """Alembic's map of the history (ranges, heads, branch labels), from the files alone."""
    from alembic.script.revision import Revision, RevisionMap

    def revisions() -> list[Revision]:
        return [
            Revision(
                found.revision,
                found.down_revisions or None,
                dependencies=found.depends_on or None,
                branch_labels=found.branch_labels or None,
            )
            for found in files.values()
        ]

    return RevisionMap(revisions)


def history_problem(locations: Sequence[Path]) -> str | None:
    """The first thing that stops Alembic from reading the history in `locations`, or None
    when the files look whole (the cause is elsewhere)."""
    files: dict[str, RevisionFile] = {}
    for path in python_files(locations):
        try:
            revision_file = read(path)
        except Unreadable as unreadable:
            return str(unreadable)
        if revision_file is None:
            continue
        if revision_file.revision in files:
            other = files[revision_file.revision].path
            return (
                f"{shown(path)} and {shown(other)} have the same revision id "
                f"{revision_file.revision!r}: give one a new id"
            )
        files[revision_file.revision] = revision_file
    labels = {label for found in files.values() for label in found.branch_labels}
    for found in files.values():
        for down in found.down_revisions:
            if down not in files:
                return (
                    f"{shown(found.path)}: down_revision {down!r} is no revision here: set "
                    "it to the one before, or None"
                )
        for needed in found.depends_on:
            if needed not in files and needed not in labels:
                return (
                    f"{shown(found.path)}: depends_on {needed!r} is no revision or branch "
                    "here: fix or remove it"
                )
    return cycle_problem(files)


def cycle_problem(files: dict[str, RevisionFile]) -> str | None:
    """Revisions whose down_revisions lead back to themselves, named with a way out."""
    done: set[str] = set()
    for start in sorted(files):
        # Depth first along the down_revisions, without recursion (histories are long).
        path, pending = [start], [iter(files[start].down_revisions)]
        while pending:
            for down in pending[-1]:
                if down in path:
                    circle = [*path[path.index(down) :], down]
                    return (
                        f"revisions {' -> '.join(circle)} form a circle: point the "
                        f"down_revision of {shown(files[down].path)} to an earlier one"
                    )
                if down in files and down not in done:
                    path.append(down)
                    pending.append(iter(files[down].down_revisions))
                    break
            else:
                done.add(path.pop())
                pending.pop()
    return None


def failing_line(
    error: BaseException, locations: Sequence[Path], fixes_only: bool = False
) -> str | None:
    """Where in a revision file `error` was raised (importing it, or running its code), as
    `file:line: Type: message`, or with the fix for a step it knows; None when no revision
    file's code raised it, or, with `fixes_only`, when it knows no fix (the error's own
    message then says more)."""
    folders = {location.resolve() for location in locations}
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if Path(frame.filename).resolve().parent in folders
    ]
    if not frames:
        return None
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    where = f"{shown(frames[-1].filename)}:{frames[-1].lineno}"
    if UNNAMED_DROP.search(statement(frames[-1].filename, frames[-1].lineno or 0)):
        return (
            f"{where}: drop_constraint(None, ...) names no constraint (autogenerate writes "
            "None where the models leave one unnamed): write the name the database gave it, "
            "then run this again"
        )
    if fixes_only:
        return None
    return f"{where}: {type(error).__name__}{': ' if message else ''}{message}"


def statement(path: str, lineno: int) -> str:
    """The source of the statement at `lineno` of a file, with the block it opens: a batch's
    steps run as its `with op.batch_alter_table(...)` ends, which is the line a traceback
    shows."""
    lines = linecache.getlines(path)[lineno - 1 :]
    if not lines:
        return ""
    indent = len(lines[0]) - len(lines[0].lstrip())
    block = itertools.takewhile(
        lambda line: not line.strip() or len(line) - len(line.lstrip()) > indent, lines[1:]
    )
    return "".join([lines[0], *block])


#: A step that drops a constraint by no name, as autogenerate writes it for one the models
#: left unnamed (without a naming convention): the database cannot be told which.
UNNAMED_DROP = re.compile(r"drop_constraint\(\s*None\b")


def new_id_problem(rev_id: str, locations: Sequence[Path]) -> str | None:
    """Why `revision --rev-id REV_ID` would break the history, or None."""
    if not PLAIN_ID.fullmatch(rev_id):
        return f"--rev-id {rev_id!r} is not a plain id: use letters, digits and _ only"
    for path in python_files(locations):
        try:
            found = read(path)
        except Unreadable:
            continue
        if found is not None and found.revision == rev_id:
            return f"--rev-id {rev_id!r} is taken by {shown(path)}: pick another"
    return None
