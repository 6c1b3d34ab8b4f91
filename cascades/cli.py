"""The ``cascades`` command line: a thin layer over library functions.

Every subcommand parses its arguments, calls one library function that a
notebook could call too, and prints the result. Bad arguments give one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import zipfile

from . import __version__
from ._cli_types import nonneg_int as _nonneg_int
from ._cli_types import real as _float
from ._files import check_writable

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line on stderr (exit code 2)."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``cascades`` command (used by ``main`` and the tests)."""
    parser = _Parser(
        prog="cascades",
        description="Cascade models on random graphs: theory, simulation, and neural-network initialization.",
    )
    parser.add_argument("--version", action="version", version=f"cascades {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    rec = sub.add_parser(
        "recommend",
        help="recommended initialization and sparse topology for an MLP or your torch model (the main job)",
        description="Recommend per-layer densities, weight and bias scales for an MLP (widths) or a torch "
        "model (--model FILE.py:FUNCTION) from signal-propagation theory (edge of chaos, corrected for "
        "sparsity), and optionally export the masked PyTorch model.",
    )
    rec.add_argument(
        "widths",
        nargs="*",
        type=_nonneg_int,
        help="layer widths n_0 ... n_L (default: 784 300 100 10, LeNet-300-100; not with --model)",
    )
    rec.add_argument(
        "--model",
        default=None,
        metavar="FILE.py:FUNCTION",
        help="recommend for the torch.nn.Module returned by FUNCTION() (no arguments) in FILE.py",
    )
    rec.add_argument(
        "--activation",
        default=None,
        help="activation name, as in torch (default: read from --model; relu for widths)",
    )
    rec.add_argument("--density", type=_float, default=0.1, help="overall density in (0, 1] (default 0.1)")
    rec.add_argument(
        "--scheme", default="erk", help="layer-wise density scheme: uniform, erk, balanced, pyramidal, set"
    )
    rec.add_argument(
        "--sigma-b2",
        type=_float,
        default=None,
        help="bias variance sigma_b^2 (default: recommend's, the edge-of-chaos point at q*)",
    )
    rec.add_argument(
        "--q-star",
        type=_positive_float,
        default=None,
        help="target fixed point q* of the mean squared pre-activation (> 0; default: recommend's)",
    )
    rec.add_argument(
        "--stability",
        choices=("auto", "keep", "nearest"),
        default=None,
        help="what recommend does when q* is not a stable fixed point: keep it, move to the nearest stable "
        "point, or auto (the default: keep while the drift over the hidden layers stays below 20-fold)",
    )
    rec.add_argument("--per-neuron", action="store_true", help="scale each neuron by its own in-degree")
    rec.add_argument(
        "--weights",
        default="gaussian",
        help="weight law: gaussian or orthogonal (approximate isometry on sparse masks); default gaussian",
    )
    rec.add_argument(
        "--json",
        default=None,
        metavar="FILE",
        help="also write the recommendation as JSON to FILE; '-' writes it to standard output (the table "
        "then goes to standard error, so the output parses as JSON)",
    )
    rec.add_argument(
        "--torch-out",
        default=None,
        help="save the masked torch model (weights, masks, recommendation) to this file; it loads with "
        "cascades.load_torch or torch.load(..., weights_only=True)",
    )
    rec.add_argument(
        "--input-shape",
        type=_shape,
        default=None,
        metavar="B,D1,...",
        help="with --model: the input's shape, batch first (e.g. 8,3,32,32 or 8,16 for token ids); reads the "
        "model as a computation graph and prints the per-node table (needed for residual, normalized, "
        "attention and convolutional models that are not a plain chain)",
    )
    rec.add_argument(
        "--branch-scale",
        default="stable",
        help="graph reading: residual branch scale, 'stable' (1/sqrt(L), the default), 'none' or a number",
    )
    rec.add_argument(
        "--logit-variance",
        type=_positive_float,
        default=1.0,
        help="graph reading: target variance of attention logits (default 1)",
    )
    rec.add_argument(
        "--pass-through",
        default="",
        metavar="NAMES",
        help="graph reading: comma-separated nodes, module paths, classes or functions whose statistics are "
        "copied (an approximation you opt into, e.g. MaxPool2d)",
    )
    rec.add_argument("--seed", type=_nonneg_int, default=0, help="seed of masks and weights (default 0)")
    rec.set_defaults(func=_cmd_recommend)

    demo = sub.add_parser(
        "demo",
        help="generate an Erdos-Renyi graph and compare its degrees with the Poisson law",
        description="Built-in demo: generate an Erdos-Renyi graph and compare its degree histogram "
        "with the Poisson distribution.",
    )
    demo.add_argument("--n", type=_nonneg_int, default=100_000, help="number of nodes (default 100000)")
    demo.add_argument("--mean-degree", type=_float, default=4.0, help="mean degree z (default 4)")
    demo.add_argument("--seed", type=_nonneg_int, default=0, help="random seed (default 0)")
    demo.set_defaults(func=_cmd_demo)

    graph = sub.add_parser("graph", help="generate, save and inspect random graphs")
    gsub = graph.add_subparsers(dest="graph_command", metavar="KIND", parser_class=_Parser, required=True)

    er = gsub.add_parser("er", help="Erdos-Renyi graph G(n, p) with p = z / (n - 1)")
    er.add_argument("n", type=_nonneg_int, help="number of nodes")
    er.add_argument("mean_degree", type=_float, help="mean degree z")
    er.set_defaults(func=_cmd_graph, factory=lambda a, rng: _lib().erdos_renyi(a.n, a.mean_degree, rng=rng))

    reg = gsub.add_parser("regular", help="random k-regular graph")
    reg.add_argument("n", type=_nonneg_int, help="number of nodes")
    reg.add_argument("k", type=_nonneg_int, help="degree of every node")
    reg.set_defaults(func=_cmd_graph, factory=lambda a, rng: _lib().random_regular(a.n, a.k, rng=rng))

    cm = gsub.add_parser("powerlaw", help="configuration model with power-law degrees p_k ~ k^-exponent")
    cm.add_argument("n", type=_nonneg_int, help="number of nodes")
    cm.add_argument("exponent", type=_float, help="power-law exponent (> 1; > 2 for a finite mean)")
    cm.add_argument("--kmin", type=_nonneg_int, default=1, help="smallest degree (default 1)")
    cm.add_argument("--kmax", type=_nonneg_int, default=None, help="largest degree (default: no cutoff)")
    cm.set_defaults(func=_cmd_graph, factory=_powerlaw_graph)

    for p in (er, reg, cm):
        p.add_argument("--seed", type=_nonneg_int, default=None, help="random seed (default: fresh entropy)")
        p.add_argument("--out", default=None, help="save the graph to this .npz file")

    info = gsub.add_parser("info", help="print the summary of a saved graph (.npz)")
    info.add_argument("path", help="file written by `cascades graph ... --out` or cascades.save")
    info.set_defaults(func=_cmd_info)

    # Subcommands defined next to the code they drive (each module has register(sub)).
    from . import _cli_figures, _cli_sweep

    _cli_figures.register(sub)
    _cli_sweep.register(sub)
    return parser


