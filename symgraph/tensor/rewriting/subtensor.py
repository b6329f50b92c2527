"""Rewrites of indexed increments (``symgraph/tensor/subtensor.py``).

Gradients of indexing are increments into zeros: ``inc_subtensor(zeros_like(x)[idx], g)``.
These rewrites make them cheap:

- ``local_useless_inc_subtensor``: incrementing by zeros leaves ``x`` as it is;
- ``local_inc_subtensor_of_zeros``: a basic-index increment into zeros is a ``set`` (basic
  indices never repeat, so nothing accumulates and the old zeros need not be read);
- ``local_advanced_inc_subtensor1``: an advanced increment along the first axis by one
  integer vector (the gradient of ``W[idx]``, e.g. an embedding lookup) becomes
  ``AdvancedIncSubtensor1``, the specialized row-scatter op;
- ``local_scale_of_inc_zeros``: ``c * inc_subtensor(zeros[idx], v)`` (also ``-inc``,
  ``inc / c``), with ``c`` a scalar, -> ``inc_subtensor(zeros[idx], c * v)``: the scale
  moves onto the few indexed values instead of a dense pass over the whole array;
- ``local_add_inc_zeros``: ``x + inc_subtensor(zeros[idx], v)`` -> ``inc_subtensor(x[idx],
  v)`` (and ``x - inc`` -> ``inc_subtensor(x[idx], -v)``) when ``x`` certainly has the
  zeros' shape.  With both, the SGD update of an embedding matrix,
  ``E - lr * grad(cost, E)`` where the cost reads ``E[ids]``, becomes a scatter of the
  looked-up rows into ``E`` (done in place by the ``inplace`` stage) instead of a dense
  V x H gradient and a full pass over ``E``.

"Increments into zeros" are the ``inc`` forms of ``IncSubtensor``, ``AdvancedIncSubtensor``
and ``AdvancedIncSubtensor1`` (repeated indices add up, before and after the rewrites),
and a basic-index ``set_subtensor`` into zeros (basic indices never repeat, so there it
is the same as an increment).  Other ``set_subtensor`` forms are left alone: with
repeated indices only one write survives, which no sum reproduces.

>>> import numpy as np, symgraph as sg, symgraph.tensor as T
>>> E = sg.shared(np.ones((1000, 4), dtype="float32"), name="E")
>>> ids = T.ivector("ids")
>>> f = sg.function([ids], [], updates=[(E, E - 0.5 * sg.grad(E[ids].sum(), E))])
>>> str(f.maker.fgraph.outputs[0].owner.op)
'AdvancedIncSubtensor1{inplace}'
>>> _ = f(np.array([3, 3, 7], dtype="int32"))
>>> E.get_value()[[3, 7, 8], 0].tolist()
[0.0, 0.5, 1.0]
"""
import numpy as np

from symgraph.rewriting.core import node_rewriter
from symgraph.rewriting.pipeline import register_canonicalize, register_specialize
from symgraph.tensor import math as tm
from symgraph.tensor.basic import Alloc, alloc, cast
from symgraph.tensor.elemwise import DimShuffle
from symgraph.tensor.shape import specify_shape
from symgraph.tensor.subtensor import (AdvancedIncSubtensor, AdvancedIncSubtensor1,
                                       IncSubtensor)
from symgraph.tensor.rewriting.shape import is_dim_of
from symgraph.tensor.rewriting.utils import is_constant, same_dim, uniform_value
from symgraph.tensor.type import CONTINUOUS_DTYPES, INT_DTYPES


def _is_zeros(var):
    """True if ``var`` is all zeros: a constant, or an ``alloc`` of a constant zero."""
    if var.owner is not None and isinstance(var.owner.op, Alloc):
        return is_constant(var.owner.inputs[0], 0)
    return uniform_value(var) == 0 and uniform_value(var) is not None


