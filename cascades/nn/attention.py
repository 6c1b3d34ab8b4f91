"""Mean-field signal propagation through softmax self-attention at initialization.

One multi-head self-attention layer as in ``torch.nn.MultiheadAttention`` (no mask, no dropout)
maps a token tensor X of shape (batch, T, d) to

    Q = X Wq^T + bq,   K = X Wk^T + bk,   V = X Wv^T + bv,
    A_h = softmax(Q_h K_h^T / sqrt(d_h)) (over keys),   O_h = A_h V_h,
    Y = concat_h(O_h) Wo^T + bo,

with H heads of dimension d_h = d / H (the 1 / sqrt(d_h) scaling of Vaswani et al. 2017), weights
iid N(0, sigma_*^2 / d) (``sigma_q2``, ``sigma_k2``, ``sigma_v2``, ``sigma_o2``: variance times
fan-in, as everywhere in :mod:`cascades.nn`) and biases iid N(0, sigma_b^2) (PyTorch initialises
both bias vectors to zero: ``sigma_b2 = 0``, the default).

**The state.** A sequence is a (T, d) block of the batch. Positions are exchangeable and so are
sequences; the mean-field state is q = E[x^2] (uncentered second moment of an entry) and three
*uncentered* correlations (second moments divided by q): ``c_pos`` between two positions of one
sequence, ``c`` between the same position of two sequences, ``c_x`` between different positions of
different sequences. Write Khat(ai, bk) for this pattern (1 on the diagonal; a, b index sequences
and i, k positions). No entry mean is needed: every projection weight is zero-mean.

**Logits (the wide limit d -> inf, d_h -> inf, T fixed).** Given X, the coordinates m of the
query of token (a, i) are iid over m with E[Q_m(ai) Q_m(bk)] = Kq(ai, bk) = sigma_q^2 q Khat(ai, bk)
+ sigma_b^2, and likewise Kk for keys (weights Wq and Wk independent). The logit
s_ij(a) = Q(ai).K(aj) / sqrt(d_h) is a sum of d_h iid products; by the central limit theorem the
logits of all sequences are jointly Gaussian, centred, with

    Cov(s_ij(a), s_kl(b)) = Kq(ai, bk) Kk(aj, bl) = v Rq(ai, bk) Rk(aj, bl),
    v = (sigma_q^2 q + sigma_b^2)(sigma_k^2 q + sigma_b^2)        (the logit variance),

where Rq, Rk are exchangeable correlation patterns like Khat, with entries
(sigma_q^2 q r + sigma_b^2) / (sigma_q^2 q + sigma_b^2) for r in (c_pos, c, c_x) (and sigma_k for
Rk); without biases Rq = Rk = Khat and v = sigma_q^2 sigma_k^2 q^2 (cf. Noci et al. 2022, Sec. 3).
The variance is exact at any d_h (the 1 / sqrt(d_h) cancels the d_h terms); only the Gaussianity
needs d_h -> inf (its corrections are O(1 / d_h)). The number of heads H enters nowhere else: the
heads are iid copies, so the expectations below do not depend on H or d_h. (H only sets how much
a single layer's empirical moments fluctuate: at fixed T an attention matrix is a finite random
object that does not self-average with the width; averaging over H heads and over the batch does.)

Within a row the softmax ignores terms constant in j. Writing Rk = (1 - p_k) I + p_k J over the keys
of one sequence (p_k its c_pos entry), the rows of one sequence decompose as

    s_ij = (row term, constant in j) + u_j + e_ij,
    Var u_j = v p_q (1 - p_k)  (key term shared by all rows),  Var e_ij = v (1 - p_q)(1 - p_k),

(with p_q = p_k = c_pos without biases: v c_pos (1 - c_pos) and v (1 - c_pos)^2). More generally,
projecting any two rows r1, r2 (in one or two sequences) onto contrasts in j, their logits
(z1_j, z2_j) are, for the softmax, iid over the T keys j and bivariate Gaussian with variance

    sigma^2 = v (1 - p_k)        (the logit *contrast* variance)

each and correlation rho = p_q (two rows of one sequence), rho = c_q (c - c_x) / (1 - c_pos)
(the same position of two sequences), rho = x_q (c - c_x) / (1 - c_pos) (different positions of two
sequences), with c_q, x_q the c and c_x entries of Rq. (Proof: the covariance of the centred
logits is v B (x) (I - J/T) with B = [[1 - p_k, r_q kappa], [r_q kappa, 1 - p_k]], kappa the key
pattern's contrast (1 - p_k within a sequence, c_k - x_k across), which is also the covariance of
centred iid N(0, v B) pairs.) The terms above that do not depend on j drop out.

**Output moments.** A and V are independent (disjoint weights), rows of A sum to one and
E[V_j(a) V_l(b)] = sigma_v^2 q Khat(aj, bl) + sigma_b^2 per coordinate, so

    E[y_i y_k] = sigma_o^2 (sigma_v^2 q [c_pos + (1 - c_pos) E sum_j A_ij A_kj] + sigma_b^2) + sigma_b^2

within a sequence (i = k gives q_out; i != k gives q_out c_pos_out), and across two sequences a, b

    E[y_i(a) y_k(b)] = sigma_o^2 (sigma_v^2 q [c_x + (c - c_x) E sum_j A_ij(a) A_kj(b)] + sigma_b^2)
                       + sigma_b^2

(i = k gives q_out c_out, i != k gives q_out c_x_out). The four *attention overlaps*
E sum_j A_1j A_2j are all of the form T E[e^{z1 + z2} / (Z1 Z2)], Z_r = sum_j e^{z_r,j}, for the
bivariate logits above (rho = 1 for the self overlap E sum_j A_ij^2).

**Exact overlaps at finite T.** With 1/Z^2 = int_0^inf t e^{-tZ} dt and
1/(Z1 Z2) = int int e^{-s Z1 - t Z2} ds dt the expectation factorises over the keys:

    E sum_j A_ij^2        = T int L_2(u) L_0(u)^{T-1} du,
    E sum_j A_1j A_2j     = T int int N_11(a, b) Phi(a, b)^{T-1} da db,

in u = log t (a = log s, b = log t), with L_k(u) = E[f_k(z + u)], f_k(w) = e^{k w} exp(-e^w),
z ~ N(0, sigma^2), Phi(a, b) = E[f_0(z1 + a) f_0(z2 + b)] and N_11(a, b) = E[f_1(z1 + a) f_1(z2 + b)].
The bivariate expectations split as z_r = sigma sqrt|rho| g (+-) sigma sqrt(1 - |rho|) e_r, so
Phi and N_11 are sums over g of products of one-dimensional smoothed functions (low-rank
matrices on the (a, b) grid). Every integral is a trapezoid rule: the integrands are analytic in
the strip |Im w| < pi / 2 of f_k, so the rule converges geometrically; steps of 1/8 in w and u
and a truncation at 9.5 standard deviations give, measured against the exact identity
E sum_j A_ij = 1 (computed by the same rule), against halved steps and against v = 0, a relative
accuracy of about 1e-14 (worse, about T 1e-16, for T in the thousands): far below the 1e-8 aimed for.
The logit contrast variance is limited to 400 (logit standard deviation 20: attention is then
essentially a hard argmax, and the (a, b) grid grows like sigma^2).

**Large T.** Z / T -> E e^z = e^{sigma^2 / 2}, so E sum_j A_ij A_kj ~ T E[e^{z1 + z2}] / (T e^{sigma^2/2})^2
= e^{rho sigma^2} / T: the self overlap ~ e^{v (1 - c_pos)} / T and the positional one
~ e^{v c_pos (1 - c_pos)} / T without biases, with O(1 / T) relative corrections. At v = 0
attention is uniform and every overlap is exactly 1/T; at T = 1, A = 1.

**Rank collapse.** At c_pos = 1 every row of A is applied to identical values: c_pos_out = 1 (rank
one stays rank one). In a residual stream x + beta attn(x) the two terms are uncorrelated in the
wide limit (Wo is independent and zero-mean), so q' = q + beta^2 q_attn and every second moment adds
the same way; with beta = 1 each block pulls c_pos towards 1 (Noci et al. 2022, Sec. 3-4, the
collapse of the token correlations), scaling the branch by beta = 1 / sqrt(L) keeps it away from 1
over L blocks (Noci et al. 2022, Sec. 4; cf. He et al. 2023 on keeping correlations controlled
without shortcuts). See :func:`attention_residual_propagate`.

References
----------
L. Noci, S. Anagnostidis, L. Biggio, A. Orvieto, S. P. Singh and A. Lucchi, "Signal propagation in
transformers: theoretical perspectives and the role of rank collapse", NeurIPS 2022.
B. He, J. Martens, G. Zhang, A. Botev, A. Brock, S. L. Smith and Y. W. Teh, "Deep transformers
without shortcuts: modifying self-attention for faithful signal propagation", ICLR 2023.
A. Vaswani, N. Shazeer, N. Parmar, J. Uszkoreit, L. Jones, A. N. Gomez, L. Kaiser and
I. Polosukhin, "Attention is all you need", NeurIPS 2017.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_real
from ._guard import F8, guard
from .meanfield import _variance

__all__ = [
    "AttentionStats",
    "AttentionScales",
    "AttentionTrajectory",
    "attention_propagate",
    "attention_residual_propagate",
    "logit_variance",
    "recommended_attention_scales",
]

Array = np.ndarray

# Largest logit contrast variance sigma^2 = v (1 - p_k) accepted (standard deviation 20): beyond it
# attention is a hard argmax to many digits, and the (a, b) grid of the two-row overlaps (its side
# grows like sigma) takes seconds.
_MAX_CONTRAST = 400.0
# Trapezoid steps (in units of w = z + u) and truncation (standard deviations); see the module doc.
_STEP = 0.125
_XMAX = 9.5
# Relative size below which the tails of the u-integrands are cut.
_TAIL = 1e-22
# Slack for the positive-semidefiniteness of the input pattern (rounding of a computed state).
_PSD_SLACK = 1e-12


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionStats:
    """Mean-field state after one self-attention layer (see :mod:`cascades.nn.attention`).

    Attributes
    ----------
    q : float
        Second moment E[y^2] of an output entry.
    c_pos, c, c_x : float
        Uncentered correlations of the output: two positions of one sequence, the same position of
        two sequences, different positions of two sequences (1 where q = 0).
    logit_variance : float
        v = Var s_ij = (sigma_q^2 q + sigma_b^2)(sigma_k^2 q + sigma_b^2) of the input's logits.
    logit_contrast_variance : float
        sigma^2 = v (1 - p_k), the variance of the part of a logit row that varies over the keys.
    self_overlap : float
        E[sum_j A_ij^2] (1/T for uniform attention, 1 for one-hot).
    pos_overlap : float
        E[sum_j A_ij A_kj], i != k, two rows of one attention matrix.
    seq_overlap : float
        E[sum_j A_ij(a) A_ij(b)], the same row of the attention matrices of two sequences.
    cross_overlap : float
        E[sum_j A_ij(a) A_kj(b)], i != k, different rows of two sequences' attention matrices.
    seq_len : int
        T.
    """

    q: float
    c_pos: float
    c: float
    c_x: float
    logit_variance: float
    logit_contrast_variance: float
    self_overlap: float
    pos_overlap: float
    seq_overlap: float
    cross_overlap: float
    seq_len: int


@dataclass(frozen=True)
class AttentionTrajectory:
    """Mean-field state of a residual stream x^{l+1} = x^l + beta attn(x^l), blocks 0..L.

    Attributes
    ----------
    q, c_pos, c, c_x : ndarray
        The stream's state at blocks 0..L (length ``depth + 1``; index 0 is the input).
    logit_variance : ndarray
        The logit variance v seen by the attention of each block (length ``depth``).
    beta : float
        The branch scale used.
    """

    q: Array
    c_pos: Array
    c: Array
    c_x: Array
    logit_variance: Array
    beta: float


@dataclass(frozen=True)
class AttentionScales:
    """Initialization scales of :func:`recommended_attention_scales`.

    Attributes
    ----------
    sigma_q2, sigma_k2 : float
        Query and key weight variances (equal), giving the requested logit variance.
    sigma_v2, sigma_o2 : float
        Value (1) and output weight variances: the attention layer maps q to q.
    branch_scale : float
        beta = 1 / sqrt(depth) for the residual stream x + beta attn(x) (Noci et al. 2022).
    c_pos_scaled : float
        Predicted c_pos of the stream after ``depth`` blocks with beta = ``branch_scale``.
    c_pos_unscaled : float
        The same with beta = 1; nan where the unscaled stream's logit contrast variance passes 400
        before the last block (its attention is then a hard argmax, and q has grown like 2^L).
    logit_variance : float
        The requested logit variance v.
    """

    sigma_q2: float
    sigma_k2: float
    sigma_v2: float
    sigma_o2: float
    branch_scale: float
    c_pos_scaled: float
    c_pos_unscaled: float
    logit_variance: float


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------


def _state(q, c_pos, c, c_x, seq_len):
    """Checked (q, c_pos, c, c_x, T); c_x defaults to c * c_pos."""
    q = _variance("q", q)
    T = check_int("seq_len", seq_len, low=1)
    c_pos = check_real("c_pos", c_pos, low=-1, high=1)
    c = check_real("c", c, low=-1, high=1)
    c_x = c * c_pos if c_x is None else check_real("c_x", c_x, low=-1, high=1)
    if T >= 2:
        if c_pos < -1.0 / (T - 1) - _PSD_SLACK:
            raise ValueError(f"c_pos must be >= -1/(seq_len - 1) = {-1.0 / (T - 1):g} (the correlation of "
                             f"{T} exchangeable positions), got {c_pos!r}")
        if abs(c - c_x) > 1 - c_pos + _PSD_SLACK or abs(c + (T - 1) * c_x) > 1 + (T - 1) * c_pos + _PSD_SLACK:
            raise ValueError(
                f"c and c_x must satisfy |c - c_x| <= 1 - c_pos and |c + (T-1) c_x| <= 1 + (T-1) c_pos "
                f"(the pattern of two exchangeable sequences of T = {T} positions is a covariance), got "
                f"c = {c!r}, c_x = {c_x!r}, c_pos = {c_pos!r}")
    return q, c_pos, c, c_x, T


def _heads(heads, head_dim):
    check_int("heads", heads, low=1)
    if head_dim is not None:
        check_int("head_dim", head_dim, low=1)


# ---------------------------------------------------------------------------------------------
# the softmax overlaps
# ---------------------------------------------------------------------------------------------


def _f(k: int, w: Array) -> Array:
    """f_k(w) = e^{k w} exp(-e^w)."""
    return np.exp(k * w - np.exp(np.minimum(w, 700.0)))


def _smooth(k: int, s: float, u: Array) -> Array:
    """L_k(u) = E[f_k(s x + u)], x ~ N(0, 1): trapezoid in x with steps of _STEP in s x."""
    u = np.asarray(u, dtype=float)
    if s == 0:
        return _f(k, u)
    dx = min(0.3, _STEP / s)
    n = int(math.ceil(_XMAX / dx))
    x = dx * np.arange(-n, n + 1)
    wts = dx * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    flat = u.ravel()
    out = np.empty(flat.size)
    chunk = max(1, 1_000_000 // x.size)
    for i in range(0, flat.size, chunk):
        out[i:i + chunk] = _f(k, flat[i:i + chunk, None] + s * x[None, :]) @ wts
    return out.reshape(u.shape)


def _u_grid(sigma: float, T: int):
    """The u-grid of the overlaps (tails cut) with L_0, and the integrands of sum_j A_ij and of
    sum_j A_ij^2 on it."""
    # f_1 <= e^w and f_2 <= e^{2w}: below lo both integrands are < 1e-20; above hi, f_k(z + u) is
    # 0 to 1e-20 unless z < 4 - u, of probability < 1e-20.
    lo = -(math.log(T) + 46.0 + sigma * sigma)
    hi = 4.0 + _XMAX * sigma
    u = np.arange(math.floor(lo / _STEP), math.ceil(hi / _STEP) + 1) * _STEP
    L0, L1, L2 = (_smooth(k, sigma, u) for k in (0, 1, 2))
    pw = L0 ** (T - 1)
    J, I2 = T * L1 * pw, T * L2 * pw
    big = np.maximum(J, I2)
    idx = np.flatnonzero(big > _TAIL * big.max())
    sl = slice(idx[0], idx[-1] + 1)
    return u[sl], J[sl], I2[sl]


def _self_overlap(sigma: float, T: int) -> tuple[float, float]:
    """(E sum_j A_ij^2, E sum_j A_ij) for iid N(0, sigma^2) logits; the second is 1 (a check)."""
    if T == 1:
        return 1.0, 1.0
    if sigma == 0:
        return 1.0 / T, 1.0
    _, J, I2 = _u_grid(sigma, T)
    return float(_STEP * I2.sum()), float(_STEP * J.sum())


def _pair_overlap(sigma: float, rho: float, T: int) -> tuple[float, float]:
    """(E sum_j A_1j A_2j, E sum_{j,l} A_1j A_2l) for two rows whose logits are iid over keys,
    N(0, sigma^2) each with correlation rho; the second is 1 (a check)."""
    if T == 1:
        return 1.0, 1.0
    if sigma == 0 or rho == 0:
        return 1.0 / T, 1.0  # uniform attention, or independent rows: E A_1j A_2j = 1 / T^2
    if rho == 1:
        return _self_overlap(sigma, T)
    u, _, _ = _u_grid(sigma, T)
    n_u = u.size
    guard(6 * F8 * n_u * n_u, parameter=f"logit contrast variance {sigma * sigma:g} and seq_len {T}",
          what="the (a, b) grid of the attention overlaps")
    sg = sigma * math.sqrt(abs(rho))
    se = sigma * math.sqrt(max(0.0, 1.0 - abs(rho)))
    if sg <= 0.3:
        # the g-dependence is smooth on a scale 1/sg >= 3: Gauss-Hermite (error ~ exp(-36))
        x, w = np.polynomial.hermite_e.hermegauss(max(8, int(math.ceil(300 * sg * sg))))
        w = w / w.sum()
        pts = u[:, None] + sg * x[None, :]
        P0, P1 = _smooth(0, se, pts), _smooth(1, se, pts)
    else:
        # trapezoid in g with steps putting u + sg g on a grid of step h / r (the inner function is
        # evaluated once on that grid)
        r = int(math.ceil(_STEP / min(_STEP, 0.3 * sg)))
        fine_step = _STEP / r
        dx = fine_step / sg
        n = int(math.ceil(_XMAX / dx))
        m = np.arange(-n, n + 1)
        x = dx * m
        w = dx * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        fine = u[0] + fine_step * np.arange(-n, (n_u - 1) * r + n + 1)
        F0, F1 = _smooth(0, se, fine), _smooth(1, se, fine)
        ii = (np.arange(n_u) * r)[:, None] + m[None, :] + n
        P0, P1 = F0[ii], F1[ii]
    # rho < 0: the second row has -g (the nodes are symmetric)
    Q0, Q1 = (P0, P1) if rho > 0 else (P0[:, ::-1], P1[:, ::-1])
    phi2 = (P0 * w) @ Q0.T
    n11 = (P1 * w) @ Q1.T
    main = T * _STEP * _STEP * float(np.sum(n11 * phi2 ** (T - 1)))
    del n11
    n10, n01 = (P1 * w) @ Q0.T, (P0 * w) @ Q1.T
    off = T * (T - 1) * _STEP * _STEP * float(np.sum(n10 * n01 * phi2 ** (T - 2)))
    return main, main + off


def _overlaps(v: float, sigma2: float, rhos, T: int):
    """The self overlap and the pair overlaps for the correlations ``rhos``."""
    if sigma2 > _MAX_CONTRAST:
        raise ValueError(
            f"the logit contrast variance v (1 - p_k) must be <= {_MAX_CONTRAST:g} (logit standard deviation "
            f"20: attention is then a hard argmax), got {sigma2:g} (logit variance v = {v:g}); use smaller "
            f"sigma_q2, sigma_k2 or q")
    sigma = math.sqrt(sigma2)
    out = [_self_overlap(sigma, T)[0]]
    for rho in rhos:
        out.append(_pair_overlap(sigma, min(1.0, max(-1.0, rho)), T)[0])
    return out


# ---------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------


def logit_variance(q, *, sigma_q2=1.0, sigma_k2=1.0, sigma_b2=0.0) -> float:
    """The variance v of an attention logit s_ij = Q_i.K_j / sqrt(d_h) at initialization.

    v = (sigma_q^2 q + sigma_b^2)(sigma_k^2 q + sigma_b^2): exact at any width given the tokens'
    second moment q (the 1 / sqrt(d_h) of Vaswani et al. 2017 makes it independent of d_h).

    Parameters
    ----------
    q : float
        Second moment of an input entry, in [0, 1e100].
    sigma_q2, sigma_k2 : float
        Query and key weight variances (times fan-in), in [0, 1e100].
    sigma_b2 : float
        Bias variance, in [0, 1e100].

    Returns
    -------
    float
        v.

    Raises
    ------
    ValueError
        For a variance outside [0, 1e100].

    Examples
    --------
    >>> logit_variance(2.0, sigma_q2=0.5, sigma_k2=1.5)
    3.0
    """
    q = _variance("q", q)
    sq, sk, sb = (_variance(n, x) for n, x in (("sigma_q2", sigma_q2), ("sigma_k2", sigma_k2),
                                               ("sigma_b2", sigma_b2)))
    return (sq * q + sb) * (sk * q + sb)


def _ratio(num, den):
    return num / den if den > 0 else 1.0


def _propagate(q, c_pos, c, c_x, T, sq, sk, sv, so, sb) -> AttentionStats:
    aq, ak = sq * q + sb, sk * q + sb
    v = aq * ak
    # 1 - p_k without cancellation; the contrast variance sigma^2 = v (1 - p_k)
    one_minus_pk = _ratio(sk * q * (1 - c_pos), ak) if ak > 0 else 0.0
    sigma2 = v * one_minus_pk if T > 1 else 0.0
    if sigma2 > 0:
        p_q = (sq * q * c_pos + sb) / aq
        c_q = (sq * q * c + sb) / aq
        x_q = (sq * q * c_x + sb) / aq
        kappa = (c - c_x) / (1 - c_pos)
        rhos = (p_q, c_q * kappa, x_q * kappa)
    else:
        rhos = (0.0, 0.0, 0.0)
    m_self, m_pos, m_seq, m_x = _overlaps(v, sigma2, rhos, T)
    if T == 1:
        m_self = m_pos = m_seq = m_x = 1.0

    def within(m):
        return so * (sv * q * (c_pos + (1 - c_pos) * m) + sb) + sb

    def across(m):
        return so * (sv * q * (c_x + (c - c_x) * m) + sb) + sb

    q_out = within(m_self)
    clip = lambda r: min(1.0, max(-1.0, r))  # noqa: E731
    return AttentionStats(
        q=q_out, c_pos=clip(_ratio(within(m_pos), q_out)), c=clip(_ratio(across(m_seq), q_out)),
        c_x=clip(_ratio(across(m_x), q_out)), logit_variance=v, logit_contrast_variance=sigma2,
        self_overlap=m_self, pos_overlap=m_pos, seq_overlap=m_seq, cross_overlap=m_x, seq_len=T,
    )


def _scales(sigma_q2, sigma_k2, sigma_v2, sigma_o2, sigma_b2):
    return tuple(_variance(n, x) for n, x in (("sigma_q2", sigma_q2), ("sigma_k2", sigma_k2),
                                              ("sigma_v2", sigma_v2), ("sigma_o2", sigma_o2),
                                              ("sigma_b2", sigma_b2)))


def attention_propagate(
    q,
    c_pos,
    c=0.0,
    c_x=None,
    *,
    seq_len,
    sigma_q2=1.0,
    sigma_k2=1.0,
    sigma_v2=1.0,
    sigma_o2=1.0,
    sigma_b2=0.0,
    heads=1,
    head_dim=None,
) -> AttentionStats:
    """Mean-field map of one softmax self-attention layer (``torch.nn.MultiheadAttention``).

    Computes the output's second moment and its three uncentered correlations from the input's
    (module docstring): q_out = sigma_o^2 (sigma_v^2 q [c_pos + (1 - c_pos) E sum_j A_ij^2]
    + sigma_b^2) + sigma_b^2, and likewise for c_pos, c, c_x with the other attention overlaps,
    evaluated exactly at finite T for the Gaussian logits of the wide limit (relative accuracy
    about 1e-14).

    Parameters
    ----------
    q : float
        Second moment E[x^2] of an input entry, in [0, 1e100].
    c_pos : float
        Uncentered correlation of two positions of one sequence, in [-1/(seq_len - 1), 1].
    c : float
        Uncentered correlation of the same position in two sequences, in [-1, 1]; default 0 (two
        unrelated sequences). Does not affect ``q`` and ``c_pos`` of the output.
    c_x : float, optional
        Uncentered correlation of different positions of two sequences, in [-1, 1]; default
        c * c_pos (the pattern of a sequence x_b = c x_a + sqrt(1 - c^2) x', x' an independent
        sequence like x_a, which is a valid covariance for every c). (c, c_x) must satisfy
        |c - c_x| <= 1 - c_pos and |c + (T-1) c_x| <= 1 + (T-1) c_pos.
    seq_len : int
        Number of positions T >= 1. At T = 1, A = 1 and the layer is linear; the output's c_pos
        and c_x are then those of the only position with itself (1 and c_out without biases).
    sigma_q2, sigma_k2, sigma_v2, sigma_o2 : float
        Weight variances times fan-in d of the query, key, value and output projections, in
        [0, 1e100].
    sigma_b2 : float
        Variance of every bias entry, in [0, 1e100] (0 in PyTorch).
    heads, head_dim : int
        Number of heads H >= 1 and head dimension d_h >= 1 (default d / H). Checked but unused:
        in the wide limit the result does not depend on them (module docstring).

    Returns
    -------
    AttentionStats
        The output's q, c_pos, c, c_x, the logit variances and the four attention overlaps.

    Raises
    ------
    ValueError
        For a variance outside [0, 1e100], a correlation outside its range (the pattern must be a
        covariance), seq_len < 1, heads or head_dim < 1, or a logit contrast variance
        v (1 - p_k) above 400.

    References
    ----------
    Noci et al., NeurIPS 2022, Sec. 3 (the moments of attention at initialization); Vaswani et al.
    2017 (the 1 / sqrt(d_h) scaling).

    Examples
    --------
    At v = 0 attention is uniform, E sum_j A_ij^2 = 1/T, and q_out = q (1/T + (1 - 1/T) c_pos):

    >>> s = attention_propagate(1.0, 0.5, seq_len=4, sigma_q2=0.0)
    >>> round(s.q, 12), round(s.c_pos, 12)
    (0.625, 1.0)

    Random logits make the rows differ: c_pos drops below 1.

    >>> s = attention_propagate(1.0, 0.5, seq_len=4)
    >>> round(s.self_overlap, 6), round(s.c_pos, 6)
    (0.331366, 0.968088)
    """
    q, c_pos, c, c_x, T = _state(q, c_pos, c, c_x, seq_len)
    sq, sk, sv, so, sb = _scales(sigma_q2, sigma_k2, sigma_v2, sigma_o2, sigma_b2)
    _heads(heads, head_dim)
    return _propagate(q, c_pos, c, c_x, T, sq, sk, sv, so, sb)


def attention_residual_propagate(
    q,
    c_pos,
    c=0.0,
    c_x=None,
    *,
    seq_len,
    depth,
    beta=None,
    sigma_q2=1.0,
    sigma_k2=1.0,
    sigma_v2=1.0,
    sigma_o2=1.0,
    sigma_b2=0.0,
    pre_norm=False,
    heads=1,
    head_dim=None,
) -> AttentionTrajectory:
    """State of a residual stream of self-attention blocks x^{l+1} = x^l + beta attn(x^l).

    In the wide limit the branch is uncorrelated with the stream (its output projection is
    independent and zero-mean), so every second moment adds: q' = q + beta^2 q_attn,
    q' c_pos' = q c_pos + beta^2 q_attn c_pos_attn, and likewise for c and c_x, with the branch's
    state from :func:`attention_propagate` (Noci et al. 2022, Sec. 4).

    Parameters
    ----------
    q, c_pos, c, c_x, seq_len :
        The input state, as in :func:`attention_propagate`.
    depth : int
        Number of blocks L >= 0.
    beta : float, optional
        Branch scale in [0, 1e50]; default 1 / sqrt(depth) (1 for depth 0).
    sigma_q2, sigma_k2, sigma_v2, sigma_o2, sigma_b2 : float
        The branch's variances, the same in every block, in [0, 1e100].
    pre_norm : bool
        If True the branch sees the stream normalised to q = 1 (a pre-LayerNorm block
        x + beta attn(LN(x)); in the wide limit LayerNorm at initialization only rescales, the
        entries being zero-mean), so its logit variance stays fixed; else it sees q, and the logit
        variance grows like q^2 along the stream.
    heads, head_dim : int
        As in :func:`attention_propagate` (unused in the wide limit).

    Returns
    -------
    AttentionTrajectory
        q, c_pos, c, c_x at blocks 0..depth and the logit variance of each block.

    Raises
    ------
    ValueError
        For arguments outside their ranges (see :func:`attention_propagate`), a negative depth or
        beta, and when a block's logit contrast variance passes 400 (the message gives the largest
        depth that works).

    References
    ----------
    Noci et al., NeurIPS 2022, Sec. 4 (residual scaling 1 / sqrt(L) against rank collapse).

    Examples
    --------
    Uniform attention (sigma_q2 = 0) outputs the mean token, identical at every position: the
    branch adds only to the rank-one part, q (1 - c_pos) stays 0.5 while q grows, and with beta = 1
    c_pos tends to 1 (rank collapse).

    >>> t = attention_residual_propagate(1.0, 0.5, seq_len=4, depth=3, beta=1.0, sigma_q2=0.0)
    >>> np.round(1 - t.c_pos, 6).tolist()
    [0.5, 0.307692, 0.173913, 0.093023]
    >>> np.round(t.q * (1 - t.c_pos), 12).tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    q, c_pos, c, c_x, T = _state(q, c_pos, c, c_x, seq_len)
    sq, sk, sv, so, sb = _scales(sigma_q2, sigma_k2, sigma_v2, sigma_o2, sigma_b2)
    _heads(heads, head_dim)
    depth = check_int("depth", depth, low=0)
    if beta is None:
        b2 = 1.0 / depth if depth > 0 else 1.0
    else:
        b2 = check_real("beta", beta, low=0, high=1e50) ** 2
    if not isinstance(pre_norm, bool):
        raise ValueError(f"pre_norm must be True or False, got {pre_norm!r}")
    qs, cps, cs, cxs, vs = [q], [c_pos], [c], [c_x], []
    for block in range(depth):
        q_in = 1.0 if pre_norm else q
        try:
            s = _propagate(q_in, c_pos, c, c_x, T, sq, sk, sv, so, sb)
        except ValueError as err:
            raise ValueError(f"block {block + 1}: {err}; depth must be <= {block} with these scales "
                             f"(or use pre_norm=True or a smaller beta)") from None
        add = b2 * s.q
        q_new = q + add
        if q_new > 1e100:
            raise ValueError(f"q passes 1e100 at block {block + 1}: depth must be <= {block}")
        c_pos, c, c_x = (min(1.0, max(-1.0, _ratio(q * r + add * ra, q_new)))
                         for r, ra in ((c_pos, s.c_pos), (c, s.c), (c_x, s.c_x)))
        q = q_new
        qs.append(q)
        cps.append(c_pos)
        cs.append(c)
        cxs.append(c_x)
        vs.append(s.logit_variance)
    return AttentionTrajectory(q=np.array(qs), c_pos=np.array(cps), c=np.array(cs), c_x=np.array(cxs),
                               logit_variance=np.array(vs), beta=math.sqrt(b2))


