"""Feature selection by sparse training: rank the inputs by the strength of their sparse connections.

:func:`select_features` trains a sparse multilayer perceptron (input -> hidden ReLU layers -> class
logits) with drop-and-grow (:class:`cascades.dst.DropAndGrow`, SET or RigL) on the standardized
features and ranks every input by its *strength*, the summed magnitude of its outgoing connections
in the first layer. During sparse training the magnitude-based drop removes the weak connections
and the regrowth keeps offering new ones; connections that carry information about the target grow
and survive, so the connections of informative inputs accumulate weight while those of noise
inputs are dropped and replaced again and again.

This is the supervised variant of the idea: QuickSelection (Atashgahi et al. 2022) ranks the inputs
of a sparse *denoising autoencoder* trained with SET by the same strength, and WAST (Sokar et al.
2022) also trains an autoencoder, steering the drop and the regrowth towards the important inputs.
Here the network is a classifier trained with cross-entropy, the drop and the regrowth are plain
SET / RigL (input-agnostic), and only the final ranking uses the input strength.

torch is imported only when :func:`select_features` runs.

References
----------
.. [1] Z. Atashgahi, G. Sokar, T. van der Lee, E. Mocanu, D. C. Mocanu, R. Veldhuis and
   M. Pechenizkiy, "Quick and robust feature selection: the strength of energy-efficient sparse
   training for autoencoders", Machine Learning 111, 377-414 (2022).
.. [2] G. Sokar, Z. Atashgahi, M. Pechenizkiy and D. C. Mocanu, "Where to pay attention in sparse
   training for feature selection?", NeurIPS 2022.
.. [3] D. C. Mocanu, E. Mocanu, P. Stone, P. H. Nguyen, M. Gibescu and A. Liotta, "Scalable training
   of artificial neural networks with adaptive sparse connectivity inspired by network science",
   Nature Communications 9, 2383 (2018).
.. [4] U. Evci, T. Gale, J. Menick, P. S. Castro and E. Elsen, "Rigging the lottery: making all
   tickets winners", ICML 2020.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .._rng import as_generator
from .._validation import check_int, check_real

__all__ = ["FS_METHODS", "STRENGTHS", "FeatureSelection", "select_features"]

#: drop-and-grow rules accepted by :func:`select_features` (see :class:`cascades.dst.DropAndGrow`)
FS_METHODS = ("set", "rigl")
#: input-strength definitions: "magnitude" sum_j |w_ji| (QuickSelection), "l2" sqrt(sum_j w_ji^2)
STRENGTHS = ("magnitude", "l2")


@dataclass(frozen=True, eq=False)
class FeatureSelection:
    """The result of :func:`select_features`.

    ``==`` is identity (the fields hold arrays); compare ``indices`` with :func:`numpy.array_equal`.

    Attributes
    ----------
    indices : numpy.ndarray
        int64 (k,): the selected features (columns of ``X``), strongest first.
    strengths : numpy.ndarray
        float64 (n_features,): the strength of every input at the end of training (0 for an input
        with no active connection).
    k : int
        Number of selected features.
    method : str
        The drop-and-grow rule ("set" or "rigl").
    strength : str
        The strength definition ("magnitude" or "l2").
    epochs : int
        Training epochs.
    density : float
        Density of the first (input) layer.
    hidden : tuple of int
        Hidden widths.
    classes : numpy.ndarray
        The distinct labels of ``y``, in the order of the network's outputs.
    train_accuracy : float
        Accuracy of the trained network on the training data (standardized ``X``).
    losses : tuple of float
        Mean training cross-entropy of every epoch.
    n_updates : int
        Drop-and-grow updates performed.
    explored_fraction : float
        Fraction of the first layer's positions that were ever active (In-Time
        Over-Parameterization, Liu et al. 2021).
    """

    indices: np.ndarray
    strengths: np.ndarray
    k: int
    method: str
    strength: str
    epochs: int
    density: float
    hidden: tuple
    classes: np.ndarray
    train_accuracy: float
    losses: tuple
    n_updates: int
    explored_fraction: float

    def transform(self, X) -> np.ndarray:
        """The selected columns of ``X`` (2-D, same number of features as the training data)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.strengths.size:
            raise ValueError(f"X must be 2-D with {self.strengths.size} columns, got shape {X.shape}")
        return X[:, self.indices]

    def __repr__(self) -> str:
        head = ", ".join(str(int(i)) for i in self.indices[:10])
        more = ", ..." if self.k > 10 else ""
        return (
            f"FeatureSelection(k={self.k}, indices=[{head}{more}], method={self.method!r}, "
            f"strength={self.strength!r}, epochs={self.epochs}, "
            f"train_accuracy={self.train_accuracy:.4g})"
        )


