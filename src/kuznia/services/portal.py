"""The producers' portal: a producer answers the blocks of its board (text, and a PDF such
as an 8D report), the ministry replies, and a producer sends its own offers.

Scope: a producer reads and writes only its own threads and offers; a block, thread or
attachment of another producer answers as if it did not exist (``NotFoundError``). Every
answer, reply and sending of offers is one transaction with one audit event, which records
the "portal" digest (``portal_digest``) over the three tables the portal keeps, so that the
deep audit finds a row changed outside Kuznia. A visit marker (``thread_visits``) is a read
marker, like a session's last-seen time: neither audited nor in a digest.

Offers sent through the portal are an import into ``offers`` with ``update``: the same
checks and errors (row and column), and a producer's newer offer for a product replaces
its earlier one (the table keeps one offer per product and producer; the audit trail and
``row_updates`` keep the earlier). ``effects_per_unit`` is the ministry's estimate and
stays empty in a producer's offer (the planner then uses the rate measured from the uses).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterable
from typing import Any, BinaryIO

import polars as pl
from sqlalchemy import Connection, and_, select

from kuznia.errors import InputError, NotFoundError, RowProblem, UsageError
from kuznia.i18n import N_, Plural, Text
from kuznia.ingest.readers import LINE
from kuznia.ingest.tables import SPECS
from kuznia.services import audit
from kuznia.services.imports import ImportResult, import_file, read_checked
from kuznia.services.store import Store
from kuznia.store.digest import TableDigest
from kuznia.store.schema import (
    attachments,
    audit_events,
    block_messages,
    offer_submissions,
    offers,
    thread_visits,
)
from kuznia.store.tuples import tuples
from kuznia.words import LABELS

MAX_BODY = 4000  # characters of an answer or a reply
MAX_PDF = 10 * 1024 * 1024  # bytes of an attachment
PDF_MAGIC = b"%PDF-"
PDF_TYPE = "application/pdf"
TABLE = "block_messages"  # the audit events' table for answers and replies
SIDES = ("producer", "ministry")
OFFER_FIELDS = ("product_id", "unit_price", "capacity", "min_order", "lot_size")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# --- digests ------------------------------------------------------------------------------

def portal_digest(conn: Connection) -> TableDigest:
    """The digest of what the portal keeps: messages, attachments (their SHA-256 stands
    for their content, which ``attachment_problems`` checks) and offer sendings."""
    total = TableDigest()
    for query in (
            "SELECT CAST(message_id AS TEXT), producer_id, kind, ref, product_id, at, actor, "
            "side, body, CAST(event_id AS TEXT) FROM block_messages ORDER BY message_id",
            "SELECT CAST(message_id AS TEXT), file_name, content_type, CAST(size AS TEXT), "
            "sha256, CAST(event_id AS TEXT) FROM attachments ORDER BY message_id",
            "SELECT CAST(event_id AS TEXT), producer_id, actor, at, via, "
            "COALESCE(file_name, ''), file_sha256, CAST(rows AS TEXT) FROM offer_submissions "
            "ORDER BY event_id"):
        total = total + audit._small_table_digest(conn, query)
    return total


def attachment_problems(conn: Connection) -> int | None:
    """The first attachment whose content does not match its SHA-256 (or size), if any."""
    a = attachments.c
    for mid, content, sha, size in tuples(conn.execute(
            select(a.message_id, a.content, a.sha256, a.size).order_by(a.message_id))):
        try:
            data = base64.b64decode(content, validate=True)
        except ValueError:
            return int(mid)
        if hashlib.sha256(data).hexdigest() != sha or len(data) != size:
            return int(mid)
    return None


def _record(conn: Connection, event_id: int, **detail: Any) -> dict[str, Any]:
    return {**detail, "digests": {"portal": portal_digest(conn).to_dict()}}


# --- attachments --------------------------------------------------------------------------

def safe_name(name: str | None) -> str:
    """An upload's name as kept and served: its last path part, printable characters only
    (no quotes or semicolons to break a header), at most 120, ending in .pdf.

    >>> safe_name("../../etc/8D report; x.PDF")
    '8D report x.pdf'
    >>> safe_name("C:\\\\temp\\\\a.pdf")
    'a.pdf'
    """
    last = re.split(r"[\\/]", name or "")[-1]
    kept = "".join(c for c in last if c.isprintable() and c not in '"\';<>`')
    kept = re.sub(r"\s+", " ", kept).strip()
    stem = kept[:-4] if kept.lower().endswith(".pdf") else kept
    return (stem.strip(" .")[:116] or "attachment") + ".pdf"


def check_pdf(name: str | None, data: bytes) -> tuple[str, str]:
    """A PDF fit to keep: its safe name and SHA-256; else a ``UsageError`` about the
    ``attachment`` field."""
    if len(data) > MAX_PDF:
        raise UsageError(Plural("the {attachment} is %(num)s byte; at most %(most)s MB",
                                "the {attachment} is %(num)s bytes; at most %(most)s MB",
                                len(data), most=MAX_PDF // (1024 * 1024)),
                         params=("attachment",))
    if not data.startswith(PDF_MAGIC):
        raise UsageError(N_("the {attachment} is not a PDF (a PDF file starts with %PDF-); "
                            "send the report as PDF"), params=("attachment",))
    return safe_name(name), hashlib.sha256(data).hexdigest()


# --- threads ------------------------------------------------------------------------------

def _check_body(body: str | None) -> str:
    text = (body or "").strip()
    if not text:
        raise UsageError(N_("the {body} is empty: say what was done or what is planned"),
                         params=("body",))
    if len(text) > MAX_BODY:
        raise UsageError(Plural("the {body} takes at most %(num)s character",
                                "the {body} takes at most %(num)s characters", MAX_BODY),
                         params=("body",))
    return text


def _messages(conn: Connection, where: Any) -> list[dict[str, Any]]:
    m, a = block_messages.c, attachments.c
    q = (select(m.message_id, m.producer_id, m.kind, m.ref, m.product_id, m.at, m.actor,
                m.side, m.body, m.event_id, a.file_name, a.size, a.sha256)
         .select_from(block_messages.outerjoin(attachments, a.message_id == m.message_id))
         .where(where).order_by(m.message_id))
    out = []
    for r in conn.execute(q):
        row = dict(r._mapping)
        file_name, size, sha = row.pop("file_name"), row.pop("size"), row.pop("sha256")
        row["attachment"] = None if file_name is None else {
            "file_name": file_name, "size": int(size), "sha256": sha,
            "href": f"/portal/attachments/{row['message_id']}"}
        out.append(row)
    return out


def threads(store: Store, producer: str | None = None) -> dict[tuple[str, str, str],
                                                              list[dict[str, Any]]]:
    """Every thread (of one producer, or all), by (producer, kind, ref), oldest first."""
    m = block_messages.c
    with store.read() as conn:
        rows = _messages(conn, m.producer_id == producer if producer else m.message_id > 0)
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["producer_id"], r["kind"], r["ref"]), []).append(r)
    return out


def find_block(store: Store, producer: str, kind: str, ref: str) -> dict[str, Any]:
    """The block ``kind``/``ref`` on ``producer``'s own board, else ``NotFoundError``."""
    from kuznia.services.board import board

    for b in board(store, producer, scope=producer).blocks:
        if b["kind"] == kind and b["ref"] == ref:
            return b
    raise NotFoundError(N_("no block %(kind)s %(ref)s on the board of producer "
                           "%(producer)s"), kind=Text(LABELS.get(kind, kind)), ref=repr(ref),
                        producer=repr(producer))


