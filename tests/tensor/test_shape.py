"""Shape ops: Shape, Shape_i, Reshape, SpecifyShape, and their shape inference.

``check_infer_shape`` (used by the other tensor test files too) asks an op's
``infer_shape`` for the output shapes in terms of symbolic input shapes,
evaluates them, and compares with the shapes ``perform`` really produces.
"""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.basic import get_scalar_constant_value
from symgraph.tensor.shape import Reshape, Shape, Shape_i, SpecifyShape
from symgraph.tensor.var import as_tensor_variable


def check_infer_shape(output, inputs, values):
    """Check ``output.owner.op.infer_shape`` against the real shapes of every output of
    the node, with the input shapes given as symbolic ``Shape_i`` scalars."""
    node = output.owner
    input_shapes = [tuple(Shape_i(d)(v) for d in range(v.ndim)) for v in node.inputs]
    inferred = node.op.infer_shape(None, node, input_shapes)
    assert len(inferred) == len(node.outputs)
    flat = [as_tensor_variable(s) for shape in inferred for s in shape]
    for out, shape in zip(node.outputs, inferred):
        assert len(shape) == out.ndim, f"{node.op}: {len(shape)} dims for {out.type}"
    for s in flat:
        assert s.ndim == 0 and s.dtype.startswith(("int", "uint")), s.type
    fn = sg.function(inputs, list(node.outputs) + flat, on_unused_input="ignore")
    results = fn(*values)
    real, got = results[:len(node.outputs)], [int(v) for v in results[len(node.outputs):]]
    expected = [d for r in real for d in np.shape(r)]
    assert got == expected, f"{node.op}: inferred {got}, real {expected}"
    for out, r in zip(node.outputs, real):  # the static type must agree too
        assert all(s is None or s == d for s, d in zip(out.type.shape, np.shape(r))), \
            f"{node.op}: static {out.type.shape} but real {np.shape(r)}"
    return real


def check_shape_graph(output, inputs, values, expected):
    """``output.shape`` compiled as its own graph gives ``expected``."""
    fn = sg.function(inputs, output.shape, on_unused_input="ignore")
    assert tuple(fn(*values)) == tuple(expected)


# -- Shape and Shape_i ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 4), (0, 5), (1,), (), (2, 1, 3)])
def test_shape_and_shape_i(rng, shape):
    x = T.tensor("float32", (None,) * len(shape), name="x")
    value = rng.normal(size=shape).astype("float32")
    assert T.shape(x).eval({x: value}).tolist() == list(shape)
    assert T.shape(x).dtype == "int64"
    for i in range(len(shape)):
        assert int(x.shape[i].eval({x: value})) == shape[i]
        assert int(Shape_i(i)(x).eval({x: value})) == shape[i]
    check_infer_shape(T.shape(x), [x], [value])


def test_shape_i_of_static_dims_is_constant():
    x = T.tensor("float64", (3, None))
    assert get_scalar_constant_value(x.shape[0]) == 3
    assert get_scalar_constant_value(T.basic.shape_i(x, 0)) == 3
    assert isinstance(T.basic.shape_i(x, 1).owner.op, Shape_i)
    with pytest.raises(ValueError):
        Shape_i(2)(x)


def test_shape_has_no_gradient():
    x = T.dvector("x")
    g = sg.grad(x.shape[0].astype("float64") + x.sum(), x)
    assert g.eval({x: np.arange(3.0)}).tolist() == [1.0, 1.0, 1.0]
    assert Shape().connection_pattern(T.shape(x).owner) == [[False]]


def test_size_is_product_of_shape(rng):
    x = T.dtensor3("x")
    for shape in [(2, 3, 4), (0, 3, 1), (1, 1, 1)]:
        value = rng.normal(size=shape)
        assert int(x.size.eval({x: value})) == value.size
    assert T.as_tensor(2.5).size.eval() == 1


# -- Reshape --------------------------------------------------------------------------------------
@pytest.mark.parametrize("old,new", [
    ((2, 6), (3, 4)), ((2, 6), (-1,)), ((2, 6), (4, -1)), ((12,), (2, -1, 3)),
    ((0, 4), (-1, 2)), ((0, 4), (4, 0)), ((1,), ()), ((), (1, 1)), ((3, 1, 4), (12, 1)),
])
def test_reshape_constant_shapes(rng, old, new):
    x = T.tensor("float64", (None,) * len(old), name="x")
    value = rng.normal(size=old)
    out = T.reshape(x, new)
    np.testing.assert_array_equal(out.eval({x: value}), value.reshape(new))
    check_infer_shape(out, [x], [value])
    check_shape_graph(out, [x], [value], value.reshape(new).shape)


def test_reshape_static_shape_resolves_minus_one():
    x = T.tensor("float64", (3, 4))
    assert T.reshape(x, (2, -1)).type.shape == (2, 6)
    assert T.reshape(x, (-1,)).type.shape == (12,)
    assert T.reshape(T.dmatrix(), (2, -1)).type.shape == (2, None)