@register_canonicalize
@node_rewriter([IncSubtensor, AdvancedIncSubtensor])
def local_useless_inc_subtensor(fgraph, node):
    """``inc_subtensor(x[idx], 0)`` -> ``x``."""
    if node.op.set_instead_of_inc or not _is_zeros(node.inputs[1]):
        return None
    x = node.inputs[0]
    return [x] if x.type == node.outputs[0].type else None


@register_specialize
@node_rewriter([IncSubtensor])
def local_inc_subtensor_of_zeros(fgraph, node):
    """``inc_subtensor(zeros[idx], y)`` -> ``set_subtensor(zeros[idx], y)`` (basic indices)."""
    op = node.op
    if type(op) is not IncSubtensor or op.set_instead_of_inc or op.inplace:
        return None
    if not _is_zeros(node.inputs[0]):
        return None
    return [IncSubtensor(op.idx_list, set_instead_of_inc=True)(*node.inputs)]


@register_specialize
@node_rewriter([AdvancedIncSubtensor])
def local_advanced_inc_subtensor1(fgraph, node):
    """``inc_subtensor(x[v], y)`` with ``v`` an integer vector -> ``AdvancedIncSubtensor1``."""
    op = node.op
    if type(op) is not AdvancedIncSubtensor or op.idx_list != ("a",):
        return None
    x, y, index = node.inputs
    if index.ndim != 1 or index.dtype not in INT_DTYPES or x.ndim == 0:
        return None
    return [AdvancedIncSubtensor1(op.set_instead_of_inc)(x, y, index)]


# -- linear maps of increments into zeros ---------------------------------------------------
def _inc_into_zeros(var):
    """The node of ``var`` if it is an increment into plain zeros (see the module's
    docstring), else None."""
    node = var.owner
    if node is None or not isinstance(node.op, (IncSubtensor, AdvancedIncSubtensor1)):
        return None
    op = node.op
    if op.inplace or not _is_zeros(node.inputs[0]):
        return None
    if op.set_instead_of_inc and type(op) is not IncSubtensor:
        return None
    return node


def _increment(inc_node, base, value):
    """The increment ``inc_node`` does (its indices, as an ``inc``), into ``base`` by ``value``."""
    op = inc_node.op
    if isinstance(op, AdvancedIncSubtensor1):
        return AdvancedIncSubtensor1()(base, value, *inc_node.inputs[2:])
    return type(op)(op.idx_list)(base, value, *inc_node.inputs[2:])


def _exact_dtypes(inc_dtype, out_dtype):
    """Whether the rewritten sum may be accumulated in ``out_dtype`` instead of the
    increment's own dtype: the same dtype (exact, modular for integers), or both
    floating (the sum is then rounded once instead of twice)."""
    if inc_dtype == out_dtype:
        return inc_dtype != "bool"
    return inc_dtype in CONTINUOUS_DTYPES and out_dtype in CONTINUOUS_DTYPES


def _as_scalar(c):
    """``c`` as a 0-d variable if every one of its dims is statically 1, else None."""
    if any(size != 1 for size in c.type.shape):
        return None
    return c if c.ndim == 0 else DimShuffle(c.ndim, [])(c)


def _zeros_as(zeros, dtype):
    """The zeros ``zeros`` in ``dtype`` (an ``alloc`` stays an ``alloc``)."""
    if zeros.dtype == dtype:
        return zeros
    if zeros.owner is not None and isinstance(zeros.owner.op, Alloc):
        return alloc(np.zeros((), dtype=dtype), *zeros.owner.inputs[1:])
    return cast(zeros, dtype)


