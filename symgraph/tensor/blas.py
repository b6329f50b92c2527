"""BLAS matrix products: products accumulated into an array, and plain products.

- ``Gemm``: ``beta * Z + alpha * dot(X, Y)`` for matrices (BLAS ``?gemm``);
- ``Gemv``: ``beta * y + alpha * dot(A, x)`` for a matrix and vectors (``?gemv``);
- ``Ger``: ``A + alpha * outer(x, y)`` (``?ger``);
- ``BlasDot``: ``dot(X, Y)`` of a matrix and a matrix or vector (``?gemm``/``?gemv``).

The ``specialize`` rewrites (``symgraph/tensor/rewriting/blas.py``) put these in
place of ``dot`` plus scaled additions, so a training step's ``W - lr * dot(x.T, g)``
is one BLAS call instead of a product, a scaling and a subtraction, each with its own
temporary; the products left alone become ``BlasDot``, so that every BLAS call of a
graph goes to one BLAS library (two, NumPy's and SciPy's, each with its own thread pool,
slow each other down severalfold when their calls alternate).  Gemm, Gemv and Ger have
an in-place variant (``inplace=True``) that overwrites the accumulator (``Z``, ``y`` or
``A``, declared in ``destroy_map``); the default copies it.

The semantics are those of the elementwise expression, NumPy broadcasting included
(the accumulator and the product may broadcast against each other at run time), with
one BLAS convention: where ``beta`` is 0, the values of ``Z`` (``y``) are not read.
``perform`` calls BLAS through ``scipy.linalg.blas`` for float32/float64/complex
operands, passing transposed views rather than copies so that C-ordered arrays go
through as Fortran-ordered ones; other dtypes, size-0 dimensions and broadcasting
fall back to NumPy.  SciPy is imported on first use, not when ``symgraph`` loads.

>>> import numpy as np, symgraph.tensor as T
>>> Z, X, Y = T.dmatrices('Z', 'X', 'Y')
>>> out = gemm(Z, 2.0, X, Y, 0.5)
>>> out.eval({Z: np.ones((1, 1)), X: [[1.0, 2.0]], Y: [[3.0], [4.0]]}).tolist()
[[22.5]]
"""
import numpy as np

from symgraph.graph.basic import Apply, Op
from symgraph.tensor.basic import broadcast_shape, cast
from symgraph.tensor.elemwise import DimShuffle, broadcast_static_shape
from symgraph.tensor.type import TensorType
from symgraph.tensor.var import as_tensor_variable

BLAS_DTYPES = ("float32", "float64", "complex64", "complex128")


class _AccumulatingProduct(Op):
    """Shared parts: the ``inplace`` flag, typing of the scalars, and the gradient,
    taken from the op's meaning written with ``dot``, ``mul`` and ``add``."""

    __props__ = ("inplace",)
    n_matrix_dims = None  # the accumulator's ndim

    def __init__(self, inplace=False):
        self.inplace = bool(inplace)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def __str__(self):
        return f"{type(self).__name__}{{{'inplace' if self.inplace else 'no_inplace'}}}"

    def _typed(self, arrays, scalars):
        """Check the arrays share one dtype; cast the 0-d scalars to it."""
        arrays = [as_tensor_variable(a) for a in arrays]
        dtype = arrays[0].dtype
        if any(a.dtype != dtype for a in arrays):
            raise TypeError(f"{self}: operands must share one dtype, got "
                            f"{[str(a.type) for a in arrays]}")
        typed_scalars = []
        for s in scalars:
            s = as_tensor_variable(s)
            if s.ndim != 0:
                raise TypeError(f"{self}: alpha and beta must be scalars, got {s.type}")
            typed_scalars.append(s if s.dtype == dtype else cast(s, dtype))
        return arrays, typed_scalars

    def _output(self, accumulator, product_shape):
        shape = broadcast_static_shape([accumulator.type.shape, product_shape], str(self))
        return TensorType(accumulator.dtype, shape).make_variable()

    def expression(self, *inputs):
        """The op's value written with elementwise ops and ``dot`` (used for gradients)."""
        raise NotImplementedError

    def L_op(self, inputs, outputs, output_grads):
        from symgraph.gradient import Lop

        return Lop(self.expression(*inputs), list(inputs), output_grads[0])

    def R_op(self, inputs, eval_points):
        from symgraph.gradient import Rop

        wrt = [i for i, e in zip(inputs, eval_points) if e is not None]
        if not wrt:
            return [None]
        points = [e for e in eval_points if e is not None]
        return [Rop(self.expression(*inputs), wrt, points)]


