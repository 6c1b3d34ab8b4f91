"""Save and load masked torch models in a file that ``torch.load(path, weights_only=True)`` reads.

A model pruned by :func:`cascades.bridge.apply_to` / :func:`cascades.bridge.to_torch` carries
``torch.nn.utils.prune`` reparametrisations: its ``state_dict`` names a sparse weight
``weight_orig`` and ``weight_mask``, which do not load into an unpruned copy of the model, and a
pickled ``nn.Module`` does not load under ``torch.load``'s ``weights_only=True`` (the default
since torch 2.6). :func:`save_torch` writes plain tensors instead: the masked weights under
their ordinary names, the masks apart, and the recommendation as JSON text; :func:`load_torch`
reads them back into the user's own model and re-attaches the masks.
torch is imported inside the functions only, never by ``import cascades``.
"""

from __future__ import annotations

import io
import os

from .._files import atomic_write, check_writable
from ..nn._guard import guard

__all__ = ["EXPORT_FORMAT", "EXPORT_VERSION", "save_torch", "load_torch"]

EXPORT_FORMAT = "cascades-torch-export"
EXPORT_VERSION = 1
_ALLOWED = (f"a file written by cascades.save_torch or `cascades recommend --torch-out` (format "
            f"{EXPORT_FORMAT!r}, version <= {EXPORT_VERSION})")


def _pruned(module):
    """Names of the tensors of ``module`` reparametrised by torch.nn.utils.prune (e.g. ["weight"])."""
    from torch.nn.utils import prune

    return [hook._tensor_name for hook in module._forward_pre_hooks.values()
            if isinstance(hook, prune.BasePruningMethod)]


def _plain_state(model):
    """(state_dict with the masks applied under plain names, {name: bool mask}), all on CPU."""
    import torch

    state = model.state_dict()
    masked, masks = {}, {}
    for prefix, sub in model.named_modules():
        for tname in _pruned(sub):
            key = f"{prefix}.{tname}" if prefix else tname
            orig, mask = getattr(sub, tname + "_orig"), getattr(sub, tname + "_mask")
            if orig.is_meta or mask.is_meta:
                raise ValueError(f"model tensor {key!r} is on the meta device (no values); call "
                                 f"model.to_empty(device=...) and apply_to first")
            with torch.no_grad():
                masked[key + "_orig"] = (key, (orig * mask).detach().cpu())
            masks[key] = (mask != 0).detach().cpu()
    out = {}
    for key, value in state.items():
        if key in masked:
            name, tensor = masked[key]
            out[name] = tensor
        elif key.endswith("_mask") and key[: -len("_mask")] in masks:
            continue
        else:
            if value.is_meta:
                raise ValueError(f"model tensor {key!r} is on the meta device (no values); call "
                                 f"model.to_empty(device=...) and apply_to first")
            out[key] = value.detach().cpu()
    return out, masks


def _check_path(path, name="path") -> str:
    """``path`` as a str; TypeError naming ``name`` for anything that is not str / bytes / os.PathLike."""
    try:
        text = os.fspath(path)
    except TypeError:
        raise TypeError(f"{name} must be a str or os.PathLike file path, got {type(path).__name__}") from None
    return os.fsdecode(text)


