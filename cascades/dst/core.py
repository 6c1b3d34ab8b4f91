"""Drop-and-grow sparse training with the theory in the loop.

:class:`DropAndGrow` changes the masks of a pruned torch model during training: every
``update_every`` optimizer steps it drops, in every sparse layer, the fraction f_t of its active
weights with the smallest magnitude and grows as many new connections, so that every layer's
density stays exactly at its target. The growth rule is the method:

* ``"set"``: uniformly at random among the inactive positions (Mocanu et al., Nature
  Communications 9, 2383, 2018);
* ``"rigl"``: where the magnitude of the dense gradient dL/dW is largest (Evci et al., ICML 2020;
  the dense gradient is captured on update steps only);
* ``"random"``: at random among all positions that are inactive after the drop, the just-dropped
  ones included (random regrowth, Atashgahi et al., Machine Learning 2022);
* ``"theory"``: at random, but into the units whose in-degree is furthest below the layer's mean
  p n_in (each unit drawn with probability proportional to its deficit + 1): the placement that
  keeps the in-degree law close to the Bin(n_in, p) of the initialization the recommendation assumed;
* ``"static"``: no change (a fixed mask, the baseline).

f_t follows ``schedule``: "cosine" (f_0 (1 + cos(pi t / T_end)) / 2, Evci et al. 2020) or "constant".
The grown weights start at ``grow_init``: "zero" (RigL), "dense" (the dense initialization scale
sigma_w^2 / n_in), or "theory": the scale that puts the layer back at the recommended chi_1
(chi_1 = sigma_w^2 E[phi'^2], Schoenholz et al. 2017, with sigma_w^2 the mean squared row norm of
the layer: sum_j w_ij^2 = sigma_w^2 is what the recommendation sets at initialization, sigma_w^2 / k
per weight for a unit of in-degree k; Gadhikar, Mukherjee & Burkholz, ICML 2023): the grown weights
share the variance the kept ones lack, sigma_w^2 n_out - sum_i |w_i,kept|^2, layer-wise, or per unit
with ``per_neuron=True``. The layer's sigma_w^2 is the recommendation's, else measured at
construction as k_mean E[w^2]. Magnitude dropping keeps the largest weights, so the kept rows carry
more than their share and the grown ones start small: neither zero nor the dense scale. The optimizer state
(momentum, Adam moments) of every dropped and grown position is reset to zero. With
``flow_preserving=True`` no drop removes the strongest incoming connection of a unit or the strongest
outgoing one of an input, and a unit or input left without any (by the initial mask) gets a grown
connection first, so every unit keeps in-degree >= 1 and every input out-degree >= 1 within each layer.

The masks are those of :func:`torch.nn.utils.prune` (``weight_mask`` buffers, as attached by
:func:`cascades.bridge.apply_to`); sparse layers stay dense-masked tensors (no sparse kernels).
torch is imported only when a :class:`DropAndGrow` is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._rng import as_generator
from .._validation import check_int, check_real

__all__ = ["METHODS", "GROW_INITS", "SCHEDULES", "DropAndGrow", "UpdateRecord"]

METHODS = ("set", "rigl", "random", "theory", "static")
GROW_INITS = ("zero", "dense", "theory")
SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class UpdateRecord:
    """What one update did, per sparse layer (see :class:`DropAndGrow`, attribute ``history``).

    Attributes
    ----------
    step : int
        The optimizer step after which the update ran.
    drop_fraction : float
        f_t of the schedule.
    dropped, grown : tuple of int
        Connections dropped and grown per layer (equal: the density is kept).
    active : tuple of int
        Active connections per layer after the update.
    sign_flips : tuple of int
        Weights that kept their connection and changed sign since the previous update.
    """

    step: int
    drop_fraction: float
    dropped: tuple
    grown: tuple
    active: tuple
    sign_flips: tuple


def _masked_layers(model):
    """(name, module) of every layer pruned with torch.nn.utils.prune on its ``weight``.

    In the order the forward pass calls them (the order of :func:`cascades.bridge.apply_to` and of a
    recommendation's layers), or in definition order when the module cannot be read that way.
    """
    from ..bridge.trace import _forward_order

    try:
        layers = _forward_order(model)
        known = {id(m) for _, m in layers}
        layers += [(n, m) for n, m in model.named_modules() if id(m) not in known]
    except ValueError:  # weight layers the chain reader does not cover: definition order
        layers = list(model.named_modules())
    return [(n, m) for n, m in layers if hasattr(m, "weight_mask") and hasattr(m, "weight_orig")]


def _is_mask_list(obj) -> bool:
    return isinstance(obj, (list, tuple)) and len(obj) > 0 and all(hasattr(m, "shape") for m in obj)


def _attach_masks(model, masks):
    """Prune the model's Linear / Conv2d layers (forward order) with the given boolean masks."""
    import torch
    from torch.nn.utils import prune

    from ..bridge.torch import _unprune
    from ..bridge.trace import _forward_order

    layers = _forward_order(model)
    if len(layers) != len(masks):
        raise ValueError(
            f"masks: got {len(masks)} masks for the model's {len(layers)} Linear / Conv2d layers"
        )
    for (name, layer), m in zip(layers, masks, strict=True):
        w = layer.weight
        m = torch.as_tensor(np.asarray(m, dtype=bool) if not torch.is_tensor(m) else m.bool())
        if tuple(m.shape) != tuple(w.shape):
            raise ValueError(
                f"masks: the mask of layer {name!r} has shape {tuple(m.shape)}, its weight {tuple(w.shape)}"
            )
        if bool(m.all()):
            continue  # a dense layer keeps its plain weight
        _unprune(layer)
        prune.custom_from_mask(layer, "weight", mask=m.to(device=w.device, dtype=w.dtype))


class DropAndGrow:
    """Drop by magnitude and grow connections during training, keeping every layer's density exact.

    Parameters
    ----------
    model : torch.nn.Module
        A model whose sparse layers are pruned (``weight_mask``), e.g. by
        :func:`cascades.bridge.apply_to`; or give ``recommendation`` to have it applied here.
    recommendation : cascades.bridge.Recommendation or sequence of masks, optional
        A recommendation is applied to ``model`` (with ``rng``) when the model has no masks yet,
        and its per-layer sigma_w^2 sets the "theory" growth scale. A sequence of boolean masks,
        one per Linear / Conv2d layer in forward order, is attached as it is (all-True masks leave
        the layer dense).
    method : {"set", "rigl", "random", "theory", "static"}
    update_every : int
        Optimizer steps between updates (>= 1).
    drop_fraction : float
        f_0 in [0, 1).
    schedule : {"cosine", "constant"}
    end_step : int, optional
        Last step with an update (the cosine schedule reaches 0 there); default: never stop.
    grow_init : {"zero", "dense", "theory"}
    per_neuron : bool
        With ``grow_init="theory"``: scale grown weights by their unit's in-degree.
    flow_preserving : bool
        Never drop a unit's last incoming or an input's last outgoing connection.
    optimizer : torch.optim.Optimizer, optional
        Whose state of dropped and grown positions is reset.
    rng : None, int or numpy.random.Generator
        Source of the random growth and of the grown weights.

    Raises
    ------
    ValueError
        For parameters outside their ranges (named), or a model without masked layers.

    Examples
    --------
    >>> import torch
    >>> from cascades.bridge import recommend, apply_to
    >>> net = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    >>> rec = recommend(net, density=0.2, scheme="uniform")
    >>> net = apply_to(net, rec, rng=0)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    >>> dg = DropAndGrow(net, recommendation=rec, method="set", update_every=1, optimizer=opt, rng=0)
    >>> before = [int(m.sum()) for m in dg.masks()]
    >>> loss = net(torch.randn(8, 20)).pow(2).mean(); loss.backward(); opt.step()
    >>> dg.step()
    True
    >>> [int(m.sum()) for m in dg.masks()] == before
    True
    """

    def __init__(
        self,
        model,
        recommendation=None,
        *,
        method="set",
        update_every=100,
        drop_fraction=0.3,
        schedule="cosine",
        end_step=None,
        grow_init="theory",
        per_neuron=False,
        flow_preserving=False,
        optimizer=None,
        rng=None,
    ):
        import torch

        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
        if grow_init not in GROW_INITS:
            raise ValueError(f"grow_init must be one of {', '.join(GROW_INITS)}; got {grow_init!r}")
        self.update_every = check_int("update_every", update_every, low=1)
        self.drop_fraction = check_real("drop_fraction", drop_fraction, low=0, high=1, high_open=True)
        self.end_step = None if end_step is None else check_int("end_step", end_step, low=1)
        self.method, self.schedule, self.grow_init = method, schedule, grow_init
        self.per_neuron, self.flow_preserving = bool(per_neuron), bool(flow_preserving)
        self.optimizer = optimizer
        self.gen = as_generator(rng)
        self.model = model
        if _is_mask_list(recommendation):  # masks given directly: attach them to the weight layers
            _attach_masks(model, recommendation)
            recommendation = None
        elif recommendation is not None and not _masked_layers(model):
            from ..bridge import apply_to

            apply_to(model, recommendation, rng=self.gen)
        self.layers = _masked_layers(model)
        if not self.layers:
            raise ValueError(
                f"model {type(model).__name__} has no masked layers: apply a sparse recommendation "
                f"first (cascades.bridge.apply_to with density < 1) or pass recommendation="
            )
        self.sigma_w2 = self._sigma_w2(recommendation)
        self.steps = 0
        self.history = []
        self._grads = {}
        self._hooks = []
        self._last_sign = [self._weight(m).detach().sign() * m.weight_mask for _, m in self.layers]
        self.explored = [m.weight_mask.detach().clone().bool() for _, m in self.layers]
        if method == "rigl":
            for i, (_, mod) in enumerate(self.layers):
                self._hooks.append(mod.register_forward_pre_hook(self._capture(i)))

    # ---------------------------------------------------------------------------------------
    @staticmethod
    def _weight(mod):
        return mod.weight_orig

    def masks(self) -> list:
        """The current masks (torch bool tensors), one per sparse layer, in module order."""
        return [m.weight_mask.detach().bool() for _, m in self.layers]

    def _sigma_w2(self, rec):
        """Per layer: the recommendation's sigma_w^2, else k_mean E[w^2 | kept] measured now."""
        out = []
        by_shape = None
        if rec is not None and hasattr(rec, "layers"):
            # apply_to prunes exactly the layers of density < 1, in order: pair them with the masked ones
            sparse = [lay for lay in rec.layers if getattr(lay, "density", 1.0) < 1]
            if len(sparse) == len(self.layers):
                by_shape = [float(lay.sigma_w2) for lay in sparse]
        for i, (_, mod) in enumerate(self.layers):
            if by_shape is not None and math.isfinite(by_shape[i]) and by_shape[i] > 0:
                out.append(by_shape[i])
                continue
            m = mod.weight_mask.detach().reshape(mod.weight_mask.shape[0], -1).double()
            w = self._weight(mod).detach().reshape(m.shape).double() * m
            k = float(m.sum(1).mean())
            out.append(float((w * w).sum() / max(float(m.sum()), 1.0)) * k if k > 0 else 1.0)
        return out

    def _capture(self, i):
        """Forward pre-hook: on update steps, keep the dense gradient of the layer's effective weight."""

        def hook(mod, args):
            if self._next_is_update() and mod.training:
                w = mod.weight  # set by prune's own pre-hook, which runs first

                if w.requires_grad:

                    def store(g, i=i):
                        self._grads[i] = g.detach().clone()

                    w.register_hook(store)

        return hook

    def _next_is_update(self) -> bool:
        s = self.steps + 1
        return (
            s % self.update_every == 0
            and (self.end_step is None or s <= self.end_step)
            and self.method != "static"
        )

    def fraction(self, step=None) -> float:
        """f_t of the schedule at optimizer step ``step`` (default: the current one)."""
        t = self.steps if step is None else step
        if self.schedule == "constant" or self.end_step is None:
            return self.drop_fraction
        return self.drop_fraction * (1 + math.cos(math.pi * min(t, self.end_step) / self.end_step)) / 2

    # ---------------------------------------------------------------------------------------
    def step(self) -> bool:
        """Call after ``optimizer.step()``: count the step and, on update steps, drop and grow.

        Returns True when the masks were updated.
        """
        import torch

        self.steps += 1
        update = (
            self.steps % self.update_every == 0
            and (self.end_step is None or self.steps <= self.end_step)
            and self.method != "static"
        )
        if not update:
            return False
        f = self.fraction()
        dropped, grown, active, flips = [], [], [], []
        with torch.no_grad():
            for i, (_, mod) in enumerate(self.layers):
                d, g = self._update_layer(i, mod, f)
                m = mod.weight_mask
                dropped.append(d)
                grown.append(g)
                active.append(int(m.sum()))
                sign = self._weight(mod).sign() * m
                flips.append(int(((sign * self._last_sign[i]) < 0).sum()))
                self._last_sign[i] = sign
                self.explored[i] |= m.bool()
                mod.weight = mod.weight_orig * m  # what prune's pre-hook computes, refreshed now
        self._grads.clear()
        self.history.append(
            UpdateRecord(self.steps, f, tuple(dropped), tuple(grown), tuple(active), tuple(flips))
        )
        return True

    def _update_layer(self, i, mod, f):
        import torch

        mask = mod.weight_mask
        W = self._weight(mod)
        shape = mask.shape
        m2 = mask.reshape(shape[0], -1).bool().cpu().numpy()
        n_active = int(m2.sum())
        n = int(round(f * n_active))
        if n == 0:
            return 0, 0
        w2 = W.detach().reshape(shape[0], -1).abs().double().cpu().numpy()
        # drop: the n smallest magnitudes among the active (ties broken by a random permutation)
        act = np.flatnonzero(m2)
        if self.flow_preserving:
            act = self._droppable(m2, w2, act)
        n = min(n, act.size)
        if n == 0:
            return 0, 0
        perm = self.gen.permutation(act.size)
        order = perm[np.argsort(w2.ravel()[act][perm], kind="stable")]
        drop = act[order[:n]]
        new = m2.ravel().copy()
        new[drop] = False
        grow = self._grow(i, new.reshape(m2.shape), drop, n)
        new[grow] = True
        # values: dropped -> 0, grown -> the grow_init scale
        flat_w = W.detach().reshape(-1).clone()  # a copy: written back below (also non-contiguous weights)
        kept = m2.ravel().copy()
        kept[drop] = False
        w_now = W.detach().reshape(m2.shape).double().cpu().numpy()
        row_norm2 = (np.where(kept.reshape(m2.shape), w_now, 0.0) ** 2).sum(1)  # what the kept weights carry
        vals = self._grow_values(i, grow, row_norm2, m2.shape)
        idx_drop = torch.from_numpy(drop).to(W.device)
        idx_grow = torch.from_numpy(grow).to(W.device)
        flat_w[idx_drop] = 0
        flat_w[idx_grow] = torch.from_numpy(vals).to(device=W.device, dtype=W.dtype)
        W.detach().copy_(flat_w.view(W.shape))
        mask.copy_(torch.from_numpy(new.reshape(shape)).to(device=mask.device, dtype=mask.dtype))
        self._reset_state(W, np.concatenate([drop, grow]))
        return int(drop.size), int(grow.size)

    @staticmethod
    def _droppable(m2, w2, act):
        """Active positions except each unit's and each input's strongest connection: any subset of them can
        be dropped and every unit keeps in-degree >= 1, every input out-degree >= 1."""
        score = np.where(m2, w2 + 1.0, 0.0)  # active entries rank above inactive ones
        keep = np.zeros(m2.shape, dtype=bool)
        rows = np.flatnonzero(m2.any(1))
        keep[rows, score[rows].argmax(1)] = True
        cols = np.flatnonzero(m2.any(0))
        keep[score[:, cols].argmax(0), cols] = True
        return act[~keep.ravel()[act]]

    def _repair(self, m2, n):
        """Flow preservation: a new connection into every unit with none and out of every input with none."""
        forced = []
        taken = m2.copy()
        for r in np.flatnonzero(~taken.any(1)):
            if len(forced) == n:
                return forced, taken
            c = int(self.gen.integers(m2.shape[1]))
            taken[r, c] = True
            forced.append(r * m2.shape[1] + c)
        for c in np.flatnonzero(~taken.any(0)):
            if len(forced) == n:
                break
            r = int(self.gen.integers(m2.shape[0]))
            taken[r, c] = True
            forced.append(r * m2.shape[1] + c)
        return forced, taken

    def _grow(self, i, m2, dropped, n):
        forced = []
        if self.flow_preserving:
            forced, m2 = self._repair(m2, n)
            n -= len(forced)
            if n == 0:
                return np.sort(np.array(forced, dtype=np.int64))
        rest = self._grow_by_method(i, m2, dropped, n)
        return np.sort(np.concatenate([np.array(forced, dtype=np.int64), rest]))

    def _grow_by_method(self, i, m2, dropped, n):
        cand_mask = ~m2.ravel()
        if self.method != "random":
            cand_mask[dropped] = False  # do not regrow what was just dropped
        cand = np.flatnonzero(cand_mask)
        if cand.size < n:  # the layer is almost dense: allow the just-dropped positions back
            cand = np.flatnonzero(~m2.ravel())
        if self.method == "rigl":
            g = self._grads.get(i)
            if g is None:
                raise RuntimeError(
                    "RigL needs the dense gradient of the update step: call loss.backward() and "
                    "optimizer.step() before DropAndGrow.step(), with the model in training mode"
                )
            score = g.reshape(m2.shape[0], -1).abs().double().cpu().numpy().ravel()[cand]
            perm = self.gen.permutation(cand.size)
            order = perm[np.argsort(-score[perm], kind="stable")]
            return np.sort(cand[order[:n]])
        if self.method == "theory":
            rows = cand // m2.shape[1]
            indeg = m2.sum(1)
            target = indeg.mean()
            w = np.maximum(target - indeg, 0.0)[rows] + 1.0
            pick = self.gen.choice(cand.size, size=n, replace=False, p=w / w.sum())
            return np.sort(cand[pick])
        return np.sort(self.gen.choice(cand, size=n, replace=False))

    def _grow_values(self, i, grow, row_norm2, shape):
        """Values of the grown weights (see the module docstring, ``grow_init``).

        "theory": the layer's sigma_w^2 (the mean squared row norm, times q_in the pre-activation
        variance, which sets chi_1) is restored: the grown weights share the deficit
        sigma_w^2 n_out - sum of the kept rows' squared norms (per unit with ``per_neuron``:
        sigma_w^2 - the unit's kept squared norm, shared by its grown weights); where the kept
        weights already carry sigma_w^2 the grown ones start at zero.
        """
        if self.grow_init == "zero" or grow.size == 0:
            return np.zeros(grow.size)
        s2 = self.sigma_w2[i]
        n_out, fan_in = shape
        if self.grow_init == "dense":
            return self.gen.standard_normal(grow.size) * math.sqrt(s2 / fan_in)
        rows = grow // fan_in
        if self.per_neuron:
            g = np.bincount(rows, minlength=n_out)
            var_row = np.maximum(s2 - row_norm2, 0.0) / np.maximum(g, 1)
            std = np.sqrt(var_row[rows])
        else:
            std = np.full(grow.size, math.sqrt(max(s2 * n_out - row_norm2.sum(), 0.0) / grow.size))
        return self.gen.standard_normal(grow.size) * std

    def _reset_state(self, W, positions):
        """Zero the optimizer state (momentum, Adam moments) of the changed positions."""
        if self.optimizer is None or positions.size == 0:
            return
        import torch

        state = self.optimizer.state.get(W)
        if not state:
            return
        changed = np.zeros(W.numel(), dtype=bool)
        changed[positions] = True  # row-major positions, as a mask of W's shape (any memory layout)
        sel = torch.from_numpy(changed.reshape(tuple(W.shape))).to(W.device)
        for v in state.values():
            if torch.is_tensor(v) and v.shape == W.shape:
                v[sel] = 0

    def remove(self):
        """Remove the gradient hooks (RigL)."""
        for h in self._hooks:
            h.remove()
        self._hooks.clear()

    def explored_fraction(self) -> float:
        """In-Time Over-Parameterization: the fraction of all weights ever active (Liu et al., ICML 2021)."""
        return float(sum(int(e.sum()) for e in self.explored) / sum(e.numel() for e in self.explored))
