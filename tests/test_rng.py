"""The randomness convention: one explicit ``rng`` argument, normalised in one place."""

import numpy as np
import pytest

from cascades._rng import as_generator, spawn


def test_int_seed_is_reproducible():
    assert as_generator(7).integers(2**62) == as_generator(7).integers(2**62)
    assert as_generator(7).integers(2**62) != as_generator(8).integers(2**62)


def test_generator_is_used_in_place():
    g = np.random.default_rng(3)
    assert as_generator(g) is g
    first = as_generator(g).random()
    assert as_generator(g).random() != first  # the caller's generator advanced


def test_seed_sequence_and_none():
    seq = np.random.SeedSequence(5)
    assert as_generator(seq).random() == np.random.default_rng(np.random.SeedSequence(5)).random()
    assert isinstance(as_generator(None), np.random.Generator)


@pytest.mark.parametrize("bad", [-1, 1.5, "0", np.random.RandomState(0), True])
def test_bad_rng_is_rejected(bad):
    with pytest.raises((ValueError, TypeError), match="rng"):
        as_generator(bad)


def test_spawn_depends_only_on_root():
    a = [g.integers(2**62) for g in spawn(11, 4)]
    b = [g.integers(2**62) for g in spawn(11, 4)]
    assert a == b
    assert len(set(a)) == 4
    # the first k children do not depend on how many are spawned (worker-count independence)
    c = [g.integers(2**62) for g in spawn(11, 2)]
    assert c == a[:2]
    with pytest.raises(ValueError, match="rng"):
        spawn(-3, 2)


def test_spawn_from_generator_advances_it():
    g = np.random.default_rng(1)
    first = [h.random() for h in spawn(g, 2)]
    second = [h.random() for h in spawn(g, 2)]
    assert first != second
