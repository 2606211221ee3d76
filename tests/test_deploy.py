"""The deploy path of a generated project: settings from the environment, `/health`, the
container files (Dockerfile, compose.yaml) and their start command, run on this machine
against the local servers, two replicas at once, and stopped (SIGTERM) while it migrates
as the first process of its own PID namespace, as in a container; the image's packages
from uv.lock; and uv as first-class as pip."""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from sqlalchemy import make_url

from helpers import SLOW_ONCE, UV, Project, render, run, tables, values, with_revisions
from linters import check_jsonschema, hadolint
from variants import VARIANTS

# Reads an environment variable by a literal name: os.environ.get("X"), os.environ["X"],
# or ${X...} in a shell script.
READS_VARIABLE = re.compile(
    r'os\.environ(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]*)"|\$\{([A-Z][A-Z0-9_]*)'
)


def dockerfile(project: Path) -> tuple[dict[str, str], list[str]]:
    """The Dockerfile's ENV settings and its CMD, the container's start command."""
    text = (project / "Dockerfile").read_text().replace("\\\n", " ")
    env = {}
    for line in re.findall(r"^ENV (.+)$", text, re.MULTILINE):
        env.update(word.split("=", 1) for word in shlex.split(line))
    [command] = re.findall(r"^CMD (\[.+\])$", text, re.MULTILINE)
    return env, json.loads(command)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def health(port: int) -> tuple[int, dict[str, object]]:
    """GET /health/ready on a server on this machine: the status and the JSON body."""
    try:
        url = f"http://127.0.0.1:{port}/health/ready"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@dataclass
class Server:
    """A start command running in the background; its output goes to `log`."""

    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def started(project: Project, command: list[str], log: Path, **env: str) -> Iterator[Server]:
    """The start command running in the project, stopped afterwards."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=project.path,
            env=project.environment(**env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Server(process, log)
    finally:
        process.terminate()
        process.wait(timeout=60)


def wait_until_healthy(server: Server, port: int) -> dict[str, object]:
    """Poll /health/ready until it answers 200 (at most two minutes); the body it answered."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the start command exited:\n{server.log.read_text()}")
        try:
            status, body = health(port)
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.3)
            continue
        assert status == 200, body
        return body
    raise AssertionError(f"no healthy answer on port {port} within two minutes")


@pytest.mark.parametrize("variant", ["defaults", "module_style", "postgresql", "mysql", "binds"])
def test_container_files_pass_their_linters(tmp_path: Path, variant: str) -> None:
    project = render(tmp_path / "project", **VARIANTS[variant])
    hadolint(project / "Dockerfile")
    check_jsonschema("vendor.compose-spec", project / "compose.yaml")
    _, command = dockerfile(project)
    assert command == ["sh", "start.sh"]
    start = (project / "start.sh").read_text()
    assert start.index("python manage.py migrate upgrade") < start.index("exec gunicorn")


@pytest.mark.parametrize("variant", ["postgresql", "mysql"])
def test_compose_and_env_files_keep_real_credentials_out(tmp_path: Path, variant: str) -> None:
    """compose.yaml's app connects as its own user, not as the server's superuser; its
    passwords, and .env.example's URL, say they are for one machine only; git ignores the
    local settings files (.env, .env.local, .env.production) and keeps the example."""
    project = render(tmp_path / "project", **VARIANTS[variant])
    compose = (project / "compose.yaml").read_text()
    url = make_url(yaml.safe_load(compose)["services"]["app"]["environment"]["DATABASE_URL"])
    assert url.username not in {"postgres", "root"} and url.username, url
    assert "Its passwords are for trying on one machine only" in compose
    example = (project / ".env.example").read_text()
    assert "This one is for a server on this machine only" in example
    run(["git", "init", "--quiet"], project, {})
    local = [".env", ".env.local", ".env.production"]
    for name in [*local, ".env.example"]:
        (project / name).touch()
    ignored = run(["git", "check-ignore", *local, ".env.example"], project, {}, check=False)
    assert ignored.stdout.split() == local
    listed = run(["git", "status", "--porcelain", "--untracked-files=all"], project, {}).stdout
    assert "?? .env.example" in listed.splitlines()


