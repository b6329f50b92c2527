"""Algebraic rewrites of the elementwise math ops (``symgraph/tensor/math.py``).

canonicalize (one form per computation):

- ``local_useless_identity_operand``: ``x * 1``, ``x + 0``, ``x - 0``, ``x / 1`` -> ``x``;
- ``local_add_mul_canonical``: nested add/mul chains flattened, their constants
  collected into one, and their operands sorted, so equal sums merge;
- ``local_mul_zero``: ``x * 0`` -> zeros of the product's shape and dtype (as
  in Theano, this ignores that ``inf * 0`` is nan);
- ``local_sub_self``: ``x - x`` -> zeros; ``local_neg_neg``: ``-(-x)`` -> ``x``;
- ``local_sub_neg``: ``x - (-y)`` -> ``x + y``; ``local_add_neg``: ``a + (-b)`` -> ``a - b``;
- ``local_exp_log``: ``exp(log(x))`` -> ``x`` (nan where x < 0, like the original);
  ``local_log_exp``: ``log(exp(x))`` -> ``x``;
- ``local_div_self``: ``x / x`` -> 1.  Not in FAST_RUN, because it is wrong where x
  is 0 (or inf, or nan); enable it with ``mode.including('local_div_self')``;
- ``local_sum_of_scaled``: ``sum(-x)``, ``sum(c * x)``, ``sum(x / c)`` -> the sum of x,
  negated or scaled once;
- ``local_sum_mul_to_dot``: ``sum(x * y)`` of two vectors -> ``dot(x, y)``.

specialize (faster forms):

- ``local_pow_specialize``: ``x ** k`` for k in 0, ±0.5, ±1, ±2, ±3, ±4, ... (small
  integers) -> products of ``sqr``, ``sqrt``, ``inv``;
- ``local_mul_self``: ``x * x`` -> ``sqr(x)``; ``local_one_div``: ``1 / x`` -> ``inv(x)``.

stabilize (numerically stable forms):

- ``local_log1p``: ``log(1 + x)`` -> ``log1p(x)``, ``log(1 - x)`` -> ``log1p(-x)``;
- ``local_expm1``: ``exp(x) - 1`` -> ``expm1(x)``;
- ``local_log1p_exp``: ``log1p(exp(x))`` -> ``softplus(x)``;
- ``local_one_minus_sigmoid``: ``1 - sigmoid(x)`` -> ``sigmoid(-x)``;
- ``local_log_sigmoid``: ``log(sigmoid(x))`` -> ``-softplus(-x)``;
  ``local_log1p_neg_sigmoid``: ``log1p(-sigmoid(x))`` -> ``-softplus(x)``;
- ``local_log_div_exp``: ``log(exp(a) / b)`` -> ``a - log(b)`` (a softmax written by hand);
- ``local_logsumexp``: ``log(sum(exp(x)))`` -> ``max + log(sum(exp(x - max)))``.
"""
import functools

import numpy as np

from symgraph.gradient import GradientStop
from symgraph.rewriting.core import node_rewriter
from symgraph.rewriting.pipeline import (canonicalize, register_canonicalize,
                                         register_specialize, register_stabilize)
from symgraph.scalar import basic as scal
from symgraph.tensor import math as tm
from symgraph.tensor.elemwise import DimShuffle, Elemwise
from symgraph.tensor.rewriting.utils import (as_output_of, constant_value, elemwise_input,
                                             filled, is_constant, keeps_shape, n_clients,
                                             uniform_value)
from symgraph.tensor.type import COMPLEX_DTYPES, TensorType
from symgraph.tensor.var import TensorConstant

_IDENTITY = {scal.add: 0, scal.mul: 1}
_FLOATS = ("float16", "float32", "float64")
_REDUCE = {scal.add: np.add, scal.mul: np.multiply}


# -- canonicalize ----------------------------------------------------------------------
@register_canonicalize("fast_compile")
@node_rewriter([tm.add, tm.mul, tm.sub, tm.true_div])
def local_useless_identity_operand(fgraph, node):
    """``x * 1``, ``x + 0``, ``x - 0``, ``x / 1`` -> ``x`` (when the constant does not
    broadcast ``x`` to a larger shape)."""
    scalar_op = node.op.scalar_op
    if scalar_op in _IDENTITY:
        identity = _IDENTITY[scalar_op]
        useless = [i for i in node.inputs if is_constant(i, identity)]
        kept = [i for i in node.inputs if not any(i is u for u in useless)]
    else:
        x, y = node.inputs
        if not is_constant(y, 1 if scalar_op == scal.true_div else 0):
            return None
        useless, kept = [y], [x]
    if not useless or not kept:
        return None
    new = kept[0] if len(kept) == 1 else node.op.make_node(*kept).outputs[0]
    if not keeps_shape(fgraph, node.outputs[0], new, useless, kept):
        return None
    return [as_output_of(fgraph, node, new)]


