"""Argument checks: ValueError naming the parameter and the allowed range."""

import numpy as np
import pytest

from cascades._validation import check_int, check_int_array, check_probability, check_real


def test_check_int():
    assert check_int("n", 3, low=0) == 3
    assert check_int("n", np.int64(3), low=0) == 3
    assert check_int("n", 3.0, low=0) == 3
    for bad in (-1, 2.5, "3", None, True):
        with pytest.raises(ValueError, match=r"^n must be an integer >= 0"):
            check_int("n", bad, low=0)
    with pytest.raises(ValueError, match=r"k must be an integer in \[0, 4\], got 5"):
        check_int("k", 5, low=0, high=4)


def test_check_real_ranges():
    assert check_real("z", 0.0, low=0) == 0.0
    with pytest.raises(ValueError, match=r"z must be a finite number > 0"):
        check_real("z", 0.0, low=0, low_open=True)
    with pytest.raises(ValueError, match=r"x must be a finite number in \[0, 1\)"):
        check_real("x", 1.0, low=0, high=1, high_open=True)
    for bad in (float("inf"), float("nan"), "1", None):
        with pytest.raises(ValueError, match="^z must be a finite number"):
            check_real("z", bad)


def test_check_probability():
    assert check_probability("p", 1) == 1.0
    for bad in (-0.1, 1.0000001, float("nan")):
        with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\]"):
            check_probability("p", bad)


def test_check_int_array():
    out = check_int_array("degrees", np.array([0.0, 2.0]), low=0)
    assert out.dtype == np.int64 and out.tolist() == [0, 2]
    assert check_int_array("degrees", []).shape == (0,)
    with pytest.raises(ValueError, match="degrees must hold integers >= 0; entry 2 is -1"):
        check_int_array("degrees", [1, 2, -1], low=0)
    with pytest.raises(ValueError, match="degrees must hold integers"):
        check_int_array("degrees", [1.5])
    with pytest.raises(ValueError, match="degrees must hold integers"):
        check_int_array("degrees", [True, False])
    with pytest.raises(ValueError, match="1-dimensional"):
        check_int_array("degrees", [[1, 2]])
