"""The project's migration tooling, beside the app: the `migrate` command (cli.py), its
Alembic settings (config.py), `migrate doctor` and the schema comparison it is built on.
Each module is imported only by the commands that use it."""
