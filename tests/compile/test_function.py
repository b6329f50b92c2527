"""function(): updates, givens, In/Out, input conversion, unused and missing inputs, aliasing."""
import warnings

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.compile import In, Out
from symgraph.compile.function import UnusedInputError
from symgraph.graph.fgraph import FunctionGraph, MissingInputError
from symgraph.rewriting.basic import merge


def _rng(seed):
    return np.random.default_rng(seed)


# -- updates --------------------------------------------------------------------------------
def test_updates_swap_two_shared_variables():
    rng = _rng(0)
    av, bv = rng.normal(size=3), rng.normal(size=3)
    a, b = sg.shared(av, name="a"), sg.shared(bv, name="b")
    swap = sg.function([], [], updates={a: b, b: a})
    assert swap() == []
    np.testing.assert_array_equal(a.get_value(), bv)
    np.testing.assert_array_equal(b.get_value(), av)
    swap()
    np.testing.assert_array_equal(a.get_value(), av)
    np.testing.assert_array_equal(b.get_value(), bv)


def test_updates_use_values_from_before_the_call():
    rng = _rng(1)
    av, bv = rng.normal(size=3), rng.normal(size=3)
    a, b = sg.shared(av, name="a"), sg.shared(bv, name="b")
    f = sg.function([], a + b, updates=[(a, a * 2.0), (b, a + b)])
    np.testing.assert_allclose(f(), av + bv)  # the output sees the old values
    np.testing.assert_allclose(a.get_value(), av * 2)
    np.testing.assert_allclose(b.get_value(), av + bv)  # old a, not the new one


def test_update_from_an_input_and_a_counter():
    rng = _rng(2)
    x = T.dvector("x")
    total = sg.shared(np.zeros(3), name="total")
    count = sg.shared(0, name="count")
    acc = sg.function([x], total, updates={total: total + x, count: count + 1})
    values = rng.normal(size=(4, 3))
    for k, v in enumerate(values):
        np.testing.assert_allclose(acc(v), values[:k].sum(axis=0))
    np.testing.assert_allclose(total.get_value(), values.sum(axis=0))
    assert int(count.get_value()) == 4


def test_update_errors():
    x = T.dvector("x")
    w = sg.shared(np.ones(2), name="w")
    with pytest.raises(TypeError, match="not a shared variable"):
        sg.function([x], x, updates={x: x * 2.0})
    with pytest.raises(TypeError, match="astype"):
        sg.function([], [], updates={w: T.ones((2, 2))})
    i = sg.shared(np.arange(3), name="i")
    with pytest.raises(TypeError, match="int64"):
        sg.function([], [], updates={i: i * 0.5})


def test_default_updates_and_no_default_updates():
    counter = sg.shared(np.array(0.0), name="counter")
    counter.default_update = counter + 1.0
    f = sg.function([], counter * 2.0)
    assert float(f()) == 0.0 and float(f()) == 2.0
    assert float(counter.get_value()) == 2.0
    sg.function([], counter * 2.0, no_default_updates=True)()
    sg.function([], counter * 2.0, no_default_updates=[counter])()
    assert float(counter.get_value()) == 2.0
    sg.function([], counter, updates={counter: counter + 10.0})()  # explicit wins
    assert float(counter.get_value()) == 12.0


# -- givens ---------------------------------------------------------------------------------
def test_givens_replace_an_input_by_an_expression_or_a_shared_value():
    rng = _rng(3)
    x, z = T.dvectors("x", "z")
    data = sg.shared(rng.normal(size=4), name="data")
    f = sg.function([z], T.exp(x) * 2.0, givens={x: z + 1.0})
    zv = rng.normal(size=4)
    np.testing.assert_allclose(f(zv), np.exp(zv + 1) * 2)
    g = sg.function([], x * 3.0, givens=[(x, data)])
    np.testing.assert_allclose(g(), data.get_value() * 3)
    with pytest.raises(TypeError, match="cannot replace"):
        sg.function([z], x * 2.0, givens={x: T.dmatrix("m")})


