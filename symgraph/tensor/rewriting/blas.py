"""``dot`` plus scaled additions as BLAS calls (specialize; ``symgraph/tensor/blas.py``).

- ``local_gemm``: ``b * Z + a * dot(X, Y)`` (any signs, scalar factors and divisors; also
  ``Z - lr * dot(x.T, g)``, the SGD update) -> ``gemm(Z, a, X, Y, b)`` for matrices;
- ``local_gemv``: ``b * y + a * dot(A, x)`` (or ``dot(x, A)``) -> ``gemv(y, a, A, x, b)``;
- ``local_ger``: ``A + a * outer(x, y)`` (``outer`` is a product of a column and a
  row dimshuffle) -> ``ger(A, a, x, y)``;
- ``local_blas_dot``: the other products of a matrix and a matrix or vector ->
  ``BlasDot``, so that every BLAS call of the graph goes to SciPy's BLAS.  Alone it is
  as fast as NumPy's ``dot``; beside gemm calls it is several times faster, because
  NumPy's BLAS and SciPy's each keep a thread pool, and the two slow each other down
  when their calls alternate (an MLP training step, 784-1000-1000-1000-10, float32:
  103 ms with NumPy's ``dot`` and SciPy's gemm, 21 ms with SciPy's for both, 2 cores).

A sum of several terms keeps the others: ``Z + dot(X, Y) + c`` -> ``gemm(...) + c``.

What must hold, so that values do not change:

- one dtype (float32/64, complex64/128) for the result, the accumulator and the
  product's operands (the scalars are cast to it, as the elementwise product does);
- the accumulator and the product broadcast in the same dimensions statically: a
  bias row added to a matrix product is *not* a gemm (it would have to be
  materialized first).  Broadcasting that only run time can see is done by the ops;
- the product and the products/negations around it have no other use (else the
  product would be computed twice).

In the ``inplace`` stage, ``inplace_blas`` makes these ops overwrite their accumulator
where the DestroyHandler allows it (an intermediate, or a mutable input).

>>> import symgraph as sg, symgraph.tensor as T
>>> W, x, g = T.dmatrices('W', 'x', 'g')
>>> f = sg.function([W, x, g], W - 0.1 * T.dot(x.T, g))
>>> [str(n.op) for n in f.maker.fgraph.toposort()]
['DimShuffle{1,0}', 'Gemm{no_inplace}']
"""
import numpy as np

from symgraph.graph.basic import Apply, Constant
from symgraph.rewriting.core import node_rewriter
from symgraph.rewriting.pipeline import register_specialize
from symgraph.scalar import basic as scal
from symgraph.tensor import math as tm
from symgraph.tensor.basic import cast
from symgraph.tensor.blas import (BLAS_DTYPES, BlasDot, Gemm, Gemv, Ger, blas_dot,
                                  gemm_no_inplace, gemv_no_inplace, ger_no_inplace)
from symgraph.tensor.elemwise import DimShuffle
from symgraph.tensor.rewriting.inplace import InplaceRewriter, register_inplace
from symgraph.tensor.rewriting.utils import constant_value, elemwise_input, n_clients
from symgraph.tensor.type import TensorType
from symgraph.tensor.var import TensorConstant


# -- reading a sum as terms --------------------------------------------------------------
class _Term:
    """One operand of a sum, read as ``sign * product(scalars) / product(divisors) *
    product(factors)``.

    ``operand`` is the sum's input and ``position_sign`` its sign there (-1 for the
    subtrahend); ``private`` says the negations/products in between have no other use.
    """

    def __init__(self, operand, position_sign):
        self.operand, self.position_sign = operand, position_sign
        self.sign, self.scalars, self.divisors, self.factors = position_sign, [], [], []
        self.private = True


def _is_scalar(var):
    return all(s == 1 for s in var.type.shape)


def _read_term(fgraph, operand, position_sign):
    term = _Term(operand, position_sign)
    var = operand
    term.private = n_clients(fgraph, var) == 1
    while True:
        negated = elemwise_input(var, scal.neg)
        quotient = elemwise_input(var, scal.true_div)
        if negated is not None and negated[0].dtype == var.dtype:
            var, term.sign = negated[0], -term.sign
        elif quotient is not None and _is_scalar(quotient[1]) and not _is_scalar(quotient[0]) \
                and quotient[0].dtype == var.dtype:
            var = quotient[0]
            term.divisors.append(quotient[1])
        else:
            break
        term.private = term.private and n_clients(fgraph, var) == 1
    operands = elemwise_input(var, scal.mul)
    if operands is not None and any(not _is_scalar(i) for i in operands):
        term.scalars = [i for i in operands if _is_scalar(i)]
        term.factors = [i for i in operands if not _is_scalar(i)]
    else:
        term.factors = [var]
    return term


