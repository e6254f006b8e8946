"""Crow-AMSAA against independently computed values, closed forms and a generic optimiser."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from kuznia.analytics.reliability import crow_amsaa, crow_amsaa_grouped

# Failure-terminated data and the values the `reliability` Python package (M. Reid)
# computes for it in its own test suite: an independent implementation.
TIMES = [10400, 26900, 43400, 66400, 89400, 130400, 163400, 232000, 242000, 340700]


def test_matches_an_independent_implementation():
    fit = crow_amsaa(TIMES)
    assert fit.beta == pytest.approx(0.741656619656656, rel=1e-12)
    assert fit.lam == pytest.approx(0.0007886414235385733, rel=1e-12)
    assert fit.growth_rate == pytest.approx(0.25834338034334403, rel=1e-12)
    assert fit.instantaneous_mtbf == pytest.approx(45937.70094814556, rel=1e-12)
    assert fit.cumulative_mtbf == pytest.approx(34070.0)


def test_time_terminated_closed_forms():
    t = np.array([5.0, 40.0, 43.0, 175.0, 389.0])
    fit = crow_amsaa(t, end=500.0)
    assert fit.beta == pytest.approx(5 / np.log(500.0 / t).sum())
    assert fit.lam == pytest.approx(5 / 500.0**fit.beta)
    assert fit.beta_unbiased == pytest.approx(fit.beta * 4 / 5)
    assert not fit.failure_terminated
    # the expected failures by the end equal the failures seen (the MLE's property)
    assert fit.lam * 500.0**fit.beta == pytest.approx(5.0)


def test_cramer_von_mises_separates_model_data_from_a_break():
    rng = np.random.default_rng(11)
    fits_model = []
    for _ in range(20):
        times = (np.cumsum(rng.exponential(size=40)) / 0.5) ** (1 / 0.7)  # power-law NHPP
        fit = crow_amsaa(times, end=float(times[-1]) * 1.01)
        assert fit.cramer_von_mises >= 1 / (12 * 40)
        fits_model.append(fit.cramer_von_mises)
    # a process that stops failing, then fails in a burst: no power law describes it
    burst = np.concatenate([np.linspace(1, 10, 20), np.linspace(990, 1000, 20)])
    broken = crow_amsaa(burst, end=1001.0).cramer_von_mises
    assert np.median(fits_model) < 0.2 < broken


def _grouped_nll(beta: float, ends: np.ndarray, counts: np.ndarray) -> float:
    n = counts.sum()
    lam = n / ends[-1] ** beta
    prev = np.concatenate([[0.0], ends[:-1]])
    mu = lam * (ends**beta - prev**beta)
    return -float(np.sum(counts * np.log(mu)) - mu.sum())


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=3, max_size=12).filter(
    lambda c: sum(c[1:]) > 0 and sum(c) > 2))
def test_grouped_fit_maximises_the_grouped_likelihood(counts):
    ends = np.cumsum(np.linspace(10, 40, len(counts)))
    c = np.asarray(counts, dtype=float)
    fit = crow_amsaa_grouped(ends, c)
    best = minimize_scalar(_grouped_nll, bounds=(1e-3, 50), args=(ends, c), method="bounded",
                           options={"xatol": 1e-10})
    assert fit.beta == pytest.approx(best.x, rel=1e-4, abs=1e-6)
    assert fit.lam * ends[-1] ** fit.beta == pytest.approx(c.sum())


def test_fine_groups_approach_the_exact_fit():
    rng = np.random.default_rng(3)
    beta, lam = 0.6, 0.5
    times = (np.cumsum(rng.exponential(size=400)) / lam) ** (1 / beta)  # an NHPP draw
    exact = crow_amsaa(times, end=float(times[-1]) * 1.001)
    ends = np.linspace(times[-1] * 1.001 / 2000, times[-1] * 1.001, 2000)
    counts = np.histogram(times, bins=np.concatenate([[0.0], ends]))[0]
    grouped = crow_amsaa_grouped(ends, counts)
    assert grouped.beta == pytest.approx(exact.beta, rel=0.01)
    assert exact.beta == pytest.approx(beta, rel=0.15)  # and both near the truth


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        crow_amsaa([5.0])
    with pytest.raises(ValueError):
        crow_amsaa([5.0, 10.0], end=7.0)
    with pytest.raises(ValueError):
        crow_amsaa_grouped([10.0, 20.0], [3, 0])
