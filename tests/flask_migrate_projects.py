"""Flask-Migrate projects in the shapes real ones have, for the adoption tests.

Written for this suite after reading how public Flask-Migrate apps are laid out (the
best-known tutorial's package, cookiecutter-flask, single-module apps, models packages);
no public app's code is copied. Each project pins the older releases it was built with,
and its history is written by `flask db migrate` under SQLAlchemy 2.0, in three steps:
the first models, then STEP_2 and STEP_3 edits to them.
"""

from dataclasses import dataclass, field

# What such projects pin in requirements.txt: built before SQLAlchemy 2.1 (the Flask 2 era's
# pins are LEGACY's, below; older than the library supports are refused: test_adopt).
OLD_PINS = """\
flask==3.0.3
flask-sqlalchemy==3.1.1
flask-migrate==4.0.7
sqlalchemy==2.0.36
alembic==1.16.5
python-dotenv==1.0.1
psycopg[binary]==3.2.3
pymysql==1.1.1
"""

README = "# {name}\n\nRun `flask db upgrade`, then `flask run`.\n"
GITIGNORE = "venv/\n.venv/\n__pycache__/\n*.db\nlogs/\n.flaskenv.local\n"
PROCFILE = "web: flask db upgrade && gunicorn wsgi:app\n"


@dataclass
class Layout:
    """A project: its files, the answers that adopt it, and its history's model edits."""

    name: str
    files: dict[str, str]
    app_module: str
    app_style: str
    # The file holding the models, and (old, new) text replacements for history steps 2, 3.
    models: str
    steps: list[tuple[str, str]]
    # FLASK_APP, as the project's .flaskenv or docs set it.
    flask_app: str
    # The app's location the adoption is given (`--data app_module=`), as `flask --app`
    # takes it; None: the README's command as it is, which finds it from .flaskenv.
    app_answer: str | None = None
    # Tables and the rows the project's database holds, inserted after the history.
    rows: dict[str, str] = field(default_factory=dict)
    # What the project calls its SQLAlchemy object.
    db_object: str = "db"
    # Its migration environment (Flask-Migrate's `directory=`), from the root.
    migrations_dir: str = "migrations"
    # A model edit made after the last revision: drift the project brings to its adoption.
    drift: tuple[str, str] | None = None
    # Whether its app upgrades the database whenever it starts.
    migrates_at_start: bool = False
    # Its requirements.txt (unless pyproject.toml declares its dependencies).
    pins: str = OLD_PINS
    # An edit its team made to the env.py that `flask db init` wrote: (old, new) text.
    customised_env: tuple[str, str] | None = None
    # Whether uv.lock records the pins of its pyproject.toml (`uv lock`).
    uv_lock: bool = False
    # Whether it runs plain Alembic (`alembic init`: alembic.ini at its root, and an env.py
    # its team pointed to the app) instead of Flask-Migrate.
    plain_alembic: bool = False

    def all_files(self) -> dict[str, str]:
        """Its files, with the README, .gitignore, Procfile and (unless pyproject.toml
        declares them) the requirements.txt such projects have."""
        pinned = "[project]" in self.files.get("pyproject.toml", "")
        return {
            "README.md": README.format(name=self.name),
            ".gitignore": GITIGNORE,
            **({} if pinned else {"requirements.txt": self.pins}),
            "Procfile": PROCFILE,
            ".flaskenv": f"FLASK_APP={self.flask_app}\n",
            **self.files,
        }

    @property
    def settings_ini(self) -> str:
        """Its Alembic settings file: `alembic init`'s at the root, or Flask-Migrate's."""
        return "alembic.ini" if self.plain_alembic else f"{self.migrations_dir}/alembic.ini"

    @property
    def requirements(self) -> str:
        """The file its pins are installed from."""
        return (
            "pyproject.toml" if "requirements.txt" not in self.all_files() else "requirements.txt"
        )


