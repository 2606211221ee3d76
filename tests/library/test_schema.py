"""schema.py: a database's schema described flat, the differences between two, the
revisions a database has applied, scratch databases, and what `check` found in words."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.util import CommandError
from packaging.version import Version
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.engine import Engine, make_url

from flask_alembic_runtime.schema import (
    describe_schema,
    differences,
    models_differ,
    scratch_database,
    spell,
    version_of,
)

SCHEMA = [
    (
        "CREATE TABLE users (id INTEGER NOT NULL, email VARCHAR(100) NOT NULL, name VARCHAR(50)"
        " DEFAULT 'anonymous', age INTEGER, CONSTRAINT pk_users PRIMARY KEY (id),"
        " CONSTRAINT uq_users_email UNIQUE (email), CONSTRAINT ck_users_age CHECK (age >= 0))"
    ),
    "CREATE INDEX ix_users_name ON users (name)",
    "CREATE UNIQUE INDEX ix_users_age ON users (age)",
    (
        "CREATE TABLE posts (id INTEGER NOT NULL PRIMARY KEY, user_id INTEGER, CONSTRAINT"
        " fk_posts_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE)"
    ),
    "CREATE VIEW names AS SELECT name FROM users",
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)",
]


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a SQLite file not created yet."""
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    yield engine
    engine.dispose()


def build(engine: Engine, *statements: str) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def described(engine: Engine) -> dict[str, object]:
    """The described schema, each object by the name reports show ("column users.email")."""
    with engine.connect() as connection:
        return {str(item): value for item, value in describe_schema(connection).items()}


@pytest.mark.xfail(
    Version(sqlalchemy.__version__) < Version("2.0"),
    reason="SQLAlchemy 1.4 misreads the names of a SQLite table's named constraints",
    strict=True,
)
def test_every_object_is_described_by_name(sqlite_file: Engine) -> None:
    build(sqlite_file, *SCHEMA)
    assert described(sqlite_file) == {
        "view names": "present",
        "table posts": "present",
        "column posts.id": ("INTEGER", "NOT NULL", ""),
        "column posts.user_id": ("INTEGER", "NULL", ""),
        "primary key posts": (None, ["id"]),
        "foreign key posts.user_id": ("fk_posts_user", "users", ["id"], {"ondelete": "CASCADE"}),
        "table users": "present",
        "column users.id": ("INTEGER", "NOT NULL", ""),
        "column users.email": ("VARCHAR(100)", "NOT NULL", ""),
        "column users.name": ("VARCHAR(50)", "NULL", "DEFAULT 'anonymous'"),
        "column users.age": ("INTEGER", "NULL", ""),
        "primary key users": ("pk_users", ["id"]),
        "index users.ix_users_name": (["name"], ""),
        "index users.ix_users_age": (["age"], "UNIQUE"),
        "unique users.uq_users_email": ["email"],
        "check users.ck_users_age": "age >= 0",
    }


def test_differences_are_one_line_each_in_the_schemas_names() -> None:
    database = {
        "table users": "present",
        "column users.score": ("FLOAT", "NULL", ""),
        "index users.ix_users_name": (["name"], ""),
    }
    replayed = {
        "table users": "present",
        "column users.score": ("DOUBLE", "NOT NULL", "DEFAULT 0"),
        "unique users.uq_users_email": ["email"],
    }
    assert differences(database, replayed, ("database", "replayed history")) == [
        (
            "column users.score: FLOAT NULL in the database, DOUBLE NOT NULL DEFAULT 0 in the "
            "replayed history"
        ),
        "index users.ix_users_name: only in the database",
        "unique users.uq_users_email: only in the replayed history",
    ]
    assert differences(database, dict(database)) == []
    assert differences({"check t.c": "a > 0"}, {"check t.c": "a > 1"}) == [
        "check t.c: a > 0 in the first, a > 1 in the second"
    ]
    assert spell(("pk_users", ["id"], {}, None)) == "pk_users ['id']"


def test_the_revisions_a_database_applied_and_what_was_found(
    sqlite_file: Engine, tmp_path: Path
) -> None:
    assert version_of(sqlite_file) == (set(), "not created yet")
    assert not (tmp_path / "app.db").exists(), "looking created the file"
    build(sqlite_file, "CREATE TABLE things (id INTEGER)")
    assert version_of(sqlite_file) == (set(), "no revision applied")
    build(
        sqlite_file,
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)",
        "INSERT INTO alembic_version VALUES ('b2'), ('a1')",
    )
    assert version_of(sqlite_file) == ({"a1", "b2"}, "at a1, b2")
    in_memory = create_engine("sqlite://")
    assert version_of(in_memory) == (set(), "no revision applied")


