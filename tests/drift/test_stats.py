"""The column tests against scipy's reference implementations, and BH against its definition."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from ml.drift import stats
from ml.drift.verdict import benjamini_hochberg


@pytest.mark.parametrize(("n", "m", "decimals"), [(40, 70, None), (3000, 2500, None), (4000, 5000, 1)])
def test_ks_and_wasserstein_match_scipy(n: int, m: int, decimals: int | None) -> None:
    rng = np.random.default_rng(n)
    reference, current = rng.normal(size=n), rng.normal(0.1, 1.2, size=m)
    if decimals is not None:  # heavy ties
        reference, current = reference.round(decimals), current.round(decimals)
    reference.sort()
    current.sort()
    statistic, p_value, wasserstein = stats.ks_and_wasserstein(reference, current)
    expected = scipy_stats.ks_2samp(reference, current)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=0.05, abs=1e-4)
    assert wasserstein == pytest.approx(scipy_stats.wasserstein_distance(reference, current), rel=1e-9)


@pytest.mark.filterwarnings("error")
def test_wasserstein_across_the_whole_float64_range_is_not_nan() -> None:
    extremes = np.array([-1e308, 1e308])
    assert stats.ks_and_wasserstein(extremes, extremes)[2] == 0.0  # the step between them overflows
    assert stats.ks_and_wasserstein(extremes, np.array([-1e308, 0.0]))[2] == pytest.approx(0.5e308)
    assert stats.ks_and_wasserstein(extremes[:1], extremes[1:])[2] == np.inf  # 2e308 apart: beyond float64


def test_sorted_quantile_matches_numpy() -> None:
    values = np.sort(np.random.default_rng(0).exponential(size=1001))
    for q in (0.0, 0.005, 0.37, 0.5, 0.995, 1.0):
        assert stats.sorted_quantile(values, q) == pytest.approx(np.quantile(values, q))


def test_chi_square_matches_scipy_and_ignores_empty_categories() -> None:
    reference, current = np.array([120.0, 300, 0, 80]), np.array([100.0, 260, 0, 140])
    statistic, p_value = stats.chi_square(reference, current)
    table = np.vstack([reference, current])[:, [0, 1, 3]]
    expected = scipy_stats.chi2_contingency(table, correction=False)
    assert (statistic, p_value) == pytest.approx((expected.statistic, expected.pvalue))
    assert stats.chi_square(np.array([5.0]), np.array([9.0])) == (0.0, 1.0)


def test_js_distance_is_scipy_base_two_and_bounded() -> None:
    reference, current = np.array([10.0, 20, 30]), np.array([30.0, 20, 10])
    assert stats.js_distance(reference, current) == pytest.approx(jensenshannon(reference, current, base=2))
    assert stats.js_distance(np.array([1.0, 0]), np.array([0.0, 1])) == pytest.approx(1.0)
    assert stats.js_distance(reference, reference * 7) == pytest.approx(0.0, abs=1e-9)


def test_two_proportions_z_test() -> None:
    z, p_value = stats.two_proportions(50, 1000, 80, 1000)
    pooled = 130 / 2000
    expected_z = (0.08 - 0.05) / np.sqrt(pooled * (1 - pooled) * 2 / 1000)
    assert z == pytest.approx(expected_z)
    assert p_value == pytest.approx(2 * scipy_stats.norm.sf(expected_z))
    assert stats.two_proportions(0, 100, 0, 100) == (0.0, 1.0)


def test_two_proportions_on_a_tiny_batch_is_exact_and_keeps_its_false_alarm_rate() -> None:
    """1 null in 3 rows against a 2.7% reference rate: the normal approximation said p = 0.001."""
    z, p_value = stats.two_proportions(135, 5000, 1, 3)
    assert p_value == pytest.approx(scipy_stats.fisher_exact([[135, 4865], [1, 2]]).pvalue) and p_value > 0.05
    assert z > 0
    rng = np.random.default_rng(3)
    for rows in (3, 10, 40):  # batches from the reference's own rate: p < 0.05 at most 5% of the time
        nulls = rng.binomial(rows, 135 / 5000, size=400)
        alarms = sum(stats.two_proportions(135, 5000, int(hits), rows)[1] < 0.05 for hits in nulls)
        assert alarms <= 0.05 * len(nulls), (rows, alarms)


def test_psi_is_zero_for_identical_samples_and_grows_with_shift() -> None:
    rng = np.random.default_rng(1)
    reference = np.sort(rng.normal(size=20_000))
    small, large = np.sort(rng.normal(0.1, 1, 20_000)), np.sort(rng.normal(0.5, 1, 20_000))
    assert stats.psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    assert 0 < stats.psi(reference, small) < stats.psi(reference, large)


def test_benjamini_hochberg_matches_its_definition() -> None:
    rng = np.random.default_rng(2)
    p_values = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.002, size=10)])
    adjusted = benjamini_hochberg(p_values)
    for q in (0.01, 0.05, 0.2):
        ranked = np.sort(p_values)
        passing = np.nonzero(ranked <= q * np.arange(1, ranked.size + 1) / ranked.size)[0]
        cutoff = ranked[passing.max()] if passing.size else -1.0
        assert set(np.nonzero(adjusted <= q)[0]) == set(np.nonzero(p_values <= cutoff)[0])
    assert np.all(adjusted >= p_values - 1e-12) and np.all(adjusted <= 1)
    assert benjamini_hochberg(np.array([])).size == 0


def test_tail_functions_match_scipy_special() -> None:
    from scipy import special

    for x in np.concatenate([np.linspace(0.02, 5, 250), [8.0, 20.0]]):
        assert stats.kolmogorov_sf(x) == pytest.approx(special.kolmogorov(x), rel=1e-12, abs=1e-300)
    for dof in (1, 2, 3, 7, 40, 1000):
        for x in np.concatenate([np.linspace(0.001, 4 * dof, 120), [10.0 * dof + 100]]):
            assert stats.chi2_sf(x, dof) == pytest.approx(special.chdtrc(dof, x), rel=1e-10, abs=1e-300)
    assert stats.kolmogorov_sf(0.0) == 1.0 and stats.chi2_sf(0.0, 3) == 1.0
