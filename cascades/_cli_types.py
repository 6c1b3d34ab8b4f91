"""Argument types shared by the ``cascades`` subcommands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse


def _integer(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what} integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {what} integer, got {text!r}")
    return value


def nonneg_int(text: str) -> int:
    """An integer >= 0 (seeds, sizes)."""
    return _integer(text, 0, "a non-negative")


def positive_int(text: str) -> int:
    """An integer >= 1 (worker counts, chunk sizes)."""
    return _integer(text, 1, "a positive")


def real(text: str) -> float:
    """Any float."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
