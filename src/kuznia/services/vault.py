"""The partners' vault: documents stored under a licence, sealed at rest, handed out only to
the accounts of producers a live licence names, every copy marked for its recipient and
its hash kept, every access and refusal logged and audited.

Storage: the sealed chunks are rows of ``vault_chunks`` (in the workspace's own database,
so a backup, a restore and a PostgreSQL server need nothing more); the plaintext is never
written to the workspace. Keys: ``services/vault_crypto.py``. Marks: ``vault_copies.py``.

Access is decided at the moment of access from the licence's state that day
(``licences.live_licences``): the document's own licence must be live and name the
account's producer. A refusal looks to the caller like a document that does not exist
(exit 2, HTTP 404), and is logged with its reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, update

from kuznia.errors import KuzniaError, NotFoundError, UsageError
from kuznia.i18n import N_, Text
from kuznia.services import audit
from kuznia.services import vault_copies as copies
from kuznia.services import vault_crypto as crypto
from kuznia.services.results import Tabular
from kuznia.services.store import Store
from kuznia.services.vault_audit import recorded_row
from kuznia.settings import Settings
from kuznia.store.schema import (
    licence_producers,
    licences,
    users,
    vault_access,
    vault_chunks,
    vault_documents,
    vault_keys,
)
from kuznia.words import LABELS

DEFAULT_MAX_MB = 200


class ShreddedError(KuzniaError):
    """The partner's data key was destroyed: its documents can be read by no one."""

    exit_code = 1
    http_status = 410


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def _megabytes(size: int, digits: int) -> float | int:
    """A size in MB as a message writes it: ``digits`` decimals (0: a whole number)."""
    mb = size / 1048576
    return round(mb, digits) if digits else int(round(mb))


def _settings() -> Settings:
    return Settings.from_env()


# --- keys ---------------------------------------------------------------------------


def _master(conn: Connection, key_file: str | None) -> bytes:
    held = conn.execute(select(func.count()).select_from(vault_keys)).scalar_one()
    return crypto.master_key(key_file, may_create=held == 0)


def _data_key(conn: Connection, partner_id: str, master: bytes, *, create_event: int | None
              ) -> tuple[bytes, bool]:
    """The partner's data key (unwrapped), made when it has none and ``create_event`` is
    the event that writes it; (key, made)."""
    row = conn.execute(select(vault_keys).where(vault_keys.c.partner_id == partner_id)).first()
    if row is not None:
        if row.wrapped_key is None:
            raise ShreddedError(N_("the documents of partner %(partner)s were destroyed (its "
                                   "key was shredded on %(at)s): no one can read them, and "
                                   "no document can be stored for it any more"),
                                partner=partner_id, at=str(row.shredded_at))
        return crypto.unwrap(master, bytes(row.wrapped_key)), False
    if create_event is None:
        raise NotFoundError(N_("partner %(partner)s has no documents in the vault"),
                            partner=partner_id)
    key = crypto.new_data_key()
    conn.execute(vault_keys.insert(), {"partner_id": partner_id,
                                       "wrapped_key": crypto.wrap(master, key),
                                       "created_at": _stamp(_now()), "shredded_at": None,
                                       "event_id": create_event})
    return key, True


def _check_master(conn: Connection, master: bytes) -> None:
    """A wrong key file is refused before anything is written, even for a new partner."""
    other = conn.execute(select(vault_keys.c.wrapped_key)
                         .where(vault_keys.c.wrapped_key.is_not(None)).limit(1)).scalar()
    if other is not None:
        crypto.unwrap(master, bytes(other))


# --- add ----------------------------------------------------------------------------