def _read_sum(fgraph, node):
    if node.op == tm.add:
        return [_read_term(fgraph, i, 1) for i in node.inputs]
    x, y = node.inputs
    return [_read_term(fgraph, x, 1), _read_term(fgraph, y, -1)]


# -- scales ----------------------------------------------------------------------------
def _as_0d(var, dtype):
    """The single value of the all-size-1 ``var`` as a 0-d variable of ``dtype``."""
    if var.ndim and var.owner is not None and isinstance(var.owner.op, DimShuffle) \
            and var.owner.inputs[0].ndim == 0:
        var = var.owner.inputs[0]
    elif var.ndim:
        var = DimShuffle(var.ndim, [])(var)
    return var if var.dtype == dtype else cast(var, dtype)


def _constant(value, dtype):
    return TensorConstant(TensorType(dtype, ()), np.asarray(value, dtype=dtype))


def _scale(term, dtype):
    """``sign * product(scalars) / product(divisors)`` of ``term`` as a 0-d ``dtype``
    variable (a constant when the factors are)."""
    values = [constant_value(s) for s in term.scalars + term.divisors]
    if all(v is not None for v in values):
        total = np.asarray(term.sign, dtype=dtype)
        for k, v in enumerate(values):
            v = v.reshape(()).astype(dtype)
            total = np.asarray(total * v if k < len(term.scalars) else total / v, dtype=dtype)
        return _constant(total, dtype)
    total = None
    for s in term.scalars:
        total = _as_0d(s, dtype) if total is None else tm.mul(total, _as_0d(s, dtype))
    for d in term.divisors:
        total = tm.true_div(_constant(1, dtype) if total is None else total, _as_0d(d, dtype))
    return tm.neg(total) if term.sign < 0 else total


def _accumulator(term, dtype):
    """``(Z, beta)`` with ``term == beta * Z``."""
    if len(term.factors) == 1:
        return term.factors[0], _scale(term, dtype)
    product = term.operand if term.position_sign > 0 else tm.neg(term.operand)
    return product, _constant(1, dtype)


def _same_broadcasting(z, product_shape):
    """Whether ``z`` and a product of static shape ``product_shape`` broadcast in the same
    dimensions (a size-1 ``z`` against a larger product is a broadcast bias: no)."""
    return z.ndim == len(product_shape) and all(
        (a == 1) == (b == 1) for a, b in zip(z.type.shape, product_shape))


# -- the products ----------------------------------------------------------------------------
def _single_product(fgraph, term):
    """The ``Dot`` (or ``BlasDot``) node that is the only factor of ``term`` and used only
    there."""
    if not term.private or len(term.factors) != 1:
        return None
    var = term.factors[0]
    node = var.owner
    if node is None or not isinstance(node.op, (tm.Dot, BlasDot)) \
            or n_clients(fgraph, var) != 1:
        return None
    return node


def _gemm_product(fgraph, term, dtype):
    node = _single_product(fgraph, term)
    if node is None:
        return None
    x, y = node.inputs
    if x.ndim != 2 or y.ndim != 2 or not x.dtype == y.dtype == node.outputs[0].dtype == dtype:
        return None
    return node.outputs[0].type.shape, lambda z, alpha, beta: gemm_no_inplace(z, alpha, x, y, beta)


def _gemv_product(fgraph, term, dtype):
    node = _single_product(fgraph, term)
    if node is None:
        return None
    a, x = node.inputs
    if not a.dtype == x.dtype == node.outputs[0].dtype == dtype:
        return None
    if (a.ndim, x.ndim) == (1, 2):  # dot(v, M) == dot(M.T, v)
        a, x = DimShuffle(2, [1, 0])(x), a
    elif (a.ndim, x.ndim) != (2, 1):
        return None
    return node.outputs[0].type.shape, lambda y, alpha, beta: gemv_no_inplace(y, alpha, a, x, beta)