def _order_key(var):
    """Constants first, then variables in order of creation (a stable, total order)."""
    return (0 if constant_value(var) is not None else 1, int(var.auto_name[1:]))


@register_canonicalize
@node_rewriter([tm.add, tm.mul])
def local_add_mul_canonical(fgraph, node):
    """Flatten ``(a + b) + c`` into ``a + b + c`` (when the inner sum has no other use
    and the same dtype), fold its constants into one, drop it if it is the identity,
    and sort the operands."""
    op, scalar_op, out = node.op, node.op.scalar_op, node.outputs[0]
    terms, changed = [], False
    for inp in node.inputs:
        inner = elemwise_input(inp, scalar_op)
        if inner is not None and inp.dtype == out.dtype and n_clients(fgraph, inp) == 1:
            terms.extend(inner)
            changed = True
        else:
            terms.append(inp)
    consts = [t for t in terms if constant_value(t) is not None]
    others = [t for t in terms if constant_value(t) is None]
    if len(consts) > 1:
        values = [constant_value(c).astype(out.dtype) for c in consts]
        combined = np.asarray(functools.reduce(_REDUCE[scalar_op], values), dtype=out.dtype)
        consts = [TensorConstant(TensorType(out.dtype, combined.shape), combined)]
        changed = True
    dropped = []
    if consts and others and is_constant(consts[0], _IDENTITY[scalar_op]):
        rest = others[0] if len(others) == 1 else op.make_node(*others).outputs[0]
        if keeps_shape(fgraph, out, rest, consts, others):
            dropped, consts, changed = consts, [], True
    ordered = consts + sorted(others, key=_order_key)
    if not changed and all(a is b for a, b in zip(ordered, node.inputs)):
        return None
    new = ordered[0] if len(ordered) == 1 else op.make_node(*ordered).outputs[0]
    return [as_output_of(fgraph, node, new, dropped, others)]


@register_canonicalize
@node_rewriter([tm.mul])
def local_mul_zero(fgraph, node):
    """``x * 0`` -> zeros with the product's shape and dtype."""
    if any(is_constant(i, 0) for i in node.inputs):
        if all(constant_value(i) is not None for i in node.inputs):
            return None  # constant folding's job
        return [filled(fgraph, node, 0)]
    return None


@register_canonicalize
@node_rewriter([tm.sub])
def local_sub_self(fgraph, node):
    """``x - x`` -> zeros."""
    x, y = node.inputs
    if x is y:
        return [filled(fgraph, node, 0)]
    return None


@register_canonicalize
@node_rewriter([tm.neg])
def local_neg_neg(fgraph, node):
    """``-(-x)`` -> ``x``."""
    inner = elemwise_input(node.inputs[0], scal.neg)
    if inner is not None:
        return [as_output_of(fgraph, node, inner[0])]
    return None


@register_canonicalize
@node_rewriter([tm.sub])
def local_sub_neg(fgraph, node):
    """``x - (-y)`` -> ``x + y``."""
    x, y = node.inputs
    inner = elemwise_input(y, scal.neg)
    if inner is None or y.dtype != node.outputs[0].dtype:  # a narrower negation wraps
        return None
    return [as_output_of(fgraph, node, tm.add(x, inner[0]))]


@register_canonicalize
@node_rewriter([tm.add])
def local_add_neg(fgraph, node):
    """``a + b + (-c)`` -> ``(a + b) - c`` (for negations used only here)."""
    negated, plain = [], []
    for inp in node.inputs:
        inner = elemwise_input(inp, scal.neg)
        if inner is not None and n_clients(fgraph, inp) == 1 \
                and inp.dtype == node.outputs[0].dtype:
            negated.append(inner[0])
        else:
            plain.append(inp)
    if not negated or not plain:
        return None
    positive = plain[0] if len(plain) == 1 else tm.add(*plain)
    negative = negated[0] if len(negated) == 1 else tm.add(*negated)
    return [as_output_of(fgraph, node, tm.sub(positive, negative))]


