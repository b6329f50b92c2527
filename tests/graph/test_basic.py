"""The graph IR: Variable traces, Apply/Op equality through __props__, cloning."""
import inspect
import os

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.graph.basic import Apply, Constant, Op, Variable, format_trace
from symgraph.tensor.type import TensorType


class Scale(Op):
    """A test op: ``factor * x``; ``factor`` is its only property."""

    __props__ = ("factor",)

    def __init__(self, factor):
        self.factor = factor

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] * self.factor


class Pair(Op):
    """A test op with two outputs: (x + 1, x - 1)."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type(), x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] + 1
        output_storage[1][0] = inputs[0] - 1


def _line():
    """The line number of the caller."""
    return inspect.currentframe().f_back.f_lineno


def test_trace_points_at_the_line_that_built_the_variable():
    line = _line(); x = T.dvector("x")  # noqa: E702
    filename, lineno, func = x.tag.trace
    assert os.path.samefile(filename, __file__)
    assert lineno == line
    assert func == "test_trace_points_at_the_line_that_built_the_variable"
    line = _line(); y = T.tanh(x) * 2  # noqa: E702
    assert y.tag.trace[1] == line
    assert y.owner.inputs[0].tag.trace[1] == line  # the tanh, built on the same line
    assert f"line {line}" in format_trace(y.tag.trace)


def test_trace_names_the_user_function_that_built_it():
    def build(v):
        return T.exp(v)

    x = T.dscalar()
    y = build(x)
    assert y.tag.trace[2] == "build"


def test_library_frames_are_never_the_users_line():
    import contextlib

    from symgraph.graph import basic

    assert basic._is_library_frame(basic.__file__)
    assert basic._is_library_frame(contextlib.__file__)
    assert basic._is_library_frame("<frozen importlib._bootstrap>")
    assert not basic._is_library_frame(__file__)
    assert not basic._is_library_frame(np.__file__)  # installed packages may be user code
    assert not basic._is_library_frame("<stdin>")


def test_op_equality_follows_props():
    assert Scale(2.0) == Scale(2.0)
    assert hash(Scale(2.0)) == hash(Scale(2.0))
    assert Scale(2.0) != Scale(3.0)
    assert Pair() == Pair() and hash(Pair()) == hash(Pair())
    assert Scale(1.0) != Pair()
    assert str(Scale(2.5)) == "Scale{2.5}"
    assert len({Scale(2.0), Scale(2.0), Scale(3.0)}) == 2


def test_apply_structure_and_multiple_outputs():
    rng = np.random.default_rng(0)
    x = T.dvector("x")
    node = Pair().make_node(x)
    assert node.nin == 1 and node.nout == 2
    assert [o.index for o in node.outputs] == [0, 1]
    assert all(o.owner is node for o in node.outputs)
    with pytest.raises(AttributeError, match="2 outputs"):
        node.out
    plus, minus = Pair()(x)
    value = rng.normal(size=4)
    got_plus, got_minus = sg.function([x], [plus, minus])(value)
    np.testing.assert_allclose(got_plus, value + 1)
    np.testing.assert_allclose(got_minus, value - 1)


def test_an_output_cannot_have_two_owners():
    x = T.dvector("x")
    y = Scale(2.0)(x)
    with pytest.raises(ValueError, match="already has an owner"):
        Apply(Scale(3.0), [x], [y])


def test_clone_with_new_inputs_checks_types():
    x, z = T.dvector("x"), T.dvector("z")
    node = Scale(2.0).make_node(x)
    copy = node.clone_with_new_inputs([z])
    assert copy.inputs == [z] and copy.op == node.op
    assert copy.outputs[0] is not node.outputs[0]
    with pytest.raises(TypeError, match="cannot replace input"):
        node.clone_with_new_inputs([T.fvector("f")])
    remade = node.clone_with_new_inputs([T.dmatrix("m")], strict=False)
    assert remade.outputs[0].type == T.dmatrix().type


def test_variable_clone_keeps_type_name_and_tag():
    x = T.dvector("x")
    x.tag.note = "hello"
    c = x.clone()
    assert c is not x and c.type == x.type and c.name == "x"
    assert c.owner is None and c.tag.note == "hello"
    c.tag.note = "changed"
    assert x.tag.note == "hello"  # the tag is copied, not shared


def test_constant_holds_filtered_data_and_signature():
    data = np.random.default_rng(1).normal(size=3)
    c1 = T.constant(data)
    c2 = T.constant(data.copy())
    assert isinstance(c1, Constant)
    np.testing.assert_array_equal(c1.data, data)
    assert c1.signature() == c2.signature()
    assert c1.signature() != T.constant(data + 1).signature()
    assert c1.clone().signature() == c1.signature()


def test_type_call_makes_variables():
    t = TensorType("float32", (None, 3))
    v = t("v")
    assert isinstance(v, Variable) and v.type is t and v.name == "v"
    assert t.is_valid_value(np.zeros((2, 3), "float32"))
    assert not t.is_valid_value(np.zeros((2, 4), "float32"))
    assert not t.is_valid_value(np.zeros((2, 3), "float64"))


def test_eval_on_a_variable():
    rng = np.random.default_rng(2)
    x = T.dvector("x")
    value = rng.normal(size=5)
    np.testing.assert_allclose((T.exp(x) * 3).eval({x: value}), np.exp(value) * 3)