def _scalar(v):
    """A 0-d array as the Python number BLAS takes."""
    return v.item()


def _fortran_operand(m):
    """``(array, transposed)`` presenting ``m`` to BLAS without a copy where possible:
    a Fortran-ordered array as it is, a C-ordered one as its (Fortran-ordered) transpose."""
    if m.flags.f_contiguous:
        return m, 0
    if m.flags.c_contiguous:
        return m.T, 1
    return np.asfortranarray(m), 0


def _accumulator(z, inplace, beta):
    """A contiguous, writable array holding ``z`` for BLAS to overwrite: ``z`` itself
    for an in-place op (when it can be), else a copy (uninitialized where beta is 0)."""
    contiguous = z.flags.c_contiguous or z.flags.f_contiguous
    if inplace and z.flags.writeable and z.flags.aligned and contiguous:
        return z
    if beta == 0:
        return np.empty(z.shape, z.dtype, order="F" if z.flags.f_contiguous else "C")
    return np.array(z, order="K", copy=True)


def _uses_blas(dtype, out_shape, *shapes):
    """Whether BLAS can do the whole job: a BLAS dtype, no size-0 dimension, and every
    operand shape equal to the output's (no broadcasting left to do)."""
    return (dtype in BLAS_DTYPES and all(out_shape) and all(s == out_shape for s in shapes))


def _blas(name, dtype):
    from scipy.linalg import blas  # here, not at import: ``import symgraph`` stays fast

    return blas.get_blas_funcs(name, dtype=np.dtype(dtype))


def _fallback(value, beta_term, out_shape, dtype):
    """``beta_term + value`` broadcast to ``out_shape``; ``beta_term`` None where beta is 0."""
    total = value if beta_term is None else beta_term + value
    return np.array(np.broadcast_to(total, out_shape), dtype=dtype)


