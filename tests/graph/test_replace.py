"""Copying graphs (clone, clone_get_equiv) and substituting in them (clone_replace)."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.graph.replace import clone, clone_get_equiv, clone_replace
from symgraph.graph.traversal import ancestors


def test_clone_copies_every_node():
    x, y = T.dvectors("x", "y")
    out = T.exp(x) * y
    (cx, cy), (cout,) = clone([x, y], [out])
    assert cx is not x and cy is not y and cout is not out
    assert cx.name == "x" and cx.type == x.type
    assert cout.owner.op == out.owner.op
    old_nodes = {v.owner for v in ancestors([out]) if v.owner}
    new_nodes = {v.owner for v in ancestors([cout]) if v.owner}
    assert not (old_nodes & new_nodes)
    assert set(ancestors([cout])) & {x, y} == set()
    rng = np.random.default_rng(0)
    xv, yv = rng.normal(size=3), rng.normal(size=3)
    np.testing.assert_allclose(sg.function([cx, cy], cout)(xv, yv), np.exp(xv) * yv)


def test_clone_keeps_traces():
    x = T.dvector("x")
    out = T.tanh(x)
    _, (cout,) = clone([x], [out])
    assert cout.tag.trace == out.tag.trace


def test_clone_get_equiv_maps_everything():
    x = T.dvector("x")
    out = T.exp(x) + 1.0
    memo = clone_get_equiv([x], [out], copy_orphans=False)
    assert memo[out].owner is memo[out.owner]
    constant = out.owner.inputs[1].owner.inputs[0]
    assert memo[constant] is constant  # orphans kept when copy_orphans=False
    memo = clone_get_equiv([x], [out], copy_orphans=True)
    assert memo[constant] is not constant
    assert memo[constant].signature() == constant.signature()


def test_clone_replace_substitutes_like_givens():
    rng = np.random.default_rng(1)
    x, y, z = T.dvectors("x", "y", "z")
    out = T.exp(x) * y
    new = clone_replace(out, {x: z * 2.0})
    assert x not in ancestors([new])
    assert out.owner.inputs[0].owner.inputs[0] is x  # the original is untouched
    zv, yv = rng.normal(size=4), rng.normal(size=4)
    np.testing.assert_allclose(sg.function([z, y], new)(zv, yv), np.exp(zv * 2) * yv)


def test_clone_replace_of_an_intermediate_and_a_list():
    rng = np.random.default_rng(2)
    x = T.dvector("x")
    hidden = T.tanh(x)
    a, b = hidden * 2.0, hidden + x
    na, nb = clone_replace([a, b], [(hidden, T.sin(x))])
    xv = rng.normal(size=5)
    ga, gb = sg.function([x], [na, nb])(xv)
    np.testing.assert_allclose(ga, np.sin(xv) * 2)
    np.testing.assert_allclose(gb, np.sin(xv) + xv)


def test_clone_replace_with_itself_in_the_replacement():
    rng = np.random.default_rng(3)
    x = T.dvector("x")
    new = clone_replace(T.exp(x), {x: x * 3.0})
    xv = rng.normal(size=3)
    np.testing.assert_allclose(new.eval({x: xv}), np.exp(xv * 3))


def test_clone_replace_shares_untouched_subgraphs():
    x, y = T.dvectors("x", "y")
    untouched = T.exp(y)
    out = untouched + x
    new = clone_replace(out, {x: T.dvector("w")})
    assert new.owner.inputs[0] is untouched


def test_clone_replace_rejects_incompatible_types():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="cannot replace"):
        clone_replace(x * 2.0, {x: T.dmatrix("m")})
    with pytest.raises(TypeError, match="cannot replace"):
        clone_replace(x * 2.0, {x: T.fvector("f")})


def test_clone_replace_with_a_different_static_shape_retypes_the_graph():
    rng = np.random.default_rng(4)
    x = T.dvector("x")
    s = T.tensor("float64", (3,), name="s")
    new = clone_replace(T.exp(x), {x: s})
    assert new.type.shape == (3,)
    sv = rng.normal(size=3)
    np.testing.assert_allclose(new.eval({s: sv}), np.exp(sv))
