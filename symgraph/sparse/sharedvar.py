"""Shared variables holding SciPy sparse matrices.

``sparse_constructor`` is registered with ``symgraph.shared`` when this package is
imported, so ``symgraph.shared(scipy_matrix)`` makes a SparseSharedVariable.
"""
import copy

from symgraph.compile.sharedvalue import SharedVariable, shared_constructor
from symgraph.sparse.type import SparseType, is_sparse_value
from symgraph.sparse.var import _SparseMethods


class SparseSharedVariable(_SparseMethods, SharedVariable):
    """A shared variable holding a CSR or CSC matrix (with the sparse operators).

    >>> import scipy.sparse as sp
    >>> w = sparse_constructor(sp.identity(2, format='csr'), name='w')
    >>> w.set_value(sp.csr_matrix([[0.0, 2.0], [0.0, 0.0]])); w.get_value().nnz
    1
    """

    def set_value(self, value, borrow=False):
        try:
            new = self.type.filter(value, strict=self.strict, allow_downcast=self.allow_downcast)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"set_value of shared variable {self}: {exc}") from None
        if not borrow and new is value:
            new = copy.deepcopy(value)
        self.container.storage[0] = new


@shared_constructor
def sparse_constructor(value, name=None, strict=False, allow_downcast=None, borrow=False,
                       format=None):
    """A SparseSharedVariable for a SciPy sparse ``value`` (copied unless ``borrow``),
    None for any other value.  ``format``: 'csr' or 'csc' (default: the value's own,
    CSR for other SciPy formats).

    >>> import scipy.sparse as sp
    >>> sparse_constructor(sp.identity(3, format='csc')).type
    Sparse{csc, float64}
    >>> sparse_constructor([1.0]) is None
    True
    """
    if not is_sparse_value(value):
        return None
    format = format or (value.format if value.format in ("csr", "csc") else "csr")
    sparse_type = SparseType(format, str(value.dtype))
    if not borrow:
        value = copy.deepcopy(value)
    return SparseSharedVariable(sparse_type, value, name=name, strict=strict,
                                allow_downcast=allow_downcast)
