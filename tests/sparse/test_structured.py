"""Structured elementwise ops: the function of the stored entries, the pattern kept,
structured gradients."""
import doctest

import numpy as np
import pytest
import scipy.sparse as sp

import symgraph as sg
from symgraph import sparse as S
from symgraph.sparse import structured
from tests.sparse.checks import MODES, check_sparse_grad, pattern_mask, random_sparse, variable_for

FORMATS = ["csr", "csc"]
DTYPES = ["float32", "float64"]


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


STRUCTURED = [  # (symbolic, NumPy on the stored values)
    (S.structured_sigmoid, _sigmoid),
    (S.structured_exp, np.exp),
    (lambda x: S.structured_log(S.abs_(x)), lambda v: np.log(np.abs(v))),
    (lambda x: S.structured_pow(x, 3), lambda v: v ** 3),
    (lambda x: S.structured_minimum(x, 0.2), lambda v: np.minimum(v, 0.2)),
    (lambda x: S.structured_maximum(x, -0.2), lambda v: np.maximum(v, -0.2)),
    (lambda x: S.structured_add(x, 2.5), lambda v: v + 2.5),
]


@pytest.mark.parametrize("linker", ["py", "cvm"])
@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_structured_ops_act_on_stored_entries_only(rng, linker, format, dtype):
    value = random_sparse(rng, (6, 5), format, dtype)
    x = variable_for(value)
    results = sg.function([x], [fn(x) for fn, _ in STRUCTURED], mode=MODES[linker])(value)
    mask = pattern_mask(value)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for k, (out, (_, reference)) in enumerate(zip(results, STRUCTURED)):
        assert sp.issparse(out) and out.format == format and out.dtype == dtype, k
        np.testing.assert_array_equal(pattern_mask(out), mask)  # nothing filled in
        expected = np.where(mask, reference(np.where(mask, value.toarray(), 1)), 0)
        np.testing.assert_allclose(out.toarray(), expected, rtol=tol, atol=tol, err_msg=str(k))


ZERO_PRESERVING = ["sin", "tan", "arcsin", "arctan", "sinh", "tanh", "sgn", "ceil", "floor",
                   "trunc", "log1p", "expm1", "sqr", "sqrt", "abs_"]


@pytest.mark.parametrize("format", FORMATS)
def test_zero_preserving_functions_equal_their_dense_result(rng, format):
    value = abs(random_sparse(rng, (5, 4), format)) * 0.5  # in every function's domain
    x = variable_for(value)
    results = sg.function([x], [getattr(S, name)(x) for name in ZERO_PRESERVING])(value)
    for name, out in zip(ZERO_PRESERVING, results):
        renamed = {"sgn": np.sign, "sqr": np.square, "abs_": np.abs}
        reference = renamed.get(name) or getattr(np, name)
        np.testing.assert_allclose(out.toarray(), reference(value.toarray()), rtol=1e-12,
                                   err_msg=name)


def test_structured_add_of_a_vector(rng):
    value, v = random_sparse(rng, (4, 3), "csc"), rng.normal(size=3)
    x = variable_for(value)
    out = sg.function([x], S.structured_add(x, v))(value)
    mask = pattern_mask(value)
    np.testing.assert_allclose(out.toarray(), np.where(mask, value.toarray() + v, 0))
    with pytest.raises(ValueError, match="vector of shape"):
        sg.function([x], S.structured_add(x, np.ones(4)))(value)
    with pytest.raises(TypeError, match="scalars"):
        S.structured_pow(x, np.ones(2))


@pytest.mark.parametrize("format", FORMATS)
def test_structured_gradients(rng, format):
    value = random_sparse(rng, (4, 3), format)
    for fn, _ in STRUCTURED:
        (g,) = check_sparse_grad(fn, [value], rng, structured=(0,))
        assert sp.issparse(g) and g.format == format
    check_sparse_grad(S.structured_add, [value, rng.normal(size=3)], rng, structured=(0,))
    positive = abs(value) + sp.csr_matrix(pattern_mask(value) * 0.1).asformat(format)
    (_, g_exponent) = check_sparse_grad(S.structured_pow, [positive, np.float64(2.5)], rng,
                                        structured=(0,))
    assert np.isfinite(g_exponent)
    check_sparse_grad(S.tanh, [value], rng, structured=(0,))


def test_structured_monoid_decorator(rng):
    @S.structured_monoid(lambda data, k: data * k)
    def scaled(x, k):
        """Stored entries times k."""

    value = random_sparse(rng, (3, 3))
    x = variable_for(value)
    out = sg.function([x], scaled(x, 4.0))(value)
    np.testing.assert_allclose(out.toarray(), 4 * value.toarray())
    assert scaled.__name__ == "scaled" and scaled.__doc__ == "Stored entries times k."


def test_doctests():
    assert doctest.testmod(structured).failed == 0
