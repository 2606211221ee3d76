"""The deploy path of a generated project: settings from the environment, `/health`, the
container files (Dockerfile, compose.yaml) and their start command, run on this machine
against the local servers, two replicas at once; and uv as first-class as pip."""

import json
import re
import shlex
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import SLOW_ONCE, UV, Project, render, run, tables, values, with_revisions
from linters import check_jsonschema, hadolint
from variants import VARIANTS

# Reads an environment variable by a literal name: os.environ.get("X"), os.environ["X"],
# or ${X...} in a shell script.
READS_VARIABLE = re.compile(
    r'os\.environ(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]*)"|\$\{([A-Z][A-Z0-9_]*)'
)

# What the app answers on /health, asked with Flask's test client in the project.
HEALTH = """\
import json
from my_flask_app import create_app
response = create_app().test_client().get("/health")
print(response.status_code, json.dumps(response.json))
"""


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
    """GET /health on a server on this machine: the status and the JSON body."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
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
    """Poll /health until it answers 200 (at most two minutes); the body it answered."""
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


def test_health_says_whether_the_database_is_reachable_and_migrated(tmp_path: Path) -> None:
    project = Project(render(tmp_path / "project")).install()
    project.env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'app.db'}"
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")

    def ask(**env: str) -> tuple[int, dict[str, object]]:
        status, body = project.run("python", "-c", HEALTH, **env).stdout.split(" ", 1)
        return int(status), json.loads(body)

    fix = "not at the newest revision: run `python manage.py migrate upgrade`"
    assert ask() == (503, {"healthy": False, "databases": {"default": fix}})
    project.migrate("upgrade")
    assert ask() == (200, {"healthy": True, "databases": {"default": "ok"}})
    nowhere = f"sqlite:///{tmp_path / 'no_such_folder' / 'app.db'}"
    assert ask(DATABASE_URL=nowhere) == (
        503,
        {"healthy": False, "databases": {"default": "unreachable (OperationalError)"}},
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    project = Project(render(tmp_path / "project")).install()
    scratch = f"sqlite:///{tmp_path / 'scratch.db'}"
    project.migrate(
        "revision", "--autogenerate", "-m", "create users and posts", DATABASE_URL=scratch
    )
    url = f"sqlite:///{tmp_path / 'app.db'}"
    env, command = dockerfile(project.path)
    assert env["APP_ENV"] == "production"
    result = project.run(*command, ok=False, DATABASE_URL=url, **env)
    assert result.stderr.splitlines() == [
        (
            "FAILED: SECRET_KEY is not set (APP_ENV=production): set it to a long random value,"
            ' e.g. the output of `python -c "import secrets; print(secrets.token_hex())"`'
        )
    ]
    assert not (tmp_path / "app.db").exists(), "nothing ran before the refusal"
    # In development an unset key is a random one, new at each start.
    keys = "from my_flask_app import create_app; print(create_app().secret_key)"
    first, second = (project.run("python", "-c", keys).stdout for _ in range(2))
    assert len(first.strip()) == 64 and first != second


def test_log_level_sets_what_the_app_logs(tmp_path: Path) -> None:
    project = Project(render(tmp_path / "project")).install()
    logs = (
        "import logging; from my_flask_app import create_app; create_app(); "
        "log = logging.getLogger('my_flask_app.views'); log.info('seen'); log.debug('detail')"
    )
    assert project.run("python", "-c", logs).stderr.splitlines()[-1].endswith("seen")
    assert "detail" in project.run("python", "-c", logs, LOG_LEVEL="DEBUG").stderr
    assert "seen" not in project.run("python", "-c", logs, LOG_LEVEL="WARNING").stderr


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
            assert body == {"healthy": True, "databases": {"default": "ok"}}
    output = "".join(server.log.read_text() for server in replicas.values())
    assert output.count(f"Running upgrade  -> {head}") == 1, output
    assert output.count(f"Running upgrade {head} -> slow_once") == 1, output
    assert "Booting worker" in output  # gunicorn served /health, in both
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
    """The Dockerfile's two install steps, run here with pip as in python:3.12-slim: the
    first stage builds a wheel of every dependency (the library's from its git pin), the
    final one installs them with no index and no git, and the app's commands work."""
    project = render(tmp_path / "project")
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
        shell = step.replace("/wheels", str(wheels)).replace("requirements.txt", str(requirements))
        run(["sh", "-c", shell], cwd, {"PATH": f"{venv / 'bin'}:/usr/bin:/bin"})
    assert any(wheels.glob("flask_alembic_runtime-*.whl"))
    final = tmp_path / "final" / "bin"
    routes = run([final / "flask", "--app", "my_flask_app", "routes"], project, {})
    assert "/health" in routes.stdout
    heads = run([final / "python", "manage.py", "migrate", "heads"], project, {})
    assert heads.returncode == 0
    assert (final / "gunicorn").exists()
