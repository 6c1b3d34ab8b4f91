"""Executable sympy derivations of the closed forms that ``cascades`` relies on."""
