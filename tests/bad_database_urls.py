"""DATABASE_URL values SQLAlchemy cannot use, and the one line `migrate` answers each with:
shared by the library's unit tests (tests/library/test_errors.py) and the generated
projects' (tests/test_migrate_cli.py), which each add a driver their environment lacks."""

EXAMPLES = "e.g. sqlite:///app.db or postgresql://user@localhost/app"

BAD_URLS = [
    ("nope://x", ("FAILED: DATABASE_URL=nope://x is not a database URL SQLAlchemy can use"
     f" (Can't load plugin: sqlalchemy.dialects:nope): {EXAMPLES}")),
    ("garbage", ("FAILED: DATABASE_URL=garbage is not a database URL SQLAlchemy can use"
     f" (Could not parse SQLAlchemy URL from given URL string): {EXAMPLES}")),
    ("mysql+nodriver://u:secret@localhost/x", ("FAILED: DATABASE_URL=mysql+nodriver://u:***"
     "@localhost/x is not a database URL SQLAlchemy can use (Can't load plugin:"
     f" sqlalchemy.dialects:mysql.nodriver): {EXAMPLES}")),
    # A password's raw "@", ":" or "/": the URL is cut in the wrong places. The password
    # is masked all the same.
    ("postgresql://u:p@ss:w/rd%@127.0.0.1/db", ("FAILED: DATABASE_URL=postgresql://u:***"
     "@127.0.0.1/db does not parse: its port 'w' is no number (in a password, write @ : / %"
     " as %40 %3A %2F %25)")),
    ("postgresql://u@127.0.0.1:abc/db", ("FAILED: DATABASE_URL=postgresql://u@127.0.0.1:abc/db"
     " does not parse: its port 'abc' is no number (in a password, write @ : / % as %40 %3A"
     " %2F %25)")),
]  # fmt: skip
