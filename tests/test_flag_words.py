"""A flag's page says what was measured in a sentence, with the numbers behind a toggle
named in words: every code has its sentence, and no statistic's name shows."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from kuznia.server.web import flag_words
from kuznia.services.oversight import CODES

STATISTICS = re.compile(r"\b(z|p|p_bar|P bar|log median|hhi|df|t)\b\s*[=:]?", re.I)
REFERENCE = {"peers": 7, "median": 120.0, "low": 90.0, "high": 150.0, "q1": 100.0,
             "q3": 130.0, "window_days": 180, "log_median": 118.2, "noise": 0.12,
             "z": 6.1, "p": 1e-9, "p_bar": 1e-4, "tested": 800, "line": 240.5,
             "makers": 4, "contracts": 9, "first": 100.0, "last": 190.0, "producers": 3,
             "top_share": 0.91, "units": 5000, "due_on": "2026-01-10", "days_past_due": 40,
             "delivered": 100, "accepted": 80, "late": 6, "others_share": 0.1, "uses": 300,
             "effects": 280, "others_per_use": 0.4, "dispersion": 1.3, "operators_cv": 0.2,
             "month": "2026-03", "before_per_use": 0.3}


@given(st.sampled_from(sorted(CODES)), st.floats(0.001, 1e6), st.floats(0.001, 1e6))
def test_every_code_has_a_sentence_without_statistic_names(code: str, value: float,
                                                           bar: float) -> None:
    threshold = {"top_share": 0.5, "hhi": 2500} if code == "concentration" else bar
    flag = {"code": code, "value": value, "threshold": threshold, "reference": REFERENCE}
    said = flag_words.sentence(flag)
    assert said.endswith(".") and len(said) > 20
    assert not STATISTICS.search(said.replace("per use", "")), said
    assert not re.search(r"\d\.\d{5,}", said), said  # no raw float
    named = flag_words.numbers(flag)
    assert named[0][0] == "The figure measured"
    assert all(label[:1].isupper() and "_" not in label for label, _ in named), named
