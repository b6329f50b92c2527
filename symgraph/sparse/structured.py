"""Structured elementwise ops: functions applied to the stored entries only.

``structured_exp(x)`` is ``CSM(exp(data), indices, indptr, shape)``: the result has
``x``'s pattern (exp(0) = 1 is *not* filled in where ``x`` stores nothing), and the
gradient, built from CSM's, is structured.  The zero-preserving functions (``sin``,
``sqrt``, ``tanh`` ...) are computed the same way; for them the result also equals the
dense one.
"""
from symgraph.graph.basic import Apply, Op
from symgraph.sparse.basic import (CSM, coords_of, csm_properties, grad_like, sp_ones_like,
                                   with_data)
from symgraph.sparse.math import like_sparse, mul, restrict_to_pattern, result_dtype, sp_sum
from symgraph.sparse.type import SparseType
from symgraph.sparse.var import as_sparse_variable
from symgraph.tensor import math as tm
from symgraph.tensor.var import as_tensor_variable


def apply_to_data(tensor_fn, x, *args):
    """``tensor_fn(data, *args)`` as the values of a matrix with ``x``'s pattern.

    >>> import scipy.sparse as sp, symgraph.tensor as T
    >>> apply_to_data(T.sqr, sp.csr_matrix([[0.0, 3.0]])).eval().toarray().tolist()
    [[0.0, 9.0]]
    """
    x = as_sparse_variable(x)
    data, indices, indptr, shape = csm_properties(x)
    return CSM(x.format)(tensor_fn(data, *args), indices, indptr, shape)


def structured_monoid(tensor_fn):
    """Decorator (Theano's): the decorated function becomes ``tensor_fn`` applied to the
    stored entries of its first argument; the other arguments must be scalars.

    >>> import scipy.sparse as sp, symgraph.tensor as T
    >>> @structured_monoid(T.neg)
    ... def negated(x):
    ...     "Structured negation."
    >>> negated(sp.csr_matrix([[0.0, 2.0]])).eval().toarray().tolist()
    [[0.0, -2.0]]
    """
    def decorator(f):
        def wrapper(x, *args):
            args = [as_tensor_variable(a) for a in args]
            for a in args:
                if a.ndim != 0:
                    raise TypeError(f"{f.__name__}: extra arguments must be scalars, got {a.type}")
            return apply_to_data(tensor_fn, x, *args)

        wrapper.__name__, wrapper.__qualname__, wrapper.__doc__ = f.__name__, f.__name__, f.__doc__
        wrapper.__module__ = f.__module__
        return wrapper

    return decorator


@structured_monoid(tm.sigmoid)
def structured_sigmoid(x):
    """Sigmoid of the stored entries (a stored 0 becomes 0.5; others stay absent).

    >>> import scipy.sparse as sp
    >>> structured_sigmoid(sp.csr_matrix([[0.0, 0.0]])).eval().nnz
    0
    """


@structured_monoid(tm.exp)
def structured_exp(x):
    """exp of the stored entries.

    >>> import scipy.sparse as sp
    >>> structured_exp(sp.csr_matrix([[0.0, 1.0]])).eval().toarray().round(3).tolist()
    [[0.0, 2.718]]
    """


@structured_monoid(tm.log)
def structured_log(x):
    """log of the stored entries.

    >>> import scipy.sparse as sp
    >>> structured_log(sp.csc_matrix([[0.0, 1.0]])).eval().toarray().tolist()
    [[0.0, 0.0]]
    """


@structured_monoid(tm.pow)
def structured_pow(x, y):
    """The stored entries raised to the scalar ``y``.

    >>> import scipy.sparse as sp
    >>> structured_pow(sp.csr_matrix([[0.0, 3.0]]), 2).eval().toarray().tolist()
    [[0.0, 9.0]]
    """


@structured_monoid(tm.minimum)
def structured_minimum(x, y):
    """min(entry, y) for the stored entries (``y`` a scalar).

    >>> import scipy.sparse as sp
    >>> structured_minimum(sp.csr_matrix([[-1.0, 3.0]]), 0.5).eval().toarray().tolist()
    [[-1.0, 0.5]]
    """


