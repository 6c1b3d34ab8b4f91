"""Evidence that the recommendation matters, torch-free: measured signal propagation and training curves.

:func:`signal_statistics` runs concrete (masked) weights forward and backward in numpy and
measures what the theory of :func:`cascades.bridge.recommend` predicts: the per-layer q^l, its
spread across units, dead units, c^l and gradient norms; :func:`jacobian_singular_values` gives
the input-output Jacobian's spectrum. :class:`TrainingComparison` holds the loss and accuracy
curves of one deep sparse MLP trained from several initialisations on the same mask;
:func:`cascades.bridge.train_comparison` (in :mod:`cascades.bridge.training`) produces it. This
module imports neither torch nor matplotlib at import time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._rng import as_generator
from ..nn import get_activation
from ..nn._guard import F8, guard

__all__ = ["TrainingComparison", "INIT_NAMES", "SignalStatistics", "signal_statistics",
           "jacobian_singular_values"]

#: The initialisations :func:`cascades.bridge.train_comparison` knows, in a fixed order (the order
#: also fixes each one's random stream, so an init's weights do not depend on which others are run).
INIT_NAMES = ("recommended", "torch-default", "he-dense-mask", "orthogonal", "recommended-nearest")


@dataclass(frozen=True, eq=False)
class TrainingComparison:
    """Loss and accuracy curves of the same sparse MLP (same mask) trained from several initialisations.

    Attributes
    ----------
    inits : tuple of str
        Names of the initialisations, in the order they were given.
    epochs : numpy.ndarray
        int64 (epochs + 1,): 0, 1, ..., epochs; index 0 is before training.
    train_loss, test_loss : dict str -> numpy.ndarray
        Mean cross-entropy over the whole training / test set after each epoch (float64, length
        epochs + 1; NaN for epochs not run because training was interrupted).
    test_accuracy : dict str -> numpy.ndarray
        Fraction of test samples classified correctly (float64, length epochs + 1).
    config : dict
        The settings (widths, activation, density, scheme, batch_size, lr, optimizer, seed, data
        sizes, threads, torch version, ``completed_epochs``, ``interrupted``).

    Examples
    --------
    >>> e = np.arange(3)
    >>> r = TrainingComparison(("a",), e, {"a": np.array([2.3, 1.0, 0.5])},
    ...                        {"a": np.array([2.3, 1.1, 0.7])}, {"a": np.array([0.1, 0.6, 0.8])}, {})
    >>> r.final("test_accuracy")
    {'a': 0.8}
    """

    inits: tuple
    epochs: np.ndarray
    train_loss: dict
    test_loss: dict
    test_accuracy: dict
    config: dict = field(default_factory=dict)

    def final(self, what="test_accuracy") -> dict:
        """Last finite value of ``what`` ("train_loss", "test_loss" or "test_accuracy") per init."""
        if what not in ("train_loss", "test_loss", "test_accuracy"):
            raise ValueError(f"what must be 'train_loss', 'test_loss' or 'test_accuracy', got {what!r}")
        out = {}
        for name, arr in getattr(self, what).items():
            ok = np.flatnonzero(np.isfinite(arr))
            out[name] = float(arr[ok[-1]]) if ok.size else math.nan
        return out

    def table(self) -> str:
        """Plain-text table: one row per epoch, train loss / test loss / test accuracy per init."""
        head = ["epoch"] + [f"{n}:{c}" for n in self.inits for c in ("train", "test", "acc")]
        rows = []
        for i, e in enumerate(self.epochs):
            row = [str(int(e))]
            for n in self.inits:
                row += [f"{self.train_loss[n][i]:.4f}", f"{self.test_loss[n][i]:.4f}",
                        f"{self.test_accuracy[n][i]:.4f}"]
            rows.append(row)
        width = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(head)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(head, width, strict=True))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, width, strict=True)) for r in rows]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays become lists; NaN stays a float NaN)."""
        return {
            "inits": list(self.inits),
            "epochs": self.epochs.tolist(),
            "train_loss": {k: v.tolist() for k, v in self.train_loss.items()},
            "test_loss": {k: v.tolist() for k, v in self.test_loss.items()},
            "test_accuracy": {k: v.tolist() for k, v in self.test_accuracy.items()},
            "config": dict(self.config),
        }

    def plot(self, ax=None):
        """Draw the loss curves (train solid, test dashed) and the test accuracy with matplotlib.

        Parameters
        ----------
        ax : None, a matplotlib Axes, or a sequence of two Axes
            None: a new figure with two panels (loss, accuracy). Two Axes: loss on the first,
            accuracy on the second. One Axes: loss on it and accuracy on its ``twinx()``.

        Returns
        -------
        tuple of matplotlib Axes
            (loss axes, accuracy axes).
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, axes = plt.subplots(1, 2, figsize=(9.0, 3.5), constrained_layout=True)
            ax_loss, ax_acc = axes
        elif np.ndim(ax) == 0 and not isinstance(ax, (list, tuple)):
            ax_loss, ax_acc = ax, ax.twinx()
        else:
            ax_loss, ax_acc = list(np.ravel(ax))[:2]
        colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])
        for i, name in enumerate(self.inits):
            col = colors[i % len(colors)]
            ax_loss.plot(self.epochs, self.train_loss[name], "-", color=col, label=f"{name} (train)")
            ax_loss.plot(self.epochs, self.test_loss[name], "--", color=col, label=f"{name} (test)")
            ax_acc.plot(self.epochs, self.test_accuracy[name], "-o", ms=3, color=col, label=name)
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("cross-entropy")
        ax_acc.set_xlabel("epoch")
        ax_acc.set_ylabel("test accuracy")
        ax_acc.set_ylim(0.0, 1.0)
        ax_loss.legend(fontsize="small")
        ax_acc.legend(fontsize="small", loc="lower right")
        depth = len(self.config.get("widths", ())) - 1
        if depth > 0:
            ax_loss.set_title(f"{depth}-layer sparse MLP, density {self.config.get('density', '?')}")
        return ax_loss, ax_acc


@dataclass(frozen=True, eq=False)
class SignalStatistics:
    """Measured signal propagation of one network on a batch of inputs (see :func:`signal_statistics`).

    All arrays have length L (entry l - 1 is layer l).

    Attributes
    ----------
    q : numpy.ndarray
        mean over units and inputs of (h^l_i)^2: the measured q^l.
    q_neuron_std : numpy.ndarray
        Standard deviation across the units of layer l of their q_i = mean over inputs of (h^l_i)^2.
    conditional_spread : numpy.ndarray
        Standard deviation across units of v_i = sum_j W_ij^2 mean_a (x^{l-1}_aj)^2 + b_i^2 (the
        variance of h_i given the layer below, without the sampling noise of the inputs), divided by
        the mean of v_i.
    dead_fraction : numpy.ndarray
        Fraction of units with no input (a weight row that is all zero).
    disconnected_fraction : numpy.ndarray
        Fraction of units with no path from the input (through nonzero weights).
    c : numpy.ndarray
        Mean over all pairs of inputs of the correlation of their pre-activation vectors (NaN when
        every pre-activation vector is zero: the signal died).
    grad_norms : numpy.ndarray
        mean over inputs of |delta^l|^2 divided by that of the last layer, delta = dE/dh for a
        random Gaussian gradient at the output (Schoenholz et al. 2017: ratio prod chi_1).
    """

    q: np.ndarray
    q_neuron_std: np.ndarray
    conditional_spread: np.ndarray
    dead_fraction: np.ndarray
    disconnected_fraction: np.ndarray
    c: np.ndarray
    grad_norms: np.ndarray


def _check_layers(weights, biases):
    for name, value in (("weights", weights), ("biases", biases)):
        if value is None and name == "biases":
            continue
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise TypeError(f"{name} must be a sequence of arrays (one per layer), got "
                            f"{type(value).__name__}")
    ws = [np.asarray(w, dtype=np.float64) for w in weights]
    if not ws or any(w.ndim != 2 for w in ws):
        raise ValueError("weights must be a non-empty sequence of 2-d (out, in) arrays")
    for i in range(1, len(ws)):
        if ws[i].shape[1] != ws[i - 1].shape[0]:
            raise ValueError(f"weights[{i}] has {ws[i].shape[1]} inputs, weights[{i - 1}] "
                             f"{ws[i - 1].shape[0]} outputs")
    bs = [np.zeros(w.shape[0]) for w in ws] if biases is None else [np.asarray(b, dtype=np.float64)
                                                                     for b in biases]
    if len(bs) != len(ws) or any(b.shape != (w.shape[0],) for b, w in zip(bs, ws, strict=True)):
        raise ValueError("biases must hold one (out,) array per weight matrix")
    return ws, bs


def _statistics_peak_bytes(shapes, n_inputs: int) -> int:
    """Peak bytes of :func:`signal_statistics` (Python ints; the weights themselves are the caller's).

    Kept: the pre-activations h^l of every layer, (n_l, n_inputs) float64, and the activation. On
    top, the largest of: a layer's squared weights or int64 reachability matrix with the boolean
    one (9 bytes per weight), and for two inputs or more the Gram matrix, the correlations, the
    outer product of the norms, the upper-triangle indices (two int64 arrays of n_inputs^2 / 2) and
    their values (about 36 bytes per pair of inputs). Measured with tracemalloc (estimate in
    brackets): widths [3000, 3000] with 2 inputs 81.2 MB (81.1); [1000, 2000, 2000] with 10 inputs
    36.7 MB (36.6); [200, 300, 300] with 3000 inputs 425 MB (350).
    """
    kept = F8 * n_inputs * (shapes[0][1] + sum(out for out, _ in shapes) + max(out for out, _ in shapes))
    per_layer = max(9 * out * inp for out, inp in shapes)
    pairs = 36 * n_inputs * n_inputs if n_inputs > 1 else 0
    return kept + max(per_layer, pairs)


def signal_statistics(weights, biases, activation, inputs, *, rng=None) -> SignalStatistics:
    """Measure q^l, its spread, dead units, c^l and gradient norms of given weights (numpy, float64).

    Parameters
    ----------
    weights : sequence of array_like
        W^1..W^L, each (n_l, n_{l-1}) (PyTorch's layout; zeros are pruned weights).
    biases : sequence of array_like or None
        b^1..b^L (None: zero).
    activation : str or Activation
        phi, applied after every layer (as in the mean-field theory).
    inputs : array_like
        (n_inputs, n_0), one input per row; at least two rows for c.
    rng : None, int or numpy.random.Generator
        Randomness of the output gradients (keyword-only).

    Returns
    -------
    SignalStatistics

    Raises
    ------
    TypeError
        If ``weights`` (or ``biases``) is not a sequence of arrays.
    ValueError
        For weights that do not chain, biases or inputs of the wrong shape.
    cascades.MemoryLimitError
        If the pre-activations of every layer and the (n_inputs, n_inputs) correlation matrices do
        not fit in memory.

    Notes
    -----
    h^l = W^l x^{l-1} + b^l, x^l = phi(h^l), x^0 = the inputs. Backward: delta^L = phi'(h^L) g with
    g ~ N(0, I) per input, delta^l = phi'(h^l) (W^{l+1})^T delta^{l+1}. Cost O(n_inputs sum_l n_l n_{l-1}).

    Examples
    --------
    >>> st = signal_statistics([np.eye(3), 2 * np.eye(3)], None, "linear", np.ones((2, 3)), rng=0)
    >>> st.q.tolist(), st.c.tolist(), st.dead_fraction.tolist()
    ([1.0, 4.0], [1.0, 1.0], [0.0, 0.0])
    """
    act = get_activation(activation)
    ws, bs = _check_layers(weights, biases)
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != ws[0].shape[1] or x.shape[0] < 1:
        raise ValueError(f"inputs must be (n_inputs, {ws[0].shape[1]}), got shape {x.shape}")
    guard(_statistics_peak_bytes([w.shape for w in ws], x.shape[0]),
          parameter=f"inputs of shape {x.shape} through {len(ws)} layers",
          what="the pre-activations of every layer and the (n_inputs, n_inputs) correlations")
    gen = as_generator(rng)
    L = len(ws)
    q, spread, cond, dead, disc, c, grad = (np.empty(L) for _ in range(7))
    hs = []
    xl = x.T
    reach = np.ones(ws[0].shape[1], dtype=bool)
    iu = np.triu_indices(x.shape[0], 1)
    for l, (w, b) in enumerate(zip(ws, bs, strict=True)):
        h = w @ xl + b[:, None]
        hs.append(h)
        v = w**2 @ np.mean(xl**2, axis=1) + b**2
        cond[l] = float(np.std(v) / np.mean(v)) if np.mean(v) > 0 else math.nan
        sq = h**2
        q[l] = float(sq.mean())
        spread[l] = float(np.std(sq.mean(axis=1)))
        nz = w != 0
        dead[l] = float(np.mean(~nz.any(axis=1)))
        reach = (nz.astype(np.int64) @ reach.astype(np.int64)) > 0
        disc[l] = float(np.mean(~reach))
        if x.shape[0] > 1:
            gram = h.T @ h
            d = np.sqrt(np.diag(gram))
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = gram / np.outer(d, d)
            vals = corr[iu]
            vals = vals[np.isfinite(vals)]
            c[l] = float(vals.mean()) if vals.size else math.nan  # NaN: the signal died
        else:
            c[l] = math.nan
        xl = act.phi(h)
    g = gen.standard_normal(hs[-1].shape)
    delta = act.dphi(hs[-1]) * g
    grad[L - 1] = float(np.mean(np.sum(delta**2, axis=0)))
    for l in range(L - 2, -1, -1):
        delta = act.dphi(hs[l]) * (ws[l + 1].T @ delta)
        grad[l] = float(np.mean(np.sum(delta**2, axis=0)))
    grad = grad / grad[L - 1] if grad[L - 1] > 0 else grad
    return SignalStatistics(q=q, q_neuron_std=spread, conditional_spread=cond, dead_fraction=dead,
                            disconnected_fraction=disc, c=c, grad_norms=grad)


def jacobian_singular_values(weights, biases, activation, x) -> np.ndarray:
    """Singular values (descending) of the input-output Jacobian D^L W^L ... D^1 W^1 at one input x.

    D^l = diag(phi'(h^l)), phi applied after every layer (Pennington, Schoenholz & Ganguli 2017).

    Examples
    --------
    >>> jacobian_singular_values([2 * np.eye(2)], None, "linear", np.ones(2)).tolist()
    [2.0, 2.0]
    """
    act = get_activation(activation)
    ws, bs = _check_layers(weights, biases)
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.shape[0] != ws[0].shape[1]:
        raise ValueError(f"x must have {ws[0].shape[1]} entries, got {x.shape[0]}")
    n0, widest = x.shape[0], max(w.shape[0] for w in ws)
    # the identity, then W @ J and the scaled product per layer (measured 144 MB for layers
    # (3000, 2000) and (3000, 3000); this gives 128 MB)
    guard(F8 * (n0 * n0 + 2 * widest * n0),
          parameter=f"x of {n0} entries through layers of up to {widest} units",
          what="the (n_l, n_0) Jacobian products")
    J = np.eye(x.shape[0])
    for w, b in zip(ws, bs, strict=True):
        h = w @ x + b
        J = act.dphi(h)[:, None] * (w @ J)
        x = act.phi(h)
    return np.linalg.svd(J, compute_uv=False)