@register_canonicalize
@node_rewriter([tm.exp])
def local_exp_log(fgraph, node):
    """``exp(log(x))`` -> ``x`` where x >= 0, nan elsewhere (as the original)."""
    inner = elemwise_input(node.inputs[0], scal.log)
    if inner is None or node.outputs[0].dtype in COMPLEX_DTYPES:
        return None
    x = inner[0]
    return [as_output_of(fgraph, node, tm.switch(tm.ge(x, 0), x, np.nan))]


@register_canonicalize
@node_rewriter([tm.log])
def local_log_exp(fgraph, node):
    """``log(exp(x))`` -> ``x``."""
    inner = elemwise_input(node.inputs[0], scal.exp)
    if inner is None or node.outputs[0].dtype in COMPLEX_DTYPES:
        return None
    return [as_output_of(fgraph, node, inner[0])]


@node_rewriter([tm.true_div])
def local_div_self(fgraph, node):
    """``x / x`` -> 1 (wrong where x is 0, inf or nan: only on request)."""
    x, y = node.inputs
    if x is y:
        return [filled(fgraph, node, 1)]
    return None


canonicalize.register("local_div_self", local_div_self, "canonicalize", "div_self", "unsafe")


# -- specialize ---------------------------------------------------------------------------
def _power(x, k):
    """``x ** k`` for a positive int ``k``, by repeated squaring."""
    result, base = None, x
    while k:
        if k & 1:
            result = base if result is None else tm.mul(result, base)
        k >>= 1
        if k:
            base = tm.sqr(base)
    return result


@register_specialize
@node_rewriter([tm.pow])
def local_pow_specialize(fgraph, node):
    """``x ** k`` for small constant k -> sqr/sqrt/inv/products."""
    x, y = node.inputs
    out = node.outputs[0]
    k = uniform_value(y)
    if k is None or isinstance(k, complex) or out.dtype == "bool" \
            or not keeps_shape(fgraph, out, x, [y], [x]):
        return None
    if k == 0:
        return [filled(fgraph, node, 1)]
    x = x if x.dtype == out.dtype else x.astype(out.dtype)
    if abs(k) in (0.5, 1.5):
        base = tm.sqrt(x)
        result = base if abs(k) == 0.5 else tm.mul(x, base)
    elif float(k).is_integer() and abs(k) <= 16:
        result = _power(x, int(abs(k)))
    else:
        return None
    if k < 0:
        if out.dtype not in _FLOATS:
            return None  # an integer to a negative power is an error: leave it
        result = tm.inv(result)
    return [as_output_of(fgraph, node, result)]


@register_specialize
@node_rewriter([tm.mul])
def local_mul_self(fgraph, node):
    """``x * x`` -> ``sqr(x)``."""
    if len(node.inputs) == 2 and node.inputs[0] is node.inputs[1]:
        return [as_output_of(fgraph, node, tm.sqr(node.inputs[0]))]
    return None


@register_specialize
@node_rewriter([tm.true_div])
def local_one_div(fgraph, node):
    """``1 / x`` -> ``inv(x)``."""
    one, x = node.inputs
    if x.dtype == node.outputs[0].dtype and is_constant(one, 1) \
            and keeps_shape(fgraph, node.outputs[0], x, [one], [x]):
        return [as_output_of(fgraph, node, tm.inv(x))]
    return None


# -- stabilize ------------------------------------------------------------------------------
def _without_one(terms, fgraph, out):
    """The terms of a sum besides a constant 1 that does not broadcast, or None."""
    ones = [t for t in terms if is_constant(t, 1)]
    if len(ones) != 1:
        return None
    rest = [t for t in terms if t is not ones[0]]
    if not rest:
        return None
    total = rest[0] if len(rest) == 1 else tm.add(*rest)
    return total if keeps_shape(fgraph, out, total, ones, rest) else None


@register_stabilize
@node_rewriter([tm.log])
def local_log1p(fgraph, node):
    """``log(1 + x)`` -> ``log1p(x)``; ``log(1 - x)`` -> ``log1p(-x)`` (for floats: the
    integer sum could wrap around)."""
    arg = node.inputs[0]
    if arg.dtype not in _FLOATS:
        return None
    terms = elemwise_input(arg, scal.add)
    if terms is not None:
        x = _without_one(terms, fgraph, arg)
        return None if x is None else [as_output_of(fgraph, node, tm.log1p(x))]
    pair = elemwise_input(arg, scal.sub)
    if pair is not None and is_constant(pair[0], 1) \
            and keeps_shape(fgraph, arg, pair[1], [pair[0]], [pair[1]]):
        return [as_output_of(fgraph, node, tm.log1p(tm.neg(pair[1])))]
    return None


