"""Mean-field self-attention (cascades.nn.attention): Monte Carlo, closed forms, invariants, torch."""

import math

import numpy as np
import pytest

from cascades import nn
from cascades.nn import attention as att


def pattern(T, c_pos, c, c_x):
    """The (2T, 2T) correlation pattern of two sequences of T exchangeable positions, written directly."""
    K = np.empty((2 * T, 2 * T))
    for a in range(2):
        for i in range(T):
            for b in range(2):
                for k in range(T):
                    same_seq, same_pos = a == b, i == k
                    within = 1.0 if same_pos else c_pos
                    K[a * T + i, b * T + k] = within if same_seq else (c if same_pos else c_x)
    return K


def softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def monte_carlo_logits(q, c_pos, c, c_x, T, sq, sk, sb, n, rng):
    """Attention matrices of two sequences whose logits are the Gaussian field of covariance
    Kq(ai, bk) Kk(aj, bl): s = Lq Z Lk^T with Z iid N(0, 1) (no decomposition used)."""
    K = pattern(T, c_pos, c, c_x)
    Lq = np.linalg.cholesky(sq * q * K + sb + 1e-13 * np.eye(2 * T))
    Lk = np.linalg.cholesky(sk * q * K + sb + 1e-13 * np.eye(2 * T))
    Z = rng.standard_normal((n, 2 * T, 2 * T))
    s = Lq @ Z @ Lk.T
    return softmax(s[:, :T, :T]), softmax(s[:, T:, T:])


def overlap_samples(A, B):
    """Per-sample sum_j A_0j^2, sum_j A_0j A_1j, sum_j A_0j B_0j, sum_j A_0j B_1j."""
    return np.stack([np.sum(A[:, 0] ** 2, -1), np.sum(A[:, 0] * A[:, 1], -1),
                     np.sum(A[:, 0] * B[:, 0], -1), np.sum(A[:, 0] * B[:, 1], -1)], axis=1)


# ---------------------------------------------------------------------------------------------
# 1. independent computations
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("T, q, sq, sk, sb, c_pos, c, c_x", [
    (4, 1.0, 1.4, 1.4, 0.0, 0.4, 0.3, 0.1),
    (4, 1.3, 0.8, 2.0, 0.2, 0.6, 0.5, 0.35),
    (3, 1.0, 2.5, 2.5, 0.0, -0.3, -0.2, 0.15),   # negative correlations: rho < 0
])
def test_overlaps_against_monte_carlo_of_the_gaussian_logits(T, q, sq, sk, sb, c_pos, c, c_x):
    rng = np.random.default_rng(7)
    n = 100_000
    A, B = monte_carlo_logits(q, c_pos, c, c_x, T, sq, sk, sb, n, rng)
    x = overlap_samples(A, B)
    mean, se = x.mean(0), x.std(0, ddof=1) / math.sqrt(n)
    s = nn.attention_propagate(q, c_pos, c, c_x, seq_len=T, sigma_q2=sq, sigma_k2=sk, sigma_b2=sb)
    theory = np.array([s.self_overlap, s.pos_overlap, s.seq_overlap, s.cross_overlap])
    assert np.all(np.abs(mean - theory) <= 5 * se), (mean, theory, se)
    assert s.logit_variance == pytest.approx((sq * q + sb) * (sk * q + sb), rel=1e-15)


def test_output_moments_against_monte_carlo_of_the_whole_layer_formula():
    # E[y_i y_k] = so (sv q sum_jl A_ij A_kl Khat(j, l) + sb) + sb averaged over the sampled A's
    T, q, sq, sk, sv, so, sb, c_pos, c, c_x = 4, 1.2, 1.1, 0.9, 1.3, 0.7, 0.1, 0.5, 0.3, 0.1
    rng = np.random.default_rng(11)
    A, B = monte_carlo_logits(q, c_pos, c, c_x, T, sq, sk, sb, 100_000, rng)
    K = pattern(T, c_pos, c, c_x)
    big = np.zeros((A.shape[0], 2 * T, 2 * T))  # block-diagonal: each sequence attends to its own keys
    big[:, :T, :T], big[:, T:, T:] = A, B
    G = so * (sv * q * np.einsum("nij,jl,nkl->nik", big, K, big) + sb) + sb
    q_mc = G[:, 0, 0]
    s = nn.attention_propagate(q, c_pos, c, c_x, seq_len=T, sigma_q2=sq, sigma_k2=sk, sigma_v2=sv,
                               sigma_o2=so, sigma_b2=sb)
    for samples, target in ((q_mc, s.q), (G[:, 0, 1], s.q * s.c_pos), (G[:, 0, T], s.q * s.c),
                            (G[:, 0, T + 1], s.q * s.c_x)):
        assert abs(samples.mean() - target) <= 5 * samples.std() / math.sqrt(samples.size)


