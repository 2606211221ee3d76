"""A generated project's SECRET_KEY, one per deployment: in development, unset, a key kept
in the instance folder that every gunicorn worker and every restart share; in production
the server refuses to start without one, while `migrate` needs none; APP_ENV takes only
its documented values."""

import concurrent.futures
import json
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from test_deploy import dockerfile, free_port, started

from helpers import UV, Project, tables

# A WSGI module the test adds to the project: the app, plus two views that use its session.
# /whoami takes a moment, so that two requests sent together go to two workers.
PROBE = """\
import os
import time

from flask import session

from my_flask_app import create_app

app = create_app()


@app.get("/login")
def login():
    session["user"] = "ada"
    return "logged in"


@app.get("/whoami")
def whoami():
    time.sleep(0.5)
    return {"user": session.get("user"), "worker": os.getpid()}
"""

SECRET_KEY_MISSING = (
    "FAILED: SECRET_KEY is not set (APP_ENV=production): set it to a long random value, e.g. "
    'the output of `python -c "import secrets; print(secrets.token_hex())"`'
)


def with_gunicorn(make_project: Callable[..., Project]) -> Project:
    """A new project, installed with its deploy extra (gunicorn)."""
    project = make_project()
    project.run(str(UV), "pip", "install", "--quiet", "-e", ".[dev,deploy]", VIRTUAL_ENV=".venv")
    return project


def get(port: int, path: str, cookie: str = "") -> tuple[str, str]:
    """GET `path`: the body, and the session cookie it set (else `cookie`)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if cookie:
        request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=30) as response:
        set_cookie = response.headers.get("Set-Cookie", "")
        return response.read().decode(), set_cookie.split(";")[0] or cookie


def log_in(port: int) -> str:
    """The session cookie of /login, once the server answers (at most a minute)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return get(port, "/login")[1]
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_two_workers_and_a_restart_share_the_development_key(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = with_gunicorn(make_project)
    (project.path / "probe.py").write_text(PROBE)
    gunicorn = ["gunicorn", "--workers", "2", "probe:app"]
    users, workers = [], {}
    for start in ("first", "restart"):
        port = free_port()
        command = [*gunicorn, "--bind", f"127.0.0.1:{port}"]
        with started(project, command, tmp_path / f"{start}.log"):
            if start == "first":
                cookie = log_in(port)
            else:
                log_in(port)  # the server answers; the first start's cookie is used below
            # 20 requests, two at a time: each pair keeps both workers busy.
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                for _ in range(10):
                    pair = [pool.submit(get, port, "/whoami", cookie) for _ in range(2)]
                    for answer in pair:
                        body = json.loads(answer.result()[0])
                        users.append(body["user"])
                        workers.setdefault(start, set()).add(body["worker"])
    assert users == ["ada"] * 40, "every worker, and the restarted server, read the session"
    assert [len(pids) for pids in workers.values()] == [2, 2], "two workers served each start"
    key = project.path / "instance" / "secret_key"
    assert len(key.read_text()) == 64
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert sorted(path.name for path in key.parent.iterdir()) == ["secret_key"]


def test_production_refuses_to_serve_without_a_key_but_migrates(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = with_gunicorn(make_project)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    env, command = dockerfile(project.path)
    assert env["APP_ENV"] == "production"
    project.env.update(env, DATABASE_URL=url)
    project.migrate("revision", "--autogenerate", "-m", "create users and posts")
    # The container's start: the migration runs, gunicorn refuses to serve, in one line.
    result = project.run(*command, ok=False, PORT=str(free_port()))
    assert result.returncode == 3  # gunicorn's "worker failed to boot": no restart loop
    assert result.stderr.count("FAILED") == 1
    assert SECRET_KEY_MISSING in result.stderr.splitlines()
    assert {"users", "posts", "alembic_version"} <= tables(url)
    # Migrating alone needs no key.
    assert "(head)" in project.migrate("current").stdout
    assert not (project.path / "instance" / "secret_key").exists()


def test_app_env_takes_only_its_documented_values(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    project = with_gunicorn(make_project)
    for value in ("prod", "Production"):
        refused = (
            f"FAILED: APP_ENV is {value!r}: set it to development or production "
            "(unset: development)"
        )
        result = project.migrate("upgrade", ok=False, APP_ENV=value)
        assert (result.returncode, result.stderr.splitlines()) == (1, [refused])
        # Under gunicorn too: it stops at once instead of restarting its worker.
        port = free_port()
        gunicorn = ["gunicorn", "--bind", f"127.0.0.1:{port}", "my_flask_app:create_app()"]
        result = project.run(*gunicorn, ok=False, APP_ENV=value)
        assert result.returncode == 3
        assert result.stderr.count(refused) == 1
