"""PostgreSQL and MariaDB for real: concurrent upgrades, failures midway, odd passwords."""

import zlib
from collections.abc import Callable
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, make_url, text

from helpers import (
    FAILS_MIDWAY,
    SERVERS,
    SLOW_ONCE,
    Project,
    columns,
    database,
    execute,
    scalar,
    tables,
    upgrade_at_once,
    with_revisions,
)

pytestmark = pytest.mark.server

# A revision that fails midway: its first operation succeeds, its second does not.


@pytest.fixture
def server_project(
    make_project: Callable[..., Project],
    server_database: Callable[[str], str],
    request: pytest.FixtureRequest,
) -> Project:
    project = make_project(database=request.param, example_model=False)
    project.env["DATABASE_URL"] = server_database(request.param)
    return project


@pytest.mark.parametrize("server_project", ["postgresql", "mysql"], indirect=True)
def test_concurrent_upgrades_apply_each_revision_once(server_project: Project) -> None:
    with_revisions(server_project, ("slow_once", SLOW_ONCE))
    results = upgrade_at_once(server_project, 8)
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results if r.returncode]
    applied = [r for r in results if "Running upgrade  -> slow_once" in r.stderr]
    assert len(applied) == 1
    url = server_project.env["DATABASE_URL"]
    assert scalar(url, "SELECT COUNT(*) FROM runs") == 1
    assert scalar(url, "SELECT version_num FROM alembic_version") == "slow_once"


@pytest.mark.parametrize("server_project", ["postgresql"], indirect=True)
def test_without_the_lock_concurrent_upgrades_collide(server_project: Project) -> None:
    """The control: `-x lock=off` lets the same 8 processes trip over each other."""
    with_revisions(server_project, ("slow_once", SLOW_ONCE))
    results = upgrade_at_once(server_project, 8, "-x", "lock=off")
    assert any(r.returncode != 0 for r in results)


@pytest.mark.parametrize("server_project", ["postgresql"], indirect=True)
def test_postgresql_failure_midway_rolls_back_the_run(server_project: Project) -> None:
    """One transaction per run: the revision before the failing one is undone too."""
    with_revisions(server_project, ("slow_once", SLOW_ONCE), ("fails_midway", FAILS_MIDWAY))
    result = server_project.migrate("upgrade", ok=False)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("FAILED:")]
    url = server_project.env["DATABASE_URL"]
    assert tables(url) == set(), "nothing of the run, not even alembic_version"
    fixed = FAILS_MIDWAY.replace('    op.execute("INSERT INTO no_such_table VALUES (1)")\n', "")
    with_revisions(server_project, ("fails_midway", fixed))
    server_project.migrate("upgrade")
    assert scalar(url, "SELECT version_num FROM alembic_version") == "fails_midway"


@pytest.mark.parametrize("server_project", ["mysql"], indirect=True)
def test_mysql_failure_midway_leaves_its_ddl_behind(server_project: Project) -> None:
    """MySQL/MariaDB commit each DDL statement: what the README's recovery steps describe."""
    with_revisions(server_project, ("slow_once", SLOW_ONCE), ("fails_midway", FAILS_MIDWAY))
    assert server_project.migrate("upgrade", ok=False).returncode == 1
    url = server_project.env["DATABASE_URL"]
    assert scalar(url, "SELECT version_num FROM alembic_version") == "slow_once"
    assert tables(url) == {"alembic_version", "runs", "half"}
    # The recovery: drop what the failed revision left, fix it, upgrade again.
    execute(url, "DROP TABLE half")
    fixed = FAILS_MIDWAY.replace('    op.execute("INSERT INTO no_such_table VALUES (1)")\n', "")
    with_revisions(server_project, ("fails_midway", fixed))
    server_project.migrate("upgrade")
    assert scalar(url, "SELECT version_num FROM alembic_version") == "fails_midway"


