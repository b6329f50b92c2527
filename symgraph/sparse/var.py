"""Sparse variables and constants (with their operators), and conversion to them."""
from symgraph.graph.basic import Constant, Variable
from symgraph.sparse.type import SparseType, is_sparse_value


def _basic():
    from symgraph.sparse import basic

    return basic


def _math():
    from symgraph.sparse import math

    return math


class _SparseMethods:
    """Operators and methods shared by sparse variables and constants."""

    # ``ndarray + variable`` must defer to the variable's operators.
    __array_ufunc__ = None
    __hash__ = object.__hash__

    def __add__(self, other): return _math().add(self, other)
    def __radd__(self, other): return _math().add(other, self)
    def __sub__(self, other): return _math().sub(self, other)
    def __rsub__(self, other): return _math().sub(other, self)
    def __mul__(self, other): return _math().mul(self, other)
    def __rmul__(self, other): return _math().mul(other, self)
    def __truediv__(self, other): return _math().true_div(self, other)
    def __neg__(self): return _basic().neg(self)
    def __pos__(self): return self

    def __matmul__(self, other):
        from symgraph.sparse.dot import dot

        return dot(self, other)

    def __rmatmul__(self, other):
        from symgraph.sparse.dot import dot

        return dot(other, self)

    def __getitem__(self, index):
        from symgraph.sparse.subtensor import getitem

        return getitem(self, index)

    def __bool__(self):
        raise TypeError("a symbolic variable has no truth value")

    def __len__(self):
        raise TypeError("len() of a symbolic sparse matrix is not known; use x.shape[0]")

    def __iter__(self):
        raise TypeError("cannot iterate over a symbolic sparse matrix")

    @property
    def ndim(self): return 2

    @property
    def dtype(self): return self.type.dtype

    @property
    def format(self): return self.type.format

    @property
    def broadcastable(self): return (False, False)

    @property
    def shape(self): return _basic().sparse_shape(self)

    @property
    def T(self): return _basic().transpose(self)

    def transpose(self): return _basic().transpose(self)
    def toarray(self): return _basic().dense_from_sparse(self)
    todense = toarray
    def astype(self, dtype): return _basic().cast(self, dtype)
    def zeros_like(self): return _basic().sp_zeros_like(self)
    def ones_like(self): return _basic().sp_ones_like(self)

    def sum(self, axis=None, sparse_grad=False):
        return _math().sp_sum(self, axis, sparse_grad)

    def dot(self, other):
        from symgraph.sparse.dot import dot

        return dot(self, other)


class SparseVariable(_SparseMethods, Variable):
    """A symbolic sparse matrix."""


class SparseConstant(_SparseMethods, Constant):
    """A constant sparse matrix."""

    def signature(self):
        d = self.data
        return (self.type, d.shape, d.data.tobytes(), d.indices.tobytes(), d.indptr.tobytes())

    def __str__(self):
        if self.name is not None:
            return self.name
        return f"SparseConstant{{{self.type.format}, {self.data.shape}, nnz={self.data.nnz}}}"


SparseType.variable_type = SparseVariable
SparseType.constant_type = SparseConstant


def is_sparse_variable(x):
    """True for a symbolic variable of SparseType."""
    return isinstance(x, Variable) and isinstance(x.type, SparseType)


def constant(x, name=None):
    """A SparseConstant holding the SciPy sparse matrix ``x`` (in its own format).

    >>> import scipy.sparse as sp
    >>> constant(sp.identity(3, format='csc')).type
    Sparse{csc, float64}
    """
    if not is_sparse_value(x):
        raise TypeError(f"sparse.constant needs a scipy.sparse matrix, got {type(x).__name__}")
    format = x.format if x.format in ("csr", "csc") else "csr"
    return SparseConstant(SparseType(format, str(x.dtype)), x, name=name)


def as_sparse_variable(x, name=None):
    """``x`` as a sparse variable: sparse variables pass through, SciPy values become
    constants.

    >>> import scipy.sparse as sp
    >>> as_sparse_variable(sp.random(3, 2, density=0.5, format='csr')).format
    'csr'
    """
    if isinstance(x, Variable):
        if not isinstance(x.type, SparseType):
            raise TypeError(f"{x} of type {x.type} is not sparse; use csr_from_dense or "
                            f"csc_from_dense to convert a dense matrix")
        return x
    try:
        return constant(x, name=name)
    except TypeError:
        raise TypeError(f"cannot convert {type(x).__name__} to a sparse variable") from None


as_sparse = as_sparse_variable


def as_sparse_or_tensor_variable(x, name=None):
    """Sparse variables and SciPy values as sparse variables, anything else as a tensor.

    >>> import numpy as np
    >>> as_sparse_or_tensor_variable(np.ones(2)).type
    Tensor{float64, (2,)}
    """
    if is_sparse_variable(x) or is_sparse_value(x):
        return as_sparse_variable(x, name)
    from symgraph.tensor.var import as_tensor_variable

    return as_tensor_variable(x, name=name)


def matrix(format, name=None, dtype=None):
    """A symbolic sparse matrix of ``format`` ('csr' or 'csc') and ``dtype`` (floatX).

    >>> matrix('csr', 'x', 'float32').type
    Sparse{csr, float32}
    """
    return SparseType(format, dtype)(name)


def csr_matrix(name=None, dtype=None):
    """A symbolic CSR matrix (Theano's ``sparse.csr_matrix``).

    >>> csr_matrix('x', dtype='float64').type
    Sparse{csr, float64}
    """
    return matrix("csr", name, dtype)


def csc_matrix(name=None, dtype=None):
    """A symbolic CSC matrix (Theano's ``sparse.csc_matrix``).

    >>> csc_matrix('x', dtype='float32').type
    Sparse{csc, float32}
    """
    return matrix("csc", name, dtype)

