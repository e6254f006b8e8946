"""Crow-AMSAA against independently computed values, closed forms and a generic optimiser."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from kuznia.analytics.reliability import (
    CrowAMSAA,
    crow_amsaa,
    crow_amsaa_grouped,
    discrete_growth,
    exact_information,
    grouped_information,
)

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
    lambda c: sum(c[1:]) > 0 and sum(c[:-1]) > 0 and sum(c) > 2))
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


def test_fisher_bounds_match_the_published_example():
    # ReliaSoft's RGA reference, "Crow-AMSAA Confidence Bounds Example": 22 failures,
    # time-terminated at T = 620 h, beta = 0.6142 (rounded there, hence the 1% tolerance).
    # Its covariance of (lam, beta) and the variance of the instantaneous intensity:
    lam = 22 / 620**0.6142
    cov = np.linalg.inv(exact_information(22, 620.0, 0.6142, lam))
    assert cov[0, 0] == pytest.approx(0.13519969, rel=0.01)
    assert cov[0, 1] == pytest.approx(-0.046614609, rel=0.01)
    assert cov[1, 1] == pytest.approx(0.017105343, rel=0.01)
    fit = CrowAMSAA(0.6142, lam, 0.0, 22, 620.0, False, None, tuple(map(tuple, cov)))
    assert fit.intensity_variance() == pytest.approx(0.0000431393, rel=0.01)


def test_mtbf_interval_brackets_the_estimate_and_narrows_with_data():
    fit = crow_amsaa(TIMES)
    lo, hi = fit.instantaneous_mtbf_interval
    assert lo < fit.instantaneous_mtbf < hi
    lo95, hi95 = fit.mtbf_interval(0.95)
    assert lo95 < lo and hi < hi95
    # Fisher's log-normal bounds are symmetric about the estimate on the log scale
    f_lo, f_hi = fit.fisher_intensity_interval(0.9)
    rho = fit.intensity()
    assert np.log(rho / f_lo) == pytest.approx(np.log(f_hi / rho))


def test_mtbf_interval_covers_the_truth_about_90_percent_of_the_time():
    rng = np.random.default_rng(5)
    lam, beta, end = 0.5, 0.7, 400.0
    true = 1 / (lam * beta * end ** (beta - 1))
    hits = 0
    reps = 1500
    for _ in range(reps):
        n = rng.poisson(lam * end**beta)
        times = end * rng.random(n) ** (1 / beta)  # a power-law NHPP on [0, end]
        lo, hi = crow_amsaa(times, end=end).instantaneous_mtbf_interval
        hits += lo <= true <= hi
    assert 0.86 <= hits / reps <= 0.94


def _grouped_loglik(lam: float, beta: float, ends: np.ndarray, counts: np.ndarray) -> float:
    cum = lam * ends**beta
    mu = np.diff(np.concatenate([[0.0], cum]))
    return float(np.sum(counts * np.log(mu) - mu))


def test_grouped_information_is_minus_the_numerical_hessian():
    ends = np.array([50.0, 120.0, 200.0, 410.0])
    counts = np.array([9.0, 7.0, 5.0, 6.0])
    fit = crow_amsaa_grouped(ends, counts)
    x = np.array([fit.lam, fit.beta])
    h = np.array([1e-4 * fit.lam, 1e-4])
    num = np.zeros((2, 2))
    for a in range(2):
        for b in range(2):
            def f(da: float, db: float, a: int = a, b: int = b) -> float:
                p = x.copy()
                p[a] += da * h[a]
                p[b] += db * h[b]
                return _grouped_loglik(p[0], p[1], ends, counts)
            num[a, b] = (f(1, 1) - f(1, -1) - f(-1, 1) + f(-1, -1)) / (4 * h[a] * h[b])
    info = grouped_information(ends, counts, fit.beta, fit.lam)
    np.testing.assert_allclose(info, -num, rtol=1e-4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=3, max_size=6).filter(lambda c: sum(c[1:]) > 0),
       st.floats(0.5, 0.99))
def test_discrete_projection_reaches_its_target(failures, target):
    try:
        g = discrete_growth([200] * len(failures), failures)
    except ValueError:  # no finite fit: only when all failures are in the last stage
        assert sum(failures[:-1]) == 0
        return
    n = g.uses_to_reach(target)
    if g.reliability() >= target:
        assert n == g.uses
    elif n is None:  # no growth, or growth too slow to ever get there in floats
        assert g.fit.beta >= 1 or g.fit.beta > 0.99
    else:
        assert n > g.uses
        assert g.reliability(n) == pytest.approx(target, abs=1e-9)


def test_discrete_growth_sees_falling_failure_rates():
    g = discrete_growth([500, 500, 500, 500], [60, 35, 20, 12])
    assert g.fit.beta < 1
    lo, hi = g.reliability_interval()
    assert lo < g.reliability() < hi
    # the current design's reliability is above the pooled one (1 - 127/2000)
    assert g.reliability() > 1 - 127 / 2000


def test_failures_only_at_the_end_have_no_finite_fit():
    with pytest.raises(ValueError, match="late"):
        crow_amsaa_grouped([10.0, 20.0, 30.0], [0, 0, 3])


@pytest.mark.parametrize("mean_failures", [5, 10, 20])
def test_mtbf_bounds_hold_in_each_tail_with_few_failures(mean_failures: int):
    """Power-law processes (beta 0.5 and 1) with 5 to 20 failures expected: the 90%
    likelihood-ratio bounds on the instantaneous intensity miss low and high each 2-8% of
    the time; Fisher's ln-normal bounds, with 5 failures, miss low more often (7-8%)."""
    from kuznia.analytics.reliability import lr_intensity_interval

    rng = np.random.default_rng(mean_failures)
    end = 1000.0
    for beta in (0.5, 1.0):
        lam = mean_failures / end**beta
        rho = lam * beta * end ** (beta - 1)
        low = high = f_low = total = 0
        for _ in range(4000):
            n = rng.poisson(mean_failures)
            if n < 2:
                continue
            times = np.sort(end * rng.random(n) ** (1 / beta))
            fit = crow_amsaa(times, end=end)
            lo, hi = fit.intensity_interval(0.9)
            assert (lo, hi) == lr_intensity_interval(n, fit.beta, end, 0.9)
            low += rho < lo
            high += rho > hi
            f_low += rho < fit.fisher_intensity_interval(0.9)[0]
            total += 1
        assert 0.02 <= low / total <= 0.08 and 0.02 <= high / total <= 0.08, (beta, low, high)
        if mean_failures == 5:  # Fisher's bounds miss low more often than these
            assert f_low > low