PASSWORD = "p@ss%w:rd/#?"
USER_SUFFIX = "_u@s:r/#?"  # a user name that needs percent-encoding in a URL too


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_user_and_password_with_special_characters(
    make_project: Callable[..., Project], server_database: Callable[[str], str], kind: str
) -> None:
    url = server_database(kind)
    database = url.rsplit("/", 1)[1]
    user = database + USER_SUFFIX
    # As SQL literals and identifiers; the drivers read %, so it is doubled.
    secret_sql = PASSWORD.replace("'", "''").replace("%", "%%")
    role = f'"{user}"' if kind == "postgresql" else f"'{user}'@'%%'"
    admin = create_engine(SERVERS[kind], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if kind == "postgresql":
            connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{secret_sql}'")
            connection.exec_driver_sql(f"ALTER DATABASE {database} OWNER TO {role}")
        else:
            connection.exec_driver_sql(f"CREATE USER {role} IDENTIFIED BY '{secret_sql}'")
            connection.exec_driver_sql(f"GRANT ALL ON {database}.* TO {role}")
    try:
        project = make_project(database=kind)
        server = make_url(url)
        project.env["DATABASE_URL"] = (
            f"{server.drivername}://{quote(user, safe='')}:{quote(PASSWORD, safe='')}"
            f"@{server.host}:{server.port}/{database}"
        )
        project.migrate("revision", "--autogenerate", "-m", "create users and posts")
        project.migrate("upgrade")
        project.migrate("check")
        assert "CREATE TABLE users" in project.migrate("upgrade", "head", "--sql").stdout
        project.run("alembic", "current")
        project.migrate("downgrade", "base")
        if kind == "postgresql":
            owner = "SELECT tableowner FROM pg_tables WHERE tablename = 'alembic_version'"
            assert scalar(url, owner) == user, "the tables were made as that user"
    finally:
        with admin.connect() as connection:
            if kind == "postgresql":
                connection.exec_driver_sql(f"ALTER DATABASE {database} OWNER TO postgres")
                execute(url, f"DROP OWNED BY {role}")  # in the database that holds them
                connection.exec_driver_sql(f"DROP ROLE {role}")
            else:
                connection.exec_driver_sql(f"DROP USER {role}")
        admin.dispose()


ENUM_MODELS = """

class Tag(db.Model):
    \"\"\"A tag with a colour.\"\"\"

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    colour: Mapped[str] = mapped_column(Enum("red", "blue", name="tag_colour"))
"""


def test_postgresql_enum_types_come_and_go_with_their_columns(
    make_project: Callable[..., Project], server_database: Callable[[str], str]
) -> None:
    """An Enum column on an existing table and a new table with one: autogenerate's
    revision creates both types on upgrade and leaves neither behind on downgrade."""
    project = make_project(database="postgresql")
    url = server_database("postgresql")
    project.env["DATABASE_URL"] = url
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")
    project.migrate("upgrade")
    models = project.path / "my_flask_app" / "models.py"
    text_ = models.read_text().replace(
        "from sqlalchemy import ForeignKey, String",
        "from sqlalchemy import Enum, ForeignKey, String",
    )
    anchor = "    name: Mapped[str] = mapped_column(String(100), index=True)\n"
    role = (
        '    role: Mapped[str | None] = mapped_column(Enum("admin", "it\'s", name="user_role"))\n'
    )
    models.write_text(text_.replace(anchor, anchor + role) + ENUM_MODELS)
    project.migrate("revision", "--autogenerate", "-m", "roles and tags")
    enum_types = "SELECT COUNT(*) FROM pg_type WHERE typname IN ('user_role', 'tag_colour')"

    project.migrate("upgrade")
    assert scalar(url, enum_types) == 2
    assert "role" in columns(url, "users")
    project.migrate("check")
    project.migrate("downgrade", "-1")
    assert scalar(url, enum_types) == 0, "the downgrade left an ENUM type behind"
    project.migrate("upgrade")
    project.migrate("downgrade", "base")
    assert scalar(url, enum_types) == 0
    project.run("ruff", "check", "--no-cache", ".")


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_lock_not_free_in_time_is_an_error(
    make_project: Callable[..., Project], server_database: Callable[[str], str], kind: str
) -> None:
    # A package name of its own: MySQL's lock names are server-wide, and the other tests'
    # projects (my_flask_app) take theirs at the same time.
    server_project = make_project(database=kind, example_model=False, app_module="lock_held")
    server_project.env["DATABASE_URL"] = url = server_database(kind)
    name = "lock_held.migrations"
    with database(url) as engine, engine.connect() as holder:
        if engine.dialect.name == "postgresql":
            holder.execute(
                text("SELECT pg_advisory_lock(:key)"), {"key": zlib.crc32(name.encode())}
            )
        else:
            assert holder.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": name}).scalar() == 1
        holder.commit()
        result = server_project.migrate("-x", "lock_timeout=1", "upgrade", ok=False)
    assert result.stderr.strip().splitlines()[-1] == (
        f"FAILED: the migration lock {name} was not free after 1 s: another migration holds it;"
        " let it finish, then run this again"
    )
    assert "alembic_version" not in tables(url)
    server_project.migrate("upgrade")  # once the holder let go
    bad = server_project.migrate("-x", "lock_timeout=soon", "upgrade", ok=False)
    assert bad.stderr.strip().splitlines()[-1] == (
        "FAILED: -x lock_timeout=soon: give whole seconds, e.g. 60"
    )
