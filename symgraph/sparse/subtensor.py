"""Indexing sparse matrices: row and column slices, integer rows/columns, lists of rows
(or columns), and single entries.

As with SciPy's matrices an integer index keeps its dimension: ``x[i]`` is a 1 x n
sparse matrix and ``x[:, j]`` an m x 1 one; ``x[i, j]`` is a dense scalar.  The
gradient scatters the output gradient back into ``x``'s shape (the true gradient:
sparse when the output gradient is sparse, dense when it is dense).
"""
import numpy as np

from symgraph.graph.basic import Apply, Op
from symgraph.sparse.basic import dense_result, fresh, grad_like, matrix_class, scipy_sparse
from symgraph.sparse.type import SparseType
from symgraph.sparse.var import as_sparse_variable, is_sparse_variable
from symgraph.tensor.subtensor import _build_index, _entry_of
from symgraph.tensor.type import INT_DTYPES, TensorType
from symgraph.tensor.var import as_tensor_variable


def _parse(index):
    """(idx_list, index inputs) for a user index of one or two entries."""
    if not isinstance(index, tuple):
        index = (index,)
    if len(index) > 2 or any(item is None or item is Ellipsis for item in index):
        raise IndexError(f"sparse matrices take one or two indices (ints, slices, integer "
                         f"vectors), got {index}")
    idx_list, inputs = [], []
    for item in index:
        entry, values = _entry_of(item)
        if entry == "a" and (values[0].ndim != 1 or values[0].dtype not in INT_DTYPES):
            raise IndexError(f"sparse indexing takes integer vectors, got {values[0].type}")
        idx_list.append(entry)
        inputs.extend(values)
    if idx_list.count("a") == 2:
        raise IndexError("sparse indexing with two integer vectors is not supported; index "
                         "rows and columns one after the other")
    return tuple(idx_list), inputs


def _axis_indices(entry, value, size):
    """The positions along an axis of ``size`` that one index entry selects (an array)."""
    if isinstance(value, slice):
        return np.arange(size)[value]
    if entry == "i":
        if not -size <= value < size:
            raise IndexError(f"index {value} is out of bounds for a dimension of size {size}")
        return np.array([value % size])
    positions = np.asarray(value)
    if positions.size and (positions.max() >= size or positions.min() < -size):
        raise IndexError(f"an index in {positions.tolist()} is out of bounds for size {size}")
    return positions % size if positions.size else positions.astype(int)


def _scipy_index(idx_list, values, shape):
    """(rows, cols) as SciPy takes them: an integer becomes a slice of length 1 (checked,
    so -1 works), slices and integer vectors stay as they are."""
    index = list(_build_index(idx_list, values)) + [slice(None)] * (2 - len(idx_list))
    for axis, entry in enumerate(idx_list):
        if entry == "i":
            (i,) = _axis_indices("i", index[axis], shape[axis])
            index[axis] = slice(int(i), int(i) + 1)
    return tuple(index)


def _selections(idx_list, values, shape):
    """(rows, cols): the positions selected along each axis of a matrix of ``shape``."""
    index = _build_index(idx_list, values) + (slice(None),) * (2 - len(idx_list))
    entries = tuple(idx_list) + (("s", False, False, False),) * (2 - len(idx_list))
    return tuple(_axis_indices(e, v, n) for e, v, n in zip(entries, index, shape))