@pytest.mark.parametrize("variant", ["defaults", "binds"])
def test_env_example_lists_every_variable_the_project_reads(tmp_path: Path, variant: str) -> None:
    project = render(tmp_path / "project", **VARIANTS[variant])
    example = (project / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    read = set()
    for path in [*project.rglob("*.py"), project / "start.sh"]:
        read |= {a or b for a, b in READS_VARIABLE.findall(path.read_text())}
    assert {"DATABASE_URL", "SECRET_KEY", "APP_ENV", "LOG_LEVEL", "PORT"} <= read
    assert read <= listed, f"missing from .env.example: {sorted(read - listed)}"


def test_a_development_key_is_kept_in_the_instance_folder(tmp_path: Path) -> None:
    """Unset in development, SECRET_KEY is the same at each start (test_secret_key.py
    covers gunicorn's workers and production)."""
    project = Project(render(tmp_path / "project")).install()
    keys = "from my_flask_app import create_app; print(create_app().secret_key)"
    first, second = (project.run("python", "-c", keys).stdout for _ in range(2))
    assert len(first.strip()) == 64 and first == second
    assert (project.path / "instance" / "secret_key").read_text() == first.strip()


def test_log_level_sets_what_the_app_logs(tmp_path: Path) -> None:
    project = Project(render(tmp_path / "project")).install()
    logs = (
        "import logging; from my_flask_app import create_app; create_app(); "
        "log = logging.getLogger('my_flask_app.views'); log.info('seen'); log.debug('detail')"
    )
    assert project.run("python", "-c", logs).stderr.splitlines()[-1].endswith("seen")
    assert "detail" in project.run("python", "-c", logs, LOG_LEVEL="DEBUG").stderr
    assert "seen" not in project.run("python", "-c", logs, LOG_LEVEL="WARNING").stderr


#: The line of a run waiting for another one's migration lock (locks.py: `wait_for`).
WAITING = re.compile(
    r"^waiting for the migration lock \S+, held by .+\.\.\. \(gives up after \d+ s\)$",
    re.MULTILINE,
)


@pytest.mark.server
@pytest.mark.parametrize("database", ["postgresql", "mysql"])
def test_two_replicas_start_together_and_migrate_once(
    make_project: Callable[..., Project],
    server_database: Callable[[str], str],
    tmp_path: Path,
    database: str,
) -> None:
    """The container's start command, run twice at once as two replicas are: both serve
    /health with 200 from gunicorn, and each revision ran once (the database lock)."""
    project = make_project(database=database)
    project.run(str(UV), "pip", "install", "--quiet", "-e", ".[dev,deploy]", VIRTUAL_ENV=".venv")
    url = server_database(database)
    project.env["DATABASE_URL"] = url
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")
    [first] = (project.path / "migrations" / "versions").glob("*_create_users_and_posts.py")
    head = first.name.split("_")[0]
    # Then a slow revision that fails if it runs twice, so that the replicas overlap.
    slow_once = SLOW_ONCE.replace("down_revision = None", f"down_revision = {head!r}")
    with_revisions(project, ("slow_once", slow_once))

    env, command = dockerfile(project.path)
    with ExitStack() as stack:
        replicas = {}
        for replica in ("one", "two"):
            port = free_port()
            log = tmp_path / f"{replica}.log"
            server = started(project, command, log, **env, SECRET_KEY="k", PORT=str(port))
            replicas[port] = stack.enter_context(server)
        for port, server in replicas.items():
            body = wait_until_healthy(server, port)
            at_head = {"state": "at head", "reason": "at slow_once"}
            assert body == {"ready": True, "databases": {"default": at_head}}
    logs = [server.log.read_text() for server in replicas.values()]
    output = "".join(logs)
    # The replica that came second waited for the first one's lock, and said so, naming who
    # holds it (locks.py: `wait_for`); the first one never waited.
    waited = [log for log in logs if WAITING.search(log)]
    assert len(waited) == 1, output
    assert output.count(f"Running upgrade  -> {head}") == 1, output
    assert output.count(f"Running upgrade {head} -> slow_once") == 1, output
    assert "Booting worker" in output  # gunicorn served /health/ready, in both
    assert {"users", "posts", "runs"} <= tables(url)
    assert values(url, "SELECT version_num FROM alembic_version") == ["slow_once"]
    assert values(url, "SELECT COUNT(*) FROM runs") == [1]


def test_uv_sync_then_uv_run_pytest(tmp_path: Path) -> None:
    """uv alone, as its users work: `uv sync` installs the dev tools too (dependency-groups)."""
    project = render(tmp_path / "project")
    run([UV, "sync", "--quiet"], project, {})
    assert (project / "uv.lock").is_file()
    run([UV, "run", "python", "manage.py", "migrate", "revision", "--autogenerate", "-m", "first"],
        project, {})  # fmt: skip
    result = run([UV, "run", "pytest", "-q", "-p", "no:cacheprovider"], project, {}, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_the_image_installs_wheels_built_in_a_stage_with_git(tmp_path: Path) -> None:
    """The Dockerfile's two install steps, run here with pip as in python:3.11-slim: the
    first stage builds a wheel of every package uv.lock pins (the library's from its git
    pin; uv only reads the lock), the final one installs them with no index and no git,
    and the app's commands work."""
    project = render(tmp_path / "project")
    run([UV, "lock", "--quiet"], project, {})  # as `copier copy` leaves it (setup_env.py)
    text = (project / "Dockerfile").read_text().replace("\\\n", " ")
    steps = re.findall(r"^RUN (.+)$", text, re.MULTILINE)
    build = next(step for step in steps if "pip wheel" in step)
    # The final stage mounts the first one's /wheels: here, a folder.
    install = re.sub(r"^--mount=\S+\s+", "", next(step for step in steps if "--no-index" in step))
    assert install.startswith("pip install --no-index /wheels/")
    wheels, requirements = tmp_path / "wheels", tmp_path / "requirements.txt"
    for stage, step, cwd in [("build", build, project), ("final", install, tmp_path)]:
        venv = tmp_path / stage
        run(["python3", "-m", "venv", venv], tmp_path, {})
        # The image's pip, which reads the lock's `git+file:///` pin (venv's 23.2 does not).
        run([UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", "pip>=25"],
            tmp_path, {})  # fmt: skip
        shell = step.replace("/wheels", str(wheels)).replace("requirements.txt", str(requirements))
        path = f"{venv / 'bin'}:{UV.parent}:/usr/bin:/bin"  # uv: the stage's COPY of it
        run(["sh", "-c", shell], cwd, {"PATH": path})
    assert any(wheels.glob("flask_alembic_runtime-*.whl"))
    pinned = re.findall(r"^([a-z0-9-]+)==([^\s;]+)", requirements.read_text(), re.MULTILINE)
    assert ("gunicorn", next(v for n, v in pinned if n == "gunicorn")) in pinned
    locked = (project / "uv.lock").read_text()
    for name, version in pinned:  # each at the version the lock names
        assert f'name = "{name}"\nversion = "{version}"' in locked, name
    final = tmp_path / "final" / "bin"
    routes = run([final / "flask", "--app", "my_flask_app", "routes"], project, {})
    assert "/health" in routes.stdout
    heads = run([final / "python", "manage.py", "migrate", "heads"], project, {})
    assert heads.returncode == 0
    assert (final / "gunicorn").exists()


# A revision that creates a table, then takes long (as a big data migration may): a
# signal lands while it runs. `{wait}` takes the time: Python's sleep, or the server's.
SLOW = '''\
"""Create a table, then take long."""

import time

import sqlalchemy as sa
from alembic import op

revision = "slow"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Upgrade the schema."""
    op.create_table("slow_table", sa.Column("id", sa.Integer, primary_key=True))
    {wait}


def downgrade() -> None:
    """Downgrade the schema."""
    op.drop_table("slow_table")
'''
SLEEP_IN_PYTHON = "time.sleep(600)"
SLEEP_ON_POSTGRESQL = 'op.execute("SELECT pg_sleep(600)")'

# A revision whose upgrade exits 3, as `migrate upgrade` does when the database holds a
# revision MySQL or MariaDB applied part-way: a person must run `migrate repair`.
NEEDS_REPAIR = '''\
"""Stop with the status of a database to repair."""

import sys

revision = "needs_repair"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Upgrade the schema."""
    print("FAILED: (the reason, and `python manage.py migrate repair`)", file=sys.stderr)
    sys.exit(3)


def downgrade() -> None:
    """Downgrade the schema."""
'''


def as_pid_1(command: list[str]) -> list[str]:
    """`command` as the first process of a PID namespace of its own, as in a container
    (without root rights: in a user namespace too, as its root); killed with `unshare`."""
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *user, "--pid", "--fork", "--mount-proc", "--kill-child", *command]


def first_process(server: Server) -> int:
    """The process ID, outside its namespace, of the first process `unshare` started."""
    pid = server.process.pid
    [child] = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(child)


def wait_for_output(server: Server, text: str) -> None:
    """Wait until the start command prints `text` (at most two minutes)."""
    deadline = time.monotonic() + 120
    while text not in server.log.read_text():
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never came:\n{server.log.read_text()}")
        time.sleep(0.2)


def nothing_listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


#: How soon a run that SIGTERM stops must have exited (issue 21: "within 10 s"): before
#: the orchestrator's grace period (Docker's and Kubernetes' default: 10 s, 30 s) ends.
STOP_WITHIN = 10


def stops_in_time(server: Server, send: Callable[[], None]) -> bool:
    """Whether the process `send` signals exits 143 (stopped by SIGTERM) within
    STOP_WITHIN seconds of the signal."""
    sent = time.monotonic()
    send()
    status = server.process.wait(timeout=60)
    took = time.monotonic() - sent
    assert status == 143, f"exit {status}:\n{server.log.read_text()}"
    assert took < STOP_WITHIN, f"exited {took:.1f} s after SIGTERM"
    return True


def deploy_project(
    make_project: Callable[..., Project], database_url: str, variant: str
) -> tuple[Project, str]:
    """A project installed with gunicorn (the deploy extra), its first revision applied to
    the database at `database_url`: the project, and that revision."""
    project = make_project(**VARIANTS[variant])
    project.run(str(UV), "pip", "install", "--quiet", "-e", ".[dev,deploy]", VIRTUAL_ENV=".venv")
    project.env["DATABASE_URL"] = database_url
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")
    [first] = (project.path / "migrations" / "versions").glob("*_create_users_and_posts.py")
    project.migrate("upgrade")
    return project, first.name.split("_")[0]


@pytest.mark.parametrize(
    "variant", ["defaults", pytest.param("postgresql", marks=pytest.mark.server)]
)
def test_sigterm_stops_the_container_while_it_migrates(
    make_project: Callable[..., Project],
    server_database: Callable[[str], str],
    tmp_path: Path,
    variant: str,
) -> None:
    """`docker stop` while the container's start command migrates: start.sh, the first
    process of its own PID namespace as in a container, passes SIGTERM on; the migration
    rolls back, releases its lock, says so in one line and exits 143; gunicorn never starts."""
    database = VARIANTS[variant].get("database", "sqlite")
    url = f"sqlite:///{tmp_path / 'app.db'}" if database == "sqlite" else server_database(database)
    project, head = deploy_project(make_project, url, variant)
    with_revisions(project, ("slow", SLOW.format(head=head, wait=SLEEP_IN_PYTHON)))

    env, command = dockerfile(project.path)
    port = free_port()
    log = tmp_path / "start.log"
    with started(project, as_pid_1(command), log, **env, SECRET_KEY="k", PORT=str(port)) as server:
        wait_for_output(server, f"Running upgrade {head} -> slow")
        assert stops_in_time(server, lambda: os.kill(first_process(server), signal.SIGTERM))
    output = log.read_text()
    assert output.splitlines()[-1] == (
        f"FAILED: stopped by SIGTERM: nothing was applied; the database is at {head}"
    )
    assert "Traceback" not in output
    assert "gunicorn" not in output and nothing_listens(port)
    assert "slow_table" not in tables(url)
    assert values(url, "SELECT version_num FROM alembic_version") == [head]
    # The lock is free: a run that may not wait for it takes it.
    project.migrate("-x", "lock_timeout=0", "upgrade", head)


# A revision whose one statement runs long on a MySQL or MariaDB server.
SLOW_STATEMENT = '''\
"""Take long on the server."""

from alembic import op

revision = "slow"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Upgrade the schema."""
    op.execute("SELECT SLEEP(600)")


def downgrade() -> None:
    """Downgrade the schema."""
'''


@pytest.mark.server
def test_sigterm_on_mysql_ends_the_running_statement_and_frees_the_lock(
    make_project: Callable[..., Project],
    server_database: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """MySQL runs a statement to its end after its client went away, and holds the
    migration lock meanwhile: the stopped run ends that session, so the next run starts
    at once."""
    url = server_database("mysql")
    project, head = deploy_project(make_project, url, "mysql")
    with_revisions(project, ("slow", SLOW_STATEMENT.format(head=head)))
    command = ["python", "manage.py", "migrate", "upgrade"]
    with started(project, command, tmp_path / "migrate.log") as server:
        wait_for_output(server, f"Running upgrade {head} -> slow")
        assert stops_in_time(server, lambda: server.process.send_signal(signal.SIGTERM))
    assert server.log.read_text().splitlines()[-1] == (
        "FAILED: stopped by SIGTERM: the revisions finished before it stay (MySQL and MariaDB"
        f" commit each one); the database is at {head}"
    )
    project.migrate("-x", "lock_timeout=0", "upgrade", head)


def oldest_psycopg(project: Project) -> str:
    """The oldest psycopg release the project's pyproject.toml allows, as a pip requirement
    (`>=3.2` gives `psycopg[binary]==3.2.*`: its newest bug-fix release)."""
    dependencies = tomllib.loads((project.path / "pyproject.toml").read_text())["project"]
    [requirement] = [
        Requirement(line)
        for line in dependencies["dependencies"]
        if Requirement(line).name == "psycopg"
    ]
    [floor] = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return f"psycopg[{','.join(sorted(requirement.extras))}]=={floor}.*"


@pytest.mark.server
@pytest.mark.parametrize("psycopg", ["newest", "oldest allowed"])
def test_sigterm_on_postgresql_cancels_the_running_statement_and_frees_the_lock(
    make_project: Callable[..., Project],
    server_database: Callable[[str], str],
    tmp_path: Path,
    psycopg: str,
) -> None:
    """SIGTERM while the server runs a revision's statement (blocked server-side, not in
    Python): the run exits 143 within STOP_WITHIN seconds, the server's statement ends, the
    transaction rolls back and the migration lock is free, with each psycopg release the
    project allows."""
    url = server_database("postgresql")
    project, head = deploy_project(make_project, url, "postgresql")
    if psycopg == "oldest allowed":
        project.run(str(UV), "pip", "install", "--quiet", oldest_psycopg(project),
                    VIRTUAL_ENV=".venv")  # fmt: skip
    with_revisions(project, ("slow", SLOW.format(head=head, wait=SLEEP_ON_POSTGRESQL)))
    command = ["python", "manage.py", "migrate", "upgrade"]
    with started(project, command, tmp_path / "migrate.log") as server:
        wait_for_output(server, f"Running upgrade {head} -> slow")
        time.sleep(1)  # the revision's pg_sleep is under way
        assert stops_in_time(server, lambda: server.process.send_signal(signal.SIGTERM))
    assert server.log.read_text().splitlines()[-1] == (
        f"FAILED: stopped by SIGTERM: nothing was applied; the database is at {head}"
    )
    assert "slow_table" not in tables(url)
    assert values(url, "SELECT version_num FROM alembic_version") == [head]
    # The lock is free at once: a run that may not wait for it takes it.
    project.migrate("-x", "lock_timeout=0", "upgrade", head)
    sleeping = (
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND query LIKE 'SELECT pg_sleep(600)%'"
    )
    assert values(url, sleeping) == [0]


def test_start_waits_for_an_operator_when_the_database_needs_a_repair(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    """`migrate upgrade` exits 3 (a revision MySQL applied part-way, for `migrate repair`):
    start.sh says that it waits, and waits, instead of exiting into a crash loop, until
    SIGTERM; gunicorn never starts."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    project, head = deploy_project(make_project, url, "defaults")
    with_revisions(project, ("needs_repair", NEEDS_REPAIR.format(head=head)))

    env, command = dockerfile(project.path)
    port = free_port()
    log = tmp_path / "start.log"
    with started(project, as_pid_1(command), log, **env, SECRET_KEY="k", PORT=str(port)) as server:
        wait_for_output(server, "start.sh:")
        assert server.process.poll() is None, "it waits"
        os.kill(first_process(server), signal.SIGTERM)
        assert server.process.wait(timeout=60) == 143
    assert log.read_text().splitlines()[-2:] == [
        "FAILED: (the reason, and `python manage.py migrate repair`)",
        (
            "start.sh: not serving; waiting for an operator to repair the database (see above)"
            " and restart the app"
        ),
    ]
    assert nothing_listens(port)
