"""Helpers the tensor rewrites share: reading constants, matching elementwise ops,
comparing symbolic shapes, and fitting a replacement to the output it replaces.

The central safety rule lives in ``as_output_of``: a rewrite that drops inputs of
an elementwise node (``x * 1 -> x``, ``x - x -> 0``) may lose the broadcasting
those inputs did; the replacement is then broadcast back with ``alloc`` unless
static types or the shape feature prove the shape is unchanged.
"""
import numpy as np

from symgraph.graph.basic import Constant
from symgraph.tensor.elemwise import DimShuffle, Elemwise
from symgraph.tensor.type import TensorType


def constant_value(var):
    """The ndarray ``var`` holds if it is a constant (seen through dimshuffles), else None.

    >>> import symgraph.tensor as T
    >>> constant_value(T.constant(2.0)).item()
    2.0
    >>> constant_value(T.dscalar()) is None
    True
    """
    while var.owner is not None and isinstance(var.owner.op, DimShuffle):
        value = constant_value(var.owner.inputs[0])
        if value is None:
            return None
        op = var.owner.op
        value = value.reshape([s for i, s in enumerate(value.shape) if i not in op.drop])
        value = value.transpose(op.shuffle)
        return np.expand_dims(value, op.augment) if op.augment else value
    if isinstance(var, Constant) and isinstance(var.data, np.ndarray):
        return var.data
    return None


def uniform_value(var):
    """The single value every element of constant ``var`` has (a Python scalar), else None.

    >>> import symgraph.tensor as T
    >>> uniform_value(T.constant([3, 3]))
    3
    """
    value = constant_value(var)
    if value is None or value.size == 0:
        return None
    first = value.flat[0]
    if value.size > 1 and not np.all(value == first):
        return None
    return first.item()


def is_constant(var, expected):
    """True if ``var`` is a constant whose every element equals ``expected``."""
    value = uniform_value(var)
    return value is not None and value == expected


def elemwise_input(var, scalar_op):
    """The inputs of ``var``'s owner if it is ``Elemwise(scalar_op)``, else None."""
    node = var.owner
    if node is not None and isinstance(node.op, Elemwise) and node.op.scalar_op == scalar_op \
            and not node.op.inplace_pattern:
        return node.inputs
    return None


def n_clients(fgraph, var):
    return len(fgraph.clients.get(var, ()))


# -- shapes ----------------------------------------------------------------------
def dim_expr(fgraph, var, d):
    """A symbolic (or int) expression for dimension ``d`` of ``var``."""
    static = var.type.shape[d]
    if static is not None:
        return static
    feature = getattr(fgraph, "shape_feature", None)
    if feature is not None:
        return feature.shape_of(var)[d]
    from symgraph.tensor.basic import Alloc

    if var.owner is not None and isinstance(var.owner.op, Alloc):
        return var.owner.inputs[1 + d]
    from symgraph.tensor.shape import Shape_i

    return Shape_i(d)(var)


def same_expr(a, b, depth=12):
    """True if ``a`` and ``b`` certainly compute the same value (structural equality).

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.shape import Shape_i
    >>> x = T.dmatrix()
    >>> same_expr(Shape_i(0)(x), Shape_i(0)(x)), same_expr(Shape_i(0)(x), Shape_i(1)(x))
    (True, False)
    """
    if a is b:
        return True
    va, vb = _int_value(a), _int_value(b)
    if va is not None or vb is not None:
        return va is not None and va == vb
    if depth == 0 or a.owner is None or b.owner is None:
        return False
    na, nb = a.owner, b.owner
    return (na.op == nb.op and a.index == b.index and len(na.inputs) == len(nb.inputs)
            and all(same_expr(x, y, depth - 1) for x, y in zip(na.inputs, nb.inputs)))


def _int_value(v):
    if isinstance(v, (int, np.integer)):
        return int(v)
    value = constant_value(v) if hasattr(v, "owner") else None
    if value is not None and value.ndim == 0:
        return value.item()
    if getattr(v, "owner", None) is not None:
        from symgraph.tensor.shape import Shape_i

        if isinstance(v.owner.op, Shape_i):
            return v.owner.inputs[0].type.shape[v.owner.op.i]
    return None


def same_dim(fgraph, a, da, b, db):
    """True if dimension ``da`` of ``a`` certainly equals dimension ``db`` of ``b``."""
    sa, sb = a.type.shape[da], b.type.shape[db]
    if sa is not None and sb is not None:
        return sa == sb
    return same_expr(_as_var(dim_expr(fgraph, a, da)), _as_var(dim_expr(fgraph, b, db)))


def _as_var(v):
    if isinstance(v, (int, np.integer)):
        from symgraph.tensor.var import constant

        return constant(np.int64(v))
    return v


def node_output_shape(fgraph, node, k=0):
    """Symbolic entries for the shape of ``node.outputs[k]`` (via infer_shape)."""
    feature = getattr(fgraph, "shape_feature", None)
    if feature is not None:
        return feature.shape_of(node.outputs[k])
    from symgraph.tensor.basic import shape_i

    input_shapes = [tuple(shape_i(i, d) for d in range(i.ndim)) for i in node.inputs]
    return node.op.infer_shape(fgraph, node, input_shapes)[k]


# -- fitting replacements -----------------------------------------------------------------
def keeps_shape(fgraph, out, new, dropped, kept):
    """True if ``new`` (computed from the inputs ``kept`` of an elementwise node with
    output ``out``) certainly has ``out``'s shape although ``dropped`` inputs are gone."""
    if new.ndim != out.ndim:
        return False
    for d in range(out.ndim):
        o, n = out.type.shape[d], new.type.shape[d]
        if o is not None:
            if n != o:
                return False
            continue
        if n == 1:
            return False
        for r in dropped:
            if r.type.shape[d] == 1 or any(r is k for k in kept):
                continue
            if not any(k.type.shape[d] != 1 and same_dim(fgraph, r, d, k, d) for k in kept):
                return False
    return True


def as_output_of(fgraph, node, new, dropped=(), kept=()):
    """``new`` made a valid replacement for ``node.outputs[0]`` of elementwise ``node``.

    ``new`` is assumed to have the broadcast shape of the inputs ``kept``; if the
    ``dropped`` inputs may have made the output larger, ``new`` is broadcast with
    ``alloc``.  The dtype is cast to the output's, and missing dimensions added.
    """
    from symgraph.tensor.basic import alloc, cast
    from symgraph.tensor.shape import specify_shape

    out = node.outputs[0]
    if new.dtype != out.dtype:
        new = cast(new, out.dtype)
    if new.ndim < out.ndim:
        new = DimShuffle(new.ndim, ["x"] * (out.ndim - new.ndim) + list(range(new.ndim)))(new)
    if not keeps_shape(fgraph, out, new, dropped, kept):
        new = alloc(new, *node_output_shape(fgraph, node))
    if new.type != out.type and not out.type.is_super(new.type):
        new = specify_shape(new, out.type.shape)
    return new


def filled(fgraph, node, value):
    """An array of ``value`` with the shape and dtype of ``node.outputs[0]``."""
    from symgraph.tensor.basic import alloc
    from symgraph.tensor.shape import specify_shape

    out = node.outputs[0]
    result = alloc(np.asarray(value, dtype=out.dtype), *node_output_shape(fgraph, node))
    if result.type != out.type and not out.type.is_super(result.type):
        result = specify_shape(result, out.type.shape)
    return result


def is_tensor(var):
    return isinstance(var.type, TensorType)
