"""The watchdog's triage: a red flag is a case with a status (new, in review, confirmed,
false alarm) and comments from auditors and analysts.

Both are kept by the flag's key (``oversight.flag_key``: its rule and the records it
names), so that they stand as long as the flag does, however often the flags are
recomputed; a flag that comes back finds its case again. Every status change and every
comment is one audited write (table ``flag_triage``). Producers never see triage: the
adapters call these functions for the roles that may (``oversight.triage``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from kuznia.errors import UsageError
from kuznia.i18n import N_, Plural
from kuznia.services import audit
from kuznia.services.store import Store
from kuznia.store.schema import flag_comments, flag_triage

STATUSES = ("new", "in_review", "confirmed", "false_alarm")
STATUS_WORDS = {"new": "new", "in_review": "in review", "confirmed": "confirmed",
                "false_alarm": "false alarm"}
MAX_COMMENT = 4000
TABLE = "flag_triage"  # the audit events' table, to filter the trail by


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise UsageError(N_("{status} takes one of %(statuses)s, not %(status)s"),
                         params=("status",), statuses=", ".join(STATUSES), status=repr(status))
    return status


def _check_comment(comment: str | None) -> str | None:
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise UsageError(Plural("{comment} takes at most %(num)s character",
                                "{comment} takes at most %(num)s characters", MAX_COMMENT),
                         params=("comment",))
    return text or None


def triage(store: Store, flag: dict[str, Any], actor: str, *, status: str | None = None,
           comment: str | None = None) -> dict[str, Any]:
    """Set ``flag``'s status and/or add a comment, as ``actor``: one transaction, one audit
    event naming the flag, the status before and after, and the comment. Returns the
    flag's case (``case_of``)."""
    new = None if status is None else _check_status(status)
    text = _check_comment(comment)
    if new is None and text is None:
        raise UsageError(N_("give a {status} or a {comment}"), params=("status", "comment"))
    key = flag["key"]
    with store.write() as conn:
        row = conn.execute(select(flag_triage.c.status)
                           .where(flag_triage.c.flag_key == key)).first()
        old = row.status if row else "new"
        changed = new is not None and new != old
        if not changed and text is None:
            return case_of(store, key)  # nothing to record
        event_id = audit.next_event_id(conn)
        at = _now()
        if changed:
            values = {"code": flag["code"], "status": new, "updated_at": at,
                      "updated_by": actor, "event_id": event_id}
            if row is None:
                conn.execute(flag_triage.insert(), {"flag_key": key, **values})
            else:
                conn.execute(flag_triage.update().where(flag_triage.c.flag_key == key),
                             values)
        if text is not None:
            conn.execute(flag_comments.insert(), {"flag_key": key, "at": at, "actor": actor,
                                                  "body": text, "event_id": event_id})
        detail = {"flag": key, "code": flag["code"],
                  **{k: flag.get(k) for k in ("contract_id", "producer_id", "product_id",
                                              "operator", "lot") if flag.get(k)}}
        if changed:
            detail.update({"status_before": old, "status_after": new})
        if text is not None:
            detail["comment"] = text
        audit.append(conn, event_id, actor=actor,
                     action="flag_status" if changed else "flag_comment", table_name=TABLE,
                     rows_added=int(text is not None) + int(changed and row is None),
                     rows_updated=int(changed and row is not None), detail=detail)
    return case_of(store, key)


def statuses(store: Store, keys: Iterable[str]) -> dict[str, str]:
    """Each key's status ("new" for a flag nobody has looked at)."""
    wanted = sorted(set(keys))
    out = dict.fromkeys(wanted, "new")
    with store.read() as conn:
        for i in range(0, len(wanted), 500):  # bounded bind parameters per statement
            out.update(conn.execute(
                select(flag_triage.c.flag_key, flag_triage.c.status)
                .where(flag_triage.c.flag_key.in_(wanted[i:i + 500]))).all())
    return out


def case_of(store: Store, key: str) -> dict[str, Any]:
    """A flag's status, who set it and when, and its comments, oldest first."""
    with store.read() as conn:
        row = conn.execute(select(flag_triage).where(flag_triage.c.flag_key == key)).first()
        comments = [dict(r._mapping) for r in conn.execute(
            select(flag_comments.c.at, flag_comments.c.actor, flag_comments.c.body,
                   flag_comments.c.event_id)
            .where(flag_comments.c.flag_key == key).order_by(flag_comments.c.comment_id))]
    return {"key": key, "status": row.status if row else "new",
            "updated_at": row.updated_at if row else None,
            "updated_by": row.updated_by if row else None,
            "event_id": row.event_id if row else None, "comments": comments}


def with_status(flags: list[dict[str, Any]], store: Store) -> list[dict[str, Any]]:
    """Copies of ``flags``, each with its ``status``."""
    known = statuses(store, (f["key"] for f in flags))
    return [{**f, "status": known[f["key"]]} for f in flags]


FLAG_COLUMNS = ("key", "severity", "code", "status", "contract_id", "delivery_id",
                "producer_id", "product_id", "operator", "lot", "value", "threshold", "text")


def flag_rows(flags: list[dict[str, Any]]) -> Iterable[list[Any]]:
    """The flags (with status) as CSV rows, header first: words, not codes, for the rule
    and status; a threshold of several parts as "name value; ...". Cells are neutralised
    by the writer."""
    yield list(FLAG_COLUMNS)
    for f in flags:
        threshold = f["threshold"]
        if isinstance(threshold, dict):
            threshold = "; ".join(f"{k} {v}" for k, v in threshold.items())
        yield [f["key"], f["severity"], f["code"].replace("_", " "),
               STATUS_WORDS[f.get("status", "new")],
               *[f.get(k) for k in ("contract_id", "delivery_id", "producer_id",
                                    "product_id", "operator", "lot", "value")],
               threshold, f["text"]]
