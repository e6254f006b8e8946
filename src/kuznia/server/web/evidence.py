"""The pages of evidence: the uses list where every figure leads (sorted, summed, filtered
from pick-lists, exported whole), a contract with everything that hangs on it, and a
record of any table as a page of labelled fields."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kuznia import words
from kuznia.errors import NotFoundError
from kuznia.i18n import N_, Text, gettext
from kuznia.ingest.tables import SPECS
from kuznia.server.api.base import store_of
from kuznia.server.auth import Caller
from kuznia.server.types import Day
from kuznia.server.web.base import Cursor, Id, _path, _qs, may, page, render
from kuznia.server.web.oversight import flags_of
from kuznia.services import contract_file, records, use_table
from kuznia.services.access import ForbiddenError, may_read_table
from kuznia.services.records import key_columns

Month = Annotated[str | None, Query(max_length=7)]
Sort = Annotated[str | None, Query(max_length=16)]
COLUMNS = (("date", N_("Date")), ("product", N_("Product")), ("producer", N_("Producer")),
           ("effects", N_("Effects")), ("cost", N_("Cost")))


@page("/uses", "figures.read")
def uses_page(request: Request, who: Caller, product: Id = None, producer: Id = None,
              version: Id = None, operator: Id = None, failure_mode: Id = None,
              lot: Id = None, month: Month = None, category: Id = None,
              date_from: Day = None, date_to: Day = None, sort: Sort = None,
              page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
              limit: Annotated[int, Query(ge=1, le=500)] = 50,
              cursor: Cursor = None,
              condition: Annotated[str | None, Query(max_length=400)] = None) -> HTMLResponse:
    """The uses behind a figure: newest first (or sorted by a column), the whole set
    summed, a page at a time. ``cursor`` (the older pages' links) is accepted and
    ignored: pages are numbered now."""
    store = store_of(request)
    filters = {"product": product, "producer": producer, "version": version,
               "operator": operator, "failure_mode": failure_mode, "lot": lot,
               "month": month, "category": category, "date_from": date_from,
               "date_to": date_to, "condition": condition}
    scope = who.scope
    result = use_table.use_page(store, filters, sort=sort, page=page, limit=limit,
                                scope=scope)
    total = use_table.summary(store, filters, scope=scope)
    shown = {k: ("" if v is None else str(v)) for k, v in filters.items()}
    asked = {k: v for k, v in shown.items() if v}
    name, desc = use_table.parse_sort(sort, scope)
    choices = use_table.choices(store, product=product, scope=scope)
    sorts = []
    for key, label in COLUMNS:
        if key == "cost" and not scope.prices:
            continue
        now = key == name
        # a click on the sorted column turns it round; another column starts largest
        # (or newest) first
        nxt = ("" if desc else "-") + key if now else "-" + key
        sorts.append({"key": key, "label": gettext(label), "href": dict(asked, sort=nxt),
                      "aria": ("descending" if desc else "ascending") if now else None})
    return render(request, who, "uses.html", title=gettext("Uses"), result=result.to_dict(),
                  total=total, filters=shown, asked=asked, sort=result.sort,
                  sorts={s["key"]: s for s in sorts}, limit=limit,
                  choices=choices, picks=_picks(choices, shown),
                  operators=scope.operators, prices=scope.prices,
                  audit=may(who, "audit.read"))


def _picks(choices: dict[str, list[Any]], shown: dict[str, str]
           ) -> dict[str, list[tuple[str, str]]]:
    """Each pick-list as (value, words) pairs; a value asked for but not among the
    choices (a link's "-" for none, say) stays selectable."""
    out = {"product": [(p, f"{p} · {n}" if n and n != p else p) for p, n in choices["products"]],
           "producer": [(p, f"{p} · {n}" if n and n != p else p)
                        for p, n in choices["producers"]],
           "version": [(v, v) for v in choices["versions"]],
           "month": [(m, m) for m in choices["months"]]}
    for name, pairs in out.items():
        current = shown[name]
        if current and current not in {v for v, _ in pairs}:
            pairs.insert(0, (current, gettext("none given") if current == "-" else current))
    return out


@page("/contracts/{contract_id:path}", "read:contracts")
def contract_page(request: Request, who: Caller, contract_id: str) -> HTMLResponse:
    store = store_of(request)
    got = contract_file.contract_file(store, contract_id, scope=who.scope)
    flags: list[dict[str, Any]] = []
    if may(who, "oversight.read"):
        flags = [f for f in flags_of(request, who, producer=got["contract"]["producer_id"])
                 if f["contract_id"] == contract_id]
    return render(request, who, "contract.html", title=gettext("Contract %(id)s", id=contract_id),
                  c=got, row=got["contract"], flags=flags, audit=may(who, "audit.read"),
                  see_flags=may(who, "oversight.read"),
                  flag_pages=may(who, "pages.oversight"))


# What each column of a record is called on its page, and where an id in it leads.
LABELS = {"producer_id": N_("Producer"), "product_id": N_("Product"), "contract_id": N_("Contract"),
          "delivery_id": N_("Delivery"), "use_id": N_("Use"), "site_id": N_("Site"),
          "action_id": N_("Corrective action"),
          "unit_price_ws": N_("Unit price (workspace currency)"),
          "event_id": N_("Written by audit event"), "accepted_quantity": N_("Accepted quantity"),
          "units_used": N_("Units used"), "failure_mode": N_("Failure mode")}
# every other column, as it reads with its underscores made spaces
LABELS.update({
    "authority": N_("Authority"),
    "capacity": N_("Capacity"),
    "category": N_("Category"),
    "conditions": N_("Conditions"),
    "country": N_("Country"),
    "currency": N_("Currency"),
    "damage_fraction": N_("Damage fraction"),
    "delivered_on": N_("Delivered on"),
    "description": N_("Description"),
    "due_on": N_("Due on"),
    "effects": N_("Effects"),
    "effects_per_unit": N_("Effects per unit"),
    "entered_on": N_("Entered on"),
    "expires_on": N_("Expires on"),
    "fixed_in_version": N_("Fixed in version"),
    "granted_on": N_("Granted on"),
    "introduced_on": N_("Introduced on"),
    "kind": N_("Kind"),
    "left_on": N_("Left on"),
    "licence_id": N_("Licence id"),
    "lot": N_("Lot"),
    "lot_size": N_("Lot size"),
    "max_units": N_("Max units"),
    "min_order": N_("Min order"),
    "monthly_capacity": N_("Monthly capacity"),
    "monthly_demand": N_("Monthly demand"),
    "monthly_strike_probability": N_("Monthly strike probability"),
    "name": N_("Name"),
    "neighbours": N_("Neighbours"),
    "notes": N_("Notes"),
    "opened_on": N_("Opened on"),
    "operator": N_("Operator"),
    "outcome": N_("Outcome"),
    "partner_id": N_("Partner id"),
    "producers": N_("Producers"),
    "quantity": N_("Quantity"),
    "rate": N_("Rate"),
    "region": N_("Region"),
    "repair_months": N_("Repair months"),
    "repair_until": N_("Repair until"),
    "repaired_on": N_("Repaired on"),
    "requested_on": N_("Requested on"),
    "severity": N_("Severity"),
    "signed_on": N_("Signed on"),
    "site_hit_probability": N_("Site hit probability"),
    "stage": N_("Stage"),
    "status": N_("Status"),
    "stock": N_("Stock"),
    "struck_on": N_("Struck on"),
    "unit_price": N_("Unit price"),
    "used_on": N_("Used on"),
    "version": N_("Version"),
})


def label_of(name: str) -> str:
    """A column as a person reads it: ``signed_on`` -> "Signed on"."""
    return gettext(LABELS[name]) if name in LABELS else name.replace("_", " ").capitalize()


def link_of(table: str, name: str, value: Any, row: dict[str, Any],
            audit: bool) -> str | None:
    """Where the value of ``name`` in a ``table`` record leads, if anywhere."""
    if value in (None, ""):
        return None
    if name == "product_id" and table != "products":
        return f"/products/{_path(value)}"
    if name == "producer_id" and table != "producers":
        return f"/producers/{_path(value)}"
    if name == "contract_id":
        return f"/contracts/{_path(value)}"
    if name == "lot":
        return "/uses?" + _qs({"lot": value})
    if name == "event_id":
        return f"/audit?before={int(value) + 1}" if audit else None
    if name == "version" and table == "uses":
        return "/uses?" + _qs({"product": row.get("product_id"), "version": value})
    if name == "operator" and table == "uses":
        return "/uses?" + _qs({"operator": value})
    return None


@page("/records/{table}/{key:path}", "figures.read")
def record_page(request: Request, who: Caller, table: str, key: str) -> Response:
    if table not in SPECS:
        raise NotFoundError(N_("no table named %(table)s"), table=repr(table))
    if not may_read_table(who.role, table):
        raise ForbiddenError(N_("the %(role)s role may not read %(table)s"),
                             role=Text(words.LABELS.get(who.role, who.role)),
                             table=Text(words.LABELS.get(table, table)))
    if table == "contracts":
        return RedirectResponse(f"/contracts/{_path(key)}", status_code=303)
    keys = key_columns(table)
    parts = key.split("/", len(keys) - 1) if len(keys) > 1 else [key]
    if len(parts) != len(keys):
        raise NotFoundError(N_("%(table)s records are read by %(keys)s"), table=table,
                            keys=", ".join(keys))
    row = records.get_record(store_of(request), table, dict(zip(keys, parts, strict=True)),
                             scope=who.scope)
    audit = may(who, "audit.read")
    helps = {f.name: f.help for f in SPECS[table].fields}
    fields = [{"name": k, "label": label_of(k), "value": v, "help": helps.get(k, ""),
               "href": link_of(table, k, v, row, audit)} for k, v in row.items()]
    return render(request, who, "record.html",
                  title=gettext("%(record)s %(key)s", key=" / ".join(parts),
                                record=label_of(ONE[table]) if table in ONE
                                else one_of(table).capitalize()), table=table,
                  fields=fields)


# a record of a table named by its id column's label (Use U0001, Delivery D0001)
ONE = {"uses": "use_id", "deliveries": "delivery_id", "contracts": "contract_id",
       "producers": "producer_id", "products": "product_id", "sites": "site_id",
       "corrective_actions": "action_id"}


def one_of(table: str) -> str:
    """One record of ``table`` in words: deliveries -> "delivery"."""
    words = table.replace("_", " ")
    if words.endswith("ies"):
        return words[:-3] + "y"
    return words[:-1] if words.endswith("s") else words
