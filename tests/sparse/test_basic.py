"""CSM properties/construction, dense <-> sparse, cast, format, transpose, negation,
patterns; sparse values through sg.function under both linkers, never aliased."""
import doctest

import numpy as np
import pytest
import scipy.sparse as sp

import symgraph as sg
import symgraph.tensor as T
from symgraph import sparse as S
from symgraph.sparse import basic
from tests.sparse.checks import MODES, check_sparse_grad, dense, random_sparse, variable_for

FORMATS = ["csr", "csc"]
DTYPES = ["float32", "float64"]


@pytest.mark.parametrize("linker", ["py", "cvm"])
@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_csm_properties_and_csm_round_trip(rng, linker, format, dtype):
    value = random_sparse(rng, (5, 4), format, dtype)
    x = variable_for(value)
    data, indices, indptr, shape = S.csm_properties(x)
    rebuilt = S.CSM(format)(data * 2, indices, indptr, shape)
    f = sg.function([x], [data, indices, indptr, shape, rebuilt], mode=MODES[linker])
    d, i, p, s, r = f(value)
    np.testing.assert_array_equal(d, value.data)
    np.testing.assert_array_equal(i, value.indices)
    np.testing.assert_array_equal(p, value.indptr)
    assert s.tolist() == [5, 4] and d.dtype == dtype and i.dtype == np.int32
    assert r.format == format and r.dtype == dtype
    np.testing.assert_allclose(r.toarray(), 2 * value.toarray())
    assert not np.shares_memory(d, value.data)


def test_csm_builds_from_raw_arrays_and_checks_them():
    data, indices, indptr = T.dvector(), T.ivector(), T.ivector()
    shape = T.lvector()
    f = sg.function([data, indices, indptr, shape], S.CSC(data, indices, indptr, shape))
    m = f([1.0, 2.0], [1, 0], [0, 1, 2], [2, 2])
    np.testing.assert_array_equal(m.toarray(), [[0.0, 2.0], [1.0, 0.0]])
    with pytest.raises(ValueError):
        f([1.0, 2.0], [1, 5], [0, 1, 2], [2, 2])  # a row index out of range


def test_csm_data_gradient_is_read_at_the_stored_positions(rng):
    value = random_sparse(rng, (4, 5))
    data = value.data.copy()

    def build(d):
        return S.CSR(d, value.indices.astype("int32"), value.indptr.astype("int32"),
                     np.array([4, 5]))

    check_sparse_grad(build, [data], rng)
    check_sparse_grad(lambda d: S.sp_sum(S.structured_exp(build(d))), [data], rng)


def test_csm_properties_gradient_is_structured(rng):
    value = random_sparse(rng, (4, 3), "csc")
    check_sparse_grad(lambda x: T.sum(S.csm_data(x) ** 2), [value], rng, structured=(0,))


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_from_sparse_and_back(rng, format, dtype):
    value = random_sparse(rng, (6, 3), format, dtype)
    x = variable_for(value)
    to_dense = S.dense_from_sparse(x)
    back = S.csr_from_dense(to_dense) if format == "csr" else S.csc_from_dense(to_dense)
    f = sg.function([x], [to_dense, back])
    d, b = f(value)
    assert isinstance(d, np.ndarray) and d.dtype == dtype
    np.testing.assert_array_equal(d, value.toarray())
    assert b.format == format and b.dtype == dtype and b.nnz == value.nnz
    np.testing.assert_array_equal(b.toarray(), value.toarray())


def test_dense_from_sparse_gradients(rng):
    value = random_sparse(rng, (4, 3))
    structured = check_sparse_grad(S.dense_from_sparse, [value], rng, structured=(0,))
    assert sp.issparse(structured[0])
    regular = check_sparse_grad(S.DenseFromSparse(structured=False), [value], rng)
    assert isinstance(regular[0], np.ndarray)
    check_sparse_grad(S.csc_from_dense, [rng.normal(size=(3, 4))], rng)