def _post(store: Store, *, actor: str, side: str, producer: str, kind: str, ref: str,
          product: str, body: str, pdf: tuple[str, bytes, str] | None) -> dict[str, Any]:
    with store.write() as conn:
        event_id = audit.next_event_id(conn)
        at = _now()
        mid: Any = conn.execute(block_messages.insert().returning(block_messages.c.message_id), {
            "producer_id": producer, "kind": kind, "ref": ref, "product_id": product,
            "at": at, "actor": actor, "side": side, "body": body,
            "event_id": event_id}).scalar_one()
        detail: dict[str, Any] = {"producer_id": producer, "kind": kind, "ref": ref,
                                  "product_id": product, "message_id": int(mid), "body": body}
        if pdf is not None:
            name, data, sha = pdf
            conn.execute(attachments.insert(), {
                "message_id": mid, "file_name": name, "content_type": PDF_TYPE,
                "size": len(data), "sha256": sha,
                "content": base64.b64encode(data).decode(), "event_id": event_id})
            detail["attachment"] = {"file_name": name, "size": len(data), "sha256": sha}
        audit.append(conn, event_id, actor=actor,
                     action="block_answer" if side == "producer" else "block_reply",
                     table_name=TABLE, file_name=pdf[0] if pdf else None,
                     file_sha256=pdf[2] if pdf else None,
                     rows_added=1 + int(pdf is not None),
                     detail=_record(conn, event_id, **detail))
        (row,) = _messages(conn, block_messages.c.message_id == mid)
    return row