# -- gemm ---------------------------------------------------------------------------
class Gemm(_AccumulatingProduct):
    """``beta * Z + alpha * dot(X, Y)`` for matrices ``Z``, ``X``, ``Y`` of one dtype and
    scalars ``alpha``, ``beta`` (inputs in that order: Z, alpha, X, Y, beta)."""

    def make_node(self, z, alpha, x, y, beta):
        (z, x, y), (alpha, beta) = self._typed([z, x, y], [alpha, beta])
        if z.ndim != 2 or x.ndim != 2 or y.ndim != 2:
            raise TypeError(f"{self}: Z, X and Y must be matrices, got "
                            f"{z.type}, {x.type}, {y.type}")
        _check_inner(self, x.type.shape[1], y.type.shape[0])
        out = self._output(z, (x.type.shape[0], y.type.shape[1]))
        return Apply(self, [z, alpha, x, y, beta], [out])

    def perform(self, node, inputs, output_storage):
        z, alpha, x, y, beta = inputs
        dtype = node.outputs[0].type.dtype
        _check_inner(self, x.shape[1], y.shape[0], runtime=True)
        product_shape = (x.shape[0], y.shape[1])
        out_shape = _broadcast_runtime(self, z.shape, product_shape)
        if _uses_blas(dtype, out_shape, z.shape, product_shape) and x.shape[1]:
            target = _accumulator(z, self.inplace, beta)
            output_storage[0][0] = _gemm_blas(target, _scalar(alpha), x, y, _scalar(beta))
            return
        beta_term = None if beta == 0 else beta * z
        output_storage[0][0] = _fallback(alpha * np.dot(x, y), beta_term, out_shape, dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        z, _, x, y, _ = node.inputs
        zs, _, xs, ys, _ = input_shapes
        statics = [z.type.shape, (x.type.shape[0], y.type.shape[1])]
        return [broadcast_shape([zs, (xs[0], ys[1])], statics)]

    def expression(self, z, alpha, x, y, beta):
        from symgraph.tensor.math import dot

        return beta * z + alpha * dot(x, y)


def _gemm_blas(z, alpha, x, y, beta):
    """Overwrite the contiguous ``z`` with ``beta * z + alpha * x @ y`` and return it."""
    fn = _blas("gemm", z.dtype)
    if z.flags.f_contiguous:
        a, trans_a = _fortran_operand(x)
        b, trans_b = _fortran_operand(y)
        return fn(alpha, a, b, beta, z, trans_a=trans_a, trans_b=trans_b, overwrite_c=1)
    # a C-ordered z is a Fortran-ordered z.T = alpha * y.T @ x.T + beta * z.T
    a, trans_a = _fortran_operand(y.T)
    b, trans_b = _fortran_operand(x.T)
    result = fn(alpha, a, b, beta, z.T, trans_a=trans_a, trans_b=trans_b, overwrite_c=1)
    # written into z's buffer: hand back z itself rather than a view of it
    return z if np.may_share_memory(result, z) else result.T


def _check_inner(op, k_x, k_y, runtime=False):
    if k_x is not None and k_y is not None and k_x != k_y:
        kind = ValueError if runtime else TypeError
        raise kind(f"{op}: the product's inner dimensions differ ({k_x} != {k_y})")


def _broadcast_runtime(op, *shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{op}: the accumulator of shape {shapes[0]} does not broadcast "
                         f"with the product of shape {shapes[1]}") from None


# -- gemv ---------------------------------------------------------------------------
class Gemv(_AccumulatingProduct):
    """``beta * y + alpha * dot(A, x)`` for a matrix ``A``, vectors ``x``, ``y`` of one dtype
    and scalars ``alpha``, ``beta`` (inputs in that order: y, alpha, A, x, beta)."""

    def make_node(self, y, alpha, a, x, beta):
        (y, a, x), (alpha, beta) = self._typed([y, a, x], [alpha, beta])
        if y.ndim != 1 or a.ndim != 2 or x.ndim != 1:
            raise TypeError(f"{self}: want a vector y, a matrix A and a vector x, got "
                            f"{y.type}, {a.type}, {x.type}")
        _check_inner(self, a.type.shape[1], x.type.shape[0])
        out = self._output(y, (a.type.shape[0],))
        return Apply(self, [y, alpha, a, x, beta], [out])

    def perform(self, node, inputs, output_storage):
        y, alpha, a, x, beta = inputs
        dtype = node.outputs[0].type.dtype
        _check_inner(self, a.shape[1], x.shape[0], runtime=True)
        out_shape = _broadcast_runtime(self, y.shape, a.shape[:1])
        if _uses_blas(dtype, out_shape, y.shape, a.shape[:1]) and x.shape[0]:
            target = _accumulator(y, self.inplace, beta)
            matrix, trans = _fortran_operand(a)
            fn = _blas("gemv", dtype)
            output_storage[0][0] = fn(_scalar(alpha), matrix, x, _scalar(beta), target,
                                      trans=trans, overwrite_y=1)
            return
        beta_term = None if beta == 0 else beta * y
        output_storage[0][0] = _fallback(alpha * np.dot(a, x), beta_term, out_shape, dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        y, _, a, _, _ = node.inputs
        ys, _, as_, _, _ = input_shapes
        return [broadcast_shape([ys, (as_[0],)], [y.type.shape, (a.type.shape[0],)])]

    def expression(self, y, alpha, a, x, beta):
        from symgraph.tensor.math import dot

        return beta * y + alpha * dot(a, x)


# -- ger ----------------------------------------------------------------------------
class Ger(_AccumulatingProduct):
    """``A + alpha * outer(x, y)`` for a matrix ``A``, vectors ``x``, ``y`` of one dtype and
    a scalar ``alpha`` (inputs in that order: A, alpha, x, y)."""

    def make_node(self, a, alpha, x, y):
        (a, x, y), (alpha,) = self._typed([a, x, y], [alpha])
        if a.ndim != 2 or x.ndim != 1 or y.ndim != 1:
            raise TypeError(f"{self}: want a matrix A and vectors x, y, got "
                            f"{a.type}, {x.type}, {y.type}")
        out = self._output(a, (x.type.shape[0], y.type.shape[0]))
        return Apply(self, [a, alpha, x, y], [out])

    def perform(self, node, inputs, output_storage):
        a, alpha, x, y = inputs
        dtype = node.outputs[0].type.dtype
        product_shape = (x.shape[0], y.shape[0])
        out_shape = _broadcast_runtime(self, a.shape, product_shape)
        if _uses_blas(dtype, out_shape, a.shape, product_shape):
            target = _accumulator(a, self.inplace, 1)
            fn = _blas("geru" if dtype.startswith("complex") else "ger", dtype)
            if target.flags.f_contiguous:
                result = fn(_scalar(alpha), x, y, a=target, overwrite_a=1)
            else:  # the transpose of a C-ordered A is Fortran-ordered: A.T += alpha y x^T
                result = fn(_scalar(alpha), y, x, a=target.T, overwrite_a=1).T
            output_storage[0][0] = result
            return
        output_storage[0][0] = _fallback(alpha * np.outer(x, y), a, out_shape, dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        a, _, x, y = node.inputs
        as_, _, xs, ys = input_shapes
        statics = [a.type.shape, (x.type.shape[0], y.type.shape[0])]
        return [broadcast_shape([as_, (xs[0], ys[0])], statics)]

    def expression(self, a, alpha, x, y):
        return a + alpha * (DimShuffle(1, [0, "x"])(x) * DimShuffle(1, ["x", 0])(y))


# -- dot -------------------------------------------------------------------------------
class BlasDot(Op):
    """``dot(X, Y)`` for a matrix ``X`` and a matrix or vector ``Y`` (or a vector ``X`` and a
    matrix ``Y``) of one dtype, computed with BLAS ``?gemm`` / ``?gemv``."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.dtype != y.dtype or (x.ndim, y.ndim) not in ((2, 2), (2, 1), (1, 2)):
            raise TypeError(f"BlasDot: want a matrix and a matrix or vector of one dtype, got "
                            f"{x.type} and {y.type}")
        _check_inner(self, x.type.shape[-1], y.type.shape[0])
        shape = x.type.shape[:-1] + y.type.shape[1:]
        return Apply(self, [x, y], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        _check_inner(self, x.shape[-1], y.shape[0], runtime=True)
        dtype = node.outputs[0].type.dtype
        if dtype not in BLAS_DTYPES or not (x.size and y.size):
            output_storage[0][0] = np.asarray(np.dot(x, y), dtype=dtype)
        elif x.ndim == 2 and y.ndim == 2:  # the C-ordered x @ y is the F-ordered (y.T @ x.T).T
            a, trans_a = _fortran_operand(y.T)
            b, trans_b = _fortran_operand(x.T)
            output_storage[0][0] = _blas("gemm", dtype)(1, a, b, trans_a=trans_a,
                                                        trans_b=trans_b).T
        else:
            matrix, vector, trans = (x, y, 0) if x.ndim == 2 else (y, x, 1)
            matrix, transposed = _fortran_operand(matrix)
            output_storage[0][0] = _blas("gemv", dtype)(1, matrix, vector,
                                                        trans=trans ^ transposed)

    def infer_shape(self, fgraph, node, input_shapes):
        xs, ys = input_shapes
        return [tuple(xs[:-1]) + tuple(ys[1:])]

    def L_op(self, inputs, outputs, output_grads):
        from symgraph.gradient import Lop
        from symgraph.tensor.math import dot

        return Lop(dot(*inputs), list(inputs), output_grads[0])


blas_dot = BlasDot()
gemm_no_inplace, gemm_inplace = Gemm(False), Gemm(True)
gemv_no_inplace, gemv_inplace = Gemv(False), Gemv(True)
ger_no_inplace, ger_inplace = Ger(False), Ger(True)


def gemm(z, alpha, x, y, beta):
    """``beta * z + alpha * dot(x, y)`` as one BLAS call (a new array; ``z`` is kept).

    >>> import numpy as np, symgraph.tensor as T
    >>> z, x, y = T.dmatrices('z', 'x', 'y')
    >>> gemm(z, -1.0, x, y, 1.0).eval({z: np.eye(2), x: np.eye(2), y: np.eye(2)}).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    return gemm_no_inplace(z, alpha, x, y, beta)


def gemv(y, alpha, a, x, beta):
    """``beta * y + alpha * dot(a, x)`` as one BLAS call (a new array; ``y`` is kept).

    >>> import numpy as np, symgraph.tensor as T
    >>> y, x = T.dvectors('y', 'x')
    >>> a = T.dmatrix('a')
    >>> gemv(y, 2.0, a, x, 1.0).eval({y: [1.0, 1.0], a: np.eye(2), x: [3.0, 4.0]}).tolist()
    [7.0, 9.0]
    """
    return gemv_no_inplace(y, alpha, a, x, beta)


def ger(a, alpha, x, y):
    """``a + alpha * outer(x, y)`` as one BLAS call (a new array; ``a`` is kept).

    >>> import numpy as np, symgraph.tensor as T
    >>> a = T.dmatrix('a')
    >>> x, y = T.dvectors('x', 'y')
    >>> ger(a, 1.0, x, y).eval({a: np.zeros((2, 2)), x: [1.0, 2.0], y: [3.0, 4.0]}).tolist()
    [[3.0, 4.0], [6.0, 8.0]]
    """
    return ger_no_inplace(a, alpha, x, y)
