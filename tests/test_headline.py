"""The overview's headline figures: the sums of the cost per effect table over the same
period, the previous period as long and just before, on both stores."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import kuznia
from kuznia.errors import UsageError
from kuznia.services import costs, headline


def _sums(ws: kuznia.Workspace, start: dt.date, end: dt.date) -> tuple[int, int, float]:
    table = costs.cost_per_effect(ws.store, "product", start, end)
    return (sum(r["uses"] for r in table.rows), sum(r["effects"] for r in table.rows),
            sum(r["cost"] or 0.0 for r in table.rows))


def test_a_period_asked_and_the_one_before(filled: kuznia.Workspace) -> None:
    start, end = dt.date(2026, 3, 1), dt.date(2026, 3, 31)
    h = headline.headline(filled.store, start, end)
    assert h.asked and h.period == (start, end)
    assert h.previous == (dt.date(2026, 1, 29), dt.date(2026, 2, 28))  # 31 days, just before
    for span, got in ((h.period, h.current), (h.previous, h.before)):
        uses, effects, cost = _sums(filled, *span)
        assert (got["uses"], got["effects"]) == (uses, effects)
        assert got["cost"] == pytest.approx(cost)
        assert got["trace_filters"] == {"date_from": span[0].isoformat(),
                                        "date_to": span[1].isoformat()}
    assert h.before["uses"] > 0 and h.current["uses"] > 0
    cur = h.current
    if cur["effects"]:
        assert cur["cost_per_effect"] == pytest.approx(cur["cost"] / cur["effects"])
        assert cur["cost_per_effect_low"] <= cur["cost_per_effect"] \
            <= cur["cost_per_effect_high"]
    d = h.to_dict()
    assert d["changes"]["effects"] == headline.change(cur["effects"], h.before["effects"])


def test_with_no_dates_the_latest_90_days_of_data(filled: kuznia.Workspace) -> None:
    h = headline.headline(filled.store)
    assert not h.asked and h.period is not None and h.previous is not None
    assert h.period[1] == dt.date(2026, 4, 25)  # the last use in the examples
    assert (h.period[1] - h.period[0]).days + 1 == headline.DEFAULT_DAYS
    assert h.previous[1] == h.period[0] - dt.timedelta(days=1)
    assert h.current["uses"] == _sums(filled, *h.period)[0]


def test_a_product_narrows_every_figure(filled: kuznia.Workspace) -> None:
    h = headline.headline(filled.store, product="ATG-B")
    table = costs.cost_per_effect(filled.store, "product", *h.period, product="ATG-B")
    assert h.current["uses"] == sum(r["uses"] for r in table.rows)
    assert h.current["trace_filters"]["product"] == "ATG-B"


def test_an_empty_workspace_and_a_reversed_period(ws: kuznia.Workspace) -> None:
    h = headline.headline(ws.store)
    assert h.period is None and h.to_dict()["current"] == {}
    with pytest.raises(UsageError):
        headline.headline(ws.store, dt.date(2026, 3, 2), dt.date(2026, 3, 1))


def test_change() -> None:
    assert headline.change(80.0, 100.0) == pytest.approx(-0.2)
    assert headline.change(None, 1.0) is None and headline.change(1.0, 0.0) is None


@given(first=st.dates(), length=st.integers(0, 3000),
       date_from=st.none() | st.dates(), date_to=st.none() | st.dates())
def test_the_periods_are_in_order_for_any_dates_asked(first, length, date_from, date_to):
    """Any period asked (one end, both, or a day before or after every record) gives a
    period in order and a period before it that ends before it starts (or on the
    calendar's first day), never the years out of order that a lone early end gave."""
    from kuznia.services.headline import _spans

    assume(date_from is None or date_to is None or date_from <= date_to)
    last = min(first + dt.timedelta(days=length), dt.date.max)
    (start, end), (b_start, b_end) = _spans(first, last, date_from, date_to)
    assert start <= end and b_start <= b_end
    assert b_end < start or start == b_end == dt.date.min
    if date_from is not None:
        assert start == date_from
    if date_to is not None:
        assert end <= date_to
