"""The report: offline, every chart saved, every figure linked to the uses behind it."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

import kuznia
from kuznia.services.trace import use_list_path


def test_report_links_each_producer_figure_to_its_uses(filled: kuznia.Workspace,
                                                       tmp_path: Path):
    path = filled.report(tmp_path / "r")
    html = path.read_text()
    assert 'src="http' not in html and 'href="http' not in html
    for png in ("cost_by_product", "monthly_trend", "outcomes"):
        assert (path.parent / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    rows = filled.cost_per_effect("product,producer").rows
    links = set(re.findall(r'href="(uses/[^"]+\.csv)"', html))
    assert len(links) == len(rows)
    for r in rows:
        link = use_list_path(r["product_id"], r["producer_id"])
        assert link in links
        listed = list(csv.DictReader((path.parent / link).open()))
        assert len(listed) == r["uses"]
        assert sum(int(u["effects"]) for u in listed) == r["effects"]
        # the exported lists price uses by the same rule as the figures and `kuznia uses`
        assert sum(float(u["cost"]) for u in listed) == pytest.approx(r["cost"])
        shown = {u["use_id"]: u for u in filled.uses(product=r["product_id"],
                                                     producer=r["producer_id"] or "-").rows}
        for u in listed:
            assert u["price_basis"] == shown[u["use_id"]]["price_basis"]
        assert {u["product_id"] for u in listed} == {r["product_id"]}
    # anchors for every figure exist
    for target in re.findall(r'href="#(trace-[^"]+)"', html):
        assert f'id="{target}"' in html


def test_big_workspaces_name_the_command_instead(filled: kuznia.Workspace, tmp_path: Path):
    path = filled.report(tmp_path / "r", with_uses=False)
    html = path.read_text()
    assert "kuznia report --with-uses" in html
    assert not (path.parent / "uses").exists()
    assert "kuznia uses --product ATG-B --producer P001" in html


def test_a_section_that_cannot_be_computed_says_why(ws: kuznia.Workspace, example_dir: Path,
                                                   tmp_path: Path):
    for table in ("producers", "products", "sites"):  # sites, but no regions
        ws.import_file(table, example_dir / f"{table}.csv")
    html = ws.report(tmp_path / "r").read_text()
    assert "Resilience: output under strikes" in html
    assert "Not computed for this workspace: no strike figures for region" in html


def _tick_texts(fig) -> list[str]:  # type: ignore[no-untyped-def]
    fig.canvas.draw()  # a formatter writes the ticks when the figure is drawn
    return [t.get_text() for ax in fig.axes for t in ax.get_xticklabels() if t.get_text()]


def test_chart_months_are_said_in_the_language_asked():
    import datetime as dt

    import matplotlib.pyplot as plt

    from kuznia import i18n
    from kuznia.report import charts

    rows = [{"product_id": "X1", "month": f"2026-{m:02d}", "cost_per_effect": 10.0 + m,
             "cost_per_effect_low": 5.0, "cost_per_effect_high": 20.0 + m} for m in range(1, 10)]
    fan = [{"product_id": "X1", "monthly_demand": 5.0,
            "by_month": [{"month": f"2026-{m:02d}", "p10": 1.0, "p50": 3.0, "p90": 6.0}
                         for m in range(1, 13)]}]
    months = {}
    for lang in ("uk", "en"):
        with i18n.language(lang):
            said = {i18n.month(dt.date(2026, m, 1)) for m in range(1, 13)}
            trend = charts.monthly_trend_figure(rows, ["X1"], "USD")
            strikes = charts.fan_figure(fan, "t")
            ylabel = trend.axes[0].get_ylabel()
        months[lang] = _tick_texts(trend) + _tick_texts(strikes)
        plt.close(trend)
        plt.close(strikes)
        assert months[lang] and set(months[lang]) <= said, (lang, months[lang])
    assert all(re.search("[а-яі]", t) and not re.search("[A-Za-z]", t) for t in months["uk"])
    assert "бер.\u00a02026" in months["uk"]  # March, with the year
    assert "Mar\u00a02026" in months["en"] or "Apr\u00a02026" in months["en"]
    assert ylabel == "cost per effect (USD)"
