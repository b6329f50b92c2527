"""The sparse building blocks: shape, CSM properties and construction, dense <-> sparse,
cast, format conversion, transpose and negation.

``csm_properties`` splits a matrix into (data, indices, indptr, shape) and ``CSM``
builds one back: the structured elementwise ops are ``CSM(f(data), indices, ...)``,
so they act on the stored entries only and inherit a structured gradient.

Gradients: an op whose output is sparse receives a gradient that is sparse or dense
(whatever the consumer produced), so every ``grad`` here accepts both.
"""
import numpy as np

from symgraph.graph.basic import Apply, Op
from symgraph.sparse.type import SparseType, matrix_class, scipy_sparse
from symgraph.sparse.var import as_sparse_variable, is_sparse_variable
from symgraph.tensor.type import INT_DTYPES, TensorType
from symgraph.tensor.var import as_tensor_variable


# -- helpers for perform -------------------------------------------------------------
def pattern_coords(indices, indptr, shape, format):
    """(rows, cols) of each stored entry, in storage order.

    >>> [a.tolist() for a in pattern_coords([1, 0], [0, 1, 2], (2, 2), 'csr')]
    [[0, 1], [1, 0]]
    """
    counts = np.diff(indptr)
    major = np.repeat(np.arange(len(counts)), counts)
    minor = np.asarray(indices)
    return (major, minor) if format == "csr" else (minor, major)


def coords_of(x):
    """(rows, cols) of each stored entry of the SciPy matrix ``x``, in storage order.

    >>> import scipy.sparse as sp
    >>> [a.tolist() for a in coords_of(sp.csc_matrix([[0.0, 2.0], [3.0, 0.0]]))]
    [[1, 0], [0, 1]]
    """
    return pattern_coords(x.indices, x.indptr, x.shape, x.format)


def with_data(x, data):
    """A new matrix with ``x``'s pattern (copied) and ``data`` as its values.

    >>> import numpy as np, scipy.sparse as sp
    >>> with_data(sp.csr_matrix([[0.0, 2.0]]), np.array([5.0])).toarray().tolist()
    [[0.0, 5.0]]
    """
    return matrix_class(x.format)((data, x.indices.copy(), x.indptr.copy()), shape=x.shape)


def fresh(value, inputs):
    """``value``, copied if it shares memory with a sparse input (SciPy's ``.T``,
    ``asformat`` and friends return views or the input itself).

    >>> import scipy.sparse as sp
    >>> x = sp.csr_matrix([[1.0]])
    >>> fresh(x.asformat('csr'), [x]) is x
    False
    """
    for x in inputs:
        if scipy_sparse().issparse(x) and (value is x or any(
                np.may_share_memory(getattr(value, a), getattr(x, a))
                for a in ("data", "indices", "indptr"))):
            return value.copy()
    return value


def dense_result(value, dtype):
    """A SciPy result (ndarray, np.matrix, scalar) as an ndarray of ``dtype``.

    >>> import scipy.sparse as sp
    >>> dense_result(sp.csr_matrix([[1, 2]]).sum(axis=0), 'float32')
    array([[1., 2.]], dtype=float32)
    """
    return np.asarray(value).astype(dtype, copy=False).view(np.ndarray)


# -- helpers for gradients -------------------------------------------------------------
def grad_like(g, x):
    """``g`` with ``x``'s dtype, and ``x``'s format when ``g`` is sparse.

    >>> from symgraph.sparse.var import csc_matrix, csr_matrix
    >>> grad_like(csr_matrix(dtype='float64'), csc_matrix(dtype='float32')).type
    Sparse{csc, float32}
    """
    if is_sparse_variable(g):
        if is_sparse_variable(x) and g.format != x.format:
            g = as_format(g, x.format)
        return cast(g, x.dtype) if g.dtype != x.dtype else g
    return g.astype(x.dtype) if g.dtype != x.dtype else g


def transpose_any(g):
    """The transpose of a sparse or dense matrix variable.

    >>> from symgraph.sparse.var import csr_matrix
    >>> transpose_any(csr_matrix()).format
    'csc'
    """
    return transpose(g) if is_sparse_variable(g) else g.T


def _disconnected():
    from symgraph.gradient import disconnected_type

    return disconnected_type()


def _int_vector(v, what):
    v = as_tensor_variable(v)
    if v.ndim != 1 or v.dtype not in INT_DTYPES:
        raise TypeError(f"{what} must be an integer vector, got {v.type}")
    return v


# -- shape -------------------------------------------------------------------------------
class SparseShape(Op):
    """The shape of a sparse matrix, as an int64 vector of length 2."""

    __props__ = ()

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [TensorType("int64", (2,)).make_variable()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0].shape, dtype="int64")

    def infer_shape(self, fgraph, node, input_shapes):
        return [(2,)]

    def grad(self, inputs, output_grads):
        return [_disconnected()]

    def R_op(self, inputs, eval_points):
        return [None]

    def connection_pattern(self, node):
        return [[False]]