@register_stabilize
@node_rewriter([tm.sub, tm.add])
def local_expm1(fgraph, node):
    """``exp(x) - 1`` (or ``exp(x) + -1``) -> ``expm1(x)``."""
    out = node.outputs[0]
    if node.op == tm.sub:
        e, one = node.inputs
        if not is_constant(one, 1):
            return None
    else:
        if len(node.inputs) != 2:
            return None
        ones = [i for i in node.inputs if is_constant(i, -1)]
        if len(ones) != 1:
            return None
        one = ones[0]
        e = node.inputs[1] if node.inputs[0] is one else node.inputs[0]
    inner = elemwise_input(e, scal.exp)
    if inner is None or not keeps_shape(fgraph, out, e, [one], [e]):
        return None
    return [as_output_of(fgraph, node, tm.expm1(inner[0]))]


@register_stabilize
@node_rewriter([tm.log1p])
def local_log1p_exp(fgraph, node):
    """``log1p(exp(x))`` -> ``softplus(x)``."""
    inner = elemwise_input(node.inputs[0], scal.exp)
    if inner is None:
        return None
    return [as_output_of(fgraph, node, tm.softplus(inner[0]))]


@register_stabilize
@node_rewriter([tm.sub])
def local_one_minus_sigmoid(fgraph, node):
    """``1 - sigmoid(x)`` -> ``sigmoid(-x)``."""
    one, s = node.inputs
    inner = elemwise_input(s, scal.sigmoid)
    if inner is None or not is_constant(one, 1) \
            or not keeps_shape(fgraph, node.outputs[0], s, [one], [s]):
        return None
    return [as_output_of(fgraph, node, tm.sigmoid(_negate(inner[0])))]


def _negate(x):
    inner = elemwise_input(x, scal.neg)
    return inner[0] if inner is not None else tm.neg(x)


@register_stabilize
@node_rewriter([tm.log])
def local_log_sigmoid(fgraph, node):
    """``log(sigmoid(x))`` -> ``-softplus(-x)``."""
    inner = elemwise_input(node.inputs[0], scal.sigmoid)
    if inner is None:
        return None
    return [as_output_of(fgraph, node, tm.neg(tm.softplus(_negate(inner[0]))))]


@register_stabilize
@node_rewriter([tm.log1p])
def local_log1p_neg_sigmoid(fgraph, node):
    """``log1p(-sigmoid(x))`` -> ``-softplus(x)``."""
    negated = elemwise_input(node.inputs[0], scal.neg)
    inner = None if negated is None else elemwise_input(negated[0], scal.sigmoid)
    if inner is None:
        return None
    return [as_output_of(fgraph, node, tm.neg(tm.softplus(inner[0])))]


@register_stabilize
@node_rewriter([tm.log])
def local_log_div_exp(fgraph, node):
    """``log(exp(a) / b)`` -> ``a - log(b)``."""
    pair = elemwise_input(node.inputs[0], scal.true_div)
    if pair is None:
        return None
    inner = elemwise_input(pair[0], scal.exp)
    if inner is None:
        return None
    return [as_output_of(fgraph, node, tm.sub(inner[0], tm.log(pair[1])))]


def _strip_max_wrappers(v):
    """``v`` without the dimshuffles, gradient stops and ``switch(isinf(m), 0, m)``
    that stable log-sum-exp forms wrap around the max."""
    while v.owner is not None:
        op = v.owner.op
        if isinstance(op, (DimShuffle, GradientStop)):
            v = v.owner.inputs[0]
        elif isinstance(op, Elemwise) and op.scalar_op == scal.switch:
            v = v.owner.inputs[2]
        else:
            break
    return v


def _is_max_shifted(v):
    """True if ``v`` is ``x - max(x, ...)`` (already stabilized)."""
    pair = elemwise_input(v, scal.sub)
    if pair is None:
        return False
    m = _strip_max_wrappers(pair[1])
    return (m.owner is not None and isinstance(m.owner.op, tm.Reduce)
            and m.owner.op.kind == "max" and m.owner.inputs[0] is pair[0])


def _added_axes_only(op):
    return isinstance(op, DimShuffle) and not op.drop and \
        [d for d in op.new_order if d != "x"] == list(range(op.input_ndim))


