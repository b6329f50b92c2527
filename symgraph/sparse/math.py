"""Sparse arithmetic: add, sub, mul (with sparse or dense operands) and ``sp_sum``.

Results: sparse + sparse and sparse * anything are sparse (a product keeps the
sparse operand's pattern); sparse + dense is dense.  Gradients are "regular" (the
true gradient, dense where it is dense) except ``sp_sum(..., sparse_grad=True)``,
whose gradient keeps the input's pattern ("structured").
"""
import numpy as np

from symgraph.graph.basic import Apply, Op
from symgraph.sparse.basic import (DenseFromSparse, coords_of, dense_result, grad_like, neg,
                                   sp_ones_like, sparse_dims, with_data)
from symgraph.sparse.type import SparseType, is_sparse_value
from symgraph.sparse.var import as_sparse_variable, is_sparse_variable
from symgraph.tensor.type import TensorType
from symgraph.tensor.var import TensorConstant, as_tensor_variable


def result_dtype(*variables):
    """NumPy's result dtype, a Python scalar constant counting as weak (NumPy 2 rules).

    >>> import symgraph.tensor as T
    >>> result_dtype(T.fmatrix(), T.as_tensor_variable(2.0)), result_dtype(T.fmatrix(), T.dmatrix())
    ('float32', 'float64')
    """
    parts = [v.python_value if isinstance(v, TensorConstant) and v.weak else np.dtype(v.dtype)
             for v in variables]
    return str(np.result_type(*parts))


def as_operand(x):
    """A sparse variable for sparse values and variables, a tensor for anything else.

    >>> as_operand([1.0, 2.0]).type
    Tensor{float64, (2,)}
    """
    if is_sparse_variable(x) or is_sparse_value(x):
        return as_sparse_variable(x)
    return as_tensor_variable(x)


def _dense_operand(y, op):
    y = as_tensor_variable(y)
    if y.ndim > 2:
        raise TypeError(f"{op}: the dense operand must have at most 2 dims, got {y.type}")
    return y


def _densify(g):
    return DenseFromSparse(structured=False)(g) if is_sparse_variable(g) else g


def sum_of_tangents(terms):
    """The sum of the R-op terms that are not None (sparse or dense), or None.

    >>> import scipy.sparse as sp
    >>> i = as_sparse_variable(sp.identity(2, format='csr'))
    >>> sum_of_tangents([None, i, i]).eval().toarray().tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    """
    present = [t for t in terms if t is not None]
    if not present:
        return None
    total = present[0]
    for term in present[1:]:
        total = add(total, term)
    return total


def like_sparse(t, format, dtype):
    """The sparse tangent ``t`` in ``format`` and ``dtype`` (an R-op result must have
    its output's type).

    >>> import scipy.sparse as sp
    >>> like_sparse(sp.identity(2, format='csr'), 'csc', 'float32').type
    Sparse{csc, float32}
    """
    from symgraph.sparse.basic import as_format, cast

    return cast(as_format(t, format), dtype)


