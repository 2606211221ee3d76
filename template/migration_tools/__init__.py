"""The project's migration tooling, beside the app: `python manage.py migrate doctor` and
the schema comparison it is built on. manage.py imports it only for the commands that use it."""
