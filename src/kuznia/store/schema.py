"""The tables of a workspace (SQLAlchemy Core: bulk paths need tables, not ORM objects).

Every data row keeps ``event_id``: the audit event (import) that last wrote it, so any figure
can be traced from a use back to the file and its SHA-256.

``use_cube`` is the aggregate kept up to date at import: sums of uses per month, product,
producer, version and lot. Cost per effect reads it instead of rescanning tens of millions of
uses. Its key columns use '' for "not given" so that the key stays unique on every backend.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata: MetaData = MetaData()

ID: String = String(64)
NO_USE = "9999-12-31"  # a cube row's first_on before any use (later than every date)

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

producers = Table(
    "producers",
    metadata,
    Column("producer_id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("region", Text, nullable=False),
    Column("event_id", Integer, nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("product_id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("event_id", Integer, nullable=False),
)

versions = Table(
    "versions",
    metadata,
    Column("product_id", ID, ForeignKey("products.product_id"), primary_key=True),
    Column("version", ID, primary_key=True),
    Column("introduced_on", Date, nullable=False),
    Column("event_id", Integer, nullable=False),
)

rates = Table(
    "rates",
    metadata,
    Column("currency", String(8), primary_key=True),
    Column("rate", Float, nullable=False),
    Column("event_id", Integer, nullable=False),
)

contracts = Table(
    "contracts",
    metadata,
    Column("contract_id", ID, primary_key=True),
    Column("producer_id", ID, ForeignKey("producers.producer_id"), nullable=False),
    Column("product_id", ID, ForeignKey("products.product_id"), nullable=False),
    Column("signed_on", Date, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("unit_price", Float, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("due_on", Date),
    # unit_price in the workspace currency, at the rate in force when the row was imported
    Column("unit_price_ws", Float, nullable=False),
    Column("event_id", Integer, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", ID, primary_key=True),
    Column("contract_id", ID, ForeignKey("contracts.contract_id"), nullable=False),
    Column("delivered_on", Date, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("accepted_quantity", BigInteger, nullable=False),
    Column("lot", ID, unique=True),
    Column("event_id", Integer, nullable=False),
)

# Uses are the big table (tens of millions of rows): references are validated at import,
# column-wise, rather than by foreign keys checked row by row.
uses = Table(
    "uses",
    metadata,
    Column("use_id", ID, primary_key=True),
    Column("used_on", Date, nullable=False),
    Column("operator", ID),
    Column("product_id", ID, nullable=False),
    Column("version", ID),
    Column("producer_id", ID),
    Column("lot", ID),
    Column("units_used", Integer, nullable=False),
    Column("effects", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("failure_mode", Text),
    Column("conditions", Text),
    Column("notes", Text),
    Column("event_id", Integer, nullable=False),
)

use_cube = Table(
    "use_cube",
    metadata,
    Column("product_id", ID, primary_key=True),
    Column("producer_id", ID, primary_key=True),
    Column("version", ID, primary_key=True),
    Column("lot", ID, primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("uses", BigInteger, nullable=False),
    Column("units_used", BigInteger, nullable=False),
    Column("effects", BigInteger, nullable=False),
    Column("effects_sq", Float, nullable=False, server_default="0"),  # sum of effects^2
    # the earliest use of the key (YYYY-MM-DD), kept as a minimum
    Column("first_on", String(10), nullable=False, server_default=NO_USE),
    Column("n_effect", BigInteger, nullable=False),
    Column("n_no_effect", BigInteger, nullable=False),
    Column("n_failure", BigInteger, nullable=False),
    Column("n_aborted", BigInteger, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(32), nullable=False),
    Column("table_name", String(32)),
    Column("file_name", Text),
    Column("file_sha256", String(64)),
    Column("rows_added", BigInteger, nullable=False),
    Column("rows_updated", BigInteger, nullable=False),
    Column("rows_unchanged", BigInteger, nullable=False),
    Column("rows_rejected", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

row_updates = Table(
    "row_updates",
    metadata,
    Column("update_id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, nullable=False),
    Column("table_name", String(32), nullable=False),
    Column("row_key", Text, nullable=False),
    Column("old_values", Text, nullable=False),
    Column("new_values", Text, nullable=False),
)

Index("ix_row_updates_event", row_updates.c.event_id)
# The trace behind a figure pages through one product (and producer) in date order.
Index("ix_uses_trace", uses.c.product_id, uses.c.producer_id, uses.c.used_on, uses.c.use_id)

offers = Table(
    "offers",
    metadata,
    Column("product_id", ID, ForeignKey("products.product_id"), primary_key=True),
    Column("producer_id", ID, ForeignKey("producers.producer_id"), primary_key=True),
    Column("unit_price", Float, nullable=False),
    Column("capacity", BigInteger, nullable=False),
    Column("min_order", BigInteger, nullable=False),
    Column("lot_size", BigInteger, nullable=False),
    Column("effects_per_unit", Float),
    Column("event_id", Integer, nullable=False),
    Column("licence_id", ID),  # the licence the offer needs (none: it needs none)
)

# A saved allocation plan: its inputs and its answer, so a decision can be reproduced
plans = Table(
    "plans",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("actor", Text, nullable=False),
    Column("inputs", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("event_id", Integer, nullable=False),
)

# The test-fix-test loop: what can fail and how bad it is, and the fixes claimed for it
failure_modes = Table(
    "failure_modes",
    metadata,
    Column("product_id", ID, ForeignKey("products.product_id"), primary_key=True),
    Column("failure_mode", Text, primary_key=True),
    Column("description", Text, nullable=False),
    Column("severity", Integer, nullable=False),
    Column("event_id", Integer, nullable=False),
)

corrective_actions = Table(
    "corrective_actions",
    metadata,
    Column("action_id", ID, primary_key=True),
    Column("product_id", ID, ForeignKey("products.product_id"), nullable=False),
    Column("failure_mode", Text, nullable=False),
    Column("fixed_in_version", ID, nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("description", Text),
    Column("producer_id", ID, ForeignKey("producers.producer_id")),
    Column("event_id", Integer, nullable=False),
)

# Uses per product, producer, version, conditions and failure mode ('' for none), kept at
# import like use_cube: failures, fixes and the board answer from it without a rescan.
failure_cube = Table(
    "failure_cube",
    metadata,
    Column("product_id", ID, primary_key=True),
    Column("producer_id", ID, primary_key=True),
    Column("version", ID, primary_key=True),
    Column("conditions", Text, primary_key=True),
    Column("failure_mode", Text, primary_key=True),
    Column("uses", BigInteger, nullable=False),
    Column("first_on", String(10), nullable=False),
)

# Failures per product, producer, version, lot and failure mode ('' for none; uses with no
# failure mode are not in it), kept at import like use_cube: the lots a fix's verdict and the
# Pareto take as clusters, per mode, without a scan of the uses (schema 0015).
lot_failure_cube = Table(
    "lot_failure_cube",
    metadata,
    Column("product_id", ID, primary_key=True),
    Column("producer_id", ID, primary_key=True),
    Column("version", ID, primary_key=True),
    Column("lot", ID, primary_key=True),
    Column("failure_mode", Text, primary_key=True),
    Column("failures", BigInteger, nullable=False),
)

# Uses and effects per product, operator ('' for none) and month, kept at import like
# use_cube: the red flags on effect claims answer from it without a scan of the uses.
operator_cube = Table(
    "operator_cube",
    metadata,
    Column("product_id", ID, primary_key=True),
    Column("operator", ID, primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("uses", BigInteger, nullable=False),
    Column("effects", BigInteger, nullable=False),
    Column("effects_sq", Float, nullable=False),
)

# Resilience: where lines are, how exposed their regions are, what the front needs
regions = Table(
    "regions",
    metadata,
    Column("region", Text, primary_key=True),
    Column("monthly_strike_probability", Float, nullable=False),
    Column("site_hit_probability", Float, nullable=False),
    Column("damage_fraction", Float, nullable=False),
    Column("repair_months", Integer, nullable=False),
    Column("neighbours", Text),
    Column("event_id", Integer, nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("site_id", ID, primary_key=True),
    Column("producer_id", ID, ForeignKey("producers.producer_id"), nullable=False),
    Column("product_id", ID, ForeignKey("products.product_id"), nullable=False),
    Column("region", Text, nullable=False),
    Column("monthly_capacity", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("repair_until", Date),
    Column("event_id", Integer, nullable=False),
)

demand = Table(
    "demand",
    metadata,
    Column("product_id", ID, ForeignKey("products.product_id"), primary_key=True),
    Column("monthly_demand", Float, nullable=False),
    Column("stock", Float, nullable=False),
    Column("event_id", Integer, nullable=False),
)

strikes = Table(
    "strikes",
    metadata,
    Column("site_id", ID, ForeignKey("sites.site_id"), primary_key=True),
    Column("struck_on", Date, primary_key=True),
    Column("damage_fraction", Float, nullable=False),
    Column("repaired_on", Date),
    Column("event_id", Integer, nullable=False),
)

# Accounts (the server's): a password is kept only as an argon2id hash, a token only as its
# SHA-256 (tokens are long random strings, so a fast hash is enough to make them useless).
users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("producer_id", String(64)),
    Column("password_hash", Text),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("partner_id", String(64)),  # a partner's account: the partner it speaks for
    Column("lang", String(8)),  # the language the account chose for its pages (en, uk)
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(16), primary_key=True),
    Column("user_name", String(64), ForeignKey("users.name"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32)),
    Column("revoked_at", String(32)),
    Column("event_id", Integer, nullable=False),
)

# Failed sign-ins per account ("user:NAME") and per client address ("addr:IP"): a growing
# delay, then a lock an admin lifts. Not data: kept out of the digests, never exported.
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed_at", String(32), nullable=False),
    Column("locked", Boolean, nullable=False),
)

# The server's import jobs: rows, so that any worker process answers for any job; a job
# cut off by a restart is marked failed (nothing of it was stored: an import is one
# transaction). Not data: kept out of the digests.
jobs = Table(
    "jobs",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("table_name", String(32)),
    Column("file_name", Text),
    Column("actor", String(64), nullable=False),
    Column("producer_id", String(64)),
    Column("status", String(16), nullable=False),  # queued, running, done, failed, cancelled
    Column("options", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("heartbeat_at", String(32)),
    Column("worker", String(64)),
    Column("rows_read", BigInteger, nullable=False),
    Column("rows_expected", BigInteger),
    Column("result", Text),
)

# Browser sessions: only a hash of the cookie's value is kept; the CSRF token is the
# session's own, sent back in a form field or header with every write. A SQLite workspace
# keeps these rows and login_attempts in a file of their own beside it, off the data's
# write lock (services/sign_in_rows.py); these tables then stay empty.
sessions = Table(
    "sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("user_name", String(64), ForeignKey("users.name"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("last_seen_at", String(32), nullable=False),
)

# The watchdog's triage: a flag's status and the comments on it, by the flag's key (a hash
# of its rule and the records it names, so a recomputation finds it again). Every change
# is an audit event; not data: kept out of the digests.
flag_triage = Table(
    "flag_triage",
    metadata,
    Column("flag_key", String(32), primary_key=True),
    Column("code", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # new, in_review, confirmed, false_alarm
    Column("updated_at", String(32), nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("event_id", Integer, nullable=False),
)

flag_comments = Table(
    "flag_comments",
    metadata,
    Column("comment_id", Integer, primary_key=True, autoincrement=True),
    Column("flag_key", String(32), nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("event_id", Integer, nullable=False),
)

Index("ix_flag_comments_flag", flag_comments.c.flag_key, flag_comments.c.comment_id)

# Field records received while an import held the write lock (services/use_outbox.py):
# acknowledged, then written through the audited import path once the lock is free. Not
# data until written (then the use is in ``uses`` under its own audit event): kept out of
# the digests; a SQLite workspace keeps them in a file beside it, this table holds those
# a restore brought back.
use_outbox = Table(
    "use_outbox",
    metadata,
    Column("use_id", String(64), primary_key=True),
    Column("record", Text, nullable=False),  # the record as sent (JSON, canonical)
    Column("actor", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # waiting, stored, rejected
    Column("received_at", String(32), nullable=False),
    Column("settled_at", String(32)),
    Column("event_id", Integer),  # the import event that stored it (None: unchanged)
    Column("problems", Text),  # JSON: the rejection's problems, as an import's
)

# Licences: the foreign partners, the licences asked of them, and where each request waits.
# ``licences.producers`` keeps the producers a licence names as imported (sorted, split by
# ';'); ``licence_producers`` holds them one a row (rebuilt from it at each import), for
# the questions "which licences name this producer".
partners = Table(
    "partners",
    metadata,
    Column("partner_id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("country", Text, nullable=False),
    Column("event_id", Integer, nullable=False),
)

licences = Table(
    "licences",
    metadata,
    Column("licence_id", ID, primary_key=True),
    Column("partner_id", ID, ForeignKey("partners.partner_id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("product_id", ID, ForeignKey("products.product_id"), nullable=False),
    Column("producers", Text, nullable=False),
    Column("requested_on", Date, nullable=False),
    Column("granted_on", Date),
    Column("expires_on", Date),
    Column("max_units", BigInteger),
    Column("status", String(16), nullable=False),
    Column("event_id", Integer, nullable=False),
)

licence_producers = Table(
    "licence_producers",
    metadata,
    Column("licence_id", ID, ForeignKey("licences.licence_id"), primary_key=True),
    Column("producer_id", ID, ForeignKey("producers.producer_id"), primary_key=True),
)

Index("ix_licence_producers_producer", licence_producers.c.producer_id,
      licence_producers.c.licence_id)

licence_stages = Table(
    "licence_stages",
    metadata,
    Column("licence_id", ID, ForeignKey("licences.licence_id"), primary_key=True),
    Column("stage", Text, primary_key=True),
    Column("entered_on", Date, primary_key=True),
    Column("authority", Text, nullable=False),
    Column("left_on", Date),
    Column("outcome", Text),
    Column("event_id", Integer, nullable=False),
)

DATA_TABLES = {
    t.name: t for t in (producers, products, versions, rates, contracts, deliveries, uses, offers,
                        failure_modes, corrective_actions, regions, sites, demand, strikes,
                        partners, licences, licence_stages)
}
# Every data row keeps the first half of its hash (kuznia.store.digest), for the audit trail.
for _table in DATA_TABLES.values():
    _table.append_column(Column("row_hash", BigInteger))

# The producers' portal (services/portal.py). A thread per producer and board block (the
# block's kind and ref): the producer's answers and the ministry's replies, each one audited
# write; an answer may carry one PDF (kept in the row as base64 with its SHA-256, so a
# backup holds it like any other row). Offers sent through the portal are imported into
# ``offers`` like a file, and each sending is kept here with who sent it and how. These
# three are covered by the "portal" digest that every portal write records.
block_messages = Table(
    "block_messages",
    metadata,
    Column("message_id", Integer, primary_key=True, autoincrement=True),
    Column("producer_id", ID, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("ref", Text, nullable=False),
    Column("product_id", ID, nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("side", String(16), nullable=False),  # producer, ministry
    Column("body", Text, nullable=False),
    Column("event_id", Integer, nullable=False),
)

Index("ix_block_messages_thread", block_messages.c.producer_id, block_messages.c.kind,
      block_messages.c.ref, block_messages.c.message_id)

attachments = Table(
    "attachments",
    metadata,
    Column("message_id", Integer, ForeignKey("block_messages.message_id"), primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", Text, nullable=False),  # base64
    Column("event_id", Integer, nullable=False),
)

# The last message of a thread each account has seen ("N new since your last visit"): a
# read marker, not data: kept out of the digests and the audit trail, like sessions.
thread_visits = Table(
    "thread_visits",
    metadata,
    Column("user_name", String(64), primary_key=True),
    Column("producer_id", ID, primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("ref", Text, primary_key=True),
    Column("seen_message_id", Integer, nullable=False),
    Column("seen_at", String(32), nullable=False),
)

offer_submissions = Table(
    "offer_submissions",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=False),
    Column("producer_id", ID, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Column("via", String(16), nullable=False),  # form, upload
    Column("file_name", Text),
    Column("file_sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
)

# The partners' vault: wrapped data keys, documents sealed in chunks, and the log of every
# access and refusal (with each copy's id and hash). Imported by ``schema`` so that these
# tables are part of its ``metadata``.
#
# Every row a vault write makes is recorded by its audit event (``vault_rows`` in the
# event's detail: a SHA-256 per row), so ``audit verify --deep`` finds a row edited, deleted
# or inserted outside Kuznia (``services/vault_audit.py``).
vault_keys = Table(
    "vault_keys",
    metadata,
    Column("partner_id", ID, primary_key=True),
    Column("wrapped_key", LargeBinary),  # None once shredded
    Column("created_at", String(32), nullable=False),
    Column("shredded_at", String(32)),
    Column("event_id", Integer, nullable=False),
)

vault_documents = Table(
    "vault_documents",
    metadata,
    Column("doc_id", String(32), primary_key=True),
    Column("partner_id", ID, nullable=False),
    Column("licence_id", ID, nullable=False),
    Column("title", Text, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("chunks_sha256", String(64), nullable=False),  # of the sealed chunks, in order
    Column("added_at", String(32), nullable=False),
    Column("added_by", String(64), nullable=False),
    Column("event_id", Integer, nullable=False),
)
Index("ix_vault_documents_partner", vault_documents.c.partner_id)

vault_chunks = Table(
    "vault_chunks",
    metadata,
    Column("doc_id", String(32), primary_key=True),
    Column("chunk_no", Integer, primary_key=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
)

vault_access = Table(
    "vault_access",
    metadata,
    Column("access_id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("account", String(64), nullable=False),
    Column("doc_id", String(64)),  # as asked (it may name no document)
    Column("partner_id", ID),
    Column("licence_id", ID),
    Column("outcome", String(16), nullable=False),  # copy, refused, unreadable, shredded
    Column("reason", Text, nullable=False),
    Column("copy_id", String(32)),
    Column("copy_form", String(8)),  # pdf, zip
    Column("copy_sha256", String(64)),
    Column("event_id", Integer, nullable=False),
)
Index("ix_vault_access_partner", vault_access.c.partner_id, vault_access.c.access_id)
Index("ix_vault_access_copy", vault_access.c.copy_id)
Index("ix_vault_access_sha", vault_access.c.copy_sha256)

VAULT_TABLES = (vault_keys, vault_documents, vault_chunks, vault_access)
