"""Subcommands of the ``cascades`` command for the sweep work (registered by :mod:`cascades.cli`)."""

from __future__ import annotations


def register(sub) -> None:
    """Add this module's subcommands to the ``cascades`` subparsers ``sub``."""
