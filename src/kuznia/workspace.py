"""The Python API for analysts: ``kuznia.open(db)`` gives a ``Workspace``.

Its methods return the same result objects as the CLI prints (``.to_dict()``, and for
tables ``.to_pandas()`` / ``.to_polars()``). Each method imports the service it calls when
it is called, so that opening a workspace (and a quick command) does not load SciPy,
Polars or HiGHS before they are needed.

>>> import kuznia
>>> ws = kuznia.open("kuznia-demo.db")            # doctest: +SKIP
>>> ws.cost_per_effect(by="product,producer").to_pandas()   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from kuznia.errors import UsageError
from kuznia.i18n import N_
from kuznia.services.params import AUDIT_LIMIT, BOARD_THRESHOLD, USES_LIMIT
from kuznia.services.store import Store, create_store, open_store
from kuznia.settings import default_actor

if TYPE_CHECKING:  # the services are imported where a method needs them (a quick start)
    from kuznia.services import audit, audit_check, costs, imports, oversight, trace
    from kuznia.services import board as board_svc
    from kuznia.services import failures as failures_svc
    from kuznia.services import growth as growth_svc
    from kuznia.services import planning as planning_svc
    from kuznia.services import repairs as repairs_svc
    from kuznia.services import resilience as resilience_svc
    from kuznia.services.access import Scope

F = TypeVar("F", bound=Callable[..., Any])


def _one_snapshot(method: F) -> F:
    """Answer from one consistent snapshot of the store, however many queries it takes."""
    @functools.wraps(method)
    def wrapper(self: Workspace, *args: Any, **kwargs: Any) -> Any:
        with self.store.snapshot():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Workspace:
    """One workspace (its store) and who acts on it: every question an analyst asks of
    the data, and every write, audited under ``actor``. Get one with ``kuznia.open`` or
    ``kuznia.init``; use it as a context manager so the store is closed."""

    def __init__(self, store: Store, actor: str | None = None):
        """``store``: the opened store; ``actor``: the name writes are audited under
        (default: this machine's user, ``KUZNIA_ACTOR``)."""
        self.store = store
        self.actor = actor or default_actor()

    def __enter__(self) -> Workspace:
        """A context manager, so notebooks and scripts close the engine."""
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store's connections."""
        self.store.close()

    @property
    def currency(self) -> str:
        """The currency the workspace keeps its money in (chosen at ``init``)."""
        return self.store.setting("currency", "USD") or "USD"

    def import_file(self, table: str, path: str | Path | BinaryIO, *, update: bool = False,
                    quarantine: str | Path | None = None, max_problems: int = 20,
                    batch_rows: int | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    name: str | None = None) -> imports.ImportResult:
        """Import a file (or a binary stream called ``name``) into ``table``, as one
        audited write (see ``kuznia.services.imports.import_file``): ``update`` replaces
        stored rows whose content changed; ``quarantine`` names a CSV for the bad rows
        (the good ones are then stored); ``progress(rows_read, rows_expected)``."""
        from kuznia.services import imports

        return imports.import_file(self.store, table, path, actor=self.actor, update=update,
                                   quarantine=quarantine, max_problems=max_problems,
                                   batch_rows=batch_rows, progress=progress, name=name)

    @_one_snapshot
    def cost_per_effect(self, by: str | tuple[str, ...] = "product",
                        date_from: dt.date | None = None,
                        date_to: dt.date | None = None, *, product: str | None = None,
                        category: str | None = None, producer: str | None = None,
                        from_uses: bool = False) -> costs.CostTable:
        """Cost per effect per group (``kuznia.services.costs``); ``producer``: that
        producer's own figures (its uses, priced from its own contracts only)."""
        from kuznia.services import costs

        return costs.cost_per_effect(self.store, by, date_from, date_to, product=product,
                                     category=category, producer=producer,
                                     from_uses=from_uses)

    @_one_snapshot
    def failures(self, product: str | None = None, version: str | None = None,
                 producer: str | None = None, by: str | None = None) -> failures_svc.FailureTable:
        """The Pareto of failure modes (see ``kuznia.services.failures``)."""
        from kuznia.services import failures as failures_svc

        return failures_svc.failures(self.store, product, version, producer, by)

    @_one_snapshot
    def fixes(self, product: str | None = None, producer: str | None = None,
              confidence: float = 0.95, reduction: float = 0.5) -> failures_svc.FixTable:
        """Every corrective action with its status from the uses."""
        from kuznia.services import failures as failures_svc

        return failures_svc.fixes(self.store, product, producer, confidence, reduction)

    @_one_snapshot
    def growth(self, product: str, target: float = 0.95) -> growth_svc.Growth:
        """Reliability by version, the growth fit and a projection to ``target``."""
        from kuznia.services import growth as growth_svc

        return growth_svc.growth(self.store, product, target)

    @_one_snapshot
    def board(self, producer: str | None = None, product: str | None = None,
              as_of: dt.date | None = None, threshold: float = BOARD_THRESHOLD
              ) -> board_svc.Board:
        """Unresolved problems as weighted, aging blocks (see ``kuznia.services.board``)."""
        from kuznia.services import board as board_svc

        return board_svc.board(self.store, producer, product, as_of, threshold)

    @_one_snapshot
    def resilience(self, months: int = 12, scenarios: int = 10_000, seed: int = 0, *,
                   start: dt.date | None = None, from_history: bool = False,
                   spillover: float = 0.0, history_from: dt.date | None = None,
                   workers: int = 1, progress: Callable[[int, int], None] | None = None
                   ) -> resilience_svc.Resilience:
        """Simulate strikes on the sites (see ``kuznia.services.resilience.run``)."""
        from kuznia.services import resilience as resilience_svc

        return resilience_svc.run(self.store, months, scenarios, seed, start=start,
                                  from_history=from_history, spillover=spillover,
                                  history_from=history_from, workers=workers,
                                  progress=progress)

    @_one_snapshot
    def duplicate(self, candidates: str | Path | BinaryIO, budget: float, months: int = 12,
                  scenarios: int = 2_000, saa_scenarios: int = 300, seed: int = 0, *,
                  weights: dict[str, float] | None = None, start: dt.date | None = None,
                  from_history: bool = False, spillover: float = 0.0,
                  history_from: dt.date | None = None, workers: int = 1,
                  time_limit: float = 120.0, candidates_name: str | None = None
                  ) -> resilience_svc.Duplication:
        """Choose duplicate lines within ``budget`` (see ``resilience.duplicate``)."""
        from kuznia.services import resilience as resilience_svc

        return resilience_svc.duplicate(
            self.store, candidates, budget, months, scenarios, saa_scenarios, seed,
            weights=weights, start=start, from_history=from_history, spillover=spillover,
            history_from=history_from, workers=workers, time_limit=time_limit,
            candidates_name=candidates_name)

    @_one_snapshot
    def repairs_plan(self, backlog: str | Path, repair_points: str | Path,
                     as_of: dt.date | None = None) -> repairs_svc.RepairResult:
        """Repair assignments at home, against sending everything abroad."""
        from kuznia.services import repairs as repairs_svc

        return repairs_svc.repairs_plan(self.store, backlog, repair_points, as_of)

    @_one_snapshot
    def regions(self, as_of: dt.date | None = None, history_from: dt.date | None = None
                ) -> list[dict[str, Any]]:
        """Each region's strike figures estimated from the strikes history."""
        from kuznia.services import resilience as resilience_svc

        return resilience_svc.estimate_regions(self.store, as_of, history_from)

    @_one_snapshot
    def allocate(self, budget: float, *, offers_file: str | Path | None = None,
                 max_producer_share: float | None = None,
                 max_region_share: float | None = None,
                 min_category_share: dict[str, float] | None = None,
                 require: dict[str, int] | None = None, risk: str = "mean",
                 what_if: planning_svc.WhatIf | None = None, time_limit: float = 60.0,
                 gap: float = 1e-3, on: dt.date | None = None,
                 assume_live: frozenset[str] | set[str] = frozenset()
                 ) -> planning_svc.PlanResult:
        """The allocation plan (see ``kuznia.services.planning.allocate``); offers whose
        licence is not live ``on`` that day (today if None) are left out, unless named in
        ``assume_live``."""
        from kuznia.services import planning as planning_svc

        return planning_svc.allocate(
            self.store, budget=budget, offers_file=offers_file,
            max_producer_share=max_producer_share, max_region_share=max_region_share,
            min_category_share=min_category_share, require=require, risk=risk,
            what_if=what_if, time_limit=time_limit, gap=gap, on=on, assume_live=assume_live)

    def save_plan(self, name: str, plan: planning_svc.PlanResult) -> int:
        """Keep ``plan`` under ``name``, as an audited write."""
        from kuznia.services import planning as planning_svc

        return planning_svc.save_plan(self.store, name, plan, self.actor)

    @_one_snapshot
    def plans(self) -> planning_svc.PlanList:
        """The saved plans, each with its name, when and by whom."""
        from kuznia.services import planning as planning_svc

        return planning_svc.list_plans(self.store)

    @_one_snapshot
    def plan(self, name: str) -> dict[str, Any]:
        """The saved plan called ``name``."""
        from kuznia.services import planning as planning_svc

        return planning_svc.show_plan(self.store, name)

    @_one_snapshot
    def plan_diff(self, a: str, b: str) -> dict[str, Any]:
        """What changes from saved plan ``a`` to saved plan ``b``."""
        from kuznia.services import planning as planning_svc

        return planning_svc.diff_plans(self.store, a, b)

    @_one_snapshot
    def uses(self, *, product: str | None = None, producer: str | None = None,
             version: str | None = None, operator: str | None = None,
             failure_mode: str | None = None, lot: str | None = None,
             month: str | None = None, category: str | None = None,
             date_from: dt.date | None = None, date_to: dt.date | None = None,
             condition: str | None = None, limit: int | None = USES_LIMIT,
             cursor: str | None = None, with_total: bool = True,
             scope: Scope | None = None) -> trace.UseList:
        """The uses behind a figure, oldest first, each with what it cost and how it was
        priced (see ``kuznia.services.trace.list_uses``); ``cursor`` continues a page."""
        from kuznia.services import trace

        scoped = {} if scope is None else {"scope": scope}
        return trace.list_uses(
            self.store, product=product, producer=producer, version=version,
            operator=operator, failure_mode=failure_mode, lot=lot, month=month,
            category=category, date_from=date_from, date_to=date_to, condition=condition,
            limit=limit, cursor=cursor, with_total=with_total, **scoped)

    @_one_snapshot
    def flags(self, date_from: dt.date | None = None, date_to: dt.date | None = None, *,
              producer: str | None = None, product: str | None = None,
              config: str | Path | None = None) -> oversight.FlagList:
        """Red flags on prices, deliveries, amendments, records and effect claims
        (``kuznia.services.oversight``); ``config``: a TOML file replacing thresholds."""
        from kuznia.services import oversight, oversight_config

        return oversight.flags(self.store, date_from=date_from, date_to=date_to,
                               producer=producer, product=product,
                               config=oversight_config.load(config))

    @_one_snapshot
    def ocds(self, *, redact: bool = False, date_from: dt.date | None = None,
             date_to: dt.date | None = None, publisher: str = "Ministry of Defence Industry",
             prefix: str = "ocds-kuznia-", now: dt.datetime | None = None) -> dict[str, Any]:
        """The contracts as an OCDS 1.1 release package (``kuznia.services.ocds``)."""
        from kuznia.services import ocds

        return ocds.package(self.store, redact=redact, date_from=date_from, date_to=date_to,
                            publisher=publisher, prefix=prefix, now=now)

    @_one_snapshot
    def audit_events(self, limit: int | None = AUDIT_LIMIT) -> audit.EventList:
        """The newest ``limit`` audit events (0 or None: all), oldest first."""
        from kuznia.services import audit

        if limit is not None and limit < 0:
            raise UsageError(N_("{limit} must be 0 (all) or more"), params=("limit",))
        with self.store.read() as conn:
            return audit.EventList(audit.list_events(conn, limit))

    def row_history(self, table: str | None = None, key: str | None = None,
                    limit: int | None = AUDIT_LIMIT) -> audit.RowHistory:
        """What imports with ``update`` changed: of ``table``, of the row keyed ``key``,
        the newest ``limit`` (None or 0: all), oldest first."""
        from kuznia.services import audit

        with self.store.read() as conn:
            return audit.RowHistory(audit.row_history(conn, table, key, limit or None))

    def verify_audit(self, deep: bool = False, expect_head: str | None = None
                     ) -> audit_check.ChainCheck:
        """Check the audit chain; ``deep`` also checks every stored row and the kept
        aggregates against it; ``expect_head`` is a head hash kept outside the store."""
        from kuznia.services import audit_check

        with self.store.snapshot() as conn:
            return audit_check.verify(conn, deep=deep, expect_head=expect_head)

    def report(self, out: str | Path = "kuznia-report", with_uses: bool | None = None,
               lang: str | None = None) -> Path:
        """Write ``out/report.html`` and its charts (``kuznia.report.build``); with
        ``with_uses`` (default: when the workspace holds few uses) the use lists too; in
        ``lang`` (en, uk; default: the language of the moment, ``KUZNIA_LANG`` for the CLI)."""
        from kuznia import i18n
        from kuznia.report.build import build_report

        try:
            with i18n.language(lang):
                return build_report(self, Path(out), with_uses)
        except i18n.UnknownLanguageError as e:
            raise UsageError(N_("{lang}: no such language %(lang)s: choose one of %(langs)s"),
                             params=("lang",), lang=repr(e.lang),
                             langs=", ".join(i18n.LANGS)) from None


def open(db: str | None = None, actor: str | None = None) -> Workspace:  # noqa: A001
    """Open the workspace at ``db`` (a path or SQLAlchemy URL; default ``KUZNIA_DB``)."""
    return Workspace(open_store(db), actor)


def migrate(db: str | None = None) -> tuple[str | None, str]:
    """Upgrade the workspace at ``db`` to this Kuznia's schema, as a step of its own (back
    it up first). Returns the revision it had (None if it was current) and the one it has."""
    from kuznia.store import engine as engines

    store = open_store(db, migrate=True)
    store.close()
    return store.migrated_from, engines.HEAD


def init(db: str | None = None, currency: str = "USD", actor: str | None = None) -> Workspace:
    """Create a workspace at ``db`` with its money kept in ``currency``."""
    actor = actor or default_actor()
    return Workspace(create_store(db, currency.upper(), actor), actor)
