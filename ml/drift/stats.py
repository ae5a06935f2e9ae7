"""The two-sample tests, each returning a statistic, a p-value and an effect size on a fixed scale.

A p-value alone flags any difference once samples are large; an effect size alone flags noise when they are
small. The drift rule needs both, so every test here reports both.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

EXACT_KS_LIMIT = 10_000  # below n*m of this, scipy's exact KS distribution; above, the asymptotic one


def ks_and_wasserstein(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, float]:
    """Kolmogorov-Smirnov D, its p-value and the Wasserstein-1 distance, from two *sorted* samples.

    Both come from the same pass over the merged sample: the two empirical CDFs evaluated at every value.
    """
    n, m = reference.size, current.size
    merged = np.sort(np.concatenate([reference, current]), kind="mergesort")
    cdf_ref = np.searchsorted(reference, merged, side="right") / n
    cdf_cur = np.searchsorted(current, merged, side="right") / m
    gaps = np.abs(cdf_ref - cdf_cur)
    statistic = float(gaps.max())
    wasserstein = float(np.dot(gaps[:-1], np.diff(merged)))
    if n * m <= EXACT_KS_LIMIT:
        p_value = float(stats.ks_2samp(reference, current, method="auto").pvalue)
    else:
        p_value = float(stats.kstwo.sf(statistic, np.round(n * m / (n + m))))
    return statistic, p_value, wasserstein


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, floor: float = 1e-4) -> float:
    """Population stability index over the reference's deciles (reported, not gated: it has no p-value)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1) / reference.size
    cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=edges.size + 1) / current.size
    ref_share, cur_share = np.maximum(ref_share, floor), np.maximum(cur_share, floor)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def chi_square(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Pearson chi-square on the 2 × K table of category counts (categories seen on either side)."""
    table = np.vstack([reference, current]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, so 0 = same shares, 1 = no category in common) of two count vectors."""
    p = reference / max(reference.sum(), 1)
    q = current / max(current.sum(), 1)
    m = (p + q) / 2
    divergence = (special.rel_entr(p, m).sum() + special.rel_entr(q, m).sum()) / 2 / np.log(2)
    return float(np.sqrt(max(divergence, 0.0)))


def two_proportions(hits_ref: int, n_ref: int, hits_cur: int, n_cur: int) -> tuple[float, float]:
    """Pooled two-proportion z-test: (z, two-sided p). Both shares 0 or 1 means no evidence: p = 1."""
    if n_ref == 0 or n_cur == 0:
        return 0.0, 1.0
    pooled = (hits_ref + hits_cur) / (n_ref + n_cur)
    spread = pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur)
    if spread <= 0:
        return 0.0, 1.0
    z = (hits_cur / n_cur - hits_ref / n_ref) / np.sqrt(spread)
    return float(z), float(special.erfc(abs(z) / np.sqrt(2)))