def add_document(store: Store, path: str | Path, *, licence_id: str, actor: str,
                 title: str | None = None, key_file: str | None = None,
                 max_bytes: int | None = None) -> dict[str, Any]:
    """Seal the file at ``path`` into the vault under ``licence_id`` (one transaction, one
    audit event); returns the document's row (its id under ``doc_id``)."""
    settings = _settings()
    key_file = settings.vault_key_file if key_file is None else key_file
    limit = settings.vault_max_mb * 1024 * 1024 if max_bytes is None else max_bytes
    file = Path(path)
    if not file.is_file():
        raise UsageError(N_("%(file)s: no such file"), file=str(file))
    size = file.stat().st_size
    if size > limit:
        raise UsageError(N_("%(file)s is %(size)s MB, over the vault's limit of %(limit)s MB "
                            "(KUZNIA_VAULT_MAX_MB); nothing was stored"), file=file.name,
                         size=_megabytes(size, 1), limit=_megabytes(limit, 0))
    kind = copies.media_type(file)
    title = (title or file.stem).strip()
    if not title or len(title) > 200:
        raise UsageError(N_("{title} must be 1 to 200 characters"), params=("title",))
    with store.write() as conn:
        lic = conn.execute(select(licences.c.licence_id, licences.c.partner_id)
                           .where(licences.c.licence_id == licence_id)).first()
        if lic is None:
            raise NotFoundError(N_("no licence %(licence)s; import licences first"),
                                licence=repr(licence_id))
        master = _master(conn, key_file)
        _check_master(conn, master)
        event_id = audit.next_event_id(conn)
        key, made = _data_key(conn, lic.partner_id, master, create_event=event_id)
        doc_id = "d-" + secrets.token_hex(8)
        chunks = 0
        digest = hashlib.sha256()
        blocks = crypto.read_blocks(file, crypto.CHUNK)
        for no, nonce, sealed in crypto.seal_chunks(key, doc_id, blocks):
            conn.execute(vault_chunks.insert(), {"doc_id": doc_id, "chunk_no": no,
                                                 "nonce": nonce, "sealed": sealed})
            digest.update(str(no).encode() + b"\0" + nonce + sealed)
            chunks += 1
        row = {"doc_id": doc_id, "partner_id": lic.partner_id, "licence_id": licence_id,
               "title": title, "file_name": file.name[:200], "media_type": kind,
               "size": size, "chunks": chunks, "chunks_sha256": digest.hexdigest(),
               "added_at": _stamp(_now()), "added_by": actor, "event_id": event_id}
        conn.execute(vault_documents.insert(), row)
        rows = recorded_row(conn, "vault_documents", doc_id)
        if made:
            rows.update(recorded_row(conn, "vault_keys", lic.partner_id))
        audit.append(conn, event_id, actor=actor, action="vault_add", table_name="vault",
                     file_name=file.name[:200], rows_added=1,
                     detail={"doc_id": doc_id, "licence_id": licence_id,
                             "partner_id": lic.partner_id, "vault_rows": rows})
    return row


# --- who may have a copy ----------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    ok: bool
    reason: str
    doc: Any = None  # the document's row, when there is one
    account: Any = None


def _licence_reason(conn: Connection, licence_id: str, producer_id: str, on: dt.date) -> str:
    lic = conn.execute(select(licences).where(licences.c.licence_id == licence_id)).first()
    if lic is None:
        return f"licence {licence_id} is not on record"
    named = conn.execute(select(licence_producers.c.producer_id).where(
        licence_producers.c.licence_id == licence_id,
        licence_producers.c.producer_id == producer_id)).first()
    if named is None:
        return f"licence {licence_id} does not name producer {producer_id}"
    if lic.status in ("revoked", "denied"):
        return f"licence {licence_id} is {lic.status}"
    if lic.status != "granted" or lic.granted_on is None:
        return f"licence {licence_id} is not granted (it is {lic.status.replace('_', ' ')})"
    granted = dt.date.fromisoformat(str(lic.granted_on)[:10])
    if granted > on:
        return f"licence {licence_id} is granted only from {granted}"
    if lic.expires_on is not None:
        return f"licence {licence_id} expired on {str(lic.expires_on)[:10]}"
    return f"licence {licence_id} is not live on {on}"


def decide(conn: Connection, doc_id: str, account: str, on: dt.date) -> Decision:
    """Whether ``account`` may have a copy of ``doc_id`` on ``on``, with the reason."""
    from kuznia.services.licences import live_licences

    doc = conn.execute(select(vault_documents).where(vault_documents.c.doc_id == doc_id)
                       ).first()
    user = conn.execute(select(users).where(users.c.name == account)).first()
    if doc is None:
        return Decision(False, "no such document", None, user)
    if user is None:
        return Decision(False, "no such account", doc, None)
    if user.disabled:
        return Decision(False, "the account is disabled", doc, user)
    if user.role != "producer" or not user.producer_id:
        return Decision(False, f"the account is not a producer's (its role is {user.role}); "
                        "only producers a live licence names receive copies", doc, user)
    live = {lic.licence_id for lic in live_licences(conn, producer_id=user.producer_id,
                                                     on=on)}
    if doc.licence_id not in live:
        return Decision(False, _licence_reason(conn, doc.licence_id, user.producer_id, on),
                        doc, user)
    return Decision(True, f"licence {doc.licence_id} names producer {user.producer_id} and "
                    f"is live on {on}", doc, user)


