"""Statistical helpers shared by the tests (goodness of fit of seeded samples)."""

import numpy as np
from scipy import stats


def chi_square_pvalue(counts, probs):
    """Pearson chi-square p-value of bin ``counts`` against bin probabilities ``probs``.

    Adjacent bins are pooled from the left until each group's expected count is >= 5 (the usual
    validity condition of the chi-square approximation); a left-over group joins the last one. The
    expected counts are rescaled to the observed total, so ``probs`` may miss a tiny tail.
    """
    counts = np.asarray(counts, dtype=float)
    expected = np.asarray(probs, dtype=float) * counts.sum()
    assert counts.shape == expected.shape
    assert not np.any((expected == 0) & (counts > 0)), "a value of probability 0 was observed"
    obs_bins, exp_bins = [], []
    acc_o = acc_e = 0.0
    for o, e in zip(counts, expected, strict=True):
        acc_o += o
        acc_e += e
        if acc_e >= 5:
            obs_bins.append(acc_o)
            exp_bins.append(acc_e)
            acc_o = acc_e = 0.0
    assert obs_bins, "too few samples for a chi-square test"
    obs_bins[-1] += acc_o
    exp_bins[-1] += acc_e
    obs, exp = np.array(obs_bins), np.array(exp_bins)
    assert obs.size >= 2, "a chi-square test needs at least two pooled bins"
    return stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue


def sample_pvalue(samples, pmf):
    """Chi-square p-value of integer ``samples`` against ``pmf`` (values 0..K, tail beyond K one bin)."""
    pmf = np.asarray(pmf, dtype=float)
    K = pmf.size - 1
    counts = np.bincount(np.minimum(samples, K + 1), minlength=K + 2)
    return chi_square_pvalue(counts, np.append(pmf, max(0.0, 1.0 - pmf.sum())))
