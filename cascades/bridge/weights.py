"""Weights of a recommended network, drawn in numpy: Gaussian, orthogonal, and approximate isometry on a mask.

:func:`draw_weights` turns a :class:`~cascades.bridge.Recommendation` and its masks into weight and
bias arrays (PyTorch's layout); :mod:`cascades.bridge.torch` copies them into a torch model, and
the same arrays can be run through a numpy forward pass. Orthogonal weights (Saxe et al. 2014;
Pennington, Schoenholz & Ganguli 2017) are Haar-random matrices from the QR decomposition of a
Gaussian matrix with the sign correction of Mezzadri (2007). A masked orthogonal matrix is not
orthogonal; for sparse layers :func:`approximate_isometry` implements the approximate isometry of
Lee, Ajanthan, Gould & Torr (ICLR 2020), the closest masked matrix to an isometry found by
gradient descent on ||(C ⊙ W)^T (C ⊙ W) - I||_F^2 with the mask C fixed. torch is
never imported here.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from .._rng import as_generator
from .._validation import check_int, check_real
from ..nn._guard import F8, guard

__all__ = ["WEIGHT_LAWS", "orthogonal_matrix", "approximate_isometry", "orthogonality_defect", "draw_weights"]

WEIGHT_LAWS = ("gaussian", "orthogonal")


def _orthogonal_peak_bytes(rows: int, cols: int) -> int:
    """Peak bytes of :func:`orthogonal_matrix`: the Gaussian matrix, Q (and LAPACK's copy) and R.

    Measured with tracemalloc: 4.13 (3000 x 3000) and 3.28 (4000 x 1000, 1000 x 4000) float64
    arrays of rows x cols; this gives 4 and 3.25.
    """
    big, small = max(rows, cols), min(rows, cols)
    return F8 * (3 * big * small + small * small)


def _isometry_peak_bytes(rows: int, cols: int) -> int:
    """Peak bytes of :func:`approximate_isometry` on a (rows, cols) mask: the float64 mask, the start,
    the iterate, the products of a step and the (small, small) identity and Gram matrix.

    Measured with tracemalloc: 7.0 (800 x 800) and 5.67 (1200 x 400, 400 x 1200) float64 arrays of
    rows x cols; this gives 7 and 5.67.
    """
    small = min(rows, cols)
    return F8 * (5 * rows * cols + 2 * small * small)


def orthogonal_matrix(rows, cols, *, rng=None) -> np.ndarray:
    """Haar-random (rows, cols) matrix with orthonormal rows (rows <= cols) or orthonormal columns.

    Parameters
    ----------
    rows, cols : int
        Shape, each >= 1.
    rng : None, int or numpy.random.Generator
        Randomness (keyword-only).

    Returns
    -------
    numpy.ndarray
        float64 (rows, cols); all min(rows, cols) singular values equal 1.

    Notes
    -----
    Q from the QR decomposition of a (max, min) standard Gaussian matrix A = QR, with each column
    of Q multiplied by the sign of the matching diagonal entry of R, is Haar distributed (Mezzadri,
    Notices AMS 54, 2007); transposed when rows < cols. Cost O(max min^2).

    Examples
    --------
    >>> Q = orthogonal_matrix(3, 5, rng=0)
    >>> bool(np.allclose(Q @ Q.T, np.eye(3)))
    True
    """
    rows = check_int("rows", rows, low=1)
    cols = check_int("cols", cols, low=1)
    guard(
        _orthogonal_peak_bytes(rows, cols),
        parameter=f"rows = {rows}, cols = {cols}",
        what="the Gaussian matrix and its QR factors",
    )
    gen = as_generator(rng)
    a = gen.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    s = np.sign(np.diag(r))
    s[s == 0] = 1.0
    q = q * s
    return q if rows >= cols else q.T


def orthogonality_defect(weight) -> float:
    """||G - I||_F / sqrt(d): G the smaller Gram matrix (W W^T if rows <= cols, else W^T W), d its size.

    With s_1..s_d the d = min(rows, cols) singular values, ||G - I||_F^2 = sum_i (s_i^2 - 1)^2, so
    this is the root mean square of s_i^2 - 1: 0 for orthonormal rows (or columns), sqrt(r / d) for
    a matrix that is orthonormal except for r zero singular values.

    Examples
    --------
    >>> orthogonality_defect(np.eye(4))
    0.0
    >>> orthogonality_defect(np.diag([1.0, 1.0, 1.0, 0.0]))
    0.5
    """
    shape = np.shape(weight)
    if len(shape) != 2 or 0 in shape:
        raise ValueError(f"weight must be a non-empty 2-d array, got shape {shape}")
    small = min(shape)
    guard(
        F8 * (shape[0] * shape[1] + 2 * small * small),
        parameter=f"weight of shape {shape}",
        what="its float64 copy and Gram matrix",
    )
    w = np.asarray(weight, dtype=np.float64)
    g = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return float(np.linalg.norm(g - np.eye(g.shape[0])) / math.sqrt(g.shape[0]))


def approximate_isometry(mask, *, steps=300, step_size=0.5, rng=None) -> np.ndarray:
    """Approximate isometry on a fixed mask (Lee et al., ICLR 2020): masked W with W^T W ~ I.

    Minimises f(W) = ||M^T M - I||_F^2, M = C ⊙ W, over W with the mask C fixed, where the Gram
    matrix is the smaller one: M^T M (orthonormal columns) when rows >= cols, M M^T (orthonormal
    rows) when rows < cols.

    Parameters
    ----------
    mask : array_like of bool
        (rows, cols) mask C; any other shape is flattened to (shape[0], prod(shape[1:])) (conv
        kernels: the matrix (c_out, c_in k_h k_w)) and the result reshaped back.
    steps : int
        Gradient steps (>= 0); ``steps=0`` returns the starting point.
    step_size : float
        eta in (0, 1]: M <- M - eta C ⊙ (M (M^T M - I)) (the gradient of f / 4).
    rng : None, int or numpy.random.Generator
        Randomness of the starting point (keyword-only); the descent itself is deterministic.

    Returns
    -------
    numpy.ndarray
        float64, the mask's shape, exactly zero outside the mask; singular values near 1 when the
        mask allows it (Notes).

    Notes
    -----
    Start: C ⊙ Z, Z standard Gaussian, divided by its spectral norm, so every singular value starts
    in [0, 1]; with eta <= 1/2 the unmasked iteration s <- s + eta s (1 - s^2) then increases every
    singular value monotonically to 1 without overshoot (a larger step can send a singular value
    near sqrt(1 + 1/eta) to 0, where the gradient vanishes). Lee et al. minimise the sum over layers
    of ||(C ⊙ W)^T (C ⊙ W) - I||_F (their eq. number unverified); the layers decouple, and the square
    of the norm has the same minimisers and a smooth gradient.

    Measured (256 x 256 Erdos-Renyi masks, 300 steps): density 0.1 (25.6 inputs per unit) reaches
    singular values in [0.993, 1.007]; at 8 inputs per unit about 3.5% of the singular values stay
    at 0, at 4 about 11%, at 2 about 28%: sparse rows that share exactly one column cannot be
    orthogonal unless an entry vanishes, so exact isometry does not exist on very sparse masks and
    the descent stops at a rank-deficient near-isometry (orthonormal on the rest).
    Cost O(steps * rows * cols * min(rows, cols)) (dense products), run on one BLAS thread when
    threadpoolctl is installed.

    References
    ----------
    N. Lee, T. Ajanthan, S. Gould and P. H. S. Torr, "A signal propagation perspective for pruning
    neural networks at initialization", ICLR 2020.

    Examples
    --------
    >>> C = np.random.default_rng(0).random((40, 40)) < 0.5
    >>> W = approximate_isometry(C, rng=0)
    >>> bool(np.all(W[~C] == 0)), orthogonality_defect(W) < 0.05
    (True, True)
    """
    c = np.asarray(mask)
    if c.ndim < 2 or c.size == 0:
        raise ValueError(f"mask must be a non-empty array with at least 2 dimensions, got shape {c.shape}")
    shape = c.shape
    guard(
        _isometry_peak_bytes(shape[0], c.size // shape[0]),
        parameter=f"mask of shape {shape}",
        what="the float64 iterate, its gradient step and Gram matrix",
    )
    c = (c.reshape(shape[0], -1) != 0).astype(np.float64)
    steps = check_int("steps", steps, low=0)
    eta = check_real("step_size", step_size, low=0, high=1, low_open=True)
    gen = as_generator(rng)
    z = gen.standard_normal(c.shape)
    flip = c.shape[0] < c.shape[1]
    if flip:
        c, z = c.T, z.T
    m = z * c
    norm = np.linalg.norm(m, 2)
    if norm > 0:
        m /= norm
    eye = np.eye(c.shape[1])
    with _one_blas_thread():
        for _ in range(steps):
            m -= eta * c * (m @ (m.T @ m - eye))
    return (m.T if flip else m).reshape(shape)


def _one_blas_thread():
    """Limit BLAS to one thread if threadpoolctl is installed (optional; a scikit-learn dependency).

    The descent's many small matrix products run up to 100x slower with OpenBLAS threads spinning on a
    loaded machine (measured: 80 x 80, 300 steps, 0.06 s single-threaded vs 1-7 s with 2 threads and
    other processes on 2 cores); one thread also makes the result independent of the thread count.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _layer_matrix_orthogonal(mask2d, sigma_w2, weight_std, gen, steps) -> np.ndarray:
    n_out, n_in = mask2d.shape
    if mask2d.all():
        return math.sqrt(sigma_w2 * max(1.0, n_out / n_in)) * orthogonal_matrix(n_out, n_in, rng=gen)
    w = approximate_isometry(mask2d, steps=steps, rng=gen)
    kept = w[mask2d]
    ms = float(np.mean(kept**2)) if kept.size else 0.0
    return w * (weight_std / math.sqrt(ms)) if ms > 0 else w


def draw_weights(recommendation, masks, *, rng=None, weights=None, isometry_steps=300):
    """Weights and biases for a recommendation on given masks (numpy, float64, PyTorch's layout).

    Parameters
    ----------
    recommendation : Recommendation
        From :func:`cascades.bridge.recommend`.
    masks : sequence of numpy.ndarray
        One boolean mask per layer, shape ``LayerShape.weight_shape`` (from
        :func:`cascades.bridge.draw_masks`).
    rng : None, int or numpy.random.Generator
        Randomness (keyword-only), consumed layer by layer: the weights, then the biases.
    weights : {"gaussian", "orthogonal"}, optional
        Default ``recommendation.weights``.
    isometry_steps : int
        Gradient steps of :func:`approximate_isometry` for masked orthogonal layers.

    Returns
    -------
    (list of numpy.ndarray, list of numpy.ndarray)
        Weights (zero outside the mask) and biases N(0, bias_std^2).

    Raises
    ------
    TypeError
        If ``recommendation`` is not a Recommendation or ``masks`` not a sequence of arrays.
    ValueError
        For an unknown weight law, or masks of the wrong number or shape.
    cascades.MemoryLimitError
        If the float64 weights of every layer (8 bytes per weight) and the largest layer's
        temporaries do not fit in memory.

    Notes
    -----
    * "gaussian": N(0, weight_std^2) on the mask; with ``init_rule == "neuron"`` a unit with k
      inputs gets variance weight_std^2 E[k] / k (i.e. sigma_w^2 / k).
    * "orthogonal", dense layer: sqrt(sigma_w^2 max(1, n_out / fan_in)) Q (sigma_w^2 of that layer,
      :attr:`LayerRecommendation.sigma_w2`), Q Haar with orthonormal
      rows or columns (:func:`orthogonal_matrix`). So a square layer has all singular values
      sigma_w; a wide layer (n_out < fan_in) has n_out singular values sigma_w; a tall layer
      (n_out > fan_in) has fan_in singular values sigma_w sqrt(n_out / fan_in). In every case the
      mean squared entry is sigma_w^2 / fan_in, as for Gaussian weights, so the mean squared
      pre-activation is sigma_w^2 times the mean squared input and the q map is unchanged.
    * "orthogonal", masked layer: :func:`approximate_isometry` on the mask, rescaled so the mean
      square of the kept entries is weight_std^2 = sigma_w^2 / (p_l fan_in) (the recommended std);
      the singular values are then close to sigma_w sqrt(max(1, n_out / fan_in)) times the
      isometry's (near 1). Conv layers use the matrix (c_out, c_in k_h k_w).

    Examples
    --------
    >>> from cascades.bridge import draw_masks, recommend
    >>> rec = recommend([30, 30, 30], "relu", density=0.5, scheme="uniform", weights="orthogonal")
    >>> ws, bs = draw_weights(rec, draw_masks(rec.shapes, rec.densities, rng=0), rng=0)
    >>> [w.shape for w in ws], bool(np.all(bs[0] == 0))
    ([(30, 30), (30, 30)], True)
    """
    from .recommend import Recommendation

    if not isinstance(recommendation, Recommendation) and not hasattr(recommendation, "layers"):
        raise TypeError(
            f"recommendation must be a cascades.bridge.Recommendation (from "
            f"cascades.bridge.recommend), got {type(recommendation).__name__}"
        )
    if isinstance(masks, (str, bytes, np.ndarray)) or not hasattr(masks, "__len__"):
        raise TypeError(
            f"masks must be a sequence of boolean arrays, one per layer (from "
            f"cascades.bridge.draw_masks), got {type(masks).__name__}"
        )
    law = getattr(recommendation, "weights", "gaussian") if weights is None else weights
    if law not in WEIGHT_LAWS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_LAWS)}; got {law!r}")
    isometry_steps = check_int("isometry_steps", isometry_steps, low=0)
    layers = recommendation.layers
    if len(masks) != len(layers):
        raise ValueError(f"masks has {len(masks)} entries, the recommendation {len(layers)} layers")
    guard(
        _weights_peak_bytes(recommendation, law),
        parameter=f"recommendation with {len(layers)} layers "
        f"of {sum(lay.layer_shape.n_weights for lay in layers)} weights",
        what="the float64 weights",
    )
    gen = as_generator(rng)
    ws, bs = [], []
    for i, (lay, mask) in enumerate(zip(layers, masks, strict=True)):
        s = lay.layer_shape
        mask = np.asarray(mask)
        if mask.shape != s.weight_shape:
            raise ValueError(f"masks[{i}] has shape {mask.shape}, layer {i} needs {s.weight_shape}")
        mask = mask != 0
        m2 = mask.reshape(s.out_channels, -1)
        if law == "orthogonal":
            sw2 = lay.sigma_w2 if math.isfinite(lay.sigma_w2) else recommendation.sigma_w2  # older JSON
            w = _layer_matrix_orthogonal(m2, sw2, lay.weight_std, gen, isometry_steps)
            w = (w * m2).reshape(s.weight_shape)
        else:
            if lay.init_rule == "neuron":
                k = m2.sum(axis=1)
                std = np.sqrt(lay.weight_std**2 * lay.expected_in_degree / np.maximum(k, 1))
                std = std.reshape((s.out_channels,) + (1,) * (len(s.weight_shape) - 1))
            else:
                std = lay.weight_std
            w = gen.standard_normal(s.weight_shape) * std * mask
        ws.append(w)
        bs.append(gen.standard_normal(s.out_channels) * lay.bias_std)
    return ws, bs