def _log(conn: Connection, *, actor: str, action: str, at: str, account: str,
         doc_id: str | None, partner_id: str | None, licence_id: str | None, outcome: str,
         reason: str, copy_id: str | None = None, copy_form: str | None = None,
         copy_sha256: str | None = None) -> int:
    event_id = audit.next_event_id(conn)
    result = conn.execute(vault_access.insert(), {
        "at": at, "account": account, "doc_id": doc_id, "partner_id": partner_id,
        "licence_id": licence_id, "outcome": outcome, "reason": reason, "copy_id": copy_id,
        "copy_form": copy_form, "copy_sha256": copy_sha256, "event_id": event_id})
    access_id = result.inserted_primary_key[0]  # type: ignore[index]
    audit.append(conn, event_id, actor=actor, action=action, table_name="vault",
                 rows_added=1, file_sha256=copy_sha256,
                 detail={"doc_id": doc_id, "account": account, "outcome": outcome,
                         "reason": reason, "copy_id": copy_id, "licence_id": licence_id,
                         "vault_rows": recorded_row(conn, "vault_access", access_id)})
    return event_id


def _refuse(store: Store, doc_id: str, account: str, decision: Decision, at: str) -> None:
    doc = decision.doc
    with store.write() as conn:
        _log(conn, actor=account, action="vault_refused", at=at, account=account,
             doc_id=doc_id[:64], partner_id=doc.partner_id if doc is not None else None,
             licence_id=doc.licence_id if doc is not None else None, outcome="refused",
             reason=decision.reason)
    raise NotFoundError(N_("no document %(doc)s for %(account)s"), doc=repr(doc_id),
                        account=account)


# --- copies -------------------------------------------------------------------------


@dataclass
class Copy:
    copy_id: str
    doc_id: str
    account: str
    at: str
    form: str  # pdf, zip
    sha256: str
    path: str
    file_name: str  # a name to save it under
    licence_id: str
    event_id: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "extra"}


def _plain_blocks(store: Store, doc: Any, key: bytes) -> Iterator[bytes]:
    """The document's plaintext, block by block, read chunk by chunk (bounded memory)."""
    c = vault_chunks.c
    # a connection of its own in a transaction: a server-side cursor (PostgreSQL) needs one
    with store.engine.connect() as conn, conn.begin():
        result = conn.execute(select(c.chunk_no, c.nonce, c.sealed)
                              .where(c.doc_id == doc.doc_id).order_by(c.chunk_no)
                              .execution_options(yield_per=2))
        rows = ((int(r.chunk_no), bytes(r.nonce), bytes(r.sealed)) for r in result)
        yield from crypto.open_chunks(key, doc.doc_id, int(doc.chunks), rows)