def save_torch(model, path, *, recommendation=None):
    """Save a (masked) torch model so that ``torch.load(path, weights_only=True)`` reads it.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; layers pruned with ``torch.nn.utils.prune`` (as by
        :func:`cascades.bridge.apply_to`) are saved with their masks applied.
    path : str or os.PathLike
        Output file (conventionally ``.pt``); replaced atomically (written to a temporary file in
        the same directory, then renamed), so a failed save leaves no partial file.
    recommendation : Recommendation, optional
        Stored as its JSON text; lets :func:`load_torch` rebuild an MLP without the model's code.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    TypeError
        If ``model`` is not a torch module, ``path`` not a path or ``recommendation`` not a
        Recommendation.
    FileNotFoundError, IsADirectoryError, PermissionError
        If the directory of ``path`` does not exist, ``path`` is a directory, or the directory is
        not writable (each naming the path; checked before anything is serialised).
    ValueError
        If ``model`` has tensors on the meta device.
    cascades.MemoryLimitError
        If the CPU copies of the tensors and their serialised bytes (about twice the model's size)
        do not fit in memory.

    Notes
    -----
    The file holds one dict of plain types and CPU tensors:

    * ``"format"``: "cascades-torch-export"; ``"version"``: 1;
    * ``"state_dict"``: parameter / buffer name -> tensor, as in an unpruned copy of the model
      ("0.weight", not "0.weight_orig"), with the masks applied (pruned entries are 0);
    * ``"masks"``: name -> bool tensor, for the pruned tensors only (dense layers have none);
    * ``"recommendation"``: ``recommendation.to_json()`` or None;
    * ``"cascades_version"``, ``"torch_version"``: str.

    Loading without cascades::

        sd = torch.load("mlp.pt", weights_only=True)
        model.load_state_dict(sd["state_dict"])        # masks in sd["masks"]

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from cascades.bridge import recommend, to_torch
    >>> rec = recommend([8, 16, 4], "relu", density=0.5, scheme="uniform")
    >>> path = os.path.join(tempfile.mkdtemp(), "mlp.pt")
    >>> _ = save_torch(to_torch(rec, rng=0), path, recommendation=rec)
    >>> sd = torch.load(path, weights_only=True)
    >>> sd["format"], sorted(sd["state_dict"]), sorted(sd["masks"])
    ('cascades-torch-export', ['0.bias', '0.weight', '2.bias', '2.weight'], ['0.weight', '2.weight'])
    """
    import torch

    from .. import __version__

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if recommendation is not None and not callable(getattr(recommendation, "to_json", None)):
        raise TypeError(f"recommendation must be a cascades.bridge.Recommendation or None, got "
                        f"{type(recommendation).__name__}")
    path = check_writable(_check_path(path))  # before any work: the error names the path
    tensors = list(model.parameters()) + list(model.buffers())
    nbytes = sum(t.numel() * t.element_size() for t in tensors if not t.is_meta)
    # the masked CPU copies (at most one per tensor) and the serialised bytes
    guard(2 * nbytes, parameter=f"model {type(model).__name__} ({nbytes} bytes of tensors)",
          what="the CPU copies and the serialised file")
    state, masks = _plain_state(model)
    payload = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "state_dict": state,
        "masks": masks,
        "recommendation": None if recommendation is None else recommendation.to_json(),
        "cascades_version": __version__,
        "torch_version": str(torch.__version__),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write(path, buf.getbuffer(), prefix=".cascades-")  # a view: no second copy of the bytes
    return path


def _load_failure(path, exc) -> str:
    """Why torch.load(weights_only=True) refused a file, in one line (torch's text advises unsafe loading)."""
    import re
    import zipfile

    if zipfile.is_zipfile(path):
        return ("it holds pickled Python objects (e.g. a whole nn.Module saved with torch.save(model)), "
                "which torch.load(weights_only=True) refuses")
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    if not text or "Weights only load failed" in text:
        return "it is not a file written by torch.save"
    return f"torch.load(weights_only=True) cannot read it ({text.splitlines()[0][:200]})"


def _read(path, map_location):
    """The validated export dict at ``path``; ValueError naming the path for anything else."""
    import torch

    path = _check_path(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory, not a cascades torch export file")
    size = os.path.getsize(path)
    # the loaded tensors, then the model's copy of them (or the rebuilt model) beside them
    guard(2 * size, parameter=f"path {path!r} ({size} bytes)", what="the loaded tensors and the model")
    try:
        obj = torch.load(path, weights_only=True, map_location=map_location)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types on a foreign file
        raise ValueError(f"{path} is not a cascades torch export: {_load_failure(path, exc)}; "
                         f"allowed: {_ALLOWED}") from None
    if not isinstance(obj, dict) or obj.get("format") != EXPORT_FORMAT:
        what = "a plain state_dict" if isinstance(obj, dict) and obj and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()) else \
            f"a {type(obj).__name__}"
        plain = what == "a plain state_dict"
        hint = " (load it with model.load_state_dict(torch.load(path)))" if plain else ""
        raise ValueError(f"{path} is not a cascades torch export: it holds {what}{hint}; allowed: {_ALLOWED}")
    version = obj.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path}: invalid export version {version!r}; allowed: {_ALLOWED}")
    if version > EXPORT_VERSION:
        raise ValueError(f"{path} is a version {version} cascades export, newer than this cascades reads "
                         f"(version <= {EXPORT_VERSION}); upgrade cascades")
    state, masks = obj.get("state_dict"), obj.get("masks")
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise ValueError(f"{path}: 'state_dict' must map names to tensors; allowed: {_ALLOWED}")
    if not isinstance(masks, dict):
        raise ValueError(f"{path}: 'masks' must be a dict; allowed: {_ALLOWED}")
    for name, mask in masks.items():
        if name not in state or not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool \
                or mask.shape != state[name].shape:
            raise ValueError(f"{path}: mask {name!r} must be a bool tensor of the shape of "
                             f"state_dict[{name!r}]")
    rec = obj.get("recommendation")
    if rec is not None and not isinstance(rec, str):
        raise ValueError(f"{path}: 'recommendation' must be JSON text or None")
    return obj