@pytest.mark.parametrize("T", [1, 2, 5, 64])
def test_uniform_attention_at_zero_logit_variance(T):
    q, c_pos, c, c_x, sv, so = 1.7, 0.35, 0.2, 0.05, 1.3, 0.8
    s = nn.attention_propagate(q, c_pos, c, c_x, seq_len=T, sigma_q2=0.0, sigma_v2=sv, sigma_o2=so)
    assert s.logit_variance == 0
    for m in (s.self_overlap, s.pos_overlap, s.seq_overlap, s.cross_overlap):
        assert m == pytest.approx(1 / T, rel=1e-14)
    assert s.q == pytest.approx(sv * so * q * (1 / T + (1 - 1 / T) * c_pos), rel=1e-14)
    # the quadrature itself at sigma = 0 (the public path short-cuts it)
    if T > 1:
        assert att._self_overlap(1e-9, T)[0] == pytest.approx(1 / T, rel=1e-8)


def test_one_position_is_a_linear_layer():
    s = nn.attention_propagate(2.0, 0.3, 0.4, seq_len=1, sigma_q2=3.0, sigma_v2=1.5, sigma_o2=0.5,
                               sigma_b2=0.1)
    assert s.self_overlap == s.pos_overlap == s.seq_overlap == s.cross_overlap == 1.0
    assert s.q == pytest.approx(0.5 * (1.5 * 2.0 + 0.1) + 0.1, rel=1e-15)
    assert s.c == pytest.approx((0.5 * (1.5 * 2.0 * 0.4 + 0.1) + 0.1) / s.q, rel=1e-14)


@pytest.mark.parametrize("sigma, rho",
                         [(0.7, 1.0), (1.3, 0.6), (2.0, 0.2), (1.0, -0.4), (3.0, -1.0), (0.8, 0.05)])
@pytest.mark.parametrize("T", [2, 7, 300])
def test_quadrature_meets_exact_identities(sigma, rho, T):
    # the rows of A sum to one: E sum_j A_ij = 1 and E sum_{j,l} A_1j A_2l = 1, by the same rules
    m_self, one = att._self_overlap(sigma, T)
    assert one == pytest.approx(1.0, abs=1e-12)
    m_pair, one2 = att._pair_overlap(sigma, rho, T)
    assert one2 == pytest.approx(1.0, abs=1e-12)
    # Cauchy-Schwarz and sum A^2 >= 1/T
    assert 1 / T <= m_self <= 1 and m_pair <= m_self + 1e-15


@pytest.mark.parametrize("sigma2, rho", [(0.5, 1.0), (1.0, 0.5), (1.5, -0.3)])
def test_large_sequences_approach_the_closed_form(sigma2, rho):
    # E sum_j A_1j A_2j ~ exp(rho sigma^2) / T with O(1/T) relative corrections
    sigma = math.sqrt(sigma2)
    errs = []
    for T in (250, 1000, 4000):
        m = att._pair_overlap(sigma, rho, T)[0] if rho != 1 else att._self_overlap(sigma, T)[0]
        errs.append(abs(T * m / math.exp(rho * sigma2) - 1))
    assert errs[2] < 0.01
    assert errs[0] / errs[1] == pytest.approx(4, rel=0.1) and errs[1] / errs[2] == pytest.approx(4, rel=0.1)


# ---------------------------------------------------------------------------------------------
# 2. invariants
# ---------------------------------------------------------------------------------------------


def test_rank_one_stays_rank_one():
    for T in (2, 6):
        s = nn.attention_propagate(1.5, 1.0, 0.4, 0.4, seq_len=T, sigma_q2=2.0, sigma_k2=1.5, sigma_b2=0.05)
        assert s.c_pos == 1.0 and s.logit_contrast_variance == 0.0
        assert s.c == pytest.approx(s.c_x, rel=1e-14)


