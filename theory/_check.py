"""The one check helper of the derivations."""


def check(condition, what: str) -> None:
    """Raise AssertionError unless ``condition`` (not ``assert``: checks must also run under python -O)."""
    if not condition:
        raise AssertionError(f"derivation check failed: {what}")
