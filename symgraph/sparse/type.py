"""SparseType: the type of a 2-d ``scipy.sparse`` matrix in CSR or CSC format.

SciPy is imported only when a sparse value is actually handled (``scipy_sparse``),
so ``import symgraph`` stays fast and never loads SciPy.  Values are kept in
canonical form (sorted indices, no duplicate entries): the structured ops act on
the stored entries, and a duplicate would otherwise be transformed twice.
"""
import sys

import numpy as np

from symgraph.graph.basic import Type

SPARSE_FORMATS = ("csr", "csc")
SPARSE_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float32", "float64", "complex64", "complex128")


def scipy_sparse():
    """The ``scipy.sparse`` module (imported on first use).

    >>> scipy_sparse().issparse(scipy_sparse().identity(2))
    True
    """
    import scipy.sparse

    return scipy.sparse


def is_sparse_value(value):
    """True for a SciPy sparse matrix or array; never imports SciPy (a value cannot be
    one unless ``scipy.sparse`` is already loaded).

    >>> import numpy as np
    >>> is_sparse_value(np.eye(2))
    False
    """
    module = sys.modules.get("scipy.sparse")
    return module is not None and module.issparse(value)


def matrix_class(format):
    """The SciPy class of ``format`` ('csr' or 'csc').

    >>> matrix_class('csc').__name__
    'csc_matrix'
    """
    sp = scipy_sparse()
    return {"csr": sp.csr_matrix, "csc": sp.csc_matrix}[format]


def canonical(value):
    """``value`` itself when its indices are sorted and unique, else a canonical copy.

    >>> import scipy.sparse as sp
    >>> m = sp.csr_matrix(([1.0, 2.0], [0, 0], [0, 2]), shape=(1, 1))
    >>> canonical(m).toarray().tolist(), m.nnz
    ([[3.0]], 2)
    """
    if value.has_canonical_format:
        return value
    value = value.copy()
    value.sum_duplicates()
    return value


class SparseType(Type):
    """``SparseType(format, dtype)``: a 2-d sparse matrix, 'csr' or 'csc', of ``dtype``.

    ``filter`` accepts SciPy sparse matrices and arrays of any format and dense 2-d
    arrays, converting them to this format when no precision is lost.

    >>> import numpy as np
    >>> t = SparseType('csr', 'float64')
    >>> value = t.filter(np.eye(3))
    >>> value.format, value.nnz
    ('csr', 3)
    """

    ndim = 2
    shape = (None, None)
    broadcastable = (False, False)

    def __init__(self, format, dtype=None):
        from symgraph.config import config

        if format not in SPARSE_FORMATS:
            raise ValueError(f"SparseType: format must be one of {SPARSE_FORMATS}, got {format!r}")
        dtype = config.floatX if dtype in (None, "floatX") else str(np.dtype(dtype))
        if dtype not in SPARSE_DTYPES:
            raise TypeError(f"SparseType: unsupported dtype {dtype}; use one of {SPARSE_DTYPES}")
        self.format, self.dtype = format, dtype

    @property
    def numpy_dtype(self):
        return np.dtype(self.dtype)

    def clone(self, format=None, dtype=None):
        return SparseType(format or self.format, dtype or self.dtype)

    def __eq__(self, other):
        return (type(other) is SparseType and self.format == other.format
                and self.dtype == other.dtype)

    def __hash__(self):
        return hash((SparseType, self.format, self.dtype))

    def __str__(self):
        return f"Sparse{{{self.format}, {self.dtype}}}"

    __repr__ = __str__

    def filter(self, value, strict=False, allow_downcast=None):
        """``value`` as a canonical SciPy matrix of this format and dtype, or TypeError."""
        sp = scipy_sparse()
        if (isinstance(value, sp.spmatrix) and value.format == self.format
                and value.dtype == self.numpy_dtype):
            return canonical(value)
        if strict:
            raise TypeError(f"expected a scipy.sparse {self.format}_matrix of dtype {self.dtype}, "
                            f"got {_describe(value)}")
        source = self._source_dtype(value)
        if source != self.numpy_dtype and not allow_downcast and not np.can_cast(
                source, self.numpy_dtype, casting="safe"):
            raise TypeError(f"cannot convert {_describe(value)} to {self} without losing "
                            f"precision; pass allow_input_downcast=True to function() to allow "
                            f"it, or convert the value first")
        converted = matrix_class(self.format)(value, dtype=self.dtype)
        return canonical(converted)

    def _source_dtype(self, value):
        if is_sparse_value(value):
            if value.ndim != 2:
                raise TypeError(f"{self} holds 2-d matrices, got a {value.ndim}-d sparse array")
            return value.dtype
        if isinstance(value, (np.ndarray, list, tuple)):
            array = np.asarray(value)
            if array.ndim == 2 and array.dtype.kind in "biufc":
                return array.dtype
            raise TypeError(f"{self} needs a 2-d numeric array to convert, got shape "
                            f"{array.shape} of dtype {array.dtype}")
        raise TypeError(f"{self} expects a scipy.sparse matrix (or a 2-d array to convert), "
                        f"got {_describe(value)}")

    def values_eq(self, a, b):
        return a.shape == b.shape and (a != b).nnz == 0

    def values_eq_approx(self, a, b, rtol=None, atol=None):
        if a.shape != b.shape:
            return False
        tol = 1e-4 if self.dtype in ("float32", "complex64") else 1e-8
        difference = abs(a - b)
        if difference.nnz == 0:
            return True
        scale = abs(b).max() if b.nnz else 0
        return bool(difference.max() <= (atol or tol) + (rtol or tol) * scale)

    def value_zeros(self, shape):
        return matrix_class(self.format)(tuple(shape), dtype=self.dtype)

    def make_variable(self, name=None):
        from symgraph.sparse.var import SparseVariable

        return SparseVariable(self, None, None, name)


def _describe(value):
    kind = type(value).__name__
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    return kind + (f" of dtype {dtype}" if dtype is not None else "") + (
        f" and shape {shape}" if shape is not None else "")
