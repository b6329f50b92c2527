"""sort and argsort: values against NumPy, shapes, sort's gradient and R-op, argsort's
zero gradient."""
import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.tensor.sort import ArgSortOp, SortOp
from tests.tensor.test_shape import check_infer_shape, check_shape_graph


def _variable(value, name="a"):
    return T.tensor(str(value.dtype), (None,) * value.ndim, name=name)


@pytest.mark.parametrize("shape,axis", [((7,), -1), ((3, 5), 0), ((3, 5), 1), ((3, 5), None),
                                        ((2, 3, 4), 1), ((2, 0, 3), -1), ((2, 0, 3), 1),
                                        ((1, 1), 0), ((4, 1), -1), ((), None)])
def test_sort_and_argsort_match_numpy(rng, shape, axis):
    value = rng.normal(size=shape)
    a = _variable(value)
    out, perm = T.sort(a, axis=axis), T.argsort(a, axis=axis)
    np.testing.assert_array_equal(out.eval({a: value}), np.sort(value, axis=axis))
    np.testing.assert_array_equal(perm.eval({a: value}), np.argsort(value, axis=axis))
    assert perm.dtype == "int64"
    for v in (out, perm):
        check_infer_shape(v, [a], [value])
        check_shape_graph(v, [a], [value], np.sort(value, axis=axis).shape)


@pytest.mark.parametrize("dtype", ["int8", "uint32", "bool", "float32", "int64"])
def test_sort_dtypes(rng, dtype):
    value = (rng.normal(size=(4, 6)) * 50).astype(dtype)
    a = _variable(value)
    out = T.sort(a)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.eval({a: value}), np.sort(value))
    # ties make argsort ambiguous unless the sort is stable
    perm = T.argsort(a, axis=0, kind="stable")
    np.testing.assert_array_equal(perm.eval({a: value}),
                                  np.argsort(value, axis=0, kind="stable"))


def test_sort_methods_nans_and_ties(rng):
    a = T.dvector("a")
    value = np.array([3.0, np.nan, -1.0, 3.0, 0.5])
    np.testing.assert_array_equal(a.sort().eval({a: value}), np.sort(value))
    np.testing.assert_array_equal(a.argsort(kind="stable").eval({a: value}),
                                  np.argsort(value, kind="stable"))
    perm = a.argsort().eval({a: value})
    np.testing.assert_array_equal(value[perm], np.sort(value))


def test_sort_static_shapes_and_errors():
    a = T.tensor("float64", (3, None))
    assert T.sort(a, 0).type.shape == (3, None)
    assert T.argsort(a).type.shape == (3, None)
    assert T.sort(T.tensor("float64", (3, 2)), None).type.shape == (6,)
    with pytest.raises(ValueError):
        T.sort(a, axis=2)
    with pytest.raises(ValueError):
        T.argsort(T.dscalar())
    with pytest.raises(ValueError):
        T.sort(a, kind="bogo")
    with pytest.raises(ValueError):
        T.sort(a, order="field")
    assert SortOp(0) == SortOp(0) and SortOp(0) != SortOp(1)
    assert SortOp(0) != ArgSortOp(0)


@pytest.mark.parametrize("shape,axis", [((6,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), None),
                                        ((2, 3, 2), 1), ((1, 3), 0)])
def test_sort_grad(rng, shape, axis):
    sg.verify_grad(lambda v: T.sort(v, axis=axis), [rng.normal(size=shape)], rng=rng)


def test_sort_grad_scatters_through_the_permutation(rng):
    a = T.dvector("a")
    value = rng.permutation(5).astype("float64")
    weights = np.arange(1.0, 6.0)
    g = sg.grad((T.sort(a) * weights).sum(), a).eval({a: value})
    # the k-th smallest element receives weight k + 1
    np.testing.assert_array_equal(g, weights[np.argsort(np.argsort(value))])


def test_sort_second_derivative_through_topk(rng):
    """The mean of the two largest squares: sort composed with other ops, twice."""
    a = T.dvector("a")
    value = rng.normal(size=5)
    top = T.sort(a ** 2)[-2:].mean()
    h = sg.hessian(top, a).eval({a: value})
    chosen = np.argsort(value ** 2)[-2:]
    want = np.zeros((5, 5))
    want[chosen, chosen] = 1.0
    np.testing.assert_allclose(h, want)


def test_sort_rop(rng):
    a, ea = T.dmatrices("a", "ea")
    value, e = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    for axis in (0, 1):
        r = sg.Rop(T.sort(a, axis=axis), a, ea).eval({a: value, ea: e})
        np.testing.assert_array_equal(r, np.take_along_axis(e, np.argsort(value, axis), axis))


def test_argsort_gradient_is_zero(rng):
    a = T.dvector("a")
    value = rng.normal(size=4)
    cost = (T.argsort(a).astype("float64") * a).sum()
    g = sg.grad(cost, a).eval({a: value})
    np.testing.assert_array_equal(g, np.argsort(value).astype("float64"))
    g_only = sg.grad(T.argsort(a).astype("float64").sum(), a, disconnected_inputs="ignore")
    np.testing.assert_array_equal(g_only.eval({a: value}), np.zeros(4))


def test_sort_of_integers_has_zero_gradient():
    i = T.lvector("i")
    x = T.dscalar("x")
    g = sg.grad((T.sort(i)[:1] * x).sum(), [x, i])
    assert float(g[0].eval({x: 2.0, i: np.array([3, 1, 2])})) == 1.0