def issue_copy(store: Store, doc_id: str, *, account: str, out: str | Path,
               on: dt.date | None = None, key_file: str | None = None) -> Copy:
    """Write a copy of ``doc_id`` marked for ``account`` to ``out``, if a live licence
    names the account's producer today; else log the refusal and raise ``NotFoundError``
    (as if there were no such document). The copy's hash is kept with its id."""
    key_file = _settings().vault_key_file if key_file is None else key_file
    when = _now()
    at = _stamp(when)
    day = on or when.date()
    with store.read() as conn:
        decision = decide(conn, doc_id, account, day)
    if not decision.ok:
        _refuse(store, doc_id, account, decision, at)
    doc = decision.doc
    with store.read() as conn:
        master = _master(conn, key_file)
        try:
            key, _ = _data_key(conn, doc.partner_id, master, create_event=None)
        except ShreddedError as exc:
            with store.write() as wconn:
                _log(wconn, actor=account, action="vault_unreadable", at=at, account=account,
                     doc_id=doc_id, partner_id=doc.partner_id, licence_id=doc.licence_id,
                     outcome="unreadable", reason=str(exc))
            raise
    target = Path(out)
    if target.is_dir():
        raise UsageError(N_("%(target)s is a folder; give a file name for the copy"),
                         target=str(target))
    if not target.parent.is_dir():
        raise UsageError(N_("%(target)s: the folder %(folder)s does not exist; nothing was "
                            "written"), target=str(target), folder=str(target.parent))
    copy_id = "c-" + secrets.token_hex(10)
    form = "pdf" if doc.media_type == "application/pdf" else "zip"
    fd, tmp_name = tempfile.mkstemp(prefix=".kuznia-copy-", dir=target.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if form == "pdf":
            fd, plain_name = tempfile.mkstemp(prefix=".kuznia-plain-", dir=tmp.parent)
            plain = Path(plain_name)
            try:
                with os.fdopen(fd, "wb") as f:
                    for block in _plain_blocks(store, doc, key):
                        f.write(block)
                try:
                    copies.stamp_pdf(plain, tmp, account=account, at=at, copy_id=copy_id,
                                     licence_id=doc.licence_id)
                except (OSError, KuzniaError):
                    raise
                except Exception as exc:  # noqa: BLE001 - pypdf's many kinds of error
                    raise crypto.VaultDamageError(
                        N_("document %(doc)s cannot be stamped for its recipient "
                           "(%(error)s); no copy was made"), doc=doc_id,
                        error=type(exc).__name__) from None
            finally:
                plain.unlink(missing_ok=True)
        else:
            copies.zip_copy(_plain_blocks(store, doc, key), tmp, name=doc.file_name,
                            account=account, at=at, copy_id=copy_id,
                            licence_id=doc.licence_id, partner=doc.partner_id)
        sha = copies.file_sha256(tmp)
        with store.write() as conn:
            again = decide(conn, doc_id, account, day)  # the licence may have changed since
            if not again.ok:
                raise _Changed(again)
            event_id = _log(conn, actor=account, action="vault_copy", at=at,
                            account=account, doc_id=doc_id, partner_id=doc.partner_id,
                            licence_id=doc.licence_id, outcome="copy", reason=decision.reason,
                            copy_id=copy_id, copy_form=form, copy_sha256=sha)
        os.replace(tmp, target)
    except _Changed as changed:
        tmp.unlink(missing_ok=True)
        _refuse(store, doc_id, account, changed.decision, at)
        raise AssertionError("unreachable") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    stem = Path(doc.file_name).stem or doc.doc_id
    name = f"{stem}-{copy_id}.pdf" if form == "pdf" else f"{stem}-{copy_id}.zip"
    return Copy(copy_id, doc_id, account, at, form, sha, str(target), name, doc.licence_id,
                event_id)


class _Changed(Exception):
    def __init__(self, decision: Decision):
        self.decision = decision


# --- trace ----------------------------------------------------------------------------


def trace(store: Store, path: str | Path) -> dict[str, Any]:
    """To whom, when and as which copy the file at ``path`` was issued: by its exact hash,
    else by the copy id its PDF metadata, page stamp or ZIP notice carries."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(N_("%(file)s: no such file"), file=str(file))
    sha = copies.file_sha256(file)
    c = vault_access.c
    cols = (c.copy_id, c.account, c.at, c.doc_id, c.licence_id, c.partner_id, c.copy_form,
            c.copy_sha256)
    with store.read() as conn:
        row = conn.execute(select(*cols).where(c.copy_sha256 == sha, c.outcome == "copy")
                           ).first()
        how = "the copy's hash (the very file issued)"
        mark = None
        if row is None:
            mark = copies.read_mark(file)
            if mark.copy_id:
                row = conn.execute(select(*cols).where(c.copy_id == mark.copy_id,
                                                       c.outcome == "copy")).first()
                how = f"the copy id in its {mark.found_in} (the file was changed since)"
    if row is None:
        if mark is not None and mark.copy_id:
            raise NotFoundError(N_("%(file)s is no copy the vault issued (it carries copy id "
                                   "%(copy)s, which no record names)"), file=file.name,
                                copy=mark.copy_id)
        raise NotFoundError(N_("%(file)s is no copy the vault issued"), file=file.name)
    return {"copy_id": row.copy_id, "account": row.account, "issued_at": row.at,
            "doc_id": row.doc_id, "licence_id": row.licence_id, "partner_id": row.partner_id,
            "form": row.copy_form, "found_by": how, "same_file": row.copy_sha256 == sha}


# --- the log, the list, shredding ---------------------------------------------------------


@dataclass
class AccessLog(Tabular):
    rows: list[dict[str, Any]]
    rows_key = "accesses"


def access_log(store: Store, *, partner: str | None = None, limit: int | None = None
               ) -> AccessLog:
    """Every access and refusal, oldest first (``partner``: of its documents only)."""
    c = vault_access.c
    q = select(c.access_id, c.at, c.account, c.doc_id, vault_documents.c.title,
               c.partner_id, c.licence_id, c.outcome, c.reason, c.copy_id,
               c.copy_sha256).outerjoin(vault_documents, vault_documents.c.doc_id == c.doc_id)
    if partner is not None:
        q = q.where(c.partner_id == partner)
    q = q.order_by(c.access_id.desc())
    if limit:
        q = q.limit(limit)
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    return AccessLog(rows[::-1])


@dataclass
class DocumentList(Tabular):
    rows: list[dict[str, Any]]
    rows_key = "documents"


def documents(store: Store, *, partner: str | None = None, producer: str | None = None,
              on: dt.date | None = None) -> DocumentList:
    """The documents' titles (never their content): all; a partner's own (``partner``);
    or those a licence live on ``on`` gives ``producer``."""
    from kuznia.services.licences import live_licences

    d = vault_documents.c
    q = select(d.doc_id, d.title, d.partner_id, d.licence_id, d.media_type, d.size,
               d.added_at).order_by(d.added_at, d.doc_id)
    with store.read() as conn:
        if partner is not None:
            q = q.where(d.partner_id == partner)
        if producer is not None:
            day = on or _now().date()
            live = [lic.licence_id for lic in live_licences(conn, producer_id=producer,
                                                            on=day)]
            q = q.where(d.licence_id.in_(live))
        shredded: set[Any] = set(conn.execute(select(vault_keys.c.partner_id)
                                    .where(vault_keys.c.wrapped_key.is_(None))).scalars())
        rows = [{**dict(r._mapping), "readable": r.partner_id not in shredded}
                for r in conn.execute(q)]
    return DocumentList(rows)


def shred(store: Store, partner_id: str, *, actor: str) -> dict[str, Any]:
    """Destroy the partner's data key: its documents can be read by no one, backups
    included. Only an admin account may; audited."""
    at = _stamp(_now())
    with store.write() as conn:
        who = conn.execute(select(users.c.role, users.c.disabled)
                           .where(users.c.name == actor)).first()
        if who is None or who.role != "admin" or who.disabled:
            from kuznia.services.access import ForbiddenError

            if who is None:
                raise ForbiddenError(N_("only an admin account may shred a partner's key; "
                                        "%(actor)s is no account"), actor=repr(actor))
            raise ForbiddenError(N_("only an admin account may shred a partner's key; "
                                    "%(actor)s is %(role)s"), actor=repr(actor),
                                 role=Text(LABELS.get(who.role, who.role)))
        row = conn.execute(select(vault_keys).where(vault_keys.c.partner_id == partner_id)
                           ).first()
        if row is None:
            raise NotFoundError(N_("partner %(partner)s has no key in the vault (no document "
                                   "was stored for it)"), partner=repr(partner_id))
        if row.wrapped_key is None:
            raise UsageError(N_("the key of partner %(partner)s was shredded already, on %(at)s"),
                             partner=partner_id, at=str(row.shredded_at))
        held = conn.execute(select(func.count()).select_from(vault_documents)
                            .where(vault_documents.c.partner_id == partner_id)).scalar_one()
        event_id = audit.next_event_id(conn)
        conn.execute(update(vault_keys).where(vault_keys.c.partner_id == partner_id)
                     .values(wrapped_key=None, shredded_at=at, event_id=event_id))
        result = conn.execute(vault_access.insert(), {
            "at": at, "account": actor, "doc_id": None, "partner_id": partner_id,
            "licence_id": None, "outcome": "shredded",
            "reason": f"the partner's key was destroyed; its {held} "
                      f"{'document' if held == 1 else 'documents'} can be read by no one",
            "event_id": event_id})
        rows = recorded_row(conn, "vault_keys", partner_id)
        rows.update(recorded_row(conn, "vault_access",
                                 result.inserted_primary_key[0]))  # type: ignore[index]
        audit.append(conn, event_id, actor=actor, action="vault_shred", table_name="vault",
                     rows_updated=1, detail={"partner_id": partner_id, "documents": held,
                                             "vault_rows": rows})
    return {"partner_id": partner_id, "documents": held, "shredded_at": at,
            "event_id": event_id}
