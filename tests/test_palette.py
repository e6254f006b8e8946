"""The charts' colours: intervals readable against the page (3:1, WCAG 2.1 1.4.11), the
outcomes and the board's blocks apart for a reader with deuteranopia or protanopia
(simulated with Machado, Oliveira and Fernandes 2009, severity 1), failure not green, and
the pages' script and style sheet using the same values as the report."""

from __future__ import annotations

import colorsys
import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest

import kuznia
from kuznia import palette

STATIC = Path(kuznia.__file__).parent / "server" / "static"
# Machado et al. (2009) simulation matrices in linear RGB, severity 1.0
DEUTERANOPIA = np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                         [-0.011820, 0.042940, 0.968881]])
PROTANOPIA = np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                       [-0.003882, -0.048116, 1.051998]])
MIN_APART = 20.0  # CIELAB distance: plainly different colours, not shades of one


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255


def _linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def luminance(hex_colour: str) -> float:
    return float(_linear(_rgb(hex_colour)) @ [0.2126, 0.7152, 0.0722])


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def lab(linear_rgb: np.ndarray) -> np.ndarray:
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                  [0.0193, 0.1192, 0.9505]])
    xyz = m @ np.clip(linear_rgb, 0, 1) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def seen_by(colours: list[str], matrix: np.ndarray | None) -> list[np.ndarray]:
    return [lab(_linear(_rgb(c)) if matrix is None else matrix @ _linear(_rgb(c)))
            for c in colours]


def test_contrast_matches_the_wcag_worked_figures() -> None:
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)


def test_an_interval_reads_against_the_page_and_its_point_against_it() -> None:
    assert contrast(palette.INTERVAL, "#FFFFFF") >= 3.0
    assert contrast(palette.POINT, palette.INTERVAL) >= 3.0


@pytest.mark.parametrize("matrix", [None, DEUTERANOPIA, PROTANOPIA],
                         ids=["typical", "deuteranopia", "protanopia"])
@pytest.mark.parametrize("colours", [palette.OUTCOMES, palette.BLOCKS],
                         ids=["outcomes", "board"])
def test_colours_stay_apart(colours: dict[str, str], matrix: np.ndarray | None) -> None:
    seen = seen_by(list(colours.values()), matrix)
    gaps = {(a, b): float(np.linalg.norm(x - y)) for (a, x), (b, y) in
            itertools.combinations(zip(colours, seen, strict=True), 2)}
    assert min(gaps.values()) >= MIN_APART, gaps


def test_the_simulation_would_see_red_and_green_merge() -> None:
    """The check above can fail: the old palette's red and green merge for deuteranopes."""
    red, green = seen_by(["#c62828", "#2e7d32"], DEUTERANOPIA)
    assert float(np.linalg.norm(red - green)) < MIN_APART


def test_failure_is_not_green() -> None:
    hue = colorsys.rgb_to_hsv(*_rgb(palette.OUTCOMES["failure"]))[0] * 360
    assert not 75 <= hue <= 165, hue


def test_the_pages_use_the_palette() -> None:
    script = (STATIC / "kuznia.js").read_text()
    found = re.search(r"const PALETTE = (\{[^}]*\});", script)
    assert found is not None
    js = json.loads(re.sub(r"(\w+):", r'"\1":', found.group(1)))
    assert js["interval"] == palette.INTERVAL and js["point"] == palette.POINT
    assert {k: js[k] for k in palette.OUTCOMES} == palette.OUTCOMES
    css = (STATIC / "kuznia.css").read_text()
    for kind, colour in palette.BLOCKS.items():
        assert re.search(rf"\.k-{kind} {{ border-color: {colour}; }}", css), kind


def test_the_report_uses_the_palette() -> None:
    from kuznia.report import charts

    assert charts.OUTCOME_COLOURS == {f"n_{k}": v for k, v in palette.OUTCOMES.items()}
