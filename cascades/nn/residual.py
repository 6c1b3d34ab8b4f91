"""Mean-field signal propagation through residual networks (a first piece of issue 16).

The *reduced* residual network of Yang & Schoenholz (2017, Sec. 3) adds a one-layer branch to the
residual stream x^l in R^N at every block:

    x^{l+1} = alpha x^l + beta (W^l phi(x^l) + b^l),  W_ij ~ N(0, sigma_w^2 / N), b_i ~ N(0, sigma_b^2).

In the mean-field limit (N -> inf) the coordinates of x^l are Gaussian, W^l and b^l are independent
of x^l, so the cross terms vanish and the covariance of two inputs obeys (variances, as everywhere
in :mod:`cascades.nn`)

    q_aa^{l+1} = alpha^2 q_aa^l + beta^2 (sigma_w^2 E[phi(u_a)^2] + sigma_b^2),
    q_12^{l+1} = alpha^2 q_12^l + beta^2 (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2),

with (u_1, u_2) ~ N(0, [[q_11, q_12], [q_12, q_22]]): the branch term is the covariance map of a
plain layer (:func:`cascades.nn.covariance_map`, Poole et al. 2016, eqs. 3 and 5) evaluated on the
residual stream. With alpha = beta = 1 the lengths grow at every block (Yang & Schoenholz 2017:
polynomially or exponentially with depth depending on phi); scaling the branch by beta = 1 / sqrt(L)
keeps them bounded over L blocks (Hayou et al., AISTATS 2021, "Stable ResNet"), the default here.

References
----------
G. Yang and S. S. Schoenholz, "Mean field residual networks: on the edge of chaos", NeurIPS 2017.
S. Hayou, E. Clerico, B. He, G. Deligiannidis, A. Doucet and J. Rousseau, "Stable ResNet",
AISTATS 2021.
B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein and S. Ganguli, "Exponential expressivity in deep
neural networks through transient chaos", NeurIPS 2016.
"""

from __future__ import annotations

import math

from .._validation import check_int, check_real
from .activations import ActivationLike, get_activation
from .meanfield import Trajectory, _covariance_iteration, _nodes, _variance

__all__ = ["residual_propagate", "stable_branch_scale"]


def stable_branch_scale(depth) -> float:
    """The branch scale beta = 1 / sqrt(L) of a residual network of L blocks (Hayou et al. 2021).

    With it the residual stream's length stays bounded by a depth-independent factor of the input's
    (for ReLU branches at sigma_w^2 = 2 and alpha = 1: q^L <= e q^0).

    >>> stable_branch_scale(100)
    0.1
    """
    depth = check_int("depth", depth, low=1)
    return 1.0 / math.sqrt(depth)


def residual_propagate(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float,
    q11: float,
    depth: int,
    *,
    q22: float | None = None,
    c: float = 1.0,
    alpha: float = 1.0,
    beta: float | None = None,
    n: int | None = None,
    n2: int | None = None,
) -> Trajectory:
    """Covariance of two inputs along a reduced residual network (Yang & Schoenholz 2017, Sec. 3).

    Iterates q^{l+1} = alpha^2 q^l + beta^2 C(q^l), where C is the covariance map of the one-layer
    branch W phi(x) + b (see the module docstring).

    Parameters
    ----------
    activation : str or Activation
        The branch's activation phi, applied to the residual stream.
    sigma_w2, sigma_b2 : float
        The branch's weight and bias variances, in [0, 1e100].
    q11 : float
        Length (mean square per coordinate) of the first input's residual stream x^0, in [0, 1e100].
    depth : int
        Number of residual blocks L >= 0.
    q22 : float, optional
        Length of the second input (default ``q11``).
    c : float
        Correlation of the two inputs, in [-1, 1].
    alpha : float
        Skip weight in [-1e50, 1e50] (only alpha^2 enters).
    beta : float, optional
        Branch scale in [0, 1e50]; default 1 / sqrt(depth) (:func:`stable_branch_scale`), or 1 for depth 0.
    n, n2 : int, optional
        Quadrature, as in :func:`cascades.nn.propagate`.

    Returns
    -------
    Trajectory
        q11, q22, q12 and c of the residual stream at blocks 0..depth (arrays of length depth + 1).

    Raises
    ------
    ValueError
        For variances outside [0, 1e100], c outside [-1, 1], a negative depth, a non-finite alpha or
        a negative beta, and when the lengths pass 1e100 before the last block (the message gives the
        largest depth that works).

    Examples
    --------
    ReLU branches at sigma_w^2 = 2: every block multiplies the length by alpha^2 + beta^2.

    >>> t = residual_propagate("relu", 2.0, 0.0, 1.0, 4, beta=0.5)
    >>> t.q11.tolist()
    [1.0, 1.25, 1.5625, 1.953125, 2.44140625]
    """
    act = get_activation(activation)
    sw = _variance("sigma_w2", sigma_w2)
    sb = _variance("sigma_b2", sigma_b2)
    a = _variance("q11", q11)
    b = a if q22 is None else _variance("q22", q22)
    c0 = check_real("c", c, low=-1, high=1)
    depth = check_int("depth", depth, low=0)
    # alpha^2 and beta^2 scale variances: bounded like them (1e100)
    al2 = check_real("alpha", alpha, low=-1e50, high=1e50) ** 2
    if beta is None:
        be2 = 1.0 / depth if depth > 0 else 1.0
    else:
        be2 = check_real("beta", beta, low=0, high=1e50) ** 2
    n, n2 = _nodes("n", n), _nodes("n2", n2)
    return _covariance_iteration(
        act, sw, sb, a, b, c0, depth, skip2=al2, branch2=be2, n=n, n2=n2, unit="blocks",
        advice="a smaller alpha or beta",
    )
