"""Alembic environment: runs migrations on the connection closedloop hands over.

The revision is kept in ``closedloop_alembic_version``, not Alembic's default table, so
another Alembic user (Optuna's RDB storage) can share the database.
"""

from __future__ import annotations

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from closedloop.metadata._sql._version_table import move_legacy_revision
from closedloop.metadata._sql.tables import VERSION_TABLE

config = context.config
connection = config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, version_table=VERSION_TABLE, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:  # the alembic command line, pointed at a URL with -x url=...
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database URL: alembic -x url=sqlite:///path/closedloop.db ...")
    engine = create_engine(url)
    with engine.connect() as conn, conn.begin():
        move_legacy_revision(conn, ScriptDirectory.from_config(config))
        context.configure(connection=conn, version_table=VERSION_TABLE, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
