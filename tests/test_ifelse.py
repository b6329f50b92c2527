"""ifelse: values, laziness under every linker, gradients, R-op, rewrites, errors."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.graph.basic import Apply, Op
from symgraph.ifelse import IfElse, ifelse

LINKERS = ["py", "vm_nogc", "cvm", "cvm_nogc"]


class Counted(Op):
    """Identity that counts its runs, or raises when ``explode`` (a branch never to run)."""

    __props__ = ("tag", "explode")

    def __init__(self, tag, explode=False):
        self.tag, self.explode = tag, explode
        self.runs = 0

    def make_node(self, x):
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        if self.explode:
            raise RuntimeError(f"branch {self.tag} must not run")
        self.runs += 1
        output_storage[0][0] = inputs[0].copy()


@pytest.mark.parametrize("linker", LINKERS)
def test_only_the_chosen_branch_runs(linker, rng):
    c, x = T.bscalar("c"), T.dvector("x")
    then_op, else_op = Counted("then"), Counted("else")
    out = ifelse(c, T.exp(then_op(x)) * 2, T.log(else_op(x)) + 1)
    f = sg.function([c, x], out, mode=sg.Mode(linker=linker))
    v = rng.random(4) + 0.5
    np.testing.assert_allclose(f(1, v), np.exp(v) * 2)
    assert (then_op.runs, else_op.runs) == (1, 0)
    np.testing.assert_allclose(f(0, v), np.log(v) + 1)
    assert (then_op.runs, else_op.runs) == (1, 1)


@pytest.mark.parametrize("linker", LINKERS)
def test_a_branch_that_would_raise_is_never_run(linker):
    c, x = T.iscalar("c"), T.dvector("x")
    f = sg.function([c, x], ifelse(c > 0, x * 2, Counted("bad", explode=True)(x) + 1),
                    mode=sg.Mode(linker=linker))
    assert f(3, np.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="must not run"):
        f(-1, np.ones(2))


@pytest.mark.parametrize("linker", ["py", "cvm"])
def test_values_shared_with_the_condition_or_outside_are_computed(linker, rng):
    c, x = T.dscalar("c"), T.dvector("x")
    s = T.exp(x)  # read by the condition, a branch and another output
    out = ifelse(s.sum() > c, s * 2, T.zeros_like(x))
    f = sg.function([c, x], [out, s + 1], mode=sg.Mode(linker=linker))
    v = rng.normal(size=3)
    got, other = f(0.0, v)
    np.testing.assert_allclose(got, np.exp(v) * 2)
    np.testing.assert_allclose(other, np.exp(v) + 1)
    assert f(1e9, v)[0].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("linker", ["py", "cvm"])
def test_nested_ifelse_runs_one_leaf(linker, rng):
    a, b, x = T.bscalar("a"), T.bscalar("b"), T.dvector("x")
    ops = [Counted(k) for k in range(3)]
    out = ifelse(a, ifelse(b, ops[0](x) + 1, ops[1](x) + 2), ops[2](x) + 3)
    f = sg.function([a, b, x], out, mode=sg.Mode(linker=linker))
    v = rng.normal(size=2)
    for (av, bv), leaf, offset in [((1, 1), 0, 1), ((1, 0), 1, 2), ((0, 1), 2, 3)]:
        before = [op.runs for op in ops]
        np.testing.assert_allclose(f(av, bv, v), v + offset)
        ran = [op.runs - r for op, r in zip(ops, before)]
        assert ran == [int(k == leaf) for k in range(3)]


@pytest.mark.parametrize("linker", ["py", "cvm"])
def test_several_outputs_and_lists(linker, rng):
    c, x, y = T.bscalar("c"), T.dmatrix("x"), T.lvector("y")
    outs = ifelse(c, [x.T, y * 2], [x * 0, y + 1])
    assert isinstance(outs, list) and len(outs) == 2
    f = sg.function([c, x, y], outs, mode=sg.Mode(linker=linker))
    xv, yv = rng.normal(size=(2, 3)), np.arange(3)
    a, b = f(1, xv, yv)
    np.testing.assert_allclose(a, xv.T)
    assert b.tolist() == [0, 2, 4]
    a, b = f(0, xv, yv)
    assert a.shape == (2, 3) and b.tolist() == [1, 2, 3]


@pytest.mark.parametrize("linker", ["py", "cvm"])
def test_output_never_aliases_an_input(linker):
    c, x, y = T.bscalar("c"), T.dvector("x"), T.dvector("y")
    f = sg.function([c, x, y], ifelse(c, x, y), mode=sg.Mode(linker=linker))
    xv = np.ones(3)
    out = f(1, xv, np.zeros(3))
    out[0] = 7.0
    assert xv[0] == 1.0


def test_gradient_flows_to_the_chosen_branch_only(rng):
    c, x = T.bscalar("c"), T.dvector("x")
    cost = ifelse(c, (x ** 2).sum(), T.sin(x).sum())
    g = sg.function([c, x], sg.grad(cost, x))
    v = rng.normal(size=3)
    np.testing.assert_allclose(g(1, v), 2 * v)
    np.testing.assert_allclose(g(0, v), np.cos(v))


@pytest.mark.parametrize("branch", [0, 1])
def test_verify_grad(branch, rng):
    c = T.constant(np.int8(branch))
    sg.verify_grad(lambda a, b: ifelse(c, a * b, T.exp(a) - b),
                   [rng.normal(size=3), rng.normal(size=3)], rng=rng)


def test_rop_matches_finite_differences(rng):
    c, x, v = T.bscalar("c"), T.dvector("x"), T.dvector("v")
    out = ifelse(c, T.tanh(x) * 3, x ** 3)
    f = sg.function([c, x, v], sg.Rop(out, x, v))
    fx = sg.function([c, x], out)
    xv, vv, eps = rng.normal(size=3), rng.normal(size=3), 1e-6
    for cv in (1, 0):
        want = (fx(cv, xv + eps * vv) - fx(cv, xv - eps * vv)) / (2 * eps)
        np.testing.assert_allclose(f(cv, xv, vv), want, rtol=1e-6, atol=1e-8)


def test_constant_condition_is_rewritten_away():
    x = T.dvector("x")
    f = sg.function([x], ifelse(T.constant(np.int8(1)), x + 1, x - 1))
    assert not any(isinstance(n.op, IfElse) for n in f.maker.fgraph.apply_nodes)
    assert f(np.zeros(1)).tolist() == [1.0]


def test_branches_must_agree_in_type():
    c = T.bscalar("c")
    with pytest.raises(TypeError, match="float64.*when true.*float32"):
        ifelse(c, T.dvector("a"), T.fvector("b"))
    with pytest.raises(TypeError, match="scalar"):
        ifelse(T.bvector("v"), T.dvector("a"), T.dvector("b"))
    # a Python number takes the other branch's dtype
    assert ifelse(c, T.fscalar("a"), 0.5).type.dtype == "float32"


def test_static_shape_kept_where_branches_agree():
    c = T.bscalar("c")
    out = ifelse(c, T.tensor("float64", (2, 3)), T.tensor("float64", (2, None)))
    assert out.type.shape == (2, None)


def test_switch_stays_eager():
    c, x = T.bscalar("c"), T.dvector("x")
    op = Counted("switch")
    f = sg.function([c, x], T.switch(c, op(x), x * 0))
    f(0, np.ones(2))
    assert op.runs == 1