def recommended_attention_scales(
    q,
    c_pos,
    *,
    seq_len,
    logit_variance=1.0,
    depth=1,
    sigma_b2=0.0,
    pre_norm=False,
) -> AttentionScales:
    """Initialization variances of a self-attention block that keep the signal in range.

    * sigma_q^2 = sigma_k^2 = (sqrt(v) - sigma_b^2) / q: the logits have the requested variance v
      (unit order: softmax neither uniform nor one-hot);
    * sigma_v^2 = 1 and sigma_o^2 = (q - sigma_b^2) / (q [c_pos + (1 - c_pos) E sum_j A_ij^2]
      + sigma_b^2): the layer maps q to q (the overlap from :func:`attention_propagate`);
    * branch scale beta = 1 / sqrt(depth) for a residual stream of ``depth`` such blocks, which keeps
      c_pos away from 1 (Noci et al. 2022, Sec. 4); the predicted c_pos after ``depth`` blocks,
      with beta and with beta = 1, from :func:`attention_residual_propagate`.

    With ``pre_norm`` the scales are those of a branch seeing q = 1 (pre-LayerNorm).

    Parameters
    ----------
    q : float
        Second moment of an input entry, in (0, 1e100].
    c_pos : float
        Correlation of two positions, in [-1/(seq_len - 1), 1].
    seq_len : int
        T >= 1.
    logit_variance : float
        The requested logit variance v, in [0, 400].
    depth : int
        Number of residual blocks L >= 1.
    sigma_b2 : float
        Bias variance, in [0, 1e100]; sqrt(v) >= sigma_b^2 and q > sigma_b^2 are needed (the
        biases alone would exceed the targets).
    pre_norm : bool
        Whether the blocks normalise their input (see :func:`attention_residual_propagate`).

    Returns
    -------
    AttentionScales

    Raises
    ------
    ValueError
        For arguments outside their ranges, or biases too large for the targets.

    References
    ----------
    Noci et al., NeurIPS 2022 (1 / sqrt(L) branch scaling); He et al., ICLR 2023.

    Examples
    --------
    >>> s = recommended_attention_scales(1.0, 0.5, seq_len=4, depth=4, pre_norm=True)
    >>> s.sigma_q2, s.branch_scale
    (1.0, 0.5)
    >>> round(attention_propagate(1.0, 0.5, seq_len=4, sigma_o2=s.sigma_o2).q, 12)
    1.0
    >>> bool(s.c_pos_scaled < s.c_pos_unscaled < 1.0)
    True
    """
    q = _variance("q", q)
    if q == 0:
        raise ValueError("q must be > 0 (the scales are relative to it), got 0.0")
    q, c_pos, _, _, T = _state(q, c_pos, 0.0, None, seq_len)
    v = check_real("logit_variance", logit_variance, low=0, high=_MAX_CONTRAST)
    depth = check_int("depth", depth, low=1)
    sb = _variance("sigma_b2", sigma_b2)
    if not isinstance(pre_norm, bool):
        raise ValueError(f"pre_norm must be True or False, got {pre_norm!r}")
    q_att = 1.0 if pre_norm else q
    if math.sqrt(v) < sb:
        raise ValueError(f"logit_variance must be >= sigma_b2^2 = {sb * sb:g} (the biases alone give that "
                         f"logit variance), got {v!r}")
    if q_att <= sb:
        raise ValueError(f"sigma_b2 must be < q seen by the attention ({q_att:g}) for the layer to keep q, "
                         f"got {sb!r}")
    sqk = (math.sqrt(v) - sb) / q_att
    base = _propagate(q_att, c_pos, 0.0, 0.0, T, sqk, sqk, 1.0, 1.0, sb)
    # q_out = so (A + sb) + sb with A = q [c_pos + (1 - c_pos) m]: solve so for q_out = q
    a = q_att * (c_pos + (1 - c_pos) * base.self_overlap)
    so = (q_att - sb) / (a + sb)
    beta = 1.0 / math.sqrt(depth)
    kw = dict(seq_len=T, depth=depth, sigma_q2=sqk, sigma_k2=sqk, sigma_v2=1.0, sigma_o2=so,
              sigma_b2=sb, pre_norm=pre_norm)
    scaled = attention_residual_propagate(q, c_pos, beta=beta, **kw).c_pos[-1]
    try:
        unscaled = attention_residual_propagate(q, c_pos, beta=1.0, **kw).c_pos[-1]
    except ValueError:
        unscaled = math.nan
    return AttentionScales(sigma_q2=sqk, sigma_k2=sqk, sigma_v2=1.0, sigma_o2=so, branch_scale=beta,
                           c_pos_scaled=float(scaled), c_pos_unscaled=float(unscaled), logit_variance=v)