def _check_data(X, y):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got {X.ndim} dimension(s)")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"X must have at least 2 samples and 1 feature, got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.iscomplexobj(X):
        raise ValueError(f"X must hold real numbers, got dtype {X.dtype}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite (no NaN or infinity)")
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-D with one label per row of X ({X.shape[0]}), got shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("y must hold class labels, got NaN or infinity")
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"y must hold at least 2 classes, got {classes.size}")
    return X, classes, codes.astype(np.int64)


def select_features(
    X,
    y,
    k,
    *,
    hidden=(200,),
    density=0.2,
    method="set",
    epochs=40,
    batch_size=64,
    lr=1e-2,
    weight_decay=3e-2,
    update_every=None,
    drop_fraction=0.3,
    strength="magnitude",
    rng=0,
) -> FeatureSelection:
    """Select the ``k`` most useful features of a classification problem by sparse training.

    A sparse MLP ``n_features -> hidden (ReLU) -> n_classes`` is built from
    :func:`cascades.bridge.recommend` (ReLU at the edge of chaos, He-like scale for the effective
    fan-in) with an Erdos-Renyi mask of density ``density`` on every layer but the read-out (which
    stays dense), trained with Adam and cross-entropy on the standardized features (every column
    centred and scaled to unit variance, so weight magnitudes are comparable across inputs) while
    :class:`cascades.dst.DropAndGrow` drops the weakest connections and grows new ones (SET:
    at random; RigL: by dense gradient) with a cosine-decaying drop fraction that reaches 0 after
    75 % of the steps. The strength of input i is then ``sum_j |W_ji|`` over its active outgoing
    connections in the first layer ("magnitude", QuickSelection's strength [1]_) or
    ``sqrt(sum_j W_ji^2)`` ("l2"), and the ``k`` strongest inputs are returned.

    This is a supervised version of QuickSelection [1]_ / WAST [2]_, which train a sparse denoising
    autoencoder instead (see the module docstring).

    Parameters
    ----------
    X : array_like
        (n_samples, n_features), finite real numbers.
    y : array_like
        (n_samples,) class labels (any values :func:`numpy.unique` can sort; at least 2 classes).
    k : int
        Number of features to select, 1 <= k <= n_features.
    hidden : int or sequence of int
        Hidden widths (each >= 1; default one layer of 200).
    density : float
        Density in (0, 1) of the input layer (and of any hidden-to-hidden layer); the default 0.2
        gives each input about 0.2 * 200 = 40 connections. The read-out layer is dense.
    method : {"set", "rigl"}
        Growth rule of :class:`cascades.dst.DropAndGrow`.
    epochs : int
        Passes over the data (>= 1).
    batch_size : int
        Mini-batch size (>= 1; at most n_samples is used).
    lr : float
        Adam learning rate (> 0).
    weight_decay : float
        Adam's L2 penalty (>= 0). The strong default 0.03 matters: it erases the random initial
        weights of the inputs the data does not sustain, which would otherwise rank the inputs by
        their (random) initial out-degree and weights rather than by what training taught them.
    update_every : int, optional
        Optimizer steps between drop-and-grow updates (>= 1); default one epoch.
    drop_fraction : float
        Initial fraction f_0 in [0, 1) of the active connections replaced per update.
    strength : {"magnitude", "l2"}
        Input strength used for the ranking.
    rng : None, int or numpy.random.Generator
        Source of every random choice (mask, weights, batches, regrowth): the same seed gives the
        same selection on the same machine.

    Returns
    -------
    FeatureSelection
        ``indices`` (strongest first), every input's strength and training information.

    Raises
    ------
    ValueError
        If ``X`` is not a finite 2-D real array with at least 2 rows, ``y`` does not hold one label
        per row with at least 2 classes, ``k`` is not in [1, n_features], or another parameter is
        outside its range (the message names it).

    Notes
    -----
    The defaults (density 0.2, 40 epochs, Adam with learning rate 0.01 and weight decay 0.03,
    batches of 64, one drop-and-grow update per epoch with f_0 = 0.3, grown weights starting at 0)
    were chosen on a Madelon-like problem (``sklearn.datasets.make_classification``
    with 2000 samples, 100 features of which 5 informative and 5 redundant; tests/test_dst_features.py)
    and on MNIST-5k (benchmarks/bench_feature_selection.py). With one CPU thread a run takes about
    1.4 s on the former (2000 x 100, 40 epochs) and 11 s on the latter (4000 x 784).

    References
    ----------
    .. [1] Z. Atashgahi et al., "Quick and robust feature selection: the strength of
       energy-efficient sparse training for autoencoders", Machine Learning 111, 377-414 (2022).
    .. [2] G. Sokar, Z. Atashgahi, M. Pechenizkiy and D. C. Mocanu, "Where to pay attention in
       sparse training for feature selection?", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(0)
    >>> X = g.standard_normal((400, 20))
    >>> y = (X[:, 3] + X[:, 7] > 0).astype(int)        # only features 3 and 7 matter
    >>> fs = select_features(X, y, 2, hidden=64, epochs=20, rng=0)
    >>> sorted(fs.indices.tolist())
    [3, 7]
    >>> fs.transform(X).shape
    (400, 2)
    """
    X, classes, codes = _check_data(X, y)
    n, d = X.shape
    k = check_int("k", k, low=1, high=d)
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        hidden = tuple(check_int("hidden", h, low=1) for h in hidden)
    except TypeError:
        raise ValueError(f"hidden must be a positive int or a sequence of them, got {hidden!r}") from None
    if not hidden:
        raise ValueError("hidden must hold at least one width")
    density = check_real("density", density, low=0, high=1, low_open=True, high_open=True)
    if method not in FS_METHODS:
        raise ValueError(f"method must be one of {', '.join(FS_METHODS)}; got {method!r}")
    if strength not in STRENGTHS:
        raise ValueError(f"strength must be one of {', '.join(STRENGTHS)}; got {strength!r}")
    epochs = check_int("epochs", epochs, low=1)
    batch_size = min(check_int("batch_size", batch_size, low=1), n)
    lr = check_real("lr", lr, low=0, low_open=True)
    weight_decay = check_real("weight_decay", weight_decay, low=0)
    drop_fraction = check_real("drop_fraction", drop_fraction, low=0, high=1, high_open=True)
    steps_per_epoch = -(-n // batch_size)
    if update_every is None:
        update_every = steps_per_epoch
    update_every = check_int("update_every", update_every, low=1)
    gen = as_generator(rng)

    import torch

    from ..bridge import recommend, to_torch
    from .core import DropAndGrow

    # standardize: constant columns become 0 (and keep whatever strength training gives them)
    mu = X.mean(0)
    sd = X.std(0)
    Z = (X - mu) / np.where(sd > 0, sd, 1.0)

    widths = (d, *hidden, classes.size)
    n_w = [a * b for a, b in zip(widths[:-1], widths[1:], strict=True)]
    overall = (density * sum(n_w[:-1]) + n_w[-1]) / sum(n_w)
    overrides = {i: density for i in range(len(n_w) - 1)}
    overrides[len(n_w) - 1] = 1.0
    rec = recommend(widths, "relu", overall, scheme="uniform", overrides=overrides)
    model = to_torch(rec, rng=gen)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    total = epochs * steps_per_epoch
    dg = DropAndGrow(
        model,
        rec,
        method=method,
        update_every=update_every,
        drop_fraction=drop_fraction,
        schedule="cosine",
        end_step=max(1, int(0.75 * total)),
        grow_init="zero",
        optimizer=opt,
        rng=gen,
    )
    first = model[0]
    Zt = torch.from_numpy(Z.astype(np.float32))
    yt = torch.from_numpy(codes)
    losses = []
    model.train()
    try:
        for _ in range(epochs):
            perm = torch.from_numpy(gen.permutation(n))
            tot = 0.0
            for s in range(steps_per_epoch):
                idx = perm[s * batch_size : (s + 1) * batch_size]
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(model(Zt[idx]), yt[idx])
                loss.backward()
                opt.step()
                dg.step()
                tot += float(loss.detach()) * idx.numel()
            losses.append(tot / n)
    finally:
        dg.remove()
    model.eval()
    with torch.no_grad():
        acc = float((model(Zt).argmax(1) == yt).double().mean())
        W = (first.weight_orig * first.weight_mask).detach().double().numpy()
    if strength == "magnitude":
        s = np.abs(W).sum(0)
    else:
        s = np.sqrt((W * W).sum(0))
    # strongest first; ties by feature index (stable sort on -s)
    order = np.argsort(-s, kind="stable")[:k].astype(np.int64)
    order.setflags(write=False)
    s = s.astype(np.float64)
    s.setflags(write=False)
    classes.setflags(write=False)
    explored = float(dg.explored[0].double().mean())
    return FeatureSelection(
        indices=order,
        strengths=s,
        k=k,
        method=method,
        strength=strength,
        epochs=epochs,
        density=density,
        hidden=hidden,
        classes=classes,
        train_accuracy=acc,
        losses=tuple(losses),
        n_updates=len(dg.history),
        explored_fraction=explored,
    )