def test_correlations_in_range_linear_in_value_output_scale_and_monotone():
    rng = np.random.default_rng(3)
    for _ in range(12):
        T = int(rng.integers(2, 9))
        c_pos = rng.uniform(-1 / (T - 1), 1)
        c = rng.uniform(-1, 1) * (1 - abs(c_pos)) * 0.5
        c_x = c * c_pos
        sq, sk, sb = rng.uniform(0, 2), rng.uniform(0, 2), rng.uniform(0, 0.3)
        s = nn.attention_propagate(1.0, c_pos, c, c_x, seq_len=T, sigma_q2=sq, sigma_k2=sk, sigma_b2=sb)
        for r in (s.c_pos, s.c, s.c_x):
            assert -1 <= r <= 1
        assert 1 / T - 1e-14 <= s.self_overlap <= 1 and s.pos_overlap <= s.self_overlap + 1e-14
        # the output's q grows with the value scale, linearly without biases
        s2 = nn.attention_propagate(1.0, c_pos, c, c_x, seq_len=T, sigma_q2=sq, sigma_k2=sk, sigma_v2=2.5,
                                    sigma_o2=0.6)
        s1 = nn.attention_propagate(1.0, c_pos, c, c_x, seq_len=T, sigma_q2=sq, sigma_k2=sk)
        assert s2.q == pytest.approx(1.5 * s1.q, rel=1e-13)
        assert s2.c_pos == pytest.approx(s1.c_pos, rel=1e-13)
    # softer logits: the self overlap decreases towards 1/T as the logit variance decreases
    m = [nn.attention_propagate(1.0, 0.3, seq_len=5, sigma_q2=sq, sigma_k2=sq).self_overlap
         for sq in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert np.all(np.diff(m) > 0)


def test_bad_input_names_the_parameter():
    cases = [
        (dict(q=-1.0), "q"), (dict(c_pos=1.5), "c_pos"), (dict(c=-1.2), "c"), (dict(c_x=2.0), "c_x"),
        (dict(seq_len=0), "seq_len"), (dict(sigma_q2=-0.1), "sigma_q2"),
        (dict(sigma_v2=float("nan")), "sigma_v2"),
        (dict(sigma_b2=-1.0), "sigma_b2"), (dict(heads=0), "heads"), (dict(c_pos=-0.5, seq_len=4), "c_pos"),
        (dict(c=0.9, c_x=-0.5), "c and c_x"), (dict(sigma_q2=30.0, sigma_k2=30.0), "logit contrast variance"),
    ]
    for kw, name in cases:
        args = dict(q=1.0, c_pos=0.5, c=0.0, c_x=None, seq_len=4) | kw
        with pytest.raises(ValueError, match=name):
            nn.attention_propagate(args.pop("q"), args.pop("c_pos"), args.pop("c"), args.pop("c_x"), **args)
    with pytest.raises(ValueError, match="depth"):
        nn.attention_residual_propagate(1.0, 0.5, seq_len=4, depth=-1)
    with pytest.raises(ValueError, match="logit_variance"):
        nn.recommended_attention_scales(1.0, 0.5, seq_len=4, logit_variance=-1.0)
    with pytest.raises(ValueError, match="sigma_q2"):
        nn.logit_variance(1.0, sigma_q2=-2.0, sigma_k2=1.0)


# ---------------------------------------------------------------------------------------------
# residual streams and recommended scales
# ---------------------------------------------------------------------------------------------


def test_residual_stream_composes_the_map():
    kw = dict(sigma_q2=1.2, sigma_k2=0.8, sigma_v2=1.0, sigma_o2=1.1)
    t = nn.attention_residual_propagate(1.0, 0.4, 0.3, 0.1, seq_len=4, depth=3, beta=0.7, **kw)
    q, cp, c, cx = 1.0, 0.4, 0.3, 0.1
    for l in range(3):
        s = nn.attention_propagate(q, cp, c, cx, seq_len=4, **kw)
        add = 0.49 * s.q
        qn = q + add
        cp, c, cx = ((q * r + add * ra) / qn for r, ra in ((cp, s.c_pos), (c, s.c), (cx, s.c_x)))
        q = qn
        assert t.q[l + 1] == pytest.approx(q, rel=1e-13)
        assert (t.c_pos[l + 1], t.c[l + 1], t.c_x[l + 1]) == pytest.approx((cp, c, cx), rel=1e-12)
    z = nn.attention_residual_propagate(1.0, 0.4, seq_len=4, depth=3, beta=0.0)
    assert np.all(z.q == 1.0) and np.all(z.c_pos == 0.4)


def test_branch_scaling_keeps_positions_apart():
    # pre-LN blocks at unit logit variance: beta = 1 collapses c_pos, beta = 1 / sqrt(L) does not
    L = 24
    s = nn.recommended_attention_scales(1.0, 0.2, seq_len=4, depth=L, pre_norm=True)
    assert s.sigma_q2 == s.sigma_k2 == 1.0 and s.branch_scale == pytest.approx(1 / math.sqrt(L))
    one = nn.attention_propagate(1.0, 0.2, seq_len=4, sigma_o2=s.sigma_o2)
    assert one.q == pytest.approx(1.0, rel=1e-13)
    assert s.c_pos_unscaled > 0.95 and s.c_pos_scaled < 0.7
    with pytest.raises(ValueError, match="depth must be <="):
        nn.attention_residual_propagate(1.0, 0.2, seq_len=4, depth=12, beta=1.0, sigma_q2=3.0, sigma_k2=3.0)


# ---------------------------------------------------------------------------------------------
# 3. seeded simulation with torch.nn.MultiheadAttention
# ---------------------------------------------------------------------------------------------


def full_pattern(batch, T, c_pos, c, c_x):
    """The (batch T, batch T) correlation pattern of ``batch`` exchangeable sequences of T positions."""
    same_seq = np.kron(np.eye(batch), np.ones((T, T))).astype(bool)
    same_pos = np.kron(np.ones((batch, batch)), np.eye(T)).astype(bool)
    return np.where(same_seq, np.where(same_pos, 1.0, c_pos), np.where(same_pos, c, c_x))


def _torch_moments(torch, d, heads, T, batch, sq, sk, state, seed):
    """One replica: fresh weights N(0, sigma^2 / d) and inputs with the exchangeable pattern; the output's
    q and its three correlations (ratios of averages over tokens and feature entries)."""
    q, c_pos, c, c_x = state
    g = torch.Generator().manual_seed(seed)
    mha = torch.nn.MultiheadAttention(d, heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        W = torch.randn(3 * d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
        W[:d] *= math.sqrt(sq)
        W[d:2 * d] *= math.sqrt(sk)
        mha.in_proj_weight.copy_(W)
        mha.out_proj.weight.copy_(torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d))
        mha.in_proj_bias.zero_()
        mha.out_proj.bias.zero_()
        # inputs whose Gram matrix is exactly q d K: X = sqrt(q d) L U^T, L L^T = K (all batch x T tokens),
        # U a random d x (batch T) matrix with orthonormal columns
        K = full_pattern(batch, T, c_pos, c, c_x)
        L = torch.from_numpy(np.linalg.cholesky(K + 1e-12 * np.eye(batch * T)))
        U, _ = torch.linalg.qr(torch.randn(d, batch * T, generator=g, dtype=torch.float64))
        X = (math.sqrt(q * d) * L @ U.T).reshape(batch, T, d)
        Y, _ = mha(X, X, X, need_weights=False)
    Y = Y.numpy()
    G = np.einsum("aid,bkd->aibk", Y, Y) / d
    same_seq = np.eye(batch, dtype=bool)[:, None, :, None]
    same_pos = np.eye(T, dtype=bool)[None, :, None, :]
    q_hat = G[same_seq & same_pos].mean()
    return np.array([q_hat] + [G[np.broadcast_to(m, G.shape)].mean() / q_hat
                               for m in (same_seq & ~same_pos, ~same_seq & same_pos, ~same_seq & ~same_pos)])


@pytest.mark.parametrize("sq, T, heads", [(0.3, 4, 1), (1.4, 4, 1), (0.3, 16, 4), (1.4, 16, 2)])
def test_theory_against_torch_multihead_attention(sq, T, heads):
    torch = pytest.importorskip("torch")
    d, batch, R = 512, 12, 16
    state = (1.0, 0.5, 0.3, 0.1)
    sims = np.array([_torch_moments(torch, d, heads, T, batch, sq, sq, state, 1000 * T + r)
                     for r in range(R)])
    s = nn.attention_propagate(*state, seq_len=T, sigma_q2=sq, sigma_k2=sq, heads=heads, head_dim=d // heads)
    theory = np.array([s.q, s.c_pos, s.c, s.c_x])
    mean, se = sims.mean(0), sims.std(0, ddof=1) / math.sqrt(R)
    # 5 standard errors across replicas (the inputs' Gram matrix is exact; what remains is the O(1/sqrt(d))
    # spread of the weights and the non-self-averaging attention matrices), plus an allowance 2 / d_h for
    # the O(1/d_h) bias of the non-Gaussian logits: relative for q, on 1 - r for a correlation r (exact
    # at r = 1, where attention cannot act)
    d_h = d // heads
    tol = 5 * se + 2 / d_h * np.array([s.q, 1 - s.c_pos, 1 - s.c, 1 - s.c_x])
    assert np.all(np.abs(mean - theory) <= tol), (mean, theory, se)