def _lib():
    import cascades

    return cascades


def _powerlaw_graph(args, rng):
    lib = _lib()
    dist = lib.PowerLaw(args.exponent, kmin=args.kmin, kmax=args.kmax)
    return lib.configuration_model(dist, args.n, rng=rng)


def _positive_float(text: str) -> float:
    value = _float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _import_torch(option):
    try:
        import torch
    except ImportError:
        raise ValueError(f"{option} needs PyTorch: pip install 'cascades[torch]'") from None
    return torch


def _one_line(exc) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _load_model(spec):
    """Call FUNCTION() from FILE.py (``--model FILE.py:FUNCTION``); the torch.nn.Module it returns."""
    import importlib.util
    import os

    path, sep, func = spec.rpartition(":")
    if not sep or not path or not func:
        raise ValueError(f"--model must be FILE.py:FUNCTION, got {spec!r}")
    torch = _import_torch("--model")
    if not os.path.isfile(path):
        raise ValueError(f"--model: no such file {path!r}")
    name = "_cascades_user_model_" + "".join(c if c.isalnum() else "_" for c in os.path.abspath(path))
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ValueError(f"--model: cannot import {path!r} (not a Python file?)")
    user = importlib.util.module_from_spec(module_spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.modules[name] = user
    sys.path.insert(0, folder)  # the file may import its neighbours
    try:
        module_spec.loader.exec_module(user)
    except Exception as exc:  # noqa: BLE001 - one line on stderr, whatever the user's file raises
        sys.modules.pop(name, None)
        raise ValueError(f"--model: importing {path!r} failed: {_one_line(exc)}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
    build = getattr(user, func, None)
    if build is None:
        raise ValueError(f"--model: {path!r} has no function {func!r}")
    if not callable(build):
        raise ValueError(f"--model: {func!r} in {path!r} is not callable")
    try:
        model = build()
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"--model: {func}() failed: {_one_line(exc)}") from None
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"--model: {func}() must return a torch.nn.Module, got {type(model).__name__}")
    return model


