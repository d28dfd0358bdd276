"""closedloop's own version table: drop Alembic's default one if only closedloop used it.

From this revision on the revision is kept in ``closedloop_alembic_version`` (set in
``env.py``), so that Optuna's RDB storage, which keeps its revision in Alembic's default
``alembic_version``, can share the database. Before Alembic runs, the upgrade has copied an
old-layout database's revision into the new table (Alembic cannot read a version table it is
not told about); this revision removes ``alembic_version`` when every row in it is a
closedloop revision, and leaves it alone otherwise (it then belongs to another tool too).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_LEGACY_TABLE = "alembic_version"
_LEGACY_REVISIONS = frozenset({"0001", "0002"})


def upgrade() -> None:
    conn = op.get_bind()
    if not sa.inspect(conn).has_table(_LEGACY_TABLE):
        return
    rows = {str(r[0]) for r in conn.execute(sa.text(f"SELECT version_num FROM {_LEGACY_TABLE}"))}
    if rows <= _LEGACY_REVISIONS:
        op.drop_table(_LEGACY_TABLE)


def downgrade() -> None:
    # Give closedloop releases before 0003, which read Alembic's default table, their
    # revision back, unless another tool owns that table.
    conn = op.get_bind()
    if sa.inspect(conn).has_table(_LEGACY_TABLE):
        return
    legacy = op.create_table(
        _LEGACY_TABLE,
        sa.Column("version_num", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("version_num", name=f"{_LEGACY_TABLE}_pkc"),
    )
    op.bulk_insert(legacy, [{"version_num": down_revision}])
