"""Unit tests of flask_alembic_runtime, the library in src/: it is imported directly, on
small real Flask apps, SQLite files and the PostgreSQL and MariaDB servers. (A package, so
that its test modules do not clash by name with the end-to-end ones in tests/.)"""