_sparse_shape = SparseShape()


def sparse_shape(x):
    """``x.shape`` for a sparse matrix: an int64 vector.

    >>> import scipy.sparse as sp
    >>> sparse_shape(sp.random(3, 5, format='csr')).eval().tolist()
    [3, 5]
    """
    return _sparse_shape(x)


def sparse_dims(x):
    """(rows, cols) of sparse ``x`` as int64 scalars (for ``infer_shape``).

    >>> import scipy.sparse as sp
    >>> [int(d.eval()) for d in sparse_dims(sp.identity(3, format='csr'))]
    [3, 3]
    """
    shape = sparse_shape(x)
    return (shape[0], shape[1])


# -- CSM properties and construction -------------------------------------------------
class CSMProperties(Op):
    """(data, indices, indptr, shape) of a CSR or CSC matrix, as copies."""

    __props__ = ()

    def make_node(self, x):
        x = as_sparse_variable(x)
        outputs = [TensorType(x.dtype, (None,))(), TensorType("int32", (None,))(),
                   TensorType("int32", (None,))(), TensorType("int64", (2,))()]
        return Apply(self, [x], outputs)

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        output_storage[0][0] = x.data.copy()
        output_storage[1][0] = x.indices.astype("int32")
        output_storage[2][0] = x.indptr.astype("int32")
        output_storage[3][0] = np.asarray(x.shape, dtype="int64")

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        g_data = grad_like(output_grads[0], outputs[0])
        return [CSM(x.format)(g_data, *outputs[1:])]

    def R_op(self, inputs, eval_points):
        # linear in x's stored values; the tangent is read at x's stored positions (so
        # it is structured, like the gradient), indices and shape have no tangent
        (x,), (ex,) = inputs, eval_points
        if ex is None:
            return [None] * 4
        _, indices, indptr, shape = csm_properties(x)
        return [CSMGrad(x.format)(ex, indices, indptr, shape), None, None, None]

    def connection_pattern(self, node):
        return [[True, False, False, False]]


_csm_properties = CSMProperties()


def csm_properties(x):
    """[data, indices, indptr, shape] of the sparse matrix ``x``.

    >>> import scipy.sparse as sp
    >>> data, indices, indptr, shape = csm_properties(sp.identity(2, format='csr'))
    >>> indptr.eval().tolist(), shape.eval().tolist()
    ([0, 1, 2], [2, 2])
    """
    return _csm_properties(x)


def csm_data(x):
    """The stored values of ``x`` (a copy).

    >>> import scipy.sparse as sp
    >>> csm_data(sp.identity(2, format='csc')).eval().tolist()
    [1.0, 1.0]
    """
    return csm_properties(x)[0]


def csm_indices(x):
    """The minor indices of ``x``'s stored entries (columns for CSR, rows for CSC).

    >>> import scipy.sparse as sp
    >>> csm_indices(sp.csr_matrix([[0.0, 1.0]])).eval().tolist()
    [1]
    """
    return csm_properties(x)[1]


def csm_indptr(x):
    """The index pointer of ``x`` (one entry per row of a CSR matrix, plus one).

    >>> import scipy.sparse as sp
    >>> csm_indptr(sp.csr_matrix([[0.0, 1.0]])).eval().tolist()
    [0, 1]
    """
    return csm_properties(x)[2]


def csm_shape(x):
    """The shape of ``x`` (from CSMProperties; ``sparse_shape`` is cheaper).

    >>> import scipy.sparse as sp
    >>> csm_shape(sp.csr_matrix([[0.0, 1.0]])).eval().tolist()
    [1, 2]
    """
    return csm_properties(x)[3]


