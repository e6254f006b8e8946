"""The report: offline, every chart saved, every figure linked to the uses behind it."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import kuznia


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
        link = next(x for x in links if x.startswith(f"uses/{r['product_id']}/"
                                                     f"{r['producer_id'] or '_not_given'}"))
        listed = list(csv.DictReader((path.parent / link).open()))
        assert len(listed) == r["uses"]
        assert sum(int(u["effects"]) for u in listed) == r["effects"]
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
