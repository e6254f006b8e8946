"""Insider-risk flags over the vault's access log: many documents taken by one account in
a short time, copies taken outside working hours, copies taken shortly before their
licence expires, repeated refusals for one account. Thresholds: ``[vault]`` in the red
flags' config. The account is named in the flag's ``reference`` (and its text); no
producer is named, so a producer's account never sees these flags."""

from __future__ import annotations

import datetime as dt
import shlex
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from kuznia.analytics import oversight as tests
from kuznia.store.schema import licences, vault_access

API = "/api/v1/vault/log"
CODES = {"vault_burst": "high", "vault_after_hours": "medium",
         "vault_before_expiry": "medium", "vault_refusals": "high"}


def _when(at: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(at)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def vault_flags(conn: Connection, cfg: dict[str, Any], in_period: Any,
                make: Any) -> list[dict[str, Any]]:
    """The flags, made with ``make`` (``oversight._flag``); ``in_period(date)`` says
    whether a day is judged."""
    v = cfg["vault"]
    c = vault_access.c
    rows = [r for r in conn.execute(
        select(c.access_id, c.at, c.account, c.doc_id, c.licence_id, c.outcome, c.copy_id,
               c.reason,
               licences.c.expires_on)
        .outerjoin(licences, licences.c.licence_id == c.licence_id)
        .where(c.outcome.in_(("copy", "refused"))).order_by(c.at, c.access_id))
        if in_period(_when(r.at).date())]
    out: list[dict[str, Any]] = []
    evidence = {"command": shlex.join(["kuznia", "vault", "log", "--json"]), "api": API}
    by_account: dict[str, list[Any]] = {}
    for r in rows:
        by_account.setdefault(r.account, []).append(r)
    for account, mine in sorted(by_account.items()):
        copies = [r for r in mine if r.outcome == "copy"]
        refused = [r for r in mine if r.outcome == "refused"]
        ref = {"account": account}
        if copies:
            seconds = np.array([_when(r.at).timestamp() for r in copies])
            docs = len({r.doc_id for r in copies})
            most, first = tests.most_in_window(seconds, v["burst_hours"] * 3600.0)
            if docs >= v["burst_documents"] and most >= v["burst_documents"]:
                window = copies[first:first + most]
                n_docs = len({r.doc_id for r in window})
                if n_docs >= v["burst_documents"]:
                    out.append(make(
                        "vault_burst",
                        f"{account} took copies of {n_docs} documents within "
                        f"{v['burst_hours']:g} hours, from {window[0].at}",
                        value=n_docs, threshold=v["burst_documents"],
                        reference={**ref, "from": window[0].at, "to": window[-1].at},
                        severity=CODES["vault_burst"], **evidence))
            times = [_when(r.at) for r in copies]
            hours = np.array([t.hour + t.minute / 60 for t in times])
            weekday = np.array([t.weekday() for t in times])
            late = tests.outside_hours(hours, weekday, v["work_start_hour"],
                                       v["work_end_hour"])
            if late.any():
                idx = np.flatnonzero(late)
                out.append(make(
                    "vault_after_hours",
                    f"{account} took {idx.size} copies outside working hours "
                    f"({v['work_start_hour']:g}:00-{v['work_end_hour']:g}:00 UTC on working "
                    f"days), the first at {copies[int(idx[0])].at}",
                    value=int(idx.size), threshold=0,
                    reference={**ref, "copies": [copies[int(i)].copy_id for i in idx[:20]]},
                    severity=CODES["vault_after_hours"], **evidence))
            close = []
            for r in copies:
                if r.expires_on is None:
                    continue
                ends = dt.date.fromisoformat(str(r.expires_on)[:10])
                left = (ends - _when(r.at).date()).days
                if 0 <= left <= v["expiry_days"]:
                    close.append((r, left))
            if close:
                r, left = close[0]
                out.append(make(
                    "vault_before_expiry",
                    f"{account} took {len(close)} copies in the last {v['expiry_days']:g} "
                    f"days of their licence (the first {left} days before licence "
                    f"{r.licence_id} expired)",
                    value=len(close), threshold=v["expiry_days"],
                    reference={**ref, "copies": [x.copy_id for x, _ in close[:20]]},
                    severity=CODES["vault_before_expiry"], **evidence))
        if refused:
            seconds = np.array([_when(r.at).timestamp() for r in refused])
            most, first = tests.most_in_window(seconds, v["refusal_days"] * 86400.0)
            if most >= v["refusals"]:
                out.append(make(
                    "vault_refusals",
                    f"{account} was refused {most} times within {v['refusal_days']:g} days, "
                    f"from {refused[first].at} (the last: {refused[first + most - 1].reason})",
                    value=most, threshold=v["refusals"],
                    reference={**ref, "from": refused[first].at},
                    severity=CODES["vault_refusals"], **evidence))
    return out