def _vector_of(var, kept_dim):
    """The vector that the column (``kept_dim`` 0) or row (1) matrix ``var`` holds."""
    node = var.owner
    wanted = (0, "x") if kept_dim == 0 else ("x", 0)
    if node is not None and isinstance(node.op, DimShuffle) and node.op.new_order == wanted:
        return node.inputs[0]
    return DimShuffle(2, [kept_dim])(var)


def _ger_product(fgraph, term, dtype):
    if not term.private or len(term.factors) != 2:
        return None
    columns = [f for f in term.factors if f.ndim == 2 and f.type.shape[1] == 1]
    rows = [f for f in term.factors if f.ndim == 2 and f.type.shape[0] == 1]
    if len(columns) != 1 or len(rows) != 1 or columns[0] is rows[0]:
        return None
    column, row = columns[0], rows[0]
    if not column.dtype == row.dtype == dtype:
        return None
    x, y = _vector_of(column, 0), _vector_of(row, 1)
    shape = (column.type.shape[0], row.type.shape[1])

    def build(a, alpha, beta):
        if not (isinstance(beta, TensorConstant) and np.all(beta.data == 1)):
            a = tm.mul(DimShuffle(0, ["x", "x"])(beta), a)
        return ger_no_inplace(a, alpha, x, y)

    return shape, build


# -- the rewrite --------------------------------------------------------------------------
def _fuse(fgraph, node, find_product):
    """Replace one product term and one accumulator term of the sum ``node`` by a BLAS
    op (the other terms are added back), or None."""
    out = node.outputs[0]
    dtype = out.dtype
    if dtype not in BLAS_DTYPES:
        return None
    terms = _read_sum(fgraph, node)
    for i, term in enumerate(terms):
        found = find_product(fgraph, term, dtype)
        if found is None:
            continue
        product_shape, build = found
        for j, other in enumerate(terms):
            if j == i:
                continue
            z, beta = _accumulator(other, dtype)
            if z.dtype != dtype or not _same_broadcasting(z, product_shape):
                continue
            result = build(z, _scale(term, dtype), beta)
            result = _add_back(result, [t for k, t in enumerate(terms) if k not in (i, j)])
            if result.type == out.type or out.type.is_super(result.type):
                return [result]
    return None


def _add_back(result, rest):
    positive = [t.operand for t in rest if t.position_sign > 0]
    negative = [t.operand for t in rest if t.position_sign < 0]
    if positive:
        result = tm.add(result, *positive)
    if negative:
        result = tm.sub(result, negative[0] if len(negative) == 1 else tm.add(*negative))
    return result


@register_specialize("blas")
@node_rewriter([tm.add, tm.sub])
def local_gemm(fgraph, node):
    """``b * Z + a * dot(X, Y)`` -> ``gemm(Z, a, X, Y, b)`` (matrices)."""
    return _fuse(fgraph, node, _gemm_product)


@register_specialize("blas")
@node_rewriter([tm.add, tm.sub])
def local_gemv(fgraph, node):
    """``b * y + a * dot(A, x)`` -> ``gemv(y, a, A, x, b)``."""
    return _fuse(fgraph, node, _gemv_product)


@register_specialize("blas")
@node_rewriter([tm.add, tm.sub])
def local_ger(fgraph, node):
    """``A + a * outer(x, y)`` -> ``ger(A, a, x, y)``."""
    return _fuse(fgraph, node, _ger_product)


@register_specialize("blas")
@node_rewriter([tm.Dot])
def local_blas_dot(fgraph, node):
    """``dot(X, Y)`` of a matrix and a matrix or vector -> ``BlasDot(X, Y)``."""
    x, y = node.inputs
    out = node.outputs[0]
    if out.dtype not in BLAS_DTYPES or not x.dtype == y.dtype == out.dtype \
            or (x.ndim, y.ndim) not in ((2, 2), (2, 1), (1, 2)):
        return None
    return [blas_dot(x, y)]


# -- in place ------------------------------------------------------------------------------
def _inplace_candidates(fgraph, node):
    """The same op overwriting its accumulator (the DestroyHandler decides if it may)."""
    if node.op.inplace or isinstance(node.inputs[0], Constant):
        return
    op = type(node.op)(inplace=True)
    yield Apply(op, node.inputs, [out.type.make_variable() for out in node.outputs]).outputs


inplace_blas = register_inplace(InplaceRewriter("inplace_blas", [Gemm, Gemv, Ger],
                                                _inplace_candidates), "blas", position=0.5)