@register_stabilize
@node_rewriter([tm.log])
def local_logsumexp(fgraph, node):
    """``log(sum(exp(x), axes))`` -> ``m + log(sum(exp(x - m), axes))`` with ``m`` the
    max over ``axes`` (0 where it is infinite), also under a keepdims dimshuffle."""
    arg = node.inputs[0]
    expand = None
    if arg.owner is not None and _added_axes_only(arg.owner.op):
        expand, arg = arg.owner.op, arg.owner.inputs[0]
    total = arg.owner
    if total is None or not isinstance(total.op, tm.Reduce) or total.op.kind != "sum":
        return None
    inner = elemwise_input(total.inputs[0], scal.exp)
    if inner is None or _is_max_shifted(inner[0]):
        return None
    x = inner[0]
    if x.dtype not in _FLOATS or total.op.dtype not in (None, x.dtype):
        return None
    axes = total.op.axis
    m = tm.max(x, axes)
    m = tm.switch(tm.isinf(m), 0, m)
    kept_dims = [k for k in range(x.ndim) if k not in axes]
    pattern = [kept_dims.index(k) if k in kept_dims else "x" for k in range(x.ndim)]
    shifted = tm.exp(x - DimShuffle(m.ndim, pattern)(m))
    result = tm.log(tm.sum(shifted, axes)) + m
    if expand is not None:
        result = expand(result)
    return [as_output_of(fgraph, node, result)]


# -- reductions of elementwise results -------------------------------------------------------
def _float_sum(node):
    """The summed input of a float ``sum`` node that accumulates in its own dtype, else None."""
    op = node.op
    if not isinstance(op, tm.Reduce) or op.kind != "sum":
        return None
    x = node.inputs[0]
    if x.dtype not in _FLOATS or node.outputs[0].dtype != x.dtype:
        return None
    return x


@register_canonicalize
@node_rewriter([tm.Reduce])
def local_sum_of_scaled(fgraph, node):
    """``sum(-x)`` -> ``-sum(x)``; ``sum(c * x)`` -> ``c * sum(x)``; ``sum(x / c)`` ->
    ``sum(x) / c``, for a scalar constant ``c`` (one multiplication instead of many)."""
    x = _float_sum(node)
    if x is None or x.owner is None or n_clients(fgraph, x) != 1:
        return None
    inner = x.owner
    if elemwise_input(x, scal.neg) is not None:
        return [tm.neg(node.op(inner.inputs[0]))]
    if elemwise_input(x, scal.mul) is not None:
        scalars = [i for i in inner.inputs if uniform_value(i) is not None]
        rest = [i for i in inner.inputs if uniform_value(i) is None]
        if len(scalars) != 1 or not rest:
            return None
        product = rest[0] if len(rest) == 1 else tm.mul(*rest)
        if not keeps_shape(fgraph, x, product, scalars, rest):
            return None
        return [_scaled(node, scalars[0], node.op(product), tm.mul)]
    pair = elemwise_input(x, scal.true_div)
    if pair is not None and uniform_value(pair[1]) is not None \
            and keeps_shape(fgraph, x, pair[0], [pair[1]], [pair[0]]):
        return [_scaled(node, pair[1], node.op(pair[0]), tm.true_div, first=False)]
    return None


def _scaled(node, constant, total, op, first=True):
    """``op(c, total)`` (or ``op(total, c)``) with ``c`` the scalar value of ``constant``."""
    out = node.outputs[0]
    c = TensorConstant(TensorType(out.dtype, ()), np.asarray(uniform_value(constant), out.dtype))
    result = op(c, total) if first else op(total, c)
    return result if result.dtype == out.dtype else result.astype(out.dtype)


@register_canonicalize
@node_rewriter([tm.Reduce])
def local_sum_mul_to_dot(fgraph, node):
    """``sum(x * y)`` of two vectors of the same length -> ``dot(x, y)``."""
    v = _float_sum(node)
    pair = None if v is None else elemwise_input(v, scal.mul)
    if pair is None or len(pair) != 2 or v.ndim != 1 or n_clients(fgraph, v) != 1:
        return None
    x, y = pair
    if x.type.shape[0] == 1 or y.type.shape[0] == 1 or x.dtype != y.dtype:
        return None
    if not keeps_shape(fgraph, v, x, [y], [x]):  # y must not broadcast x, nor x y
        return None
    if not keeps_shape(fgraph, v, y, [x], [y]):
        return None
    return [tm.dot(x, y)]
