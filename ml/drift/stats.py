"""The two-sample tests, each returning a statistic, a p-value and an effect size on a fixed scale.

A p-value alone flags any difference once samples are large; an effect size alone flags noise when they are
small. The drift rule needs both, so every test here reports both.

The two tail functions needed (Kolmogorov, chi-square) are computed here rather than imported from
scipy.special, whose import alone costs the drift job ~25 MB and half a second; tests pin them to scipy.
"""

from __future__ import annotations

import math

import numpy as np

EXACT_KS_LIMIT = 10_000  # below n*m of this, scipy's exact KS distribution; above, the asymptotic one


def ks_and_wasserstein(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, float]:
    """Kolmogorov-Smirnov D, its p-value and the Wasserstein-1 distance, from two *sorted* samples.

    Both come from one merge of the two samples (a stable sort of two sorted runs is a linear merge): the
    empirical CDFs at each merged value, read off after the last of any tied values.
    """
    n, m = reference.size, current.size
    merged = np.concatenate([reference, current])
    order = np.argsort(merged, kind="stable")
    merged = merged[order]
    from_reference = order < n
    gaps = np.abs(np.cumsum(from_reference) / n - np.cumsum(~from_reference) / m)
    run_ends = np.append(merged[1:] != merged[:-1], True)
    statistic = float(gaps[run_ends].max())
    # Halved steps: a step from -1e308 to 1e308 (unvalidated data) overflows, and 0 × inf would make it NaN; a
    # distance beyond float64 is inf (Python's float product, without numpy's warning). Not np.dot: BLAS threads
    # stall on busy hosts.
    wasserstein = 2 * float((gaps[:-1] * np.diff(merged / 2)).sum())
    if n * m <= EXACT_KS_LIMIT:
        from scipy import stats  # exact small-sample distribution; a heavy import, so only when needed

        p_value = float(stats.ks_2samp(reference, current, method="exact").pvalue)
    else:
        root = np.sqrt(n * m / (n + m))  # Stephens' correction of the limiting Kolmogorov distribution
        p_value = kolmogorov_sf((root + 0.12 + 0.11 / root) * statistic)
    return statistic, p_value, wasserstein


def sorted_quantile(values: np.ndarray, q: float | np.ndarray) -> np.ndarray | float:
    """Linear-interpolated quantile of an already sorted sample (np.quantile without its sort)."""
    position = np.asarray(q) * (values.size - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, values.size - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, floor: float = 1e-4) -> float:
    """Population stability index over the reference's deciles (reported, not gated: it has no p-value)."""
    edges = np.unique(sorted_quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
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
    return statistic, chi2_sf(statistic, table.shape[1] - 1)


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, so 0 = same shares, 1 = no category in common) of two count vectors."""
    p = reference / max(reference.sum(), 1)
    q = current / max(current.sum(), 1)
    m = (p + q) / 2
    divergence = (_relative_entropy(p, m) + _relative_entropy(q, m)) / 2 / np.log(2)
    return float(np.sqrt(max(divergence, 0.0)))


EXACT_PROPORTION_BELOW = 5  # expected hits or misses in the smaller sample under which the z-test's p is wrong


def two_proportions(hits_ref: int, n_ref: int, hits_cur: int, n_cur: int) -> tuple[float, float]:
    """Pooled two-proportion z-test: (z, two-sided p). Both shares 0 or 1 means no evidence: p = 1.

    The normal approximation needs about 5 expected hits and misses: for 1 null in 3 rows against a 2.7% rate it
    says p = 0.001 where the exact chance is 8%. Below that, p is Fisher's exact test (scipy, imported only then).
    """
    if n_ref == 0 or n_cur == 0:
        return 0.0, 1.0
    pooled = (hits_ref + hits_cur) / (n_ref + n_cur)
    spread = pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur)
    if spread <= 0:
        return 0.0, 1.0
    z = float((hits_cur / n_cur - hits_ref / n_ref) / np.sqrt(spread))
    if min(pooled, 1 - pooled) * min(n_ref, n_cur) < EXACT_PROPORTION_BELOW:
        from scipy import stats  # a heavy import, so only when needed

        table = [[hits_ref, n_ref - hits_ref], [hits_cur, n_cur - hits_cur]]
        return z, float(stats.fisher_exact(table).pvalue)
    return z, math.erfc(abs(z) / math.sqrt(2))


def _relative_entropy(p: np.ndarray, q: np.ndarray) -> float:
    """sum p·log(p/q), with 0·log 0 = 0 (q > 0 wherever p > 0 here: q is a mixture containing p)."""
    present = p > 0
    return float(np.sum(p[present] * np.log(p[present] / q[present])))


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (the two-sided KS limit), to double precision."""
    if x <= 0:
        return 1.0
    if x < 1.0:  # the theta-function form converges fast for small x
        terms = [math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)) for k in range(1, 8)]
        return max(0.0, 1.0 - math.sqrt(2 * math.pi) / x * math.fsum(terms))
    terms = [(-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 101)]
    return min(1.0, max(0.0, 2 * math.fsum(terms)))


def chi2_sf(statistic: float, dof: int) -> float:
    """P(χ²_dof > statistic): the regularised upper incomplete gamma Q(dof/2, statistic/2)."""
    a, x = dof / 2, statistic / 2
    if x <= 0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:  # series for the lower part P, then Q = 1 - P
        term = total = 1 / a
        for n in range(1, 10_000):
            term *= x / (a + n)
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - math.exp(log_front) * total)
    tiny = 1e-300  # continued fraction for Q (modified Lentz)
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    fraction = d
    for n in range(1, 10_000):
        an = -n * (n - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        fraction *= step
        if abs(step - 1) < 1e-16:
            break
    return min(1.0, math.exp(log_front) * fraction)
