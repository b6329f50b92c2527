"""Rewrites of casts and allocations."""

import symgraph.tensor as T
from symgraph.scalar.basic import Cast
from symgraph.tensor.basic import Alloc
from symgraph.tensor.elemwise import Elemwise
from tests.tensor.rewriting.checks import fired, ops, rewritten


def cast_node(dtype):
    return Elemwise(Cast(dtype))


def test_useless_cast_is_removed(rng):
    x = T.dmatrix("x")
    f = rewritten([x], T.exp(cast_node("float64")(x)), rng.normal(size=(2, 3)))
    assert ops(f) == ["Elemwise{exp}"]
    assert fired(f, "local_useless_cast") == 1


def test_a_lossless_double_cast_becomes_one(rng):
    x = T.bvector("x")
    f = rewritten([x], T.cast(T.cast(x, "int32"), "float64"),
                  rng.integers(-100, 100, size=5).astype("int8"))
    assert ops(f) == ["Elemwise{cast_float64}"]
    assert fired(f, "local_cast_cast") == 1


def test_a_lossy_double_cast_is_kept(rng):
    x = T.dvector("x")
    f = rewritten([x], T.cast(T.cast(x, "int8"), "float64"), rng.normal(size=5) * 300)
    assert ops(f) == ["Elemwise{cast_int8}", "Elemwise{cast_float64}"]


def test_alloc_of_a_value_with_that_shape_is_removed(rng):
    x = T.dmatrix("x")
    y = T.tensor("float64", (2, 3), name="y")
    f = rewritten([x], T.exp(T.alloc(x, x.shape[0], x.shape[1])), rng.normal(size=(4, 5)))
    assert not any(isinstance(n.op, Alloc) for n in f.maker.fgraph.apply_nodes)
    assert fired(f, "local_useless_alloc") == 1
    g = rewritten([y], T.exp(T.alloc(y, 2, 3)), rng.normal(size=(2, 3)))
    assert ops(g) == ["Elemwise{exp}"]


def test_alloc_that_broadcasts_is_kept(rng):
    x = T.dmatrix("x")
    f = rewritten([x], T.exp(T.alloc(x, 2, x.shape[0], x.shape[1])),
                  rng.normal(size=(3, 4)))
    assert any(isinstance(n.op, Alloc) for n in f.maker.fgraph.apply_nodes)
    v = T.dvector("v")
    g = rewritten([v, x], T.exp(T.alloc(v, x.shape[1])), rng.normal(size=1),
                  rng.normal(size=(3, 4)))
    assert any(isinstance(n.op, Alloc) for n in g.maker.fgraph.apply_nodes)