def _scaled_operands(node):
    """``(increment node, function of its values)`` if ``node`` scales one increment into
    zeros by scalars (``c * inc``, ``-inc``, ``inc / c``), else None.  The function takes
    the values cast to the output's dtype."""
    out = node.outputs[0]
    if node.op == tm.neg:
        inc = _inc_into_zeros(node.inputs[0])
        return None if inc is None else (inc, tm.neg)
    if node.op == tm.true_div:
        inc, divisor = _inc_into_zeros(node.inputs[0]), _as_scalar(node.inputs[1])
        if inc is None or divisor is None:
            return None
        return inc, lambda v: tm.true_div(v, cast(divisor, out.dtype))
    if node.op != tm.mul:
        return None
    for k, operand in enumerate(node.inputs):
        inc = _inc_into_zeros(operand)
        if inc is None:
            continue
        scales = [_as_scalar(c) for j, c in enumerate(node.inputs) if j != k]
        if any(c is None for c in scales):
            return None
        scales = [cast(c, out.dtype) for c in scales]
        return inc, lambda v: tm.mul(*scales, v)
    return None


@register_canonicalize
@register_specialize
@node_rewriter([tm.mul, tm.neg, tm.true_div])
def local_scale_of_inc_zeros(fgraph, node):
    """``c * inc_subtensor(zeros[idx], v)`` -> ``inc_subtensor(zeros[idx], c * v)`` for
    scalar-like ``c`` (every dim statically 1, so it cannot enlarge the result); the same
    for ``-inc`` and ``inc / c``."""
    found = _scaled_operands(node)
    if found is None:
        return None
    inc, scale = found
    out, inc_out = node.outputs[0], inc.outputs[0]
    if out.type.shape != inc_out.type.shape or not _exact_dtypes(inc_out.dtype, out.dtype):
        return None
    value = scale(cast(inc.inputs[1], out.dtype))
    if value.dtype != out.dtype:  # e.g. an integer true_div: leave it as it is
        return None
    return [_increment(inc, _zeros_as(inc.inputs[0], out.dtype), value)]


def _same_size(fgraph, zeros, x, d):
    """True if dimension ``d`` of ``x`` certainly equals that of ``zeros``."""
    if same_dim(fgraph, x, d, zeros, d):
        return True
    node = zeros.owner
    if node is not None and isinstance(node.op, Alloc):
        return is_dim_of(fgraph, node.inputs[1 + d], x, d)
    return False


def _has_shape_of(fgraph, zeros, terms):
    """True if the elementwise sum of ``terms`` certainly has the shape of ``zeros``: in
    every dim each term is statically 1 or of the zeros' size, and one is of that size."""
    if any(t.ndim != zeros.ndim for t in terms):
        return False
    for d in range(zeros.ndim):
        sized = [_same_size(fgraph, zeros, t, d) for t in terms]
        if not any(sized):
            return False
        if not all(s or t.type.shape[d] == 1 for s, t in zip(sized, terms)):
            return False
    return True


@register_canonicalize
@register_specialize
@node_rewriter([tm.add, tm.sub])
def local_add_inc_zeros(fgraph, node):
    """``x + inc_subtensor(zeros[idx], v)`` -> ``inc_subtensor(x[idx], v)`` and
    ``x - inc_subtensor(zeros[idx], v)`` -> ``inc_subtensor(x[idx], -v)``, when ``x`` (the
    sum of the other terms) certainly has the zeros' shape, and the output's dtype and
    static shape, so that nothing was broadcast."""
    out = node.outputs[0]
    if node.op == tm.sub:
        candidates = [1]
    else:
        candidates = range(len(node.inputs))
    for k in candidates:
        inc = _inc_into_zeros(node.inputs[k])
        terms = [t for j, t in enumerate(node.inputs) if j != k]
        if inc is None or not _exact_dtypes(inc.outputs[0].dtype, out.dtype):
            continue
        if not _has_shape_of(fgraph, inc.inputs[0], terms):
            continue
        x = terms[0] if len(terms) == 1 else tm.add(*terms)
        if x.dtype != out.dtype or x.ndim != out.ndim or \
                any((a == 1) != (b == 1) for a, b in zip(x.type.shape, out.type.shape)):
            continue
        value = cast(inc.inputs[1], out.dtype)
        new = _increment(inc, x, tm.neg(value) if node.op == tm.sub else value)
        if new.type != out.type and not out.type.is_super(new.type):
            new = specify_shape(new, out.type.shape)
        return [new]
    return None
