"""SparseType: filtering values, equality, comparison of values."""
import doctest
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import symgraph.sparse
from symgraph.sparse import type as sparse_type
from symgraph.sparse.type import SparseType, canonical, is_sparse_value
from tests.sparse.checks import random_sparse


@pytest.mark.parametrize("format", ["csr", "csc"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_filter_keeps_a_matching_matrix(rng, format, dtype):
    value = random_sparse(rng, (5, 4), format, dtype)
    assert SparseType(format, dtype).filter(value) is value
    assert SparseType(format, dtype).filter(value, strict=True) is value


def test_filter_converts_format_arrays_and_dense(rng):
    value = random_sparse(rng, (5, 4), "csc")
    t = SparseType("csr", "float64")
    for source in (value, sp.csc_array(value), value.toarray(), value.toarray().tolist(),
                   value.tocoo()):
        converted = t.filter(source)
        assert isinstance(converted, sp.csr_matrix)
        np.testing.assert_array_equal(converted.toarray(), value.toarray())


def test_filter_upcasts_safely_and_refuses_to_lose_precision(rng):
    value = random_sparse(rng, (3, 3), "csr", "float32")
    assert SparseType("csr", "float64").filter(value).dtype == np.float64
    wide = value.astype("float64")
    with pytest.raises(TypeError, match="losing precision"):
        SparseType("csr", "float32").filter(wide)
    assert SparseType("csr", "float32").filter(wide, allow_downcast=True).dtype == np.float32


def test_filter_rejects_other_values_clearly(rng):
    t = SparseType("csr", "float64")
    with pytest.raises(TypeError, match="expects a scipy.sparse matrix"):
        t.filter("not a matrix")
    with pytest.raises(TypeError, match="2-d"):
        t.filter(np.ones(3))
    with pytest.raises(TypeError, match="csr_matrix of dtype float64"):
        t.filter(random_sparse(rng, (2, 2), "csc"), strict=True)


def test_filter_sums_duplicates_without_touching_the_input():
    value = sp.csr_matrix((np.array([1.0, 2.0, 4.0]), np.array([1, 1, 0]), np.array([0, 2, 3])),
                          shape=(2, 2))
    result = SparseType("csr", "float64").filter(value)
    assert result.nnz == 2 and result.has_canonical_format
    assert value.nnz == 3  # the caller's matrix is unchanged
    np.testing.assert_array_equal(result.toarray(), [[0.0, 3.0], [4.0, 0.0]])
    assert canonical(result) is result


def test_type_equality_and_errors():
    assert SparseType("csr", "float64") == SparseType("csr", "float64")
    assert hash(SparseType("csc", "float32")) == hash(SparseType("csc", "float32"))
    assert SparseType("csr", "float64") != SparseType("csc", "float64")
    assert SparseType("csr", "float64") != SparseType("csr", "float32")
    assert str(SparseType("csc", "float32")) == "Sparse{csc, float32}"
    with pytest.raises(ValueError, match="format"):
        SparseType("coo", "float64")
    with pytest.raises(TypeError, match="dtype"):
        SparseType("csr", "float16")


def test_values_eq_and_approx(rng):
    t = SparseType("csr", "float64")
    a = random_sparse(rng, (4, 4))
    assert t.values_eq(a, a.copy())
    b = a.copy()
    b.data[0] += 1e-12
    assert not t.values_eq(a, b) and t.values_eq_approx(a, b)
    b.data[0] += 1.0
    assert not t.values_eq_approx(a, b)
    assert t.value_zeros((2, 3)).shape == (2, 3)


def test_is_sparse_value(rng):
    assert is_sparse_value(random_sparse(rng, (2, 2)))
    assert not is_sparse_value(np.ones((2, 2)))


def test_importing_symgraph_and_its_sparse_package_does_not_load_scipy():
    code = ("import sys, symgraph, symgraph.sparse; x = symgraph.sparse.csr_matrix('x'); "
            "y = symgraph.sparse.dot(x, symgraph.tensor.matrix('w')); "
            "print([m for m in sys.modules if m.startswith('scipy')])")
    root = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root)
    assert out.stdout.strip() == "[]"


def test_doctests():
    assert doctest.testmod(sparse_type).failed == 0
    assert doctest.testmod(symgraph.sparse).failed == 0