def test_givens_apply_to_updates():
    rng = _rng(4)
    x = T.dvector("x")
    index = T.lscalar("i")
    data = sg.shared(rng.normal(size=(5, 3)), name="data")
    total = sg.shared(np.zeros(3), name="total")
    step = sg.function([index], [], updates={total: total + x}, givens={x: data[index]})
    step(2)
    step(4)
    np.testing.assert_allclose(total.get_value(), data.get_value()[[2, 4]].sum(axis=0))


# -- In / Out -------------------------------------------------------------------------------
def test_in_defaults_names_and_keywords():
    rng = _rng(5)
    x, y = T.dvector("x"), T.dscalar("y")
    f = sg.function([x, In(y, value=3.0, name="scale")], x * y)
    xv = rng.normal(size=3)
    np.testing.assert_allclose(f(xv), xv * 3)
    np.testing.assert_allclose(f(xv, 2.0), xv * 2)
    np.testing.assert_allclose(f(xv, scale=-1.5), xv * -1.5)
    np.testing.assert_allclose(f(scale=0.5, x=xv), xv * 0.5)
    with pytest.raises(TypeError, match="twice"):
        f(xv, 2.0, scale=1.0)
    with pytest.raises(TypeError, match="no input named 'z'"):
        f(xv, z=1.0)
    with pytest.raises(TypeError, match="missing input x"):
        f()
    with pytest.raises(TypeError, match="takes 2 inputs, got 3"):
        f(xv, 1.0, 2.0)
    with pytest.raises(TypeError, match="symbolic variable"):
        In(np.ones(3))


def test_out_borrow_returns_internal_storage():
    w = sg.shared(_rng(6).normal(size=3), name="w")
    borrowed = sg.function([], Out(w, borrow=True))
    assert borrowed() is w.get_value(borrow=True)
    copied = sg.function([], w)
    result = copied()
    assert result is not w.get_value(borrow=True)
    np.testing.assert_array_equal(result, w.get_value())


def test_outputs_single_list_or_none():
    rng = _rng(7)
    x = T.dvector("x")
    xv = rng.normal(size=2)
    single = sg.function([x], x * 2.0)(xv)
    assert isinstance(single, np.ndarray)
    as_list = sg.function([x], [x * 2.0])(xv)
    assert isinstance(as_list, list) and len(as_list) == 1
    np.testing.assert_allclose(as_list[0], single)
    two = sg.function([x], (x * 2.0, x + 1.0))(xv)
    assert isinstance(two, list) and len(two) == 2
    assert sg.function([x], None, on_unused_input="ignore")(xv) is None


# -- input conversion -----------------------------------------------------------------------
def test_list_of_ints_into_a_float_vector():
    x = T.dvector("x")
    g = sg.function([x], x * 2.0)
    got = g([1, 2, 3])
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [2.0, 4.0, 6.0])


def test_float64_into_float32_needs_allow_input_downcast():
    rng = _rng(8)
    x = T.fvector("x")
    value = rng.normal(size=3)
    f = sg.function([x], x * 2)
    with pytest.raises(TypeError, match=r"float64.*float32.*allow_input_downcast"):
        f(value)
    np.testing.assert_allclose(f(value.astype("float32")), value.astype("float32") * 2)
    g = sg.function([x], x * 2, allow_input_downcast=True)
    got = g(value)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, (value * 2).astype("float32"), rtol=1e-6)
    h = sg.function([In(x, allow_downcast=True)], x * 2)
    assert h(value).dtype == np.float32


def test_python_float_into_a_floatx_input():
    with sg.config.change_flags(floatX="float32"):
        s = T.scalar("s")
        assert s.dtype == "float32"
        f = sg.function([s], s * 2)
        got = f(1.25)
        assert got.dtype == np.float32 and float(got) == 2.5


def test_wrong_dimensions_and_strict_inputs():
    x = T.dvector("x")
    f = sg.function([x], x + 1.0)
    with pytest.raises(TypeError, match=r"bad input 0 \(x\).*dimensions"):
        f(np.ones((2, 2)))
    strict = sg.function([In(x, strict=True)], x + 1.0)
    with pytest.raises(TypeError, match="ndarray of dtype float64"):
        strict([1.0, 2.0])
    np.testing.assert_array_equal(strict(np.array([1.0, 2.0])), [2.0, 3.0])
    static = T.tensor("float64", (3,), name="s")
    g = sg.function([static], static * 2.0)
    with pytest.raises(ValueError, match="dimension 0 must have size 3"):
        g(np.ones(4))