class GetItem(Op):
    """``x[index]`` for sparse ``x``; ``idx_list`` as in tensor.subtensor (``"i"``,
    ``"a"`` or ``("s", has_start, has_stop, has_step)``), values are node inputs."""

    __props__ = ("idx_list",)

    def __init__(self, idx_list):
        self.idx_list = tuple(idx_list)

    def make_node(self, x, *values):
        x = as_sparse_variable(x)
        values = [as_tensor_variable(v) for v in values]
        if self.idx_list == ("i", "i"):
            return Apply(self, [x] + values, [TensorType(x.dtype, ())()])
        return Apply(self, [x] + values, [x.type()])

    def perform(self, node, inputs, output_storage):
        x, *values = inputs
        rows, cols = _scipy_index(self.idx_list, values, x.shape)
        if self.idx_list == ("i", "i"):
            output_storage[0][0] = dense_result(x[rows.start, cols.start], x.dtype)
            return
        # one axis at a time (SciPy pairs two arrays up), the compressed axis first
        out = x
        for axis in ((0, 1) if x.format == "csr" else (1, 0)):
            selection = (rows, cols)[axis]
            if not (isinstance(selection, slice) and selection == slice(None)):
                out = out[selection, :] if axis == 0 else out[:, selection]
        output_storage[0][0] = fresh(out.asformat(x.format), [x])

    def infer_shape(self, fgraph, node, input_shapes):
        return [()] if self.idx_list == ("i", "i") else [None]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type

        x, *values = inputs
        gx = GetItemGrad(self.idx_list)(x, output_grads[0], *values)
        return [grad_like(gx, x)] + [disconnected_type() for _ in values]

    def R_op(self, inputs, eval_points):
        # linear in x; the index inputs have no tangent
        x, *values = inputs
        ex = eval_points[0]
        return [None if ex is None else self(grad_like(ex, x), *values)]

    def connection_pattern(self, node):
        return [[True]] + [[False] for _ in node.inputs[1:]]


class GetItemGrad(Op):
    """Scatters ``gz`` (the gradient of ``x[index]``) into a gradient of ``x``'s shape,
    adding where a list of rows repeats one.  Sparse unless ``gz`` is a dense matrix."""

    __props__ = ("idx_list",)

    def __init__(self, idx_list):
        self.idx_list = tuple(idx_list)

    def make_node(self, x, gz, *values):
        x = as_sparse_variable(x)
        gz = gz if is_sparse_variable(gz) else as_tensor_variable(gz)
        values = [as_tensor_variable(v) for v in values]
        if is_sparse_variable(gz) or gz.ndim == 0:
            out_type = SparseType(x.format, gz.dtype)
        else:
            out_type = TensorType(gz.dtype, (None, None))
        return Apply(self, [x, gz] + values, [out_type()])

    def perform(self, node, inputs, output_storage):
        x, gz, *values = inputs
        rows, cols = _selections(self.idx_list, values, x.shape)
        out_type = node.outputs[0].type
        if scipy_sparse().issparse(gz) or np.ndim(gz) == 0:
            coo = scipy_sparse().coo_matrix(np.reshape(gz, (1, 1)) if np.ndim(gz) == 0 else gz)
            scattered = scipy_sparse().coo_matrix(
                (coo.data, (rows[coo.row], cols[coo.col])), shape=x.shape)
            out = matrix_class(out_type.format)(scattered).astype(out_type.dtype)
        else:
            out = np.zeros(x.shape, dtype=out_type.dtype)
            np.add.at(out, np.ix_(rows, cols), gz)
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        from symgraph.sparse.basic import sparse_dims

        if isinstance(node.outputs[0].type, SparseType):
            return [None]
        return [sparse_dims(node.inputs[0])]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type
        from symgraph.sparse.basic import DenseFromSparse, SparseFromDense

        x, gz, *values = inputs
        g = output_grads[0]
        if not is_sparse_variable(g):
            g = SparseFromDense(x.format)(g)
        selected = GetItem(self.idx_list)(g, *values)
        if not is_sparse_variable(gz) and gz.ndim == 2:
            selected = DenseFromSparse(structured=False)(selected)
        return [disconnected_type(), grad_like(selected, gz)] + \
            [disconnected_type() for _ in values]

    def R_op(self, inputs, eval_points):
        # linear in gz; x only gives the shape and format
        x, gz, *values = inputs
        e_gz = eval_points[1]
        if e_gz is None:
            return [None]
        return [self(x, grad_like(e_gz, gz), *values)]

    def connection_pattern(self, node):
        return [[False], [True]] + [[False] for _ in node.inputs[2:]]


def getitem(x, index):
    """``x[index]`` for a sparse matrix (see the module docstring).

    >>> import scipy.sparse as sp
    >>> x = sp.csr_matrix([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    >>> getitem(x, (slice(None), slice(1, 3))).eval().toarray().tolist()
    [[0.0, 2.0], [3.0, 0.0]]
    >>> float(getitem(x, (1, 1)).eval())
    3.0
    """
    idx_list, values = _parse(index)
    return GetItem(idx_list)(x, *values)
