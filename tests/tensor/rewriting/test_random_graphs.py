"""Random elementwise/reduction graphs: the full pipeline must not change their values,
shapes or dtypes (inputs whose sizes are 1 at run time included)."""
import numpy as np
import pytest

import symgraph.tensor as T
from tests.tensor.rewriting.checks import rewritten

CONSTANTS = (0.0, 1.0, -1.0, 2.0, 0.5)


def random_expression(rng, leaves, depth):
    """A random float64 expression over ``leaves`` (each a matrix-broadcastable tensor)."""
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.2:
            return T.constant(float(rng.choice(CONSTANTS)))
        return leaves[rng.integers(len(leaves))]
    a = random_expression(rng, leaves, depth - 1)
    kind = rng.integers(12)
    if kind < 5:
        b = random_expression(rng, leaves, depth - 1)
        return [a + b, a - b, a * b, a - a + b, (a + 1.0) * (b * 1.0)][kind]
    unary = [lambda v: -v, lambda v: T.exp(-T.sqr(v)), lambda v: T.log(1 + T.sqr(v)),
             lambda v: T.sigmoid(v), lambda v: T.log(T.sigmoid(v)),
             lambda v: v ** int(rng.integers(0, 4)),
             lambda v: T.log(T.exp(T.tanh(v)).sum(axis=-1, keepdims=True)) if v.ndim
             else T.tanh(v)]
    return unary[kind - 5](a)


@pytest.mark.parametrize("seed", range(25))
def test_random_graph_values_are_unchanged(seed):
    rng = np.random.default_rng(seed)
    x, v, row = T.dmatrix("x"), T.dvector("v"), T.tensor("float64", (1, None), name="row")
    expr = random_expression(rng, [x, v, row], depth=4)
    if expr.ndim < 2:
        expr = expr + x
    n = int(rng.integers(2, 5))
    values = [rng.normal(size=(n, 3)), rng.normal(size=3), rng.normal(size=(1, 3))]
    if seed % 5 == 0:  # x of size 1 at run time: it broadcasts
        values[0] = rng.normal(size=(1, 3))
    rewritten([x, v, row], expr, *values, rtol=1e-9, atol=1e-12)
