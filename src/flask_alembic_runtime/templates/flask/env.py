"""Alembic's migration environment: its settings, then one call that runs the
migrations on every database of the Flask app (flask_alembic_runtime.run_migrations).

Outside an app context the app is found as `flask` finds it (--app, FLASK_APP,
.flaskenv, app.py or wsgi.py); pass `run_migrations` the app, or a function that makes
it, to name it here instead.
"""

from flask_alembic_runtime import run_migrations

run_migrations(
    # One run at a time per database: the lock's name, and the seconds a run waits for it.
    lock_name="migrations",
    lock_timeout=3600,
    # Options for Alembic's context.configure(), for every database: see Alembic's docs.
    compare_server_default=True,
)
