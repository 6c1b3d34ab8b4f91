"""Sparse topologies for a network architecture: layer-wise densities and random masks (Evci et al. 2020).

An architecture is a sequence of layers, each a :class:`LayerShape` (a Linear or a Conv2d
weight tensor). :func:`layer_densities` distributes an overall density p over the layers with one
of the schemes uniform, ERK (Evci et al., ICML 2020), balanced, pyramidal and SET (Mocanu et al.
2018), so that
sum_l p_l N_l = p sum_l N_l (N_l = number of weights of layer l) whenever the scheme fixes the
overall density. :func:`draw_masks` draws the masks with :func:`cascades.graphs.layered`
(Erdos-Renyi), or in-degree-regular masks, optionally with flow preservation.

A mask is a boolean array in PyTorch's weight layout: (out_features, in_features) for a Linear
layer and (c_out, c_in, k_h, k_w) for a Conv2d layer, whose "inputs" are the c_in k_h k_w
positions of the kernel (the fan-in).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .._rng import as_generator
from .._validation import check_int, check_real
from ..graphs import layered
from ..nn._guard import guard

__all__ = [
    "LayerShape",
    "SCHEMES",
    "parse_architecture",
    "layer_densities",
    "draw_masks",
]

SCHEMES = ("uniform", "erk", "balanced", "pyramidal", "set")


@dataclass(frozen=True)
class LayerShape:
    """The weight tensor of one layer: ``kind`` "linear" or "conv2d".

    Attributes
    ----------
    kind : str
        "linear" or "conv2d".
    in_channels, out_channels : int
        in_features and out_features for a Linear layer.
    kernel : tuple of int
        (k_h, k_w) for a Conv2d layer, () for a Linear layer.

    Examples
    --------
    >>> s = LayerShape("conv2d", 3, 16, (3, 3))
    >>> s.fan_in, s.fan_out, s.n_weights, s.weight_shape
    (27, 144, 432, (16, 3, 3, 3))
    """

    kind: str
    in_channels: int
    out_channels: int
    kernel: tuple = ()

    def __post_init__(self):
        if self.kind not in ("linear", "conv2d"):
            raise ValueError(f"layer kind must be 'linear' or 'conv2d', got {self.kind!r}")
        check_int("in_channels", self.in_channels, low=1)
        check_int("out_channels", self.out_channels, low=1)
        k = tuple(int(check_int("kernel size", v, low=1)) for v in self.kernel)
        if (self.kind == "conv2d") != (len(k) == 2) or (self.kind == "linear" and k):
            need = "(k_h, k_w)" if self.kind == "conv2d" else "()"
            raise ValueError(f"a {self.kind} layer needs kernel {need}, "
                             f"got {self.kernel!r}")
        object.__setattr__(self, "in_channels", int(self.in_channels))
        object.__setattr__(self, "out_channels", int(self.out_channels))
        object.__setattr__(self, "kernel", k)

    @property
    def weight_shape(self) -> tuple:
        """PyTorch weight shape: (out, in) or (c_out, c_in, k_h, k_w)."""
        return (self.out_channels, self.in_channels, *self.kernel)

    # products in Python ints: np.prod would wrap around in int64 (2**40 x 2**40 gave 0 weights)
    @property
    def fan_in(self) -> int:
        """Inputs of one output unit: in_features or c_in k_h k_w."""
        return math.prod((self.in_channels, *self.kernel))

    @property
    def fan_out(self) -> int:
        """PyTorch's fan-out: out_features or c_out k_h k_w."""
        return math.prod((self.out_channels, *self.kernel))

    @property
    def n_weights(self) -> int:
        """N_l, the number of entries of the weight tensor."""
        return math.prod(self.weight_shape)

    @property
    def erk_factor(self) -> float:
        """(sum of the weight tensor's dims) / (product of its dims) (Evci et al. 2020)."""
        return float(sum(self.weight_shape)) / self.n_weights

    @property
    def set_factor(self) -> float:
        """(n_in + n_out) / (n_in n_out) with n_in = fan-in, n_out = out channels (Mocanu et al. 2018)."""
        return (self.fan_in + self.out_channels) / (self.fan_in * self.out_channels)

    def to_tuple(self) -> tuple:
        """("linear", in, out) or ("conv2d", c_in, c_out, k_h, k_w)."""
        return (self.kind, self.in_channels, self.out_channels, *self.kernel)