# (a) The tutorial shape: `db` and create_app() in the package __init__.py, which imports
# its models at the bottom; config.py and the FLASK_APP module at the root; SQLite beside.
TUTORIAL = Layout(
    name="microblog",
    app_module="app",
    app_style="factory",
    flask_app="microblog.py",
    files={
        "config.py": """\
import os

basedir = os.path.abspath(os.path.dirname(__file__))


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev"
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or "sqlite:///" + os.path.join(
        basedir, "app.db"
    )
""",
        "microblog.py": """\
from app import create_app, db
from app.models import User

app = create_app()


@app.shell_context_processor
def make_shell_context():
    return {"db": db, "User": User}
""",
        "app/__init__.py": """\
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from config import Config

db = SQLAlchemy()
migrate = Migrate()


def create_app(config_class=Config):
    app = Flask(__name__)
    app.config.from_object(config_class)
    db.init_app(app)
    migrate.init_app(app, db)

    from app.main import bp as main_bp

    app.register_blueprint(main_bp)
    return app


from app import models  # noqa: E402,F401
""",
        "app/main/__init__.py": """\
from flask import Blueprint

bp = Blueprint("main", __name__)

from app.main import routes  # noqa: E402,F401
""",
        "app/main/routes.py": """\
import sqlalchemy as sa

from app import db
from app.main import bp
from app.models import User


@bp.route("/")
def index():
    return {"users": db.session.scalar(sa.select(sa.func.count(User.id)))}
""",
        "app/models.py": """\
from datetime import datetime, timezone
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app import db


class User(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(64), index=True, unique=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(120), index=True, unique=True)
""",
    },
    models="app/models.py",
    steps=[
        (
            "sa.String(120), index=True, unique=True)\n",
            """sa.String(120), index=True, unique=True)
    about_me: so.Mapped[Optional[str]] = so.mapped_column(sa.String(140))


class Post(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    body: so.Mapped[str] = so.mapped_column(sa.String(140))
    timestamp: so.Mapped[datetime] = so.mapped_column(
        index=True, default=lambda: datetime.now(timezone.utc)
    )
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey(User.id), index=True)
""",
        ),
        (
            "index=True)\n",
            "index=True)\n    score: so.Mapped[float] = so.mapped_column(server_default='0')\n",
        ),
    ],
    rows={
        "user": "INSERT INTO user (id, username, email) VALUES (1, 'susan', 's@example.com')",
        "post": "INSERT INTO post (id, body, timestamp, user_id, score) "
        "VALUES (1, 'hello', '2024-01-01 10:00:00', 1, 2.5)",
    },
)

# (b) cookiecutter-flask's shape: `db` and `migrate` in extensions.py, create_app() in the
# package's app.py, and autoapp.py at the root holding the app for FLASK_APP.
EXTENSIONS = Layout(
    name="shop",
    app_module="autoapp",
    app_style="module",
    flask_app="autoapp.py",
    files={
        "autoapp.py": """\
from shop.app import create_app

app = create_app()
""",
        "shop/__init__.py": '"""The shop."""\n',
        "shop/settings.py": """\
import os

SQLALCHEMY_DATABASE_URI = os.environ["DATABASE_URL"]
SQLALCHEMY_TRACK_MODIFICATIONS = False
""",
        "shop/extensions.py": """\
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
migrate = Migrate()
""",
        "shop/app.py": """\
from flask import Flask

from shop import models, views
from shop.extensions import db, migrate


def create_app(config_object="shop.settings"):
    app = Flask(__name__.split(".")[0])
    app.config.from_object(config_object)
    db.init_app(app)
    migrate.init_app(app, db)
    app.register_blueprint(views.blueprint)
    return app
""",
        "shop/views.py": """\
from flask import Blueprint

blueprint = Blueprint("public", __name__)


@blueprint.route("/")
def home():
    return "shop"
""",
        "shop/models.py": """\
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db


class Product(db.Model):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
""",
    },
    models="shop/models.py",
    steps=[
        (
            "unique=True)\n",
            "unique=True)\n    price: Mapped[float]\n",
        ),
        (
            "    price: Mapped[float]\n",
            """    price: Mapped[float]


class Order(db.Model):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(server_default="1")
""",
        ),
    ],
    rows={
        "products": "INSERT INTO products (id, name, price) VALUES (1, 'tea', 3.5)",
        "orders": "INSERT INTO orders (id, product_id, quantity) VALUES (1, 1, 2)",
    },
)

