"""Topology of sparse masks during training, next to what the random-mask theory predicts.

:func:`topology` summarizes the masks of a layered sparse network (one mask per layer, in forward
order): per layer the density, the units with no input (in-degree 0), the units cut off from the
network input or from its output (no path through the masks), and the in-degree law against the
Binomial(n_in, p) of an Erdos-Renyi mask of the same density, whose dead-unit fraction is
(1 - p)^n_in (the law :func:`cascades.bridge.recommend` assumes; Gadhikar, Mukherjee & Burkholz,
ICML 2023, for the effective fan-in p n_in). :class:`TopologyMonitor` records it at every
drop-and-grow update with the fraction of weights ever explored (In-Time Over-Parameterization,
Liu et al., ICML 2021) and the sign flips, and, given a probe batch, the measured q^l of every
layer's pre-activations next to the recommendation's prediction. numpy only, except for the probe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LayerTopology", "TopologyMonitor", "topology"]


@dataclass(frozen=True)
class LayerTopology:
    """Topology of one sparse layer (see :func:`topology`).

    Attributes
    ----------
    n_in, n_out : int
        Inputs and units (for a convolution: input and output channels).
    density : float
        Fraction of active weights.
    dead_units : int
        Units with in-degree 0.
    dead_expected : float
        n_out (1 - p)^n_in: the expected number for an Erdos-Renyi mask of this density.
    dead_sd : float
        Its binomial standard deviation sqrt(n_out P (1 - P)), P = (1 - p)^n_in.
    cut_from_input, cut_from_output : int
        Units with no path from any network input / to any network output.
    indegree_mean, indegree_var : float
        Of the measured in-degrees (for a convolution: active weights per output channel over the
        kernel volume).
    binomial_var : float
        n_in p (1 - p), the in-degree variance of an Erdos-Renyi mask.
    indegree_tv : float
        Total-variation distance between the in-degree histogram and Bin(n_in, p).
    """

    n_in: int
    n_out: int
    density: float
    dead_units: int
    dead_expected: float
    dead_sd: float
    cut_from_input: int
    cut_from_output: int
    indegree_mean: float
    indegree_var: float
    binomial_var: float
    indegree_tv: float


def _as_2d(mask):
    m = np.asarray(mask, dtype=bool)
    if m.ndim < 2:
        raise ValueError(
            f"masks must be 2-D (out, in) or convolution kernels (out, in, k...), got shape {m.shape}"
        )
    return m


def topology(masks) -> tuple:
    """Per-layer topology of the masks of a layered network, in forward order.

    Parameters
    ----------
    masks : sequence of array_like of bool
        One mask per layer, shape (out, in) or (out, in, k...) for a convolution (a channel is
        connected to another when any kernel tap is active). Consecutive layers are chained when
        the outputs of one match the inputs of the next; otherwise the reachability restarts.

    Returns
    -------
    tuple of LayerTopology

    Examples
    --------
    >>> import numpy as np
    >>> m1 = np.array([[1, 0], [0, 0], [1, 1]], bool)     # unit 1 has no input
    >>> m2 = np.array([[1, 0, 1]], bool)                    # unit 1 of layer 1 reaches no output either
    >>> t = topology([m1, m2])
    >>> t[0].dead_units, t[0].cut_from_input, t[0].cut_from_output
    (1, 1, 1)
    """
    from scipy import stats

    ms = [_as_2d(m) for m in masks]
    if not ms:
        raise ValueError("masks must hold at least one layer")
    adj = [m.reshape(m.shape[0], m.shape[1], -1).any(2) for m in ms]  # (out, in) channel adjacency
    # forward: units with a path from the network input
    reach_in = []
    prev = None
    for a in adj:
        src = np.ones(a.shape[1], bool) if prev is None or prev.size != a.shape[1] else prev
        cur = (a & src[None, :]).any(1)
        reach_in.append(cur)
        prev = cur
    # backward: units with a path to the network output
    reach_out = [None] * len(adj)
    nxt = None
    for i in range(len(adj) - 1, -1, -1):
        a = adj[i]
        if nxt is None or nxt.size != a.shape[0]:
            cur = np.ones(a.shape[0], bool)
        else:
            cur = nxt
        reach_out[i] = cur
        nxt = (a & cur[:, None]).any(0)
    out = []
    for m, ri, ro in zip(ms, reach_in, reach_out, strict=True):
        n_out, n_in = m.shape[0], m.shape[1]
        kvol = int(np.prod(m.shape[2:])) if m.ndim > 2 else 1
        fan_in = n_in * kvol
        p = float(m.mean())
        k = m.reshape(n_out, -1).sum(1)
        P = (1 - p) ** fan_in
        pmf = stats.binom.pmf(np.arange(fan_in + 1), fan_in, p)
        hist = np.bincount(k, minlength=fan_in + 1) / n_out
        out.append(
            LayerTopology(
                n_in=n_in,
                n_out=n_out,
                density=p,
                dead_units=int((k == 0).sum()),
                dead_expected=n_out * P,
                dead_sd=math.sqrt(n_out * P * (1 - P)),
                cut_from_input=int((~ri).sum()),
                cut_from_output=int((~ro).sum()),
                indegree_mean=float(k.mean()),
                indegree_var=float(k.var()),
                binomial_var=fan_in * p * (1 - p),
                indegree_tv=float(0.5 * np.abs(hist - pmf).sum()),
            )
        )
    return tuple(out)


class TopologyMonitor:
    """Records the topology of a :class:`~cascades.dst.DropAndGrow` run at every update.

    Parameters
    ----------
    dropgrow : DropAndGrow
        The run to watch.
    recommendation : cascades.bridge.Recommendation, optional
        Whose per-layer q (the predicted variance of the pre-activations) is reported next to the
        measured one.
    probe : torch.Tensor, optional
        A batch of inputs on which the pre-activations are measured (a forward pass without
        gradients at each record).

    Examples
    --------
    >>> import torch
    >>> from cascades.bridge import recommend, apply_to
    >>> from cascades.dst import DropAndGrow
    >>> net = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
    >>> rec = recommend(net, density=0.3, scheme="uniform")
    >>> dg = DropAndGrow(net, rec, method="set", update_every=1, rng=0)
    >>> mon = TopologyMonitor(dg, rec, probe=torch.randn(256, 20))
    >>> dg.step(); row = mon.record()
    True
    >>> [round(p, 2) for p in row["density"]], row["dead_units"], len(row["q_measured"])
    ([0.3, 0.3], [0, 0], 2)
    """

    def __init__(self, dropgrow, recommendation=None, probe=None):
        self.dg = dropgrow
        self.rec = recommendation
        self.probe = probe
        self.rows = []

    def _measured_q(self):
        import torch

        qs = []
        hooks = [
            mod.register_forward_hook(lambda m, i, o: qs.append(float(o.detach().double().pow(2).mean())))
            for _, mod in self.dg.layers
        ]
        try:
            was = self.dg.model.training
            self.dg.model.eval()
            with torch.no_grad():
                self.dg.model(self.probe)
            self.dg.model.train(was)
        finally:
            for h in hooks:
                h.remove()
        return qs

    def record(self) -> dict:
        """Append and return the current row: per-layer lists and the run's totals."""
        topo = topology([m.cpu().numpy() for m in self.dg.masks()])
        row = {f: [getattr(t, f) for t in topo] for f in LayerTopology.__dataclass_fields__}
        row["step"] = self.dg.steps
        row["explored_fraction"] = self.dg.explored_fraction()
        last = self.dg.history[-1] if self.dg.history else None
        row["sign_flips"] = list(last.sign_flips) if last else [0] * len(topo)
        if self.probe is not None:
            row["q_measured"] = self._measured_q()
            if self.rec is not None and len(self.rec.layers) == len(topo):
                row["q_predicted"] = [float(lay.q) for lay in self.rec.layers]
        self.rows.append(row)
        return row

    def to_xarray(self):
        """The rows as an xarray.Dataset over (update, layer)."""
        import xarray as xr

        if not self.rows:
            raise ValueError("nothing recorded yet: call record() after DropAndGrow.step()")
        keys = [k for k in self.rows[0] if isinstance(self.rows[0][k], list)]
        data = {k: (("update", "layer"), np.array([r[k] for r in self.rows], dtype=float)) for k in keys}
        data["explored_fraction"] = ("update", np.array([r["explored_fraction"] for r in self.rows]))
        return xr.Dataset(
            data,
            coords={
                "update": np.arange(len(self.rows)),
                "step": ("update", [r["step"] for r in self.rows]),
                "layer": np.arange(len(self.rows[0]["density"])),
            },
        )