def answer(store: Store, *, actor: str, producer: str, kind: str, ref: str, body: str,
           attachment: tuple[str | None, bytes] | None = None) -> dict[str, Any]:
    """``producer``'s answer to a block of its own board (``NotFoundError`` for a block
    not on it), with an optional PDF (name, bytes)."""
    text = _check_body(body)
    pdf = None
    if attachment is not None and attachment[1]:
        name, sha = check_pdf(attachment[0], attachment[1])
        pdf = (name, attachment[1], sha)
    block = find_block(store, producer, kind, ref)
    return _post(store, actor=actor, side="producer", producer=producer, kind=kind, ref=ref,
                 product=block["product_id"], body=text, pdf=pdf)


def reply(store: Store, *, actor: str, producer: str, kind: str, ref: str, body: str
          ) -> dict[str, Any]:
    """The ministry's reply on ``producer``'s thread of a block (the thread, or the block
    on that producer's board, must exist)."""
    text = _check_body(body)
    m = block_messages.c
    with store.read() as conn:
        first = conn.execute(select(m.product_id).where(and_(
            m.producer_id == producer, m.kind == kind, m.ref == ref)).limit(1)).scalar()
    product = first or find_block(store, producer, kind, ref)["product_id"]
    return _post(store, actor=actor, side="ministry", producer=producer, kind=kind, ref=ref,
                 product=product, body=text, pdf=None)


def attachment(store: Store, message_id: int, scope: str | None) -> tuple[str, bytes]:
    """An attachment's name and bytes; a producer (``scope``) gets only its own."""
    m, a = block_messages.c, attachments.c
    with store.read() as conn:
        row = conn.execute(select(a.file_name, a.content, m.producer_id)
                           .select_from(attachments.join(block_messages,
                                                         m.message_id == a.message_id))
                           .where(a.message_id == message_id)).first()
    if row is None or (scope is not None and row.producer_id != scope):
        raise NotFoundError(N_("no attachment %(attachment)s"), attachment=str(message_id))
    return str(row.file_name), base64.b64decode(row.content)


def new_since_last_visit(store: Store, user: str, producer: str, *, mark: bool = True
                         ) -> dict[tuple[str, str], int]:
    """Per thread of ``producer`` (kind, ref), how many messages others wrote since
    ``user`` last looked; with ``mark``, the look is recorded (this is the visit)."""
    m, v = block_messages.c, thread_visits.c
    with store.read() as conn:
        seen = {(k, r): int(s) for k, r, s in tuples(conn.execute(
            select(v.kind, v.ref, v.seen_message_id)
            .where(and_(v.user_name == user, v.producer_id == producer))))}
        rows = list(tuples(conn.execute(select(m.kind, m.ref, m.message_id, m.actor)
                                        .where(m.producer_id == producer))))
    counts: dict[tuple[str, str], int] = {}
    last: dict[tuple[str, str], int] = {}
    for k, r, mid, who in rows:
        last[(k, r)] = max(last.get((k, r), 0), int(mid))
        if who != user and mid > seen.get((k, r), 0):
            counts[(k, r)] = counts.get((k, r), 0) + 1
    moved = {key: mid for key, mid in last.items() if mid > seen.get(key, 0)}
    if mark and moved:
        now = _now()
        with store.write() as conn:
            for (k, r), mid in moved.items():
                values = {"seen_message_id": mid, "seen_at": now}
                done = conn.execute(thread_visits.update().where(and_(
                    v.user_name == user, v.producer_id == producer, v.kind == k,
                    v.ref == r)), values).rowcount
                if not done:
                    conn.execute(thread_visits.insert(), {
                        "user_name": user, "producer_id": producer, "kind": k, "ref": r,
                        **values})
    return counts


# --- offers -------------------------------------------------------------------------------