def parse_architecture(architecture) -> tuple[LayerShape, ...]:
    """Turn widths or layer shapes into a tuple of :class:`LayerShape`.

    Parameters
    ----------
    architecture : sequence
        Either widths (n_0, ..., n_L) of an MLP (positive ints, at least two), or layer shapes,
        each a :class:`LayerShape`, ``("linear", in, out)`` or ``("conv2d", c_in, c_out, k_h, k_w)``.
        (Torch modules are handled by :func:`cascades.bridge.recommend`.)

    Raises
    ------
    TypeError
        If ``architecture`` is not a sequence (None, a number, a string).
    ValueError
        For a width that is not a positive integer, fewer than two widths, or an unknown layer kind.

    Examples
    --------
    >>> [s.to_tuple() for s in parse_architecture([4, 3, 2])]
    [('linear', 4, 3), ('linear', 3, 2)]
    >>> parse_architecture([("conv2d", 1, 8, 3, 3), ("linear", 8, 10)])[0].fan_in
    9
    """
    if isinstance(architecture, (str, bytes)) or not hasattr(architecture, "__len__"):
        raise TypeError(f"architecture must be a list of widths or of layer shapes (or, for recommend, a "
                        f"torch.nn.Module), got {type(architecture).__name__} {architecture!r}")
    items = list(architecture)
    if not items:
        raise ValueError("architecture must not be empty")
    if all(isinstance(x, numbers.Integral) or (isinstance(x, numbers.Real) and float(x).is_integer())
           for x in items):
        if len(items) < 2:
            raise ValueError(f"architecture widths must list at least two layer widths, got {items}")
        w = [check_int(f"architecture widths[{i}]", x, low=1) for i, x in enumerate(items)]
        return tuple(LayerShape("linear", a, b) for a, b in zip(w[:-1], w[1:], strict=True))
    shapes = []
    for i, x in enumerate(items):
        if isinstance(x, LayerShape):
            shapes.append(x)
            continue
        if not isinstance(x, (tuple, list)) or not x or x[0] not in ("linear", "conv2d"):
            raise ValueError(
                f"architecture[{i}] must be ('linear', in, out) or ('conv2d', c_in, c_out, k_h, k_w), "
                f"got {x!r}"
            )
        n = 3 if x[0] == "linear" else 5
        if len(x) != n:
            raise ValueError(f"architecture[{i}] = {x!r} must have {n} entries")
        shapes.append(LayerShape(x[0], x[1], x[2], tuple(x[3:])))
    return tuple(shapes)


def _water_fill(raw, N, budget, fixed_dense=()):
    """p_l = min(eps raw_l, 1) with sum p_l N_l = budget: saturated layers made dense, eps re-solved."""
    dense = np.zeros(len(raw), dtype=bool)
    dense[list(fixed_dense)] = True
    while True:
        rest = budget - N[dense].sum()
        denom = (raw[~dense] * N[~dense]).sum()
        if denom <= 0:
            return np.ones(len(raw))
        eps = rest / denom
        p = np.where(dense, 1.0, eps * raw)
        over = (~dense) & (p > 1.0)
        if not over.any():
            return p
        dense |= over


