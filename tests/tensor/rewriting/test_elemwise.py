"""Rewrites of dimshuffles, SumToShape and allocs feeding elementwise ops."""
import numpy as np

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.basic import Alloc
from symgraph.tensor.elemwise import DimShuffle, SumToShape
from tests.tensor.rewriting.checks import fired, ops, rewritten


def count(f, op_type):
    return sum(isinstance(n.op, op_type) for n in f.maker.fgraph.apply_nodes)


def test_identity_dimshuffle_is_removed(rng):
    x = T.dmatrix("x")
    f = rewritten([x], T.exp(DimShuffle(2, (0, 1))(x)), rng.normal(size=(2, 3)))
    assert ops(f) == ["Elemwise{exp}"]
    assert fired(f, "local_dimshuffle_identity") == 1


def test_two_dimshuffles_become_one(rng):
    x = T.tensor3("x")
    expr = T.exp(x.dimshuffle(2, "x", 0, 1).dimshuffle(1, 3, 0, 2))
    f = rewritten([x], expr, rng.normal(size=(2, 3, 4)))
    assert ops(f).count("DimShuffle{x,1,2,0}") == 1 and count(f, DimShuffle) == 1
    g = rewritten([x], T.exp(x.T.T), rng.normal(size=(2, 3, 4)))
    assert ops(g) == ["Elemwise{exp}"]


def test_dimshuffle_pair_dropping_a_broadcast_dim(rng):
    x = T.tensor("float64", (None, 1), name="x")
    f = rewritten([x], T.exp(x.dimshuffle("x", 0, 1).dimshuffle(2, 1)),
                  rng.normal(size=(4, 1)))
    assert count(f, DimShuffle) == 1


def test_sum_to_shape_is_removed_when_static_shapes_match(rng):
    a = T.tensor("float64", (3, 4), name="a")
    b = T.tensor("float64", (3, 4), name="b")
    f = rewritten([a, b], SumToShape()(a * b, a.shape), rng.normal(size=(3, 4)),
                  rng.normal(size=(3, 4)))
    assert count(f, SumToShape) == 0
    assert fired(f, "local_useless_sum_to_shape") == 1


def test_sum_to_shape_is_removed_when_the_shape_feature_proves_it(rng):
    a = T.dmatrix("a")
    g = T.exp(a) * 2.0  # the shape of a, although nothing static says so
    f = rewritten([a], SumToShape()(g, a.shape), rng.normal(size=(3, 4)))
    assert count(f, SumToShape) == 0


def test_sum_to_shape_is_kept_when_it_may_sum(rng):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = rewritten([a, b], SumToShape()(a * b, a.shape), rng.normal(size=(1, 4)),
                  rng.normal(size=(3, 4)))
    assert count(f, SumToShape) == 1


def test_gradient_through_broadcasting_with_size_0_dims(rng):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    grads = sg.grad((a * b).sum(), [a, b])
    f = rewritten([a, b], grads, rng.uniform(size=(0, 3)), rng.uniform(size=(1, 3)))
    ga, gb = f(rng.uniform(size=(0, 3)), rng.uniform(size=(1, 3)))
    assert ga.shape == (0, 3) and gb.shape == (1, 3) and not gb.any()


def test_alloc_feeding_an_elemwise_is_dropped_when_the_other_input_shapes_it(rng):
    x = T.dmatrix("x")
    expr = x * T.alloc(np.float64(3.0), x.shape[0], x.shape[1])
    f = rewritten([x], expr, rng.normal(size=(2, 5)))
    assert count(f, Alloc) == 0
    assert fired(f, "local_alloc_in_elemwise") == 1
    grad = sg.grad(T.tanh(x).sum(), x)  # d sum: alloc(1, shape), then the tanh' product
    g = rewritten([x], grad, rng.normal(size=(2, 5)))
    assert count(g, Alloc) == 0


def test_alloc_that_gives_the_shape_is_kept(rng):
    x, y = T.dmatrix("x"), T.dmatrix("y")
    expr = x * T.alloc(np.float64(3.0), y.shape[0], y.shape[1])  # x may be (1, 1)
    f = rewritten([x, y], expr, rng.normal(size=(1, 1)), rng.normal(size=(2, 5)))
    assert count(f, Alloc) == 1
    assert f(np.ones((1, 1)), np.zeros((2, 5))).shape == (2, 5)


def test_dimshuffle_moves_to_the_inputs_of_an_elemwise(rng):
    x, y = T.dmatrices("x", "y")
    f = rewritten([x, y], T.exp((x * y).T) + 1, *rng.normal(size=(2, 3, 4)))
    assert fired(f, "local_dimshuffle_lift") == 1
    (mul,) = [n for n in f.maker.fgraph.apply_nodes if str(n.op) == "Elemwise{mul}"]
    assert all(isinstance(i.owner.op, DimShuffle) for i in mul.inputs)
    g = rewritten([x], (T.exp(x) * 2.0).dimshuffle("x", 1, 0), rng.normal(size=(2, 3)))
    assert ops(g)[-1] != "DimShuffle{x,1,0}"


def test_dimshuffle_of_a_shared_elemwise_stays(rng):
    x = T.dmatrix("x")
    e = T.exp(x)
    f = rewritten([x], [e.T, e], rng.normal(size=(2, 3)))
    assert ops(f).count("Elemwise{exp}") == 1