# (c) One module: app.py with a module-level `app` and `db`, and the models beside them.
SINGLE_MODULE = Layout(
    name="notes",
    app_module="app",
    app_style="module",
    flask_app="app.py",
    files={
        "app.py": """\
import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
db = SQLAlchemy(app)
migrate = Migrate(app, db)


class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.Text, nullable=False)


@app.route("/")
def index():
    return {"notes": db.session.query(Note).count()}
""",
    },
    models="app.py",
    steps=[
        (
            "nullable=False)\n",
            "nullable=False)\n    weight = db.Column(db.Float, nullable=False, default=1.0)\n",
        ),
        (
            "default=1.0)\n",
            """default=1.0)


class Tag(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(30), unique=True)
    note_id = db.Column(db.Integer, db.ForeignKey("note.id"))
""",
        ),
    ],
    rows={
        "note": "INSERT INTO note (id, text, weight) VALUES (1, 'milk', 0.5)",
        "tag": "INSERT INTO tag (id, name, note_id) VALUES (1, 'home', 1)",
    },
)

# (d) Models split over a models/ package, the object called `orm`, and a pyproject.toml
# that holds the tools' settings.
MODELS_PACKAGE = Layout(
    name="library",
    app_module="library",
    app_style="factory",
    flask_app="library",
    app_answer="library:create_app",
    files={
        "pyproject.toml": """\
[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.ruff]
line-length = 100
""",
        "library/__init__.py": """\
import os

from flask import Flask
from flask_migrate import Migrate

from library.database import orm


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    orm.init_app(app)
    Migrate(app, orm)
    from library import models  # noqa: F401

    return app
""",
        "library/database.py": """\
from flask_sqlalchemy import SQLAlchemy

orm = SQLAlchemy()
""",
        "library/models/__init__.py": """\
from library.models.author import Author
from library.models.book import Book

__all__ = ["Author", "Book"]
""",
        "library/models/author.py": """\
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from library.database import orm


class Author(orm.Model):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
""",
        "library/models/book.py": """\
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from library.database import orm


class Book(orm.Model):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
""",
    },
    models="library/models/book.py",
    steps=[
        (
            '"authors.id"))\n',
            '"authors.id"))\n    rating: Mapped[float | None]\n',
        ),
        (
            "String(200))\n",
            "String(200), unique=True)\n",
        ),
    ],
    rows={
        "authors": "INSERT INTO authors (id, name) VALUES (1, 'Le Guin')",
        "books": "INSERT INTO books (id, title, author_id, rating) "
        "VALUES (1, 'The Dispossessed', 1, 4.5)",
    },
    db_object="orm",
)

# (e) The factory in a submodule (`tracker.run:create_app`), `db` in models.py, the
# Flask-Migrate environment inside the package, an upgrade() at every start; pins in
# pyproject.toml, with SQLAlchemy held below 2.1 (as an extension that has not moved on
# needs); step 3 drops a column; the models were edited after the last revision.
IN_PACKAGE = Layout(
    name="tracker",
    app_module="tracker.run",
    app_style="factory",
    flask_app="tracker.run:create_app",
    app_answer="tracker.run",
    migrations_dir="tracker/migrations",
    files={
        "pyproject.toml": """\
[project]
name = "tracker"
version = "1.4.0"
requires-python = ">=3.11"
dependencies = [
    "flask==3.0.3",
    "flask-sqlalchemy==3.1.1",
    "flask-migrate==4.0.7",
    "sqlalchemy>=2.0.36,<2.1",  # tracker-audit has not moved to 2.1
    "alembic==1.16.5",
    "python-dotenv==1.0.1",
    "psycopg[binary]==3.2.3",
    "pymysql==1.1.1",
]
""",
        "tracker/__init__.py": '"""Tracker: projects and their tasks."""\n',
        "tracker/models.py": """\
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()


class Board(db.Model):
    __tablename__ = "boards"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    legacy_code: Mapped[str | None] = mapped_column(String(20))


class Task(db.Model):
    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"))
""",
        "tracker/run.py": """\
import os
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate, upgrade

from tracker.models import db

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    db.init_app(app)
    Migrate(app, db, directory=str(MIGRATIONS))
    # Every start brings the database to the newest revision.
    if (MIGRATIONS / "versions").is_dir():
        with app.app_context():
            upgrade(directory=str(MIGRATIONS))
    return app
""",
    },
    models="tracker/models.py",
    steps=[
        (
            'ForeignKey("boards.id"))\n',
            'ForeignKey("boards.id"))\n    done: Mapped[bool] = mapped_column(default=False)\n',
        ),
        ("    legacy_code: Mapped[str | None] = mapped_column(String(20))\n", ""),
    ],
    rows={
        "boards": "INSERT INTO boards (id, name) VALUES (1, 'Launch')",
        "tasks": "INSERT INTO tasks (id, title, board_id, done) VALUES (1, 'Ship it', 1, false)",
    },
    drift=("String(200))\n", "String(200))\n    notes: Mapped[str | None]\n"),
    migrates_at_start=True,
    uv_lock=True,
)

