"""Products with sparse operands: ``dot`` (regular gradient), ``structured_dot``
(structured gradient for the sparse operand) and ``sampling_dot``.

``dot(x, y)``'s gradient with respect to a sparse ``x`` is the true gradient
``gz @ y.T``, dense in general; ``structured_dot``'s is that product read only at
``x``'s stored entries (computed there only, by ``sampling_dot``).
"""
import numpy as np

from symgraph.graph.basic import Apply, Op
from symgraph.sparse.basic import (coords_of, dense_result, grad_like, sp_ones_like,
                                   sparse_dims, transpose_any, with_data)
from symgraph.sparse.math import as_operand, like_sparse, mul, result_dtype, sum_of_tangents
from symgraph.sparse.type import SparseType
from symgraph.sparse.var import as_sparse_variable, is_sparse_variable
from symgraph.tensor.type import TensorType
from symgraph.tensor.var import as_tensor_variable


def _product(x, y):
    """x @ y for SciPy/NumPy operands, at least one sparse, as SciPy computes it."""
    if hasattr(x, "tocsr"):
        return x @ y
    return (y.T @ x.T).T  # dense @ sparse through SciPy's sparse @ dense


def _dot_any(a, b):
    """The product of two matrix variables, sparse or dense."""
    if is_sparse_variable(a) or is_sparse_variable(b):
        return dot(a, b)
    from symgraph.tensor.math import dot as dense_dot

    return dense_dot(a, b)


def _product_rule(product, inputs, eval_points, out_type):
    """R-op of a bilinear ``product(a, b)``: ``product(ea, b) + product(a, eb)``, typed
    as ``out_type`` when sparse."""
    (a, b), (ea, eb) = inputs, eval_points
    total = sum_of_tangents([None if ea is None else product(ea, b),
                             None if eb is None else product(a, eb)])
    if total is not None and isinstance(out_type, SparseType):
        total = like_sparse(total, out_type.format, out_type.dtype)
    return [total]


