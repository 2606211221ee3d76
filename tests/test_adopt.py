"""Adopting the template in an existing Flask-Migrate project: its history is kept, and
`python manage.py migrate` takes over on its existing database."""

from pathlib import Path

from conftest import COPIER, TEMPLATE, UV, Project, commit, run, tables

# A project as `flask db init` users (and cookiecutter-flask) lay it out.
FLASK_MIGRATE_PROJECT = {
    "myshop/__init__.py": """\
import os

from flask import Flask

from .extensions import db, migrate


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    db.init_app(app)
    migrate.init_app(app, db)
    from . import models  # noqa: F401
    return app
""",
    "myshop/extensions.py": """\
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
migrate = Migrate()
""",
    "myshop/models.py": """\
from .extensions import db


class Customer(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50), nullable=False)
""",
}


def test_flask_migrate_project_adopts_the_template(tmp_path: Path) -> None:
    path = tmp_path / "myshop-project"
    for name, text in FLASK_MIGRATE_PROJECT.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    project = Project(path, {"DATABASE_URL": url, "FLASK_APP": "myshop"})
    run([UV, "venv", "--quiet", ".venv"], path, {})
    run([UV, "pip", "install", "--quiet", "--compile-bytecode", "flask-migrate==4.1.0",
         "flask>=3.1,<3.2", "flask-sqlalchemy==3.1.1", "alembic>=1.20,<1.21"], path,
        {"VIRTUAL_ENV": ".venv"})  # fmt: skip

    # The Flask-Migrate history: two revisions, applied.
    project.run("flask", "db", "init")
    project.run("flask", "db", "migrate", "-m", "customers")
    project.run("flask", "db", "upgrade")
    models = path / "myshop" / "models.py"
    models.write_text(models.read_text() + "    email = db.Column(db.String(120))\n")
    project.run("flask", "db", "migrate", "-m", "customer email")
    project.run("flask", "db", "upgrade")
    (path / ".gitignore").write_text(".venv/\n__pycache__/\n")
    run(["git", "init", "--quiet"], path, {})
    commit(path, "A Flask-Migrate project")
    versions = path / "migrations" / "versions"
    history = {p.name: p.read_bytes() for p in versions.iterdir() if p.suffix == ".py"}
    ours = {name: (path / name).read_text() for name in FLASK_MIGRATE_PROJECT}
    head = project.run("flask", "db", "current").stdout.split()[0]

    # The README's adoption command.
    run([COPIER, "copy", "--trust", "--skip-tasks", "--defaults", "--overwrite", "--vcs-ref", "HEAD",
         "--data", "project_name=My Shop", "--data", "app_module=myshop",
         "--skip", "myshop/*", "--skip", "migrations/versions/*", TEMPLATE, "."], path, {})  # fmt: skip
    assert {p.name: p.read_bytes() for p in versions.iterdir() if p.suffix == ".py"} == history
    assert {name: (path / name).read_text() for name in FLASK_MIGRATE_PROJECT} == ours
    assert "from flask import has_app_context" in (path / "migrations" / "env.py").read_text()

    project.install()
    assert project.migrate("current").stdout.strip() == f"{head} (head)"
    project.migrate("upgrade")
    assert "No new upgrade operations detected." in project.migrate("check").stdout
    assert tables(url) == {"alembic_version", "customer"}
    project.migrate("downgrade", "base")
    project.migrate("upgrade")