def test_explicit_shared_or_constant_inputs_are_refused():
    w = sg.shared(np.ones(2), name="w")
    with pytest.raises(TypeError, match="shared variable"):
        sg.function([w], w * 2.0)
    with pytest.raises(TypeError, match="constant"):
        sg.function([T.constant(1.0)], T.dscalar() * 2.0)
    with pytest.raises(TypeError, match="list"):
        sg.function(T.dvector("x"), T.dvector("y"))


# -- unused and missing inputs --------------------------------------------------------------
def test_on_unused_input_raise_warn_ignore():
    x, y = T.dvectors("x", "y")
    with pytest.raises(UnusedInputError, match=r"input y \(#1\)"):
        sg.function([x, y], x * 2.0)
    with pytest.warns(UserWarning, match="input y") as record:
        f = sg.function([x, y], x * 2.0, on_unused_input="warn")
    assert record[0].filename == __file__  # the warning points at the user's call
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = sg.function([x, y], x * 2.0, on_unused_input="ignore")
    np.testing.assert_array_equal(f([1.0], [5.0]), [2.0])


def test_missing_input_names_the_variable_and_where_it_was_built():
    x, y = T.dvectors("x", "y")
    with pytest.raises(MissingInputError, match=r"depend on y.*test_function\.py"):
        sg.function([x], x + y)


# -- aliasing ---------------------------------------------------------------------------------
def test_outputs_never_alias_inputs_or_shared_values():
    rng = _rng(9)
    x = T.dvector("x")
    w = sg.shared(rng.normal(size=3), name="w")
    w_before = w.get_value()
    xv = rng.normal(size=3)
    out = sg.function([x], x)(xv)
    out[0] = 1e6
    assert xv[0] != 1e6
    for fn in (sg.function([], w), sg.function([], w[1:]), sg.function([], w.T),
               sg.function([], [w, w * 2.0], updates={w: w * 1.0})):
        result = fn()
        first = result[0] if isinstance(result, list) else result
        first[...] = -7.0
        np.testing.assert_array_equal(w.get_value(), w_before)


def test_output_does_not_alias_the_new_state():
    rng = _rng(10)
    w = sg.shared(rng.normal(size=3), name="w")
    f = sg.function([], w * 2.0, updates={w: w * 2.0})
    result = f()
    np.testing.assert_allclose(w.get_value(), result)
    result[0] = 99.0
    assert w.get_value()[0] != 99.0
    g = sg.function([], (w * 3.0)[1:], updates={w: w * 3.0})
    view = g()
    view[0] = 99.0
    assert w.get_value()[1] != 99.0


def test_update_does_not_alias_an_input_or_another_state():
    rng = _rng(11)
    x = T.dvector("x")
    a = sg.shared(np.zeros(3), name="a")
    b = sg.shared(np.zeros(3), name="b")
    xv = rng.normal(size=3)
    sg.function([x], [], updates={a: x})(xv)
    xv[0] = 123.0
    assert a.get_value(borrow=True)[0] != 123.0
    sg.function([], [], updates={b: a})()
    a.get_value(borrow=True)[1] = 456.0
    assert b.get_value(borrow=True)[1] != 456.0


def test_repeated_outputs_are_distinct_arrays():
    rng = _rng(12)
    x = T.dvector("x")
    y = x * 2.0
    first, second, view = sg.function([x], [y, x * 2.0, y[1:]])(rng.normal(size=3))
    assert first is not second
    first[:] = 0.0
    assert second.any() and view.any()


def test_returned_arrays_are_not_reused_between_calls():
    rng = _rng(13)
    x = T.dvector("x")
    f = sg.function([x], T.exp(x))
    a_in, b_in = rng.normal(size=3), rng.normal(size=3)
    a_out = f(a_in)
    b_out = f(b_in)
    assert a_out is not b_out
    np.testing.assert_allclose(a_out, np.exp(a_in))