# -- addition ----------------------------------------------------------------------------
class AddSS(Op):
    """sparse + sparse (same shape): sparse, in the first operand's format."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_sparse_variable(x), as_sparse_variable(y)
        return Apply(self, [x, y], [SparseType(x.format, result_dtype(x, y))()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        out_type = node.outputs[0].type
        if x.shape != y.shape:
            raise ValueError(f"sparse add: shapes {x.shape} and {y.shape} differ")
        output_storage[0][0] = (x + y).asformat(out_type.format).astype(out_type.dtype)

    def grad(self, inputs, output_grads):
        (x, y), (gz,) = inputs, output_grads
        return [grad_like(gz, x), grad_like(gz, y)]

    def R_op(self, inputs, eval_points):
        total = sum_of_tangents(eval_points)
        if total is None:
            return [None]
        return [like_sparse(total, inputs[0].format, result_dtype(*inputs))]


class AddSD(Op):
    """sparse + dense: dense (the dense operand may broadcast: a scalar, a row, ...)."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_sparse_variable(x), _dense_operand(y, "sparse add")
        return Apply(self, [x, y], [TensorType(result_dtype(x, y), (None, None))()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        out = x.toarray().astype(node.outputs[0].type.dtype, copy=False)
        out += y  # raises when y does not broadcast to x's shape
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        return [sparse_dims(node.inputs[0])]

    def grad(self, inputs, output_grads):
        from symgraph.tensor.elemwise import sum_to_like

        (x, y), (gz,) = inputs, output_grads
        return [grad_like(gz, x), grad_like(sum_to_like(gz, y), y)]

    def R_op(self, inputs, eval_points):
        from symgraph.tensor.basic import alloc

        (x, y), (ex, ey) = inputs, eval_points
        if ex is not None and ey is not None:
            return [self(ex, ey)]
        if ex is not None:
            return [_densify(ex)]
        if ey is not None:  # y's tangent broadcast to x's shape
            return [alloc(as_tensor_variable(ey), *sparse_dims(x))]
        return [None]


add_s_s, add_s_d = AddSS(), AddSD()


def add(x, y):
    """``x + y`` where at least one operand is sparse: sparse if both are, else dense.

    >>> import numpy as np, scipy.sparse as sp
    >>> add(sp.identity(2, format='csr'), np.ones((2, 2))).eval().tolist()
    [[2.0, 1.0], [1.0, 2.0]]
    """
    x, y = as_operand(x), as_operand(y)
    x_sparse, y_sparse = is_sparse_variable(x), is_sparse_variable(y)
    if x_sparse and y_sparse:
        return add_s_s(x, y)
    if x_sparse:
        return add_s_d(x, y)
    if y_sparse:
        return add_s_d(y, x)
    return x + y


def sub(x, y):
    """``x - y`` where at least one operand is sparse (see ``add``).

    >>> import scipy.sparse as sp
    >>> i = sp.identity(2, format='csr')
    >>> sub(i, i).eval().nnz
    0
    """
    x, y = as_operand(x), as_operand(y)
    return add(x, neg(y) if is_sparse_variable(y) else -y)


# -- multiplication -----------------------------------------------------------------------
class MulSS(Op):
    """Elementwise sparse * sparse: sparse, stored where both operands store entries."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_sparse_variable(x), as_sparse_variable(y)
        return Apply(self, [x, y], [SparseType(x.format, result_dtype(x, y))()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        out_type = node.outputs[0].type
        if x.shape != y.shape:
            raise ValueError(f"sparse mul: shapes {x.shape} and {y.shape} differ")
        output_storage[0][0] = x.multiply(y).asformat(out_type.format).astype(out_type.dtype)

    def grad(self, inputs, output_grads):
        (x, y), (gz,) = inputs, output_grads
        return [grad_like(mul(y, gz), x), grad_like(mul(x, gz), y)]

    def R_op(self, inputs, eval_points):
        (x, y), (ex, ey) = inputs, eval_points
        terms = [None if ex is None else self(ex, y), None if ey is None else self(x, ey)]
        total = sum_of_tangents(terms)
        return [None if total is None else like_sparse(total, x.format, result_dtype(x, y))]


class MulSD(Op):
    """Elementwise sparse * dense: sparse, with the sparse operand's pattern (the dense
    operand may broadcast: a scalar, a row vector, a column ...)."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_sparse_variable(x), _dense_operand(y, "sparse mul")
        return Apply(self, [x, y], [SparseType(x.format, result_dtype(x, y))()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        rows, cols = coords_of(x)
        factors = np.broadcast_to(y, x.shape)[rows, cols]
        data = (x.data * factors).astype(node.outputs[0].type.dtype, copy=False)
        output_storage[0][0] = with_data(x, data)

    def grad(self, inputs, output_grads):
        from symgraph.tensor.elemwise import sum_to_like

        (x, y), (gz,) = inputs, output_grads
        gx = mul(gz, y) if is_sparse_variable(gz) else gz * y
        products = mul(x, gz)  # x's pattern: y's gradient is zero elsewhere
        if y.ndim == 0:
            gy = sp_sum(products)
        elif y.ndim == 1:
            gy = sp_sum(products, axis=0)
        else:
            gy = sum_to_like(_densify(products), y)
        return [grad_like(gx, x), grad_like(gy, y)]

    def R_op(self, inputs, eval_points):
        # product rule; both terms have x's pattern
        (x, y), (ex, ey) = inputs, eval_points
        terms = [None if ex is None else self(ex, y), None if ey is None else self(x, ey)]
        total = sum_of_tangents(terms)
        return [None if total is None else like_sparse(total, x.format, result_dtype(x, y))]


mul_s_s, mul_s_d = MulSS(), MulSD()


def mul(x, y):
    """Elementwise ``x * y`` where at least one operand is sparse: the result is sparse,
    stored only where the sparse operand(s) store entries.

    >>> import numpy as np, scipy.sparse as sp
    >>> mul(sp.identity(2, format='csr'), np.full((2, 2), 3.0)).eval().toarray().tolist()
    [[3.0, 0.0], [0.0, 3.0]]
    """
    x, y = as_operand(x), as_operand(y)
    x_sparse, y_sparse = is_sparse_variable(x), is_sparse_variable(y)
    if x_sparse and y_sparse:
        return mul_s_s(x, y)
    if x_sparse:
        return mul_s_d(x, y)
    if y_sparse:
        return mul_s_d(y, x)
    return x * y


def true_div(x, y):
    """Sparse ``x`` divided elementwise by a dense ``y`` (sparse, ``x``'s pattern).

    >>> import scipy.sparse as sp
    >>> true_div(sp.identity(2, format='csr'), 2.0).eval().toarray().tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    """
    from symgraph.tensor.math import true_div as dense_true_div

    if is_sparse_variable(y) or is_sparse_value(y):
        raise TypeError("sparse true_div: cannot divide by a sparse matrix (0 / 0 where it "
                        "stores nothing); divide by a dense array or scalar")
    if isinstance(y, (int, float)) and not isinstance(y, bool):
        return mul(x, 1.0 / y)
    return mul(x, dense_true_div(1, as_tensor_variable(y)))


def restrict_to_pattern(g, x):
    """``g`` (sparse or dense) read at ``x``'s stored entries: a sparse matrix with
    ``x``'s pattern (intersected with ``g``'s when ``g`` is sparse), typed like ``x``.
    This is how a gradient is made structured.

    >>> import numpy as np, scipy.sparse as sp
    >>> x = sp.csr_matrix([[0.0, 2.0], [5.0, 0.0]])
    >>> restrict_to_pattern(np.full((2, 2), 7.0), x).eval().toarray().tolist()
    [[0.0, 7.0], [7.0, 0.0]]
    """
    x = as_sparse_variable(x)
    return grad_like(mul(sp_ones_like(x), g), x)


# -- sums -----------------------------------------------------------------------------
class SpSum(Op):
    """The sum of a sparse matrix (``axis`` None: a scalar; 0: per column; 1: per row).

    ``sparse_grad=False``: the regular gradient, dense; True: the structured
    gradient, which keeps the input's pattern.
    """

    __props__ = ("axis", "sparse_grad")

    def __init__(self, axis=None, sparse_grad=False):
        if axis is not None:
            if axis not in (0, 1, -1, -2):
                raise ValueError(f"sp_sum: axis must be None, 0 or 1, got {axis}")
            axis = axis % 2
        self.axis, self.sparse_grad = axis, bool(sparse_grad)

    def make_node(self, x):
        x = as_sparse_variable(x)
        shape = () if self.axis is None else (None,)
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        total = x.sum() if self.axis is None else np.asarray(x.sum(axis=self.axis)).ravel()
        output_storage[0][0] = dense_result(total, node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        if self.axis is None:
            return [()]
        rows, cols = sparse_dims(node.inputs[0])
        return [(cols,) if self.axis == 0 else (rows,)]

    def grad(self, inputs, output_grads):
        from symgraph.tensor.basic import alloc

        (x,), (gz,) = inputs, output_grads
        if self.axis == 0:
            gz = gz.dimshuffle("x", 0)
        elif self.axis == 1:
            gz = gz.dimshuffle(0, "x")
        if self.sparse_grad:
            return [restrict_to_pattern(gz, x)]
        return [grad_like(alloc(gz, *sparse_dims(x)), x)]

    def R_op(self, inputs, eval_points):
        (ex,) = eval_points
        return [None if ex is None else self(ex)]


def sp_sum(x, axis=None, sparse_grad=False):
    """Sum of sparse ``x`` over ``axis`` (None, 0 or 1), a dense result; see SpSum for
    ``sparse_grad``.

    >>> import scipy.sparse as sp
    >>> sp_sum(sp.identity(3, format='csr'), axis=0).eval().tolist()
    [1.0, 1.0, 1.0]
    """
    return SpSum(axis, sparse_grad)(x)
