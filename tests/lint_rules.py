"""The lint rules' cases, shared by the library's unit tests (tests/library/test_lint.py)
and the generated projects' (tests/test_lint.py)."""

# Each rule: a revision that breaks it (its flagged operation on the first line of the
# upgrade), the downgrade that goes with it, and safe forms that must lint clean.
RULES = {
    "drop-add-rename": (
        (
            'op.drop_column("users", "name")\n'
            'op.add_column("users", sa.Column("full_name", sa.String(length=100)))'
        ),
        'op.add_column("users", sa.Column("name", sa.VARCHAR(length=100)))',
        ['op.alter_column("users", "name", new_column_name="full_name")'],
    ),
    "drop-table": ('op.drop_table("posts")', "pass", []),
    "drop-column": ('op.drop_column("posts", "title")', "pass", []),
    "not-null-without-default": (
        'op.add_column("users", sa.Column("age", sa.Integer(), nullable=False))',
        "pass",
        [
            'op.add_column("users", sa.Column("age", sa.Integer(), nullable=True))',
            'op.add_column("users", sa.Column("age", sa.Integer(), server_default="0"))',
            (
                'op.create_table("ages", sa.Column("age", sa.Integer(), nullable=False))\n'
                'op.add_column("ages", sa.Column("year", sa.Integer(), nullable=False))'
            ),
        ],
    ),
    "unnamed-constraint": (
        'op.create_unique_constraint(None, "users", ["email"])',
        'op.drop_constraint(None, "users", type_="unique")',
        [
            'op.create_unique_constraint("uq_users_email", "users", ["email"])',
            'op.create_unique_constraint(op.f("uq_users_email"), "users", ["email"])',
        ],
    ),
    "narrowed-type": (
        'op.alter_column("posts", "title", existing_type=sa.String(200), type_=sa.String(50))',
        "pass",
        [
            'op.alter_column("posts", "title", existing_type=sa.String(200), type_=sa.Text())',
            'op.alter_column("users", "id", existing_type=sa.Integer(), type_=sa.BigInteger())',
        ],
    ),
}