def layer_densities(architecture, density, scheme="erk", *, epsilon=None, overrides=None) -> np.ndarray:
    """Layer-wise densities p_l for an overall density p.

    Parameters
    ----------
    architecture : sequence
        See :func:`parse_architecture`.
    density : float
        Overall density p in (0, 1]: the fraction of weights kept.
    scheme : {"uniform", "erk", "balanced", "pyramidal", "set"}
        * "uniform": p_l = p.
        * "erk": p_l = eps (sum of dims) / (product of dims) (Evci et al. 2020); any layer above 1 is
          made dense and eps re-solved.
        * "balanced": every non-dense layer keeps the same number of weights, p_l N_l = const
          (min(p sum N / (L N_l), 1), with the saturated layers' surplus redistributed).
        * "pyramidal": p_l = r^l with r in (0, 1] the root of sum_l N_l r^l = p sum_l N_l.
        * "set": p_l = min(epsilon (n_in + n_out) / (n_in n_out), 1) (Mocanu et al. 2018); without
          ``epsilon``, epsilon is solved for the overall density like ERK.
    epsilon : float, optional
        SET's epsilon (> 0); only with scheme "set". Then the overall density follows from epsilon
        and ``density`` is not enforced.
    overrides : dict {int: float}, optional
        Fixed densities in (0, 1] for some layers (0-based index). The other layers share the
        remaining budget with the scheme.

    Returns
    -------
    numpy.ndarray
        float64 (L,), entries in (0, 1].

    Raises
    ------
    TypeError
        If ``architecture`` is not a sequence or ``overrides`` not a dict.
    ValueError
        For a density outside (0, 1], an unknown scheme, an epsilon without scheme "set", an
        override index out of range, or overrides that use more than the whole budget.

    Notes
    -----
    The weight counts N_l are Python ints (exact for any width; as floats in the budget sums), so
    widths of 2^40 give the same densities as small ones.

    Examples
    --------
    >>> p = layer_densities([784, 300, 100, 10], 0.1, "erk")
    >>> N = np.array([784 * 300, 300 * 100, 100 * 10])
    >>> bool(abs(p @ N - 0.1 * N.sum()) < 1e-9 * N.sum()), bool(p.max() <= 1)
    (True, True)
    >>> layer_densities([10, 10, 10], 0.5, "uniform")
    array([0.5, 0.5])
    """
    shapes = parse_architecture(architecture)
    p = check_real("density", density, low=0, high=1, low_open=True)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}; got {scheme!r}")
    if epsilon is not None:
        if scheme != "set":
            raise ValueError(f"epsilon applies only to scheme 'set', got scheme {scheme!r}")
        epsilon = check_real("epsilon", epsilon, low=0, low_open=True)
    L = len(shapes)
    N = np.array([s.n_weights for s in shapes], dtype=float)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a dict {{layer index: density}} or None, got "
                        f"{type(overrides).__name__}")
    fixed = {}
    for key, val in (overrides or {}).items():
        i = check_int("overrides key", key, low=-L, high=L - 1) % L
        fixed[i] = check_real(f"overrides[{key}]", val, low=0, high=1, low_open=True)
    free = np.array([i not in fixed for i in range(L)])
    out = np.empty(L)
    for i, v in fixed.items():
        out[i] = v
    if not free.any():
        return out
    budget = p * N.sum() - sum(fixed[i] * N[i] for i in fixed)
    Nf = N[free]
    if scheme == "set" and epsilon is not None:
        out[free] = np.minimum(epsilon * np.array([s.set_factor for s in shapes])[free], 1.0)
        return out
    if budget <= 0:
        raise ValueError(
            f"overrides keep {sum(fixed[i] * N[i] for i in fixed):.0f} weights, more than the budget "
            f"density * total = {p * N.sum():.0f}; lower the overrides or raise density"
        )
    if budget >= Nf.sum():
        out[free] = 1.0
        return out
    if scheme == "uniform":
        out[free] = budget / Nf.sum()
    elif scheme in ("erk", "set", "balanced"):
        if scheme == "erk":
            raw = np.array([s.erk_factor for s in shapes])[free]
        elif scheme == "set":
            raw = np.array([s.set_factor for s in shapes])[free]
        else:
            raw = 1.0 / Nf
        out[free] = _water_fill(raw, Nf, budget)
    else:  # pyramidal: p_l = r^l over the free layers, l = 1, 2, ...
        ell = np.arange(1, Nf.size + 1)
        r = optimize.brentq(lambda r: (Nf * r**ell).sum() - budget, 0.0, 1.0, xtol=1e-15, rtol=1e-15)
        out[free] = r**ell
    return out