class Dot(Op):
    """``x @ y`` with at least one sparse operand: sparse x sparse is sparse (in ``x``'s
    format), anything else dense.  A dense operand may be a vector."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_operand(x), as_operand(y)
        if not (is_sparse_variable(x) or is_sparse_variable(y)):
            raise TypeError("sparse Dot needs at least one sparse operand; use tensor.dot")
        for v in (x, y):
            if v.ndim not in (1, 2):
                raise TypeError(f"sparse dot: operands must be vectors or matrices, got {v.type}")
        dtype = result_dtype(x, y)
        if is_sparse_variable(x) and is_sparse_variable(y):
            return Apply(self, [x, y], [SparseType(x.format, dtype)()])
        ndim = x.ndim + y.ndim - 2
        return Apply(self, [x, y], [TensorType(dtype, (None,) * ndim)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        out_type = node.outputs[0].type
        if x.shape[-1] != y.shape[0]:
            raise ValueError(f"sparse dot: shapes {x.shape} and {y.shape} are not aligned")
        out = _product(x, y)
        if isinstance(out_type, SparseType):
            out = out.asformat(out_type.format).astype(out_type.dtype)
        else:
            out = dense_result(out, out_type.dtype)
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        x, y = node.inputs
        if isinstance(node.outputs[0].type, SparseType):
            return [None]
        x_dims = sparse_dims(x) if is_sparse_variable(x) else input_shapes[0]
        y_dims = sparse_dims(y) if is_sparse_variable(y) else input_shapes[1]
        return [tuple(x_dims[:-1]) + tuple(y_dims[1:])]

    def grad(self, inputs, output_grads):
        from symgraph.tensor.math import outer

        (x, y), (gz,) = inputs, output_grads
        if x.ndim == 2 and y.ndim == 2:
            gx, gy = _dot_any(gz, transpose_any(y)), _dot_any(transpose_any(x), gz)
        elif y.ndim == 1:  # sparse matrix @ vector
            gx, gy = outer(gz, y), _dot_any(transpose_any(x), gz)
        else:  # vector @ sparse matrix
            gx, gy = _dot_any(y, gz), outer(x, gz)
        return [grad_like(gx, x), grad_like(gy, y)]

    def R_op(self, inputs, eval_points):
        out_type = self.make_node(*inputs).outputs[0].type
        return _product_rule(_dot_any, inputs, eval_points, out_type)


_dot = Dot()


def dot(x, y):
    """Matrix product with sparse operands (regular gradient: the gradient with respect
    to a sparse operand is the true one, dense in general).

    >>> import numpy as np, scipy.sparse as sp
    >>> dot(sp.identity(2, format='csr') * 2, np.array([[1.0], [3.0]])).eval().tolist()
    [[2.0], [6.0]]
    """
    return _dot(x, y)


class StructuredDot(Op):
    """``a @ b`` with ``a`` sparse and ``b`` a dense or sparse matrix; the gradient with
    respect to ``a`` is structured (only at ``a``'s stored entries)."""

    __props__ = ()

    def make_node(self, a, b):
        a, b = as_sparse_variable(a), as_operand(b)
        if b.ndim != 2:
            raise TypeError(f"structured_dot: b must be a matrix, got {b.type}")
        dtype = result_dtype(a, b)
        out_type = (SparseType(a.format, dtype) if is_sparse_variable(b)
                    else TensorType(dtype, (None, None)))
        return Apply(self, [a, b], [out_type()])

    perform = Dot.perform

    def infer_shape(self, fgraph, node, input_shapes):
        a, b = node.inputs
        if is_sparse_variable(b):
            return [None]
        return [(sparse_dims(a)[0], input_shapes[1][1])]

    def grad(self, inputs, output_grads):
        (a, b), (gz,) = inputs, output_grads
        if is_sparse_variable(b) or is_sparse_variable(gz):
            ga = mul(sp_ones_like(a), _dot_any(gz, transpose_any(b)))
        else:
            ga = sampling_dot(gz, b, sp_ones_like(a))
        gb = _dot_any(transpose_any(a), gz)
        return [grad_like(ga, a), grad_like(gb, b)]

    def R_op(self, inputs, eval_points):
        # forward mode reads a's tangent as given: it lies on a's pattern for a
        # structured input (the L-op is the adjoint of this on that pattern)
        out_type = self.make_node(*inputs).outputs[0].type
        return _product_rule(structured_dot, inputs, eval_points, out_type)


_structured_dot = StructuredDot()


def structured_dot(x, y):
    """``x @ y`` where one operand is sparse, with a structured gradient for it.

    >>> import numpy as np, scipy.sparse as sp
    >>> structured_dot(np.ones((1, 2)), sp.identity(2, format='csc')).eval().tolist()
    [[1.0, 1.0]]
    """
    x, y = as_operand(x), as_operand(y)
    if is_sparse_variable(x):
        return _structured_dot(x, y)
    if not is_sparse_variable(y):
        raise TypeError("structured_dot needs at least one sparse operand")
    return transpose_any(_structured_dot(transpose_any(y), transpose_any(x)))


def _row_dots(x, y, rows, cols, chunk=1 << 16):
    """``sum(x[rows[k]] * y[cols[k]])`` for every k, in chunks to bound memory."""
    out = np.empty(len(rows), dtype=np.result_type(x, y))
    for start in range(0, len(rows), chunk):
        r, c = rows[start:start + chunk], cols[start:start + chunk]
        out[start:start + chunk] = np.einsum("ij,ij->i", x[r], y[c])
    return out


class SamplingDot(Op):
    """``p * (x @ y.T)`` computed only at ``p``'s stored entries (x, y dense matrices,
    p sparse): sparse, with ``p``'s pattern.  With ``p`` of ones it samples the product."""

    __props__ = ()

    def make_node(self, x, y, p):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        p = as_sparse_variable(p)
        if x.ndim != 2 or y.ndim != 2:
            raise TypeError(f"sampling_dot: x and y must be matrices, got {x.type}, {y.type}")
        return Apply(self, [x, y, p], [SparseType(p.format, result_dtype(x, y, p))()])

    def perform(self, node, inputs, output_storage):
        x, y, p = inputs
        if x.shape[1] != y.shape[1] or p.shape != (x.shape[0], y.shape[0]):
            raise ValueError(f"sampling_dot: x {x.shape} @ y.T {y.shape[::-1]} does not match "
                             f"p {p.shape}")
        rows, cols = coords_of(p)
        data = p.data * _row_dots(x, y, rows, cols)
        output_storage[0][0] = with_data(p, data.astype(node.outputs[0].type.dtype, copy=False))

    def grad(self, inputs, output_grads):
        (x, y, p), (gz,) = inputs, output_grads
        weighted = mul(p, gz)  # p's pattern
        gx = dot(weighted, y)
        gy = dot(transpose_any(weighted), x)
        gp = mul(sampling_dot(x, y, sp_ones_like(p)), gz)
        return [grad_like(gx, x), grad_like(gy, y), grad_like(gp, p)]

    def R_op(self, inputs, eval_points):
        # trilinear: one term per input with a tangent, each on p's (or ep's) pattern
        (x, y, p), (ex, ey, ep) = inputs, eval_points
        total = sum_of_tangents([None if ex is None else self(ex, y, p),
                                 None if ey is None else self(x, ey, p),
                                 None if ep is None else self(x, y, ep)])
        if total is None:
            return [None]
        return [like_sparse(total, p.format, result_dtype(x, y, p))]


_sampling_dot = SamplingDot()


def sampling_dot(x, y, p):
    """``p * (x @ y.T)`` at ``p``'s stored entries only (structured gradient for ``p``).

    >>> import numpy as np, scipy.sparse as sp
    >>> p = sp.csr_matrix([[1.0, 0.0], [0.0, 1.0]])
    >>> sampling_dot(np.ones((2, 3)), np.ones((2, 3)), p).eval().toarray().tolist()
    [[3.0, 0.0], [0.0, 3.0]]
    """
    return _sampling_dot(x, y, p)