class CSM(Op):
    """A ``format`` matrix built from (data, indices, indptr, shape), as SciPy's
    ``csr_matrix((data, indices, indptr), shape)``.

    The gradient with respect to ``data`` reads the output gradient at each stored
    position (``CSMGrad``): it is structured by construction.
    """

    __props__ = ("format",)

    def __init__(self, format):
        if format not in ("csr", "csc"):
            raise ValueError(f"CSM: format must be 'csr' or 'csc', got {format!r}")
        self.format = format

    def make_node(self, data, indices, indptr, shape):
        data = as_tensor_variable(data)
        if data.ndim != 1:
            raise TypeError(f"CSM: data must be a vector, got {data.type}")
        indices = _int_vector(indices, "CSM indices")
        indptr = _int_vector(indptr, "CSM indptr")
        shape = _int_vector(shape, "CSM shape")
        return Apply(self, [data, indices, indptr, shape],
                     [SparseType(self.format, data.dtype)()])

    def perform(self, node, inputs, output_storage):
        data, indices, indptr, shape = inputs
        if len(shape) != 2:
            raise ValueError(f"CSM: shape must have 2 entries, got {list(shape)}")
        out = matrix_class(self.format)((data, indices, indptr),
                                        shape=tuple(int(s) for s in shape), copy=True)
        out.check_format(full_check=True)
        output_storage[0][0] = out

    def L_op(self, inputs, outputs, output_grads):
        data, indices, indptr, shape = inputs
        g_data = CSMGrad(self.format)(output_grads[0], indices, indptr, shape)
        return [grad_like(g_data, data)] + [_disconnected() for _ in range(3)]

    def R_op(self, inputs, eval_points):
        # linear in data: the tangent's values sit at the same stored positions
        data, indices, indptr, shape = inputs
        e_data = eval_points[0]
        if e_data is None:
            return [None]
        return [self(as_tensor_variable(e_data).astype(data.dtype), indices, indptr, shape)]

    def connection_pattern(self, node):
        return [[True], [False], [False], [False]]


CSR = CSM("csr")
CSC = CSM("csc")


class CSMGrad(Op):
    """The values of ``g`` (sparse or dense) at the stored positions given by
    (indices, indptr, shape), in storage order: the gradient of CSM's data."""

    __props__ = ("format",)

    def __init__(self, format):
        self.format = format

    def make_node(self, g, indices, indptr, shape):
        g = g if is_sparse_variable(g) else as_tensor_variable(g)
        if g.ndim != 2:
            raise TypeError(f"CSMGrad: the gradient must be a matrix, got {g.type}")
        inputs = [g, _int_vector(indices, "indices"), _int_vector(indptr, "indptr"),
                  _int_vector(shape, "shape")]
        return Apply(self, inputs, [TensorType(g.dtype, (None,))()])

    def perform(self, node, inputs, output_storage):
        g, indices, indptr, shape = inputs
        if g.shape != tuple(shape):
            raise ValueError(f"CSMGrad: gradient of shape {g.shape} for a matrix of shape "
                             f"{tuple(shape)}")
        if (scipy_sparse().issparse(g) and g.format == self.format
                and np.array_equal(g.indptr, indptr) and np.array_equal(g.indices, indices)):
            values = g.data.copy()  # same pattern (a structured gradient): no lookup
        else:
            rows, cols = pattern_coords(indices, indptr, shape, self.format)
            source = g.tocsr() if scipy_sparse().issparse(g) else g
            values = np.asarray(source[rows, cols]).ravel()
        output_storage[0][0] = values.astype(node.outputs[0].type.dtype, copy=False)

    def L_op(self, inputs, outputs, output_grads):
        g, indices, indptr, shape = inputs
        scattered = CSM(self.format)(output_grads[0], indices, indptr, shape)
        if not is_sparse_variable(g):
            scattered = DenseFromSparse(structured=False)(scattered)
        return [grad_like(scattered, g)] + [_disconnected() for _ in range(3)]

    def R_op(self, inputs, eval_points):
        g, indices, indptr, shape = inputs
        e_g = eval_points[0]
        if e_g is None:
            return [None]
        return [self(grad_like(e_g, g), indices, indptr, shape)]

    def connection_pattern(self, node):
        return [[True], [False], [False], [False]]


# -- dense <-> sparse ----------------------------------------------------------------
class DenseFromSparse(Op):
    """A sparse matrix as a dense ndarray.

    ``structured=True`` (Theano's default): the gradient keeps ``x``'s sparsity
    pattern; ``structured=False``: the gradient is the full (dense) output gradient.
    """

    __props__ = ("structured",)

    def __init__(self, structured=True):
        self.structured = bool(structured)

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, (None, None))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].toarray()

    def infer_shape(self, fgraph, node, input_shapes):
        return [sparse_dims(node.inputs[0])]

    def grad(self, inputs, output_grads):
        (x,), (gz,) = inputs, output_grads
        if self.structured:
            from symgraph.sparse.math import restrict_to_pattern

            return [restrict_to_pattern(gz, x)]
        return [grad_like(gz, x)]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


dense_from_sparse = DenseFromSparse()