def _shape(text):
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive ints like 8,3,32,32, got {text!r}") from None
    if len(shape) < 2 or any(v < 1 for v in shape):
        raise argparse.ArgumentTypeError(
            f"expected a batch size and at least one more positive int, got {text!r}")
    return shape


def _graph_kwargs(args) -> dict:
    """recommend's graph-reading options (only with --input-shape or a model that is not a plain chain)."""
    branch = args.branch_scale
    if branch not in ("stable", "none"):
        try:
            branch = float(branch)
        except ValueError:
            raise ValueError(
                f"--branch-scale must be 'stable', 'none' or a positive number, got {branch!r}") from None
    kwargs = dict(branch_scale=branch, logit_variance=args.logit_variance, rng=args.seed)
    if args.pass_through:
        kwargs["pass_through"] = tuple(n.strip() for n in args.pass_through.split(",") if n.strip())
    if args.input_shape is not None:
        kwargs["input_shape"] = args.input_shape
    return kwargs


def _recommend_kwargs(args) -> dict:
    """recommend's keyword arguments: the always-present options, plus the optional ones the user gave."""
    kwargs = dict(density=args.density, scheme=args.scheme, per_neuron=args.per_neuron, weights=args.weights)
    for key in ("activation", "q_star", "sigma_b2", "stability"):
        value = getattr(args, key)
        if value is not None:
            kwargs[key] = value
    return kwargs