def _offer_problems(frame: pl.DataFrame, producer: str, name: str) -> list[RowProblem]:
    """Rows naming another producer (answered as an unknown one: another producer's id
    is not the sender's to learn), and rows that set ``effects_per_unit``."""
    out = []
    for line, who, rate in frame.select(LINE, "producer_id", "effects_per_unit").iter_rows():
        if who != producer:
            out.append(RowProblem(name, int(line), "producer_id",
                                  "no such producer among yours: an offer is sent by its "
                                  "own producer", str(who)))
        if rate is not None:
            out.append(RowProblem(name, int(line), "effects_per_unit",
                                  "effects per unit is the ministry's estimate from the "
                                  "uses: leave it empty", str(rate)))
    return out


def submit_offers(store: Store, data: bytes | BinaryIO, *, actor: str, producer: str,
                  name: str, via: str = "upload") -> ImportResult:
    """Import ``producer``'s offers (a CSV or XLSX like ``kuznia import offers`` takes)
    as ``actor``: checked like an import, then each row replaces the producer's earlier
    offer for its product. Raises ``InputError`` naming row and column, storing nothing."""
    raw = data if isinstance(data, bytes) else data.read()
    frame = read_checked(store, "offers", io.BytesIO(raw), name=name)
    problems = _offer_problems(frame, producer, name) if frame.height else []
    if problems:
        raise InputError(name, problems[:20], len(problems),
                         len({p.line for p in problems}))

    def keep(conn: Connection, event_id: int, result: ImportResult) -> dict[str, object]:
        conn.execute(offer_submissions.insert(), {
            "event_id": event_id, "producer_id": producer, "actor": actor, "at": _now(),
            "via": via, "file_name": name, "file_sha256": result.sha256,
            "rows": frame.height})
        return _record(conn, event_id, portal={"producer_id": producer, "via": via})

    return import_file(store, "offers", io.BytesIO(raw), actor=actor, update=True,
                       name=name, also=keep)


def offer_csv(values: dict[str, Any], producer: str) -> bytes:
    """One offer from the portal's form as the CSV an import takes (so it meets the same
    checks), with the sender's producer id."""
    columns = [f.name for f in SPECS["offers"].fields]
    row = {c: "" for c in columns} | {k: str(values.get(k) or "").strip()
                                      for k in OFFER_FIELDS} | {"producer_id": producer}
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerow(row)
    return out.getvalue().encode()


def offers_of(store: Store, producer: str) -> list[dict[str, Any]]:
    """``producer``'s offers as the planner reads them, each with where it came from."""
    o = offers.c
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(o.product_id, o.unit_price, o.capacity, o.min_order, o.lot_size,
                   o.event_id).where(o.producer_id == producer).order_by(o.product_id))]
        origin = origins(conn, [r["event_id"] for r in rows])
    for r in rows:
        r["origin"] = origin.get(r["event_id"])
    return rows


def origins(conn: Connection, event_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Where the rows written by these events came from: sent by a producer's account
    through the portal (how, and when) or imported (by whom, from which file, when)."""
    ids = sorted({int(i) for i in event_ids})
    out: dict[int, dict[str, Any]] = {}
    e, sub = audit_events.c, offer_submissions.c
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for eid, at, actor, file_name in tuples(conn.execute(
                select(e.event_id, e.at, e.actor, e.file_name).where(e.event_id.in_(chunk)))):
            out[int(eid)] = {"source": "import", "actor": actor, "at": at,
                             "file_name": file_name}
        for eid, at, actor, via, file_name in tuples(conn.execute(
                select(sub.event_id, sub.at, sub.actor, sub.via, sub.file_name)
                .where(sub.event_id.in_(chunk)))):
            out[int(eid)] = {"source": "portal", "actor": actor, "at": at, "via": via,
                             "file_name": file_name}
    return out


def origin_words(origin: dict[str, Any] | None) -> str:
    """Where an offer came from, in words.

    >>> origin_words({"source": "portal", "actor": "p2", "at": "2026-12-07T05:00:00+00:00",
    ...               "via": "form", "file_name": "form"})
    'sent by account p2 on 2026-12-07 through the portal (form)'
    >>> origin_words({"source": "import", "actor": "buyer", "at": "2026-12-01T10:00:00",
    ...               "file_name": "offers.csv"})
    'imported by buyer on 2026-12-01 from offers.csv'
    """
    if not origin:
        return "where it came from is not recorded"
    on = str(origin.get("at") or "")[:10]
    if origin["source"] == "portal":
        how = "form" if origin.get("via") == "form" else f"upload of {origin.get('file_name')}"
        return f"sent by account {origin['actor']} on {on} through the portal ({how})"
    return f"imported by {origin['actor']} on {on} from {origin.get('file_name') or 'a file'}"


