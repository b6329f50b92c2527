"""The shape feature (symbolic shapes of intermediates) and the shape rewrites."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.graph.fgraph import FunctionGraph
from symgraph.tensor.math import Dot
from symgraph.tensor.rewriting.shape import ShapeFeature
from symgraph.tensor.shape import Reshape, SpecifyShape
from tests.tensor.rewriting.checks import NO_REWRITES, fired, ops, rewritten


def inferred_shape(inputs, expr, *values):
    """The shape ShapeFeature infers for ``expr``, evaluated on ``values``."""
    fg = FunctionGraph(inputs, [expr], clone=False)
    feature = ShapeFeature()
    fg.attach_feature(feature)
    entries = feature.shape_of(expr)
    if not entries:
        return ()
    fn = sg.function(inputs, list(entries), mode=NO_REWRITES, on_unused_input="ignore")
    return tuple(int(v) for v in fn(*values))


def cases():
    x, y = T.dmatrices("x", "y")
    v = T.dvector("v")
    yield [x, y], x + y, [(1, 3), (4, 3)]  # runtime broadcasting
    yield [x, y], x * y, [(0, 3), (1, 3)]  # a size 0 beats a size 1
    yield [x, v], T.exp(x) - v, [(2, 5), (5,)]
    yield [x, y], T.dot(x, y.T), [(2, 5), (3, 5)]
    yield [x], x.T.dimshuffle(0, "x", 1), [(2, 5)]
    yield [x], x.sum(axis=0), [(2, 5)]
    yield [x], x.reshape((-1,)), [(2, 5)]
    yield [x], x.reshape((x.shape[1], -1)), [(2, 6)]
    yield [x], x[1:, ::2], [(4, 7)]
    yield [x, y], T.concatenate([x, y], axis=0), [(2, 3), (5, 3)]
    yield [x], T.zeros_like(x) + 1, [(3, 2)]
    yield [x, y], sg.grad((x * y).sum(), x), [(1, 3), (4, 3)]


@pytest.mark.parametrize("case", range(12))
def test_inferred_shapes_match_computed_shapes(case, rng):
    inputs, expr, shapes = list(cases())[case]
    values = [rng.normal(size=s) for s in shapes]
    computed = sg.function(inputs, expr, mode=NO_REWRITES)(*values).shape
    assert inferred_shape(inputs, expr, *values) == computed


def test_shape_of_an_op_without_infer_shape_reads_the_value(rng):
    x = T.dvector("x")
    out = T.sort(x)
    fg = FunctionGraph([x], [out], clone=False)
    feature = ShapeFeature()
    fg.attach_feature(feature)
    (size,) = feature.shape_of(out)
    assert size.owner is not None and size.owner.inputs[0] in (out, x)


def test_shape_of_an_intermediate_does_not_compute_it(rng):
    x, y = T.dmatrices("x", "y")
    f = rewritten([x, y], T.dot(x, y).shape, rng.normal(size=(2, 3)), rng.normal(size=(3, 4)))
    assert not any(isinstance(n.op, Dot) for n in f.maker.fgraph.apply_nodes)
    np.testing.assert_array_equal(f(np.ones((2, 3)), np.ones((3, 4))), [2, 4])
    g = rewritten([x, y], T.exp(x + y).shape[0], rng.normal(size=(1, 3)),
                  rng.normal(size=(5, 3)))
    assert "Elemwise{exp}" not in ops(g)
    assert fired(g, "local_shape_lift") + fired(g, "local_shape_i_lift") >= 1


def test_static_sizes_become_constants():
    x = T.tensor("float64", (2, None), name="x")
    f = sg.function([x], [T.exp(x).shape[0], x.shape])
    assert sorted(ops(f)) == ["DeepCopyOp", "Shape"]  # a copy of the constant 2
    assert [int(a) if np.ndim(a) == 0 else a.tolist() for a in f(np.zeros((2, 7)))] == [
        2, [2, 7]]


def test_useless_specify_shape(rng):
    x = T.tensor("float64", (None, 3), name="x")
    f = rewritten([x], T.exp(T.specify_shape(x, (None, 3))), rng.normal(size=(2, 3)))
    assert ops(f) == ["Elemwise{exp}"]
    y = T.dmatrix("y")
    g = rewritten([y], T.exp(T.specify_shape(y, (None, 3))), rng.normal(size=(2, 3)))
    assert any(isinstance(n.op, SpecifyShape) for n in g.maker.fgraph.apply_nodes)


def test_reshape_to_its_own_shape_is_removed(rng):
    x = T.dmatrix("x")
    for expr in (x.reshape(x.shape), x.reshape((x.shape[0], x.shape[1])),
                 T.exp(x).reshape(T.exp(x).shape)):
        f = rewritten([x], T.sqrt(expr), rng.uniform(size=(2, 3)))
        assert not any(isinstance(n.op, Reshape) for n in f.maker.fgraph.apply_nodes)
    g = rewritten([x], x.reshape((x.shape[1], x.shape[0])), rng.uniform(size=(2, 3)))
    assert any(isinstance(n.op, Reshape) for n in g.maker.fgraph.apply_nodes)


def test_reshape_of_reshape_is_one_reshape(rng):
    x = T.dmatrix("x")
    f = rewritten([x], x.reshape((-1,)).reshape((3, -1)), rng.normal(size=(2, 6)))
    assert sum(isinstance(n.op, Reshape) for n in f.maker.fgraph.apply_nodes) == 1