# (f) A mixed-case package from the Flask 2 years: Flask 2.1, Flask-SQLAlchemy 2.5,
# SQLAlchemy 1.4 and Flask-Migrate 3.1 pinned in requirements.txt, models in the classic
# Column style, `Migrate()` initialised with options, and an env.py its team customised.
LEGACY = Layout(
    name="members",
    app_module="AppName",
    app_style="factory",
    flask_app="AppName",
    app_answer="AppName",
    pins="""\
flask==2.1.3
werkzeug==2.1.2
flask-sqlalchemy==2.5.1
sqlalchemy==1.4.54
flask-migrate==3.1.0
alembic==1.13.3
python-dotenv==1.0.1
psycopg2-binary==2.9.10
pymysql==1.1.1
""",
    files={
        "AppName/__init__.py": """\
import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
migrate = Migrate(compare_type=True)


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
    db.init_app(app)
    migrate.init_app(app, db)
    from AppName import models  # noqa: F401

    return app
""",
        "AppName/models.py": """\
from AppName import db


class Member(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(120), unique=True, nullable=False)


class Visit(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    member_id = db.Column(db.Integer, db.ForeignKey("member.id"), nullable=False)
""",
    },
    models="AppName/models.py",
    steps=[
        (
            "unique=True, nullable=False)\n",
            "unique=True, nullable=False)\n    name = db.Column(db.String(80))\n",
        ),
        (
            'db.ForeignKey("member.id"), nullable=False)\n',
            'db.ForeignKey("member.id"), nullable=False)\n    at = db.Column(db.DateTime)\n',
        ),
    ],
    rows={
        "member": "INSERT INTO member (id, email, name) VALUES (1, 'ada@example.org', 'Ada')",
        "visit": "INSERT INTO visit (id, member_id) VALUES (1, 1)",
    },
    customised_env=(
        "    with connectable.connect() as connection:",
        "    # Our team: one connection per run.\n    with connectable.connect() as connection:",
    ),
)

# (h) Plain Alembic, no Flask-Migrate: `alembic init alembic` wrote alembic.ini at the root
# (its script_location names alembic/), and the team's env.py makes the app for its URL and
# models; revisions by `alembic revision --autogenerate`.
PLAIN_ALEMBIC = Layout(
    name="blog",
    app_module="blog",
    app_style="factory",
    flask_app="blog",
    migrations_dir="alembic",
    plain_alembic=True,
    pins=OLD_PINS.replace("flask-migrate==4.0.7\n", ""),
    files={
        "blog/__init__.py": """\
import os

from flask import Flask

from blog.models import db


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    db.init_app(app)
    return app
""",
        "blog/models.py": """\
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class Post(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    body = db.Column(db.Text, nullable=False)
""",
    },
    models="blog/models.py",
    steps=[
        ("nullable=False)\n", "nullable=False)\n    title = db.Column(db.String(100))\n"),
        (
            "db.String(100))\n",
            """db.String(100))


class Comment(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    post_id = db.Column(db.Integer, db.ForeignKey("post.id"), nullable=False)
""",
        ),
    ],
    rows={
        "post": "INSERT INTO post (id, body, title) VALUES (1, 'hello', 'First')",
        "comment": "INSERT INTO comment (id, post_id) VALUES (1, 1)",
    },
)

LAYOUTS = {
    "tutorial": TUTORIAL,
    "extensions": EXTENSIONS,
    "single_module": SINGLE_MODULE,
    "models_package": MODELS_PACKAGE,
    "in_package": IN_PACKAGE,
    "legacy": LEGACY,
    "plain_alembic": PLAIN_ALEMBIC,
}