@pytest.mark.parametrize("failures", [5, 10, 20])
@pytest.mark.parametrize("termination", ["failure", "time"])
def test_intensity_bounds_cover_for_either_termination(failures: int, termination: str):
    """A power-law process (beta 0.6) observed to its n-th failure, or to a fixed time with
    n failures expected: the 90% bounds on the intensity at the end cover the truth 85-95%
    of the time, missing each side at most 8%. The likelihood-ratio bounds the first
    version gave failure-terminated data covered 82% at 5 failures (16.5% missed low)."""
    rng = np.random.default_rng(100 + failures)
    beta, reps = 0.6, 3000
    lam = failures / 1000.0**beta
    low = high = total = 0
    for _ in range(reps):
        if termination == "failure":
            arrivals = np.cumsum(rng.exponential(size=failures))  # unit-rate process
            times = (arrivals / lam) ** (1 / beta)
            end, fit = float(times[-1]), crow_amsaa(times)
        else:
            end = 1000.0
            n = rng.poisson(failures)
            if n < 2:
                continue
            fit = crow_amsaa(end * rng.random(n) ** (1 / beta), end=end)
        assert fit.termination == termination
        rho = lam * beta * end ** (beta - 1)
        lo, hi = fit.intensity_interval(0.9)
        low += rho < lo
        high += rho > hi
        total += 1
    assert 0.85 <= 1 - (low + high) / total <= 0.95, (low, high, total)
    assert low / total <= 0.08 and high / total <= 0.08, (low, high, total)


def test_exact_factors_are_the_quantiles_of_the_gamma_pivot():
    """The exact failure-terminated bounds against the pivot drawn directly: the product
    of independent Gamma(n - 1) and Gamma(n) variables over n**2."""
    from kuznia.analytics.reliability import exact_intensity_factors

    rng = np.random.default_rng(3)
    for n in (2, 5, 30):
        w = rng.gamma(n - 1, size=400_000) * rng.gamma(n, size=400_000) / n**2
        lo, hi = exact_intensity_factors(n, 0.9)
        assert np.mean(w < lo) == pytest.approx(0.05, abs=0.002)
        assert np.mean(w > hi) == pytest.approx(0.05, abs=0.002)
