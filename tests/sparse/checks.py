"""Helpers for the sparse tests: random matrices, symbolic inputs for values, and a
finite-difference gradient checker that knows structured from regular gradients
(``verify_grad`` handles dense inputs only)."""
import numpy as np
import scipy.sparse as sp

import symgraph as sg
import symgraph.tensor as T
from symgraph import sparse as S

MODES = {"py": sg.Mode(linker="py"), "cvm": sg.Mode(linker="cvm")}


def random_sparse(rng, shape, format="csr", dtype="float64", density=0.4):
    """A random matrix with normal values (no stored zeros) at ``density``."""
    m = sp.random(*shape, density=density, format=format, random_state=rng,
                  data_rvs=lambda k: rng.normal(size=k) + np.sign(rng.normal(size=k)) * 0.1)
    return m.astype(dtype)


def variable_for(value, name=None):
    """A symbolic input of ``value``'s type (sparse of its format, or a dense tensor)."""
    if sp.issparse(value):
        return S.matrix(value.format, name, str(value.dtype))
    value = np.asarray(value)
    return T.tensor(str(value.dtype), (None,) * value.ndim, name=name)


def dense(value):
    """A sparse or dense value as an ndarray."""
    return value.toarray() if sp.issparse(value) else np.asarray(value)


def pattern_mask(value):
    """True at the stored entries of a sparse matrix."""
    mask = np.zeros(value.shape, dtype=bool)
    coo = value.tocoo()
    mask[coo.row, coo.col] = True
    return mask


def check_sparse_grad(fn, values, rng, structured=(), eps=1e-6, rtol=1e-5, atol=1e-7,
                      mode=None):
    """Check ``sg.grad`` of a random projection of ``fn(*inputs)`` by central differences.

    Sparse inputs listed in ``structured`` (by position) have a structured gradient:
    it is checked at their stored entries, and must be zero everywhere else.  Other
    sparse inputs have a regular gradient: the true gradient over every entry of the
    matrix (perturbing a zero entry stores a new one).  Returns the analytic gradients.
    """
    variables = [variable_for(v, f"in{k}") for k, v in enumerate(values)]
    out = fn(*variables)
    dense_out = S.DenseFromSparse(structured=False)(out) if S.is_sparse_variable(out) else out
    shape = np.shape(sg.function(variables, dense_out, mode=mode)(*values))
    projection = rng.normal(size=shape)
    cost = T.sum(dense_out * projection)
    f_cost = sg.function(variables, cost, mode=mode)
    analytic = sg.function(variables, sg.grad(cost, variables), mode=mode)(*values)
    for k, (value, grad) in enumerate(zip(values, analytic)):
        def cost_with(new, k=k):
            return float(f_cost(*values[:k], new, *values[k + 1:]))

        if sp.issparse(value) and k in structured:
            _check_structured(value, grad, cost_with, eps, rtol, atol, k)
        else:
            numeric = _numeric_dense(value, cost_with, eps)
            np.testing.assert_allclose(dense(grad), numeric, rtol=rtol, atol=atol,
                                       equal_nan=False, err_msg=f"regular gradient of input {k}")
    return analytic


def _numeric_dense(value, cost_with, eps):
    base = dense(value).astype("float64")
    numeric = np.zeros(base.shape)
    for index in np.ndindex(*base.shape):
        plus, minus = base.copy(), base.copy()
        plus[index] += eps
        minus[index] -= eps
        plus, minus = _like(value, plus), _like(value, minus)
        numeric[index] = (cost_with(plus) - cost_with(minus)) / (2 * eps)
    return numeric


def _like(value, array):
    if sp.issparse(value):
        return sp.csr_matrix(array).asformat(value.format).astype(value.dtype)
    return array.astype(value.dtype)


def _check_structured(value, grad, cost_with, eps, rtol, atol, k):
    g = dense(grad)
    assert np.all(g[~pattern_mask(value)] == 0), \
        f"the structured gradient of input {k} has entries outside the input's pattern"
    coo = value.tocoo()
    numeric = np.zeros(coo.nnz)
    for i in range(coo.nnz):
        step = eps * (np.arange(coo.nnz) == i)
        plus, minus = coo.copy(), coo.copy()
        plus.data, minus.data = coo.data + step, coo.data - step
        numeric[i] = (cost_with(plus.asformat(value.format).astype(value.dtype)) -
                      cost_with(minus.asformat(value.format).astype(value.dtype))) / (2 * eps)
    np.testing.assert_allclose(g[coo.row, coo.col], numeric, rtol=rtol, atol=atol,
                               equal_nan=False, err_msg=f"structured gradient of input {k}")