class SparseFromDense(Op):
    """A dense matrix as a ``format`` sparse matrix (zeros are not stored)."""

    __props__ = ("format",)

    def __init__(self, format):
        if format not in ("csr", "csc"):
            raise ValueError(f"SparseFromDense: format must be 'csr' or 'csc', got {format!r}")
        self.format = format

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim != 2:
            raise TypeError(f"SparseFromDense needs a matrix, got {x.type}")
        return Apply(self, [x], [SparseType(self.format, x.dtype)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = matrix_class(self.format)(inputs[0])

    def grad(self, inputs, output_grads):
        (x,), (gz,) = inputs, output_grads
        if is_sparse_variable(gz):
            gz = DenseFromSparse(structured=False)(gz)
        return [grad_like(gz, x)]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


csr_from_dense = SparseFromDense("csr")
csc_from_dense = SparseFromDense("csc")


# -- cast, format, transpose, negation --------------------------------------------------
class Cast(Op):
    """A sparse matrix converted to ``dtype``."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [SparseType(x.format, self.dtype)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0].astype(self.dtype, copy=True)

    def grad(self, inputs, output_grads):
        return [grad_like(output_grads[0], inputs[0])]

    def R_op(self, inputs, eval_points):
        (x,), (ex,) = inputs, eval_points
        return [None if ex is None else cast(as_format(ex, x.format), self.dtype)]


def cast(x, dtype):
    """``x`` with its values converted to ``dtype`` (``x`` itself if already so).

    >>> import scipy.sparse as sp
    >>> cast(sp.identity(2, format='csr'), 'float32').type
    Sparse{csr, float32}
    """
    x = as_sparse_variable(x)
    dtype = str(np.dtype(dtype))
    return x if x.dtype == dtype else Cast(dtype)(x)


class AsFormat(Op):
    """A sparse matrix converted to ``format`` ('csr' or 'csc')."""

    __props__ = ("format",)

    def __init__(self, format):
        self.format = format

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [SparseType(self.format, x.dtype)()])

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        output_storage[0][0] = fresh(x.asformat(self.format), [x])

    def grad(self, inputs, output_grads):
        return [grad_like(output_grads[0], inputs[0])]

    def R_op(self, inputs, eval_points):
        (ex,) = eval_points
        return [None if ex is None else as_format(ex, self.format)]


def as_format(x, format):
    """``x`` in ``format`` ('csr' or 'csc'; ``x`` itself if already so).

    >>> import scipy.sparse as sp
    >>> as_format(sp.identity(2, format='csr'), 'csc').format
    'csc'
    """
    x = as_sparse_variable(x)
    return x if x.format == format else AsFormat(format)(x)


class Transpose(Op):
    """The transpose of a sparse matrix.  CSR becomes CSC and CSC becomes CSR, as in
    SciPy: the transpose of a CSR matrix has the same arrays read as CSC, so nothing is
    reordered (they are copied, so the output never aliases the input)."""

    __props__ = ()

    def make_node(self, x):
        x = as_sparse_variable(x)
        out_format = {"csr": "csc", "csc": "csr"}[x.format]
        return Apply(self, [x], [SparseType(out_format, x.dtype)()])

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        output_storage[0][0] = x.transpose(copy=True)

    def grad(self, inputs, output_grads):
        return [grad_like(transpose_any(output_grads[0]), inputs[0])]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


_transpose = Transpose()


def transpose(x):
    """``x.T``: a CSR matrix's transpose is CSC and vice versa.

    >>> import scipy.sparse as sp
    >>> transpose(sp.random(2, 3, format='csr')).eval().shape
    (3, 2)
    """
    return _transpose(x)


class Neg(Op):
    """``-x`` for a sparse matrix."""

    __props__ = ()

    def make_node(self, x):
        x = as_sparse_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = -inputs[0]

    def grad(self, inputs, output_grads):
        gz = output_grads[0]
        return [grad_like(neg(gz) if is_sparse_variable(gz) else -gz, inputs[0])]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


_neg = Neg()


def neg(x):
    """``-x``.

    >>> import scipy.sparse as sp
    >>> neg(sp.identity(2, format='csr')).eval().toarray().tolist()
    [[-1.0, 0.0], [0.0, -1.0]]
    """
    return _neg(x)


# -- patterns ----------------------------------------------------------------------------
def sp_ones_like(x):
    """A matrix with ``x``'s sparsity pattern and 1 at every stored entry.

    >>> import scipy.sparse as sp
    >>> sp_ones_like(sp.csr_matrix([[0.0, 3.0]])).eval().toarray().tolist()
    [[0.0, 1.0]]
    """
    from symgraph.tensor.basic import ones_like

    x = as_sparse_variable(x)
    data, indices, indptr, shape = csm_properties(x)
    return CSM(x.format)(ones_like(data), indices, indptr, shape)


def sp_zeros_like(x):
    """An empty matrix (no stored entries) of ``x``'s shape, format and dtype.

    >>> import scipy.sparse as sp
    >>> sp_zeros_like(sp.identity(3, format='csc')).eval().nnz
    0
    """
    from symgraph.tensor.basic import alloc, zeros

    x = as_sparse_variable(x)
    shape = sparse_shape(x)
    n_major = shape[0] if x.format == "csr" else shape[1]
    indptr = alloc(np.asarray(0, dtype="int32"), n_major + 1)
    return CSM(x.format)(zeros((0,), dtype=x.dtype), zeros((0,), dtype="int32"), indptr, shape)