def _cmd_recommend(args) -> int:
    lib = _lib()
    if args.model is not None and args.widths:
        raise ValueError("give either widths or --model, not both")
    json_to_stdout = args.json == "-"
    if args.json and not json_to_stdout:
        check_writable(args.json, "--json")
    if args.torch_out:
        check_writable(args.torch_out, "--torch-out")
        _import_torch("--torch-out")
    # With --json -, standard output carries the JSON only; everything else goes to stderr.
    text = sys.stderr if json_to_stdout else sys.stdout
    model = _load_model(args.model) if args.model is not None else None
    architecture = model if model is not None else (args.widths or [784, 300, 100, 10])
    if args.input_shape is not None and model is None:
        raise ValueError("--input-shape reads a --model as a computation graph; "
                         "give --model FILE.py:FUNCTION")
    kwargs = _recommend_kwargs(args)
    if model is not None:
        from .bridge.recommend import _graph_reading

        if _graph_reading(model, args.weights, args.input_shape, None):
            dropped = ("per_neuron", "activation", "sigma_b2", "stability")
            kwargs = {k: v for k, v in kwargs.items() if k not in dropped}
            if args.scheme not in ("erk", "uniform") or args.per_neuron or args.sigma_b2 is not None:
                raise ValueError("the graph reading (--input-shape) takes --density, --scheme erk|uniform, "
                                 "--q-star, --weights, --branch-scale, --logit-variance and --pass-through; "
                                 "not another --scheme, --per-neuron or --sigma-b2")
            kwargs.update(_graph_kwargs(args))
    rec = lib.recommend(architecture, **kwargs)
    print(rec, file=text)
    if json_to_stdout:
        sys.stdout.write(rec.to_json(indent=2) + "\n")
    elif args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(rec.to_json(indent=2))
        print(f"recommendation written to {args.json}", file=text)
    if args.torch_out:
        from .bridge.export import save_torch

        if model is None:
            out = lib.to_torch(rec, rng=args.seed)
        else:
            out = lib.apply_to(model, rec, rng=args.seed)
        graph = isinstance(rec, lib.bridge.NetworkRecommendation)
        save_torch(out, args.torch_out, recommendation=None if graph else rec)
        lines = [f"masked torch model saved to {args.torch_out}; load it with"]
        if model is None:
            lines += [
                f"    model = cascades.load_torch({args.torch_out!r})    # rebuilds this MLP",
                "or into your own unpruned copy:",
                "    model = build()    # your MLP, as you always build it",
            ]
        else:
            func = args.model.rpartition(":")[2]
            lines.append(f"    model = {func}()    # from {args.model.rpartition(':')[0]}")
        lines += [
            f"    cascades.load_torch({args.torch_out!r}, model)",
            f"(plain torch: sd = torch.load({args.torch_out!r}, weights_only=True); "
            f"model.load_state_dict(sd['state_dict']); masks in sd['masks'])",
        ]
        print("\n".join(lines), file=text)
    return 0


def _cmd_demo(args) -> int:
    import numpy as np

    lib = _lib()
    graph = lib.erdos_renyi(args.n, args.mean_degree, rng=args.seed)
    print(graph.summary())
    observed = np.bincount(graph.degrees) / max(graph.n, 1)
    expected = lib.Poisson(args.mean_degree).pmf()
    print("\n degree   observed   Poisson pmf")
    for k in range(min(max(len(observed), 1), 12)):
        obs = observed[k] if k < len(observed) else 0.0
        exp = expected[k] if k < len(expected) else 0.0
        print(f"{k:7d}   {obs:8.5f}   {exp:8.5f}")
    return 0


def _cmd_graph(args) -> int:
    lib = _lib()
    if args.out:
        check_writable(args.out, "--out")
    graph = args.factory(args, args.seed)
    print(graph.summary())
    if args.out:
        lib.save(graph, args.out)
        print(f"saved to {args.out}")
    return 0


def _cmd_info(args) -> int:
    print(_lib().load(args.path).summary())
    return 0


# What a bad argument, a bad file or an impossible request raises: one line, exit 2.
_INPUT_ERRORS = (ValueError, TypeError, OSError, MemoryError, EOFError, LookupError, zipfile.BadZipFile)


def main(argv=None) -> int:
    """Run the ``cascades`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Exit codes: 0 success; 1 a check failed (``validate``) or an unexpected
    internal error (one line; set ``CASCADES_DEBUG=1`` for the traceback);
    2 bad arguments, bad input files, or a request beyond the machine's memory
    (one line on stderr, never a traceback); 130 interrupted (Ctrl-C).
    """
    import os

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    debug = os.environ.get("CASCADES_DEBUG", "") not in ("", "0")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("cascades: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cascades ... | head`: the reader left; nothing more to say
        _silence_stdout()
        return 141
    except _INPUT_ERRORS as exc:
        if debug:
            raise
        print(f"cascades: error: {_message(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug: one line and how to get the traceback
        if debug:
            raise
        print(
            f"cascades: internal error: {_one_line(exc)} (please report it; CASCADES_DEBUG=1 shows the "
            "traceback)",
            file=sys.stderr,
        )
        return 1


def _message(exc) -> str:
    """One line for a user-facing error: the message, with the exception type where it helps."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ValueError | TypeError | OSError) and text:
        return text  # our messages name the parameter; the OS's name the file ("[Errno 2] ...: 'x'")
    if isinstance(exc, KeyError):
        return f"missing entry {text}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot raise again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