def test_dense_from_sparse_shape_is_inferred_without_densifying(rng):
    x = S.csr_matrix(dtype="float64")
    f = sg.function([x], S.dense_from_sparse(x).shape)
    assert f(random_sparse(rng, (7, 2))).tolist() == [7, 2]
    assert not any(isinstance(n.op, S.DenseFromSparse) for n in f.maker.fgraph.apply_nodes)


@pytest.mark.parametrize("format", FORMATS)
def test_cast_as_format_transpose_neg(rng, format):
    value = random_sparse(rng, (4, 6), format)
    x = variable_for(value)
    other = "csc" if format == "csr" else "csr"
    outs = [S.cast(x, "float32"), S.as_format(x, other), S.transpose(x), S.neg(x)]
    cast, converted, transposed, negated = sg.function([x], outs)(value)
    assert cast.dtype == np.float32 and converted.format == other
    assert transposed.format == other and transposed.shape == (6, 4)
    np.testing.assert_allclose(cast.toarray(), value.toarray(), rtol=1e-6)
    np.testing.assert_array_equal(converted.toarray(), value.toarray())
    np.testing.assert_array_equal(transposed.toarray(), value.toarray().T)
    np.testing.assert_array_equal(negated.toarray(), -value.toarray())
    for out in (converted, transposed, negated):
        assert not np.shares_memory(out.data, value.data)
    assert S.cast(x, "float64") is x and S.as_format(x, format) is x


def test_cast_format_transpose_neg_gradients(rng):
    value = random_sparse(rng, (3, 4))
    for fn in (lambda x: S.as_format(x, "csc"), S.transpose, S.neg):
        check_sparse_grad(fn, [value], rng)
    # the cost is linear, so a large step is exact up to float32 rounding
    (g,) = check_sparse_grad(lambda x: S.cast(x, "float32"), [value], rng, eps=0.1, rtol=1e-4,
                             atol=1e-5)
    assert g.dtype == np.float64


def test_patterns(rng):
    value = random_sparse(rng, (5, 5), "csc")
    x = variable_for(value)
    ones, zeros, shape = sg.function([x], [S.sp_ones_like(x), S.sp_zeros_like(x),
                                           S.sparse_shape(x)])(value)
    np.testing.assert_array_equal(ones.toarray(), (value.toarray() != 0).astype(float))
    assert zeros.nnz == 0 and zeros.shape == (5, 5) and zeros.format == "csc"
    assert shape.tolist() == [5, 5]


@pytest.mark.parametrize("linker", ["py", "cvm"])
def test_outputs_never_alias_inputs_or_state(rng, linker):
    value = random_sparse(rng, (3, 3))
    x = S.csr_matrix(dtype="float64")
    w = sg.shared(random_sparse(rng, (3, 3)), name="w")
    f = sg.function([x], [x, S.as_format(x, "csr"), w, x + w], mode=MODES[linker])
    outs = f(value)
    assert outs[0] is not value and not np.shares_memory(outs[0].data, value.data)
    assert outs[1] is not value and not np.shares_memory(outs[1].data, value.data)
    state = w.get_value(borrow=True)
    assert outs[2] is not state and not np.shares_memory(outs[2].data, state.data)
    np.testing.assert_array_equal(dense(outs[3]), value.toarray() + state.toarray())


def test_perform_runs_under_the_c_vm_as_callbacks(rng):
    value = random_sparse(rng, (4, 3))
    x, w = S.csr_matrix(dtype="float64"), T.dmatrix()
    f = sg.function([x, w], T.exp(S.dot(x, w)) + 1, mode=MODES["cvm"])
    wv = rng.normal(size=(3, 2))
    np.testing.assert_allclose(f(value, wv), np.exp(value @ wv) + 1)
    assert f.fn.n_c_steps > 0


def test_bad_input_raises_a_clear_error():
    x = S.csr_matrix(dtype="float64")
    f = sg.function([x], x.shape)
    with pytest.raises(TypeError, match="bad input 0.*expects a scipy.sparse matrix"):
        f("text")


def test_doctests():
    assert doctest.testmod(basic).failed == 0