def _shown_shapes(shapes) -> str:
    """The layers for a message: widths of an MLP, else the shapes (shortened when long)."""
    if all(s.kind == "linear" for s in shapes) and all(
            a.out_channels == b.in_channels for a, b in zip(shapes, shapes[1:], strict=False)):
        widths = [shapes[0].in_channels] + [s.out_channels for s in shapes]
        return str(widths) if len(widths) <= 6 else f"[{widths[0]}, {widths[1]}, ..., {widths[-1]}]"
    items = [s.to_tuple() for s in shapes]
    return str(items) if len(items) <= 3 else f"[{items[0]}, ..., {items[-1]}] ({len(items)} layers)"


def _masks_peak_bytes(shapes, dens, in_degree_regular: bool) -> int:
    """Peak bytes of :func:`draw_masks` (Python ints).

    Kept: one byte per weight of every mask. On top, the largest layer's transient: Erdos-Renyi,
    the layered graph's int64 indptr and, while :meth:`cascades.graphs.LayeredGraph.mask` fills the
    dense mask, the graph's ids, their shifted copy and the int64 row of each edge (16 bytes per
    edge with 4-byte ids); in-degree-regular, the float64 random keys and their int64 argsort (16
    bytes per weight, the mask's own byte included). Measured with tracemalloc (estimate in
    brackets): widths [3000, 3000, 3000] at p = 0.05 25.3 MB (25.2), p = 0.3 75.4 MB (61.2), p = 1
    162.2 MB (162.0); [3000, 3000] in-degree-regular 144.0 MB (144.0).
    """
    kept = sum(s.n_weights for s in shapes)
    transient = 0
    for s, p in zip(shapes, dens, strict=True):
        n_in, n_out = s.fan_in, s.out_channels
        if in_degree_regular:
            t = 15 * n_in * n_out
        else:
            ids = 4 if n_in + n_out < 2**31 else 8
            t = 8 * (n_in + n_out + 1) + (2 * ids + 8) * int(n_in * n_out * p)
        transient = max(transient, t)
    return kept + transient


def _regular_mask(n_out, n_in, k, gen) -> np.ndarray:
    """Every row gets exactly k distinct ones, uniformly at random."""
    order = np.argsort(gen.random((n_out, n_in)), axis=1)[:, :k]
    m = np.zeros((n_out, n_in), dtype=bool)
    np.put_along_axis(m, order, True, axis=1)
    return m


def _preserve_flow(m, gen) -> np.ndarray:
    """Give every empty row (no input) and every empty column (no output) one random edge."""
    n_out, n_in = m.shape
    rows = np.flatnonzero(~m.any(axis=1))
    m[rows, gen.integers(0, n_in, size=rows.size)] = True
    cols = np.flatnonzero(~m.any(axis=0))
    m[gen.integers(0, n_out, size=cols.size), cols] = True
    return m