# -- the compiled graph ---------------------------------------------------------------------
def test_maker_fgraph_is_the_optimized_graph():
    x = T.dvector("x")
    w = sg.shared(np.ones(3), name="w")
    f = sg.function([x], (x + w) * (x + w), updates={w: w + 1.0},
                    mode=sg.Mode(optimizer=merge))
    fg = f.maker.fgraph
    assert isinstance(fg, FunctionGraph)
    assert len(fg.inputs) == 2 and fg.inputs[1].container is w.container
    assert len(fg.outputs) == 2  # the output, then the update value
    adds = [n for n in fg.apply_nodes if n.op == T.add]
    assert len(adds) == 2  # x + w merged into one; w + 1 is the other
    assert f.maker.updates[0][0] is w


def test_function_name_in_errors():
    x = T.dvector("x")
    f = sg.function([x], x * 2.0, name="doubler")
    assert "doubler" in repr(f)
    with pytest.raises(TypeError, match="function 'doubler'"):
        f()


def test_fast_compile_mode_gives_the_same_values():
    rng = _rng(14)
    x = T.dvector("x")
    out = T.tanh(x * 2.0) + T.tanh(x * 2.0)
    xv = rng.normal(size=4)
    fast_run = sg.function([x], out)(xv)
    fast_compile = sg.function([x], out, mode="FAST_COMPILE")(xv)
    np.testing.assert_allclose(fast_run, fast_compile)
    np.testing.assert_allclose(fast_run, 2 * np.tanh(2 * xv))
    with pytest.raises(ValueError, match="unknown mode"):
        sg.function([x], out, mode="NO_SUCH_MODE")


class TestUpdatesInPlace:
    """A shared variable whose value a call replaces may be overwritten in place."""

    def _sgd(self, rng):
        x = T.dmatrix("x")
        W = sg.shared(rng.standard_normal((3, 4)), name="W")
        h = T.dot(x, W)
        g = T.dot(x.T, T.tanh(h))
        return x, W, h, W - 0.1 * g

    def test_weight_update_reuses_the_buffer_and_matches_numpy(self, rng):
        x, W, h, new_W = self._sgd(rng)
        f = sg.function([x], h.sum(), updates=[(W, new_W)])
        assert "Gemm{inplace}" in [str(n.op) for n in f.maker.fgraph.toposort()]
        xv, w0 = rng.standard_normal((5, 3)), W.get_value()
        buffer = W.get_value(borrow=True)
        cost = f(xv)
        assert W.get_value(borrow=True) is buffer  # written in place, no new array
        np.testing.assert_allclose(cost, (xv @ w0).sum())  # read before it was overwritten
        np.testing.assert_allclose(W.get_value(), w0 - 0.1 * xv.T @ np.tanh(xv @ w0))

    def test_outputs_never_alias_the_updated_state(self, rng):
        x, W, h, new_W = self._sgd(rng)
        f = sg.function([x], [W.T, new_W], updates=[(W, new_W)])
        w0 = W.get_value()
        old_T, returned_new = f(rng.standard_normal((5, 3)))
        np.testing.assert_array_equal(old_T, w0.T)  # the value before the call
        np.testing.assert_array_equal(returned_new, W.get_value())
        returned_new[:] = 0  # the caller's array is theirs alone
        assert np.abs(W.get_value()).sum() > 0

    def test_same_results_as_without_in_place(self, rng):
        x, W, h, new_W = self._sgd(rng)
        xv, w0 = rng.standard_normal((5, 3)), W.get_value()
        plain = sg.function([x], h.sum(), updates=[(W, new_W)],
                            mode=sg.Mode(optimizer="fast_compile"))
        fast = sg.function([x], h.sum(), updates=[(W, new_W)])
        outs = []
        for fn in (plain, fast):
            W.set_value(w0)
            outs.append((fn(xv), fn(xv), W.get_value()))
        for a, b in zip(*outs):
            np.testing.assert_allclose(a, b, rtol=1e-12)

    def test_shared_without_update_is_never_overwritten(self, rng):
        x = T.dmatrix("x")
        W = sg.shared(rng.standard_normal((3, 3)), name="W")
        V = sg.shared(rng.standard_normal((3, 3)), name="V")
        f = sg.function([x], T.dot(x, W).sum(), updates=[(V, V - 0.1 * T.dot(x.T, W)), (W, W)])
        w0 = W.get_value()
        f(rng.standard_normal((3, 3)))
        np.testing.assert_array_equal(W.get_value(), w0)