@pytest.mark.parametrize("dtype", ["int8", "bool", "float32", "complex64"])
def test_reshape_dtypes(rng, dtype):
    value = (rng.normal(size=(4, 3)) * 10).astype(dtype)
    x = T.tensor(dtype, (None, None))
    out = x.reshape((2, 3, 2))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.eval({x: value}), value.reshape(2, 3, 2))


def test_reshape_with_symbolic_entries(rng):
    x = T.dmatrix("x")
    a, b = T.lscalars("a", "b")
    value = rng.normal(size=(4, 6))
    out = x.reshape((a, -1, b))
    f = sg.function([x, a, b], out)
    for av, bv in [(2, 3), (3, 2), (1, 24), (24, 1), (4, 6)]:
        np.testing.assert_array_equal(f(value, av, bv), value.reshape(av, -1, bv))
        check_infer_shape(out, [x, a, b], [value, av, bv])
    out2 = x.reshape((a, b))
    check_infer_shape(out2, [x, a, b], [value, 3, 8])
    # a whole symbolic shape vector, e.g. another tensor's shape
    y = T.dtensor3("y")
    same = x.reshape(y.shape, ndim=3)
    np.testing.assert_array_equal(same.eval({x: value, y: np.zeros((2, 3, 4))}),
                                  value.reshape(2, 3, 4))


def test_reshape_method_forms(rng):
    x = T.dvector("x")
    value = rng.normal(size=6)
    for out in (x.reshape(2, 3), x.reshape((2, 3)), x.reshape([2, 3])):
        assert out.eval({x: value}).shape == (2, 3)
    n = T.lscalar("n")
    assert x.reshape(n).eval({x: value, n: 6}).shape == (6,)


def test_reshape_bad_static_shape_names_the_shapes():
    x = T.tensor("float64", (3, 4))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        x.reshape((5, 2))
    with pytest.raises(ValueError, match="multiple"):
        x.reshape((5, -1))
    with pytest.raises(ValueError, match="only one"):
        x.reshape((-1, -1))


def test_reshape_bad_runtime_shape_names_the_shapes(rng):
    x = T.dmatrix("x")
    f = sg.function([x], x.reshape((3, 3)))
    with pytest.raises(ValueError, match=r"shape \(4, 5\).*\(3, 3\)") as info:
        f(rng.normal(size=(4, 5)))
    assert "Reshape" in str(info.value)
    n = T.lscalar("n")
    g = sg.function([x, n], x.reshape((n, -1)))
    with pytest.raises(ValueError, match="Reshape"):
        g(rng.normal(size=(4, 5)), 3)


def test_reshape_needs_integer_vector_shape():
    x = T.dmatrix()
    with pytest.raises(TypeError):
        Reshape(2)(x, T.dvector())
    with pytest.raises(ValueError):
        Reshape(3)(x, T.as_tensor(np.array([2, 2], dtype="int64")))
    with pytest.raises(ValueError, match="ndim"):
        T.reshape(x, T.lvector())


def test_reshape_grad_and_rop(rng):
    sg.verify_grad(lambda v: v.reshape((3, -1)) * np.arange(8.0), [rng.normal(size=(4, 6))],
                   rng=rng)
    sg.verify_grad(lambda v: v.reshape((1, 1)), [rng.normal(size=(1,))], rng=rng)
    x, ev = T.dmatrices("x", "ev")
    r = sg.Rop(x.reshape((-1,)), x, ev)
    value = rng.normal(size=(2, 3))
    np.testing.assert_array_equal(r.eval({x: value, ev: value * 3}), (value * 3).ravel())


def test_reshape_is_a_view_with_no_gradient_to_the_shape(rng):
    x = T.dmatrix("x")
    node = x.reshape((-1,)).owner
    assert node.op.view_map == {0: [0]}
    assert node.op.connection_pattern(node) == [[True], [False]]


# -- SpecifyShape ---------------------------------------------------------------------------------
def test_specify_shape(rng):
    x = T.dmatrix("x")
    out = T.specify_shape(x, (3, None))
    assert out.type.shape == (3, None)
    value = rng.normal(size=(3, 5))
    np.testing.assert_array_equal(out.eval({x: value}), value)
    check_infer_shape(out, [x], [value])
    with pytest.raises(AssertionError, match=r"\(3, None\).*\(2, 5\)"):
        out.eval({x: rng.normal(size=(2, 5))})


def test_specify_shape_checks_at_build_time():
    with pytest.raises(ValueError):
        T.specify_shape(T.dmatrix(), (3,))
    with pytest.raises(ValueError):
        T.specify_shape(T.tensor("float64", (2, None)), (3, None))
    with pytest.raises(TypeError):
        T.specify_shape(T.dmatrix(), (T.lscalar(), 2))
    assert SpecifyShape((2, None)) == SpecifyShape((2, None))


def test_specify_shape_grad_and_rop(rng):
    sg.verify_grad(lambda v: T.specify_shape(v, (2, 3)) ** 2, [rng.normal(size=(2, 3))], rng=rng)
    x, ev = T.dvectors("x", "ev")
    r = sg.Rop(T.specify_shape(x, (3,)) * 2, x, ev)
    assert r.eval({x: np.ones(3), ev: np.arange(3.0)}).tolist() == [0.0, 2.0, 4.0]
