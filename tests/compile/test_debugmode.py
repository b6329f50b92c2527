"""DebugMode (symgraph/compile/debugmode.py): correct graphs pass and give FAST_RUN's
values; deliberately broken rewrites and ops are caught and named."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.compile.debugmode import (BadDestroyMap, BadInferShape, BadOptimization,
                                        BadOutputType, BadViewMap, DebugMode)
from symgraph.compile.mode import get_mode
from symgraph.graph.basic import Apply, Op
from symgraph.rewriting.core import EquilibriumGraphRewriter, node_rewriter
from tests.tensor.rewriting.test_mlp import mlp_training


class ToyOp(Op):
    """``2 * x`` with a configurable flaw."""

    __props__ = ("flaw",)

    def __init__(self, flaw=None):
        self.flaw = flaw

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if self.flaw == "writes_input":
            x *= 2  # without a destroy_map
            out = x.copy()
        elif self.flaw == "returns_view":
            out = x[...]  # an alias, without a view_map
            out *= 2
        elif self.flaw == "wrong_dtype":
            out = (2 * x).astype("float32")
        else:
            out = 2 * x
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        (shape,) = input_shapes
        if self.flaw == "bad_shape":
            return [tuple(s + 1 for s in shape)]
        return [shape]


def test_a_correct_graph_gives_fast_run_values(rng):
    sizes = (6, 5, 3)
    seed = int(rng.integers(1 << 30))
    data = (rng.normal(size=(4, 6)), rng.integers(0, 3, size=4))
    results = []
    for mode in ("DebugMode", "FAST_RUN"):
        inputs, cost, updates, params = mlp_training(sizes, np.random.default_rng(seed))
        f = sg.function(inputs, cost, updates=updates, mode=mode)
        results.append([f(*data), f(*data)] + [p.get_value() for p in params])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_the_mode_by_name_and_its_variants():
    mode = get_mode("DebugMode")
    assert isinstance(mode, DebugMode) and get_mode("DebugMode") is mode
    narrowed = mode.excluding("fusion")
    assert isinstance(narrowed, DebugMode) and "fusion" in narrowed.query.exclude
    x = T.dvector("x")
    f = sg.function([x], T.exp(x) + 1.0, mode=narrowed)
    assert len(f.maker.fgraph.apply_nodes) == 2  # exp, add: not fused
    assert not any("Composite" in str(n.op) for n in f.maker.fgraph.apply_nodes)
    np.testing.assert_allclose(f(np.zeros(2)), [2.0, 2.0])


def test_a_stabilized_value_is_not_a_difference():
    x = T.dvector("x")
    f = sg.function([x], T.log(1 + T.exp(x)), mode="DebugMode")
    np.testing.assert_allclose(f(np.array([-2.0, 800.0])), [np.log1p(np.exp(-2.0)), 800.0])


def test_a_rewrite_that_changes_values_is_named(rng):
    @node_rewriter([T.exp])
    def sloppy_exp(fgraph, node):
        if node.inputs[0].owner is None:  # once: exp(x) -> 1.001 * exp(x) would loop
            return [T.exp(node.inputs[0] * 1.0) * 1.001]

    mode = DebugMode(optimizer=EquilibriumGraphRewriter([sloppy_exp]))
    x = T.dvector("x")
    f = sg.function([x], T.tanh(T.exp(x)).sum(), mode=mode)
    with pytest.raises(BadOptimization, match="sloppy_exp") as info:
        f(rng.normal(size=4))
    assert info.value.rewrite == "sloppy_exp"


def test_a_rewrite_that_changes_the_dtype_is_named(rng):
    @node_rewriter([T.exp])
    def exp_in_float16(fgraph, node):
        x = node.inputs[0]
        if x.dtype == "float64" and x.owner is None:
            return [T.cast(T.exp(T.cast(x, "float16")), "float64")]

    mode = DebugMode(optimizer=EquilibriumGraphRewriter([exp_in_float16]))
    x = T.dvector("x")
    f = sg.function([x], T.exp(x), mode=mode)
    with pytest.raises(BadOptimization, match="exp_in_float16"):
        f(rng.normal(size=4) * 3)


def test_an_op_writing_into_its_input_is_caught(rng):
    x = T.dvector("x")
    f = sg.function([x], ToyOp("writes_input")(x * 1.5), mode="DebugMode")
    with pytest.raises(BadDestroyMap, match="changed its input 0"):
        f(rng.normal(size=3))
    g = sg.function([x], ToyOp()(x * 1.5), mode="DebugMode")
    v = rng.normal(size=3)
    np.testing.assert_allclose(g(v), 3 * v)


def test_an_undeclared_view_is_caught(rng):
    x = T.dvector("x")
    f = sg.function([x], ToyOp("returns_view")(x + 1.0), mode="DebugMode")
    with pytest.raises((BadViewMap, BadDestroyMap)):
        f(rng.normal(size=3))


def test_a_wrong_infer_shape_is_caught(rng):
    x = T.dmatrix("x")
    f = sg.function([x], ToyOp("bad_shape")(x), mode="DebugMode")
    with pytest.raises(BadInferShape, match=r"gives \(3, 5\).*\(2, 4\)"):
        f(rng.normal(size=(2, 4)))


def test_a_wrong_output_dtype_is_caught(rng):
    x = T.dvector("x")
    f = sg.function([x], ToyOp("wrong_dtype")(x), mode="DebugMode")
    with pytest.raises(BadOutputType, match="float32"):
        f(rng.normal(size=3))


def test_in_place_graphs_are_checked_too(rng):
    A, v = T.dmatrix("A"), T.dvector("v")
    t = T.dot(A, v)
    f = sg.function([A, v], [T.exp(t) * 2.0, t.sum()], mode="DebugMode")
    assert any(n.op.destroy_map for n in f.maker.fgraph.apply_nodes)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    e, s = f(a, b)
    np.testing.assert_allclose(e, np.exp(a @ b) * 2)
    np.testing.assert_allclose(s, (a @ b).sum())


def test_c_code_is_compared_with_perform(monkeypatch, rng):
    """Correct C passes; a C generator computing the wrong thing is caught, naming the op."""
    from symgraph.compile.debugmode import BadCImplementation
    from symgraph.link.c import elemwise as c_elemwise

    x = T.dvector("x")
    v = rng.normal(size=3)
    f = sg.function([x], T.exp(x) * 3.0, mode="DebugMode")
    np.testing.assert_allclose(f(v), np.exp(v) * 3.0)
    assert f.fn._c_checkers  # the fused loop was run in C and compared

    right = c_elemwise.scalar_body

    def off_by_one(scalar_op, in_dtypes, out_dtypes):
        body = right(scalar_op, in_dtypes, out_dtypes)
        return None if body is None else (body[0], [f"({r}) + 1" for r in body[1]])

    monkeypatch.setattr(c_elemwise, "scalar_body", off_by_one)
    g = sg.function([x], T.exp(x) * 3.0, mode="DebugMode")
    with pytest.raises(BadCImplementation, match="C code of Elemwise"):
        g(v)