@structured_monoid(tm.maximum)
def structured_maximum(x, y):
    """max(entry, y) for the stored entries (``y`` a scalar).

    >>> import scipy.sparse as sp
    >>> structured_maximum(sp.csr_matrix([[0.0, -3.0]]), 0.5).eval().toarray().tolist()
    [[0.0, 0.5]]
    """


@structured_monoid(tm.add)
def _structured_add_scalar(x, y):
    """The stored entries plus the scalar ``y``."""


class StructuredAddSV(Op):
    """Sparse ``x`` plus the dense vector ``y`` at ``x``'s stored entries only (entry
    (i, j) gets ``y[j]``): sparse, with ``x``'s pattern."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_sparse_variable(x), as_tensor_variable(y)
        if y.ndim != 1:
            raise TypeError(f"structured_add_s_v: y must be a vector, got {y.type}")
        return Apply(self, [x, y], [SparseType(x.format, result_dtype(x, y))()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        if y.shape != (x.shape[1],):
            raise ValueError(f"structured_add_s_v: vector of shape {y.shape} for a matrix of "
                             f"shape {x.shape}")
        cols = coords_of(x)[1]
        data = (x.data + y[cols]).astype(node.outputs[0].type.dtype, copy=False)
        output_storage[0][0] = with_data(x, data)

    def grad(self, inputs, output_grads):
        (x, y), (gz,) = inputs, output_grads
        gx = restrict_to_pattern(gz, x)
        return [gx, grad_like(sp_sum(gx, axis=0), y)]

    def R_op(self, inputs, eval_points):
        # linear: x's tangent (on x's pattern) plus y's tangent read at x's stored entries
        (x, y), (ex, ey) = inputs, eval_points
        if ex is not None and ey is not None:
            total = self(ex, ey)
        elif ex is not None:
            total = ex
        elif ey is not None:
            total = mul(sp_ones_like(x), ey)  # entry (i, j) gets ey[j]
        else:
            return [None]
        return [like_sparse(total, x.format, result_dtype(x, y))]


structured_add_s_v = StructuredAddSV()


def structured_add(x, y):
    """The stored entries of sparse ``x`` plus ``y``: a scalar, or a vector (one value per
    column).  The result keeps ``x``'s pattern.

    >>> import numpy as np, scipy.sparse as sp
    >>> x = sp.csr_matrix([[0.0, 1.0], [2.0, 0.0]])
    >>> structured_add(x, np.array([10.0, 20.0])).eval().toarray().tolist()
    [[0.0, 21.0], [12.0, 0.0]]
    """
    y = as_tensor_variable(y)
    if y.ndim == 1:
        return structured_add_s_v(x, y)
    return _structured_add_scalar(x, y)


def _zero_preserving(name, tensor_fn):
    """A sparse version of ``tensor_fn`` (which maps 0 to 0), named ``name``."""
    def fn(x):
        return apply_to_data(tensor_fn, x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"``{name}`` of sparse ``x`` (applied to the stored entries; {name}(0) = 0)."
                  f"\n\n    >>> import scipy.sparse as sp\n    >>> {name}(sp.csr_matrix("
                  f"[[0.0, 0.5]])).eval().nnz\n    1\n    ")
    return fn


sin = _zero_preserving("sin", tm.sin)
tan = _zero_preserving("tan", tm.tan)
arcsin = _zero_preserving("arcsin", tm.arcsin)
arctan = _zero_preserving("arctan", tm.arctan)
sinh = _zero_preserving("sinh", tm.sinh)
tanh = _zero_preserving("tanh", tm.tanh)
sgn = _zero_preserving("sgn", tm.sgn)
ceil = _zero_preserving("ceil", tm.ceil)
floor = _zero_preserving("floor", tm.floor)
trunc = _zero_preserving("trunc", tm.trunc)
log1p = _zero_preserving("log1p", tm.log1p)
expm1 = _zero_preserving("expm1", tm.expm1)
sqr = _zero_preserving("sqr", tm.sqr)
sqrt = _zero_preserving("sqrt", tm.sqrt)
abs_ = _zero_preserving("abs_", tm.abs)