def draw_masks(architecture, densities, *, rng=None, in_degree_regular=False, flow_preserving=False):
    """Random connection masks for every layer, in PyTorch's weight layout.

    Parameters
    ----------
    architecture : sequence
        See :func:`parse_architecture`.
    densities : float or sequence of float
        p_l in (0, 1], one per layer (a scalar for all).
    rng : None, int or numpy.random.Generator
        Source of randomness (keyword-only); the layers are drawn in order from one generator.
    in_degree_regular : bool
        False: Erdos-Renyi masks (each weight kept independently with probability p_l), drawn with
        :func:`cascades.graphs.layered` on the bipartite graph fan-in -> out units. True: every
        output unit gets exactly max(1, round(p_l fan_in)) inputs chosen uniformly (no dead units).
    flow_preserving : bool
        After drawing, give every unit with no input and every input with no output one random edge
        (flow preservation), which raises the density slightly.

    Returns
    -------
    tuple of numpy.ndarray
        Boolean masks of shape ``LayerShape.weight_shape``.

    Notes
    -----
    In-degree-regular masks against Erdos-Renyi masks (benchmarks/bench_bridge_masks.py: depth 20,
    width 256, k = p n_in in {2, 4, 8, 32}, Gaussian weights at the recommended scale, 8 networks
    per case): measured, the regular masks remove the dead units ((1 - p)^n_in per layer with ER
    masks: 13.3% at k = 2, 1.8% at k = 4, as predicted) and the units without a path from the input
    (19.5% and 1.5% at layer 20), and the in-degree part of the spread of q across units (layer 1:
    std/mean 1.00 against 1.21 at k = 2, 0.71 against 0.88 at k = 4, 0.48 against 0.61 at k = 8,
    0.25 against 0.29 at k = 32, each within 3% of the prediction). They do not remove the chi-square
    noise of the k Gaussian weights, which compounds with depth. For ReLU the typical network
    (geometric mean over networks) keeps q^20 = 0.84 against 0.36 (k = 4) and 1.05 against 0.87
    (k = 8) of the predicted 2, and the gradient ratio |delta^1|^2 / |delta^20|^2 = 0.51 against 0.29
    (k = 4) and 0.82 against 0.63 (k = 8) of the predicted 1; at k = 32 the two are within the
    network-to-network scatter, and at k = 2 the ReLU signal dies with both. For tanh at the edge
    of chaos (sigma_b^2 = 0.05) q^20 follows the theory for both (regular: a dense layer of fan-in
    k, 0.483 against 0.486 at k = 2; Erdos-Renyi: 0.392 against 0.408) and the gradient ratio is
    0.51 against 0.10 (k = 2), 0.66 against 0.46 (k = 4), 0.56 against 0.44 (k = 8), 0.46 against
    0.44 (k = 32), dense prediction 0.46. Verdict: regular masks help where dead units matter,
    k = p n_in <~ 8; above that they are equivalent to Erdos-Renyi masks. (The per-neuron rule on
    Erdos-Renyi masks did not help: ReLU q^20 = 0.14 at k = 4.)

    Raises
    ------
    TypeError
        If ``architecture`` is not a sequence.
    ValueError
        For densities outside (0, 1] or of the wrong length.
    cascades.MemoryLimitError
        If the masks (one byte per weight, all kept) and the largest layer's temporaries do not fit
        in memory (checked before anything is drawn).

    Examples
    --------
    >>> m = draw_masks([100, 50, 10], [0.2, 1.0], rng=0)
    >>> m[0].shape, m[1].shape, bool(m[1].all())
    ((50, 100), (10, 50), True)
    >>> r = draw_masks([100, 50], 0.1, rng=0, in_degree_regular=True)
    >>> set(r[0].sum(axis=1).tolist())
    {10}
    """
    shapes = parse_architecture(architecture)
    L = len(shapes)
    if isinstance(densities, numbers.Real) and not isinstance(densities, bool):
        dens = [densities] * L
    else:
        if isinstance(densities, (str, bytes, bool)) or not hasattr(densities, "__len__"):
            raise TypeError(f"densities must be a number or a sequence of numbers, got "
                            f"{type(densities).__name__}")
        dens = list(np.asarray(densities, dtype=float).ravel())
        if len(dens) != L:
            raise ValueError(f"densities must be a number or have {L} entries (one per layer), "
                             f"got {len(dens)}")
    dens = [check_real(f"densities[{i}]", float(d), low=0, high=1, low_open=True) for i, d in enumerate(dens)]
    guard(_masks_peak_bytes(shapes, dens, in_degree_regular),
          parameter=f"architecture = {_shown_shapes(shapes)}", what="the dense boolean masks")
    gen = as_generator(rng)
    masks = []
    for s, p in zip(shapes, dens, strict=True):
        n_in, n_out = s.fan_in, s.out_channels
        if in_degree_regular:
            m = _regular_mask(n_out, n_in, max(1, min(n_in, int(round(p * n_in)))), gen)
        else:
            m = layered([n_in, n_out], [p], rng=gen).mask(1, dense=True)
        if flow_preserving:
            m = _preserve_flow(m, gen)
        masks.append(m.reshape(s.weight_shape))
    return tuple(masks)