def test_a_database_that_cannot_be_reached_is_not_checked(tmp_path: Path) -> None:
    (tmp_path / "a_folder.db").mkdir()
    engine = create_engine(f"sqlite:///{tmp_path / 'a_folder.db'}")
    assert version_of(engine) == (set(), "not reachable, not checked: unable to open database file")


def test_a_sqlite_scratch_database_is_an_empty_file_removed_afterwards(
    sqlite_file: Engine,
) -> None:
    build(sqlite_file, "CREATE TABLE things (id INTEGER)")
    with scratch_database(sqlite_file) as scratch:
        file = Path(str(scratch.url.database))
        build(scratch, "CREATE TABLE scratch_things (id INTEGER)")
        assert inspect(scratch).get_table_names() == ["scratch_things"]
    assert not file.exists()
    assert not file.parent.exists()
    assert inspect(sqlite_file).get_table_names() == ["things"]


@pytest.mark.server
@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_server_scratch_database_is_created_beside_and_dropped(
    server_database: Callable[..., str], kind: str
) -> None:
    engine = create_engine(server_database(kind))
    list_databases = "SELECT datname FROM pg_database" if kind == "postgresql" else "SHOW DATABASES"
    with scratch_database(engine) as scratch:
        name = scratch.url.database
        assert name is not None and name.startswith("scratch_")
        where = (scratch.url.host, scratch.url.port, scratch.url.username)
        assert where == (engine.url.host, engine.url.port, engine.url.username)
        build(scratch, "CREATE TABLE things (id INTEGER)")
        with engine.connect() as connection:
            assert name in connection.execute(text(list_databases)).scalars().all()
            assert "things" not in inspect(connection).get_table_names()
    with engine.connect() as connection:
        assert name not in connection.execute(text(list_databases)).scalars().all()
    engine.dispose()


@pytest.mark.server
def test_postgresql_enum_types_are_described(server_database: Callable[..., str]) -> None:
    engine = create_engine(server_database("postgresql"))
    build(engine, "CREATE TYPE mood AS ENUM ('sad', 'ok')", "CREATE TABLE days (feeling mood)")
    schema = described(engine)
    assert schema["enum type mood"] == ["sad", "ok"]
    assert schema["column days.feeling"] == ("mood", "NULL", "")
    engine.dispose()


def test_what_check_found_is_named_with_the_fix(sqlite_file: Engine) -> None:
    build(
        sqlite_file,
        "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(100))",
        "CREATE TABLE legacy (id INTEGER NOT NULL PRIMARY KEY)",
    )
    models = MetaData()
    Table(
        "users",
        models,
        Column("id", Integer, primary_key=True),
        Column("name", String(10)),
        Column("age", Integer),
    )
    with sqlite_file.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), models)
    assert models_differ(diffs) == (
        "the models differ from the migrations (remove_table legacy, add_column users.age, "
        "modify_type users.name): write a revision with "
        "`python manage.py migrate revision --autogenerate -m MESSAGE`"
    )


@pytest.mark.server
def test_a_scratch_database_is_made_beside_one_that_does_not_exist_yet(
    server_database: Callable[..., str],
) -> None:
    """A new project's DATABASE_URL names a database not created yet: the scratch one is
    made on its server all the same (MySQL was asked for the missing one)."""
    engine = create_engine(server_database("mysql", exists=False))
    with scratch_database(engine) as scratch:
        build(scratch, "CREATE TABLE things (id INTEGER)")
        assert inspect(scratch).get_table_names() == ["things"]


@pytest.mark.server
@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_user_who_may_not_create_databases_is_told_what_the_proof_needs(
    server_database: Callable[..., str], kind: str
) -> None:
    url = make_url(server_database(kind))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    user = f"limited_{url.database}"
    grants = {
        "postgresql": [f"CREATE ROLE {user} LOGIN NOCREATEDB"],
        # %% is the driver's escape of MySQL's host wildcard, %.
        "mysql": [f"CREATE USER '{user}'@'%%'", f"GRANT ALL ON {url.database}.* TO '{user}'@'%%'"],
    }
    drop = f"DROP ROLE {user}" if kind == "postgresql" else f"DROP USER '{user}'@'%%'"
    with admin.connect() as connection:
        for statement in grants[kind]:
            connection.exec_driver_sql(statement)
    try:
        limited = create_engine(url.set(username=user))
        with pytest.raises(CommandError) as refused, scratch_database(limited):
            pass
        limited.dispose()
        where = url._replace(database=None).set(username=user).render_as_string()
        assert str(refused.value).startswith(
            f"this command replays the history on a scratch database, which the user of {where}"
            " may not create ("
        )
        assert str(refused.value).endswith(
            "): grant it CREATE and DROP on databases, or run the command with a DATABASE_URL "
            "whose user may"
        )
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(drop)
        admin.dispose()
