"""Which store serves the workspace, whether it takes writes, and how far behind its
standbys are (or this standby is), where PostgreSQL lets us read it."""

from __future__ import annotations

from typing import Any

from kuznia.services.store import Store
from kuznia.store.engine import HEAD

SCHEMA_REVISION = HEAD  # the newest schema this Kuznia knows (its stores are upgraded to it)


def store_health(store: Store) -> dict[str, Any]:
    """``store`` (sqlite, postgresql), ``writable``, and for PostgreSQL ``role``
    (primary, standby) and ``replication``: on a primary its standbys' state, sync state
    and replay lag in seconds (``pg_stat_replication``; null where this account may not
    read them), on a standby the age of the last transaction it replayed
    (``pg_last_xact_replay_timestamp``). Raises when the store cannot be reached."""
    if store.dialect != "postgresql":
        with store.read() as conn:  # the file answers
            conn.exec_driver_sql("SELECT 1").scalar()
        return {"store": store.dialect, "writable": not store.read_only, "role": None,
                "replication": None}
    with store.read() as conn:
        standby, read_only = conn.exec_driver_sql(
            "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").one()
        if standby:
            lag = conn.exec_driver_sql(
                "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())").scalar()
            replication: dict[str, Any] = {
                "replay_lag_seconds": None if lag is None else float(lag)}
        else:
            rows = conn.exec_driver_sql(
                "SELECT state, sync_state, EXTRACT(EPOCH FROM replay_lag) "
                "FROM pg_stat_replication ORDER BY sync_state, state").all()
            replication = {"standbys": [
                {"state": r[0], "sync_state": r[1],
                 "replay_lag_seconds": None if r[2] is None else float(r[2])} for r in rows]}
    return {"store": "postgresql", "writable": not standby and read_only == "off",
            "role": "standby" if standby else "primary", "replication": replication}