def _weights_peak_bytes(recommendation, law=None) -> int:
    """Peak bytes of :func:`draw_weights` (Python ints).

    Kept: the float64 weights and biases of every layer. On top, the largest layer's transient:
    the boolean copy of its mask (1 byte per weight), with the per-neuron rule the draw before the
    (out, 1) scale is applied (8 more), with orthogonal weights the QR of
    :func:`orthogonal_matrix` (dense) or the iterate of :func:`approximate_isometry` (masked), less
    the weight they become. Measured with tracemalloc (per weight of the largest layer beyond the
    kept 8 bytes): Gaussian 1.0, per-neuron 9.0, orthogonal dense 26.0 (estimate 25), masked 49.5
    (49) (widths 3000, 2000 and 800).
    """
    law = getattr(recommendation, "weights", "gaussian") if law is None else law
    kept = transient = 0
    for lay in recommendation.layers:
        s = lay.layer_shape
        n = s.n_weights
        kept += F8 * (n + s.out_channels)
        if law == "orthogonal":
            rows, cols = s.out_channels, s.fan_in
            big = _orthogonal_peak_bytes(rows, cols) if lay.density >= 1 else _isometry_peak_bytes(rows, cols)
            t = big + n - F8 * n
        else:
            t = n + F8 * n * (lay.init_rule == "neuron")
        transient = max(transient, t)
    return kept + transient