def _rebuild(obj, path):
    """The MLP of the export's recommendation (unpruned, on the device and dtype of the stored weights)."""
    from .recommend import Recommendation
    from .torch import _check_mlp, _layer_activations, _mlp

    if obj.get("recommendation") is None:
        raise ValueError(f"{path} stores no recommendation, so load_torch cannot rebuild the model; pass "
                         f"model= (your own module)")
    rec = Recommendation.from_json(obj["recommendation"])
    try:
        _check_mlp(rec.shapes)
    except ValueError as exc:
        raise ValueError(f"{path}: load_torch rebuilds MLPs only ({exc}); pass model= (your own "
                         f"module)") from None
    if not obj["state_dict"]:
        raise ValueError(f"{path} holds no tensors; pass model= (your own module)")
    first = next(iter(obj["state_dict"].values()))
    return _mlp(rec.shapes, _layer_activations(rec), first.dtype, first.device)


def load_torch(path, model=None, *, masks=True, map_location="cpu", strict=True):
    """Load a file written by :func:`save_torch` into a model, re-attaching the masks.

    Parameters
    ----------
    path : str or os.PathLike
        A cascades torch export (:func:`save_torch`, ``cascades recommend --torch-out``).
    model : torch.nn.Module, optional
        Your own model, built as usual (unpruned); the weights are copied into its parameters, so
        they take its device and dtype. A model on the meta device receives the tensors themselves
        (``load_state_dict(assign=True)``) on ``map_location``. Pruning already on the model (e.g.
        from :func:`cascades.bridge.to_torch`) is removed first. Default: rebuild the MLP from the
        stored recommendation (as :func:`cascades.bridge.to_torch` builds it).
    masks : bool
        Attach the stored masks with ``torch.nn.utils.prune.custom_from_mask``, so that the pruned
        entries stay zero through training; False loads the (masked) values only.
    map_location : str, torch.device or callable
        Passed to ``torch.load``.
    strict : bool
        Passed to ``model.load_state_dict``; with False, masks of tensors the model lacks are skipped.

    Returns
    -------
    torch.nn.Module
        ``model`` (or the rebuilt MLP), loaded.

    Raises
    ------
    TypeError
        If ``path`` is not a path or ``model`` not a torch module (or None).
    FileNotFoundError, IsADirectoryError
        If ``path`` does not exist or is a directory.
    cascades.MemoryLimitError
        If twice the file's size (the loaded tensors and the model's copy) does not fit in memory.
    ValueError
        If the file is not a cascades export (a plain state_dict, a pickled module, another file)
        or is of a newer version (each named with the path and what is allowed); if the weights do
        not fit ``model``; with ``model=None``, if the export has no recommendation or it is not an MLP.

    Notes
    -----
    Two lines::

        model = build()                      # your model, as you always build it
        cascades.load_torch("mlp.pt", model)

    and ``model = cascades.load_torch("mlp.pt")`` for an MLP exported with its recommendation.
    Without cascades: ``sd = torch.load(path, weights_only=True)``, then
    ``model.load_state_dict(sd["state_dict"])``; the masks are in ``sd["masks"]`` (bool tensors,
    for ``torch.nn.utils.prune.custom_from_mask(layer, "weight", mask)``).

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from cascades.bridge import recommend, to_torch
    >>> rec = recommend([8, 16, 4], "relu", density=0.5, scheme="uniform")
    >>> trained = to_torch(rec, rng=0)
    >>> path = save_torch(trained, os.path.join(tempfile.mkdtemp(), "mlp.pt"), recommendation=rec)
    >>> mine = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    >>> mine = load_torch(path, mine)
    >>> x = torch.randn(3, 8)
    >>> bool(torch.equal(mine(x), trained(x))), hasattr(mine[0], "weight_mask")
    (True, True)
    >>> bool(torch.equal(load_torch(path)(x), trained(x)))
    True
    """
    import torch
    from torch.nn.utils import prune

    path_text = _check_path(path)
    if model is not None and not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module or None, got {type(model).__name__}")
    obj = _read(path_text, map_location)
    if model is None:
        model = _rebuild(obj, path_text)
    state, stored_masks = obj["state_dict"], obj["masks"]
    for sub in model.modules():
        for tname in _pruned(sub):
            prune.remove(sub, tname)
    meta = any(t.is_meta for t in list(model.parameters()) + list(model.buffers()))
    try:
        model.load_state_dict(state, strict=strict, assign=meta)
    except RuntimeError as exc:
        msg = " ".join(str(exc).split())
        raise ValueError(f"{path_text} does not fit the model: {msg}") from None
    if masks:
        for name, mask in stored_masks.items():
            owner, _, tname = name.rpartition(".")
            try:
                sub = model.get_submodule(owner)
            except AttributeError:
                sub = None
            target = getattr(sub, tname, None) if sub is not None else None
            if not isinstance(target, torch.Tensor):
                if strict:
                    raise ValueError(f"{path_text}: the model has no tensor {name!r} for the stored mask")
                continue
            prune.custom_from_mask(sub, tname, mask=mask.to(device=target.device, dtype=target.dtype))
    return model
