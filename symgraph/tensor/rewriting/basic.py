"""Rewrites of the ops in ``symgraph/tensor/basic.py``: casts and allocations.

- ``local_useless_cast``: a cast to the dtype the value already has is removed;
- ``local_cast_cast``: ``cast(cast(x, a), b)`` -> ``cast(x, b)`` when the first
  cast loses nothing;
- ``local_useless_alloc``: ``alloc(v, *shape)`` -> ``v`` when ``shape`` is v's shape.
"""
import numpy as np

from symgraph.rewriting.core import node_rewriter
from symgraph.rewriting.pipeline import register_canonicalize
from symgraph.scalar.basic import Cast
from symgraph.tensor.basic import Alloc, cast
from symgraph.tensor.elemwise import Elemwise
from symgraph.tensor.rewriting.shape import is_dim_of


def _cast_input(node):
    if isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, Cast) \
            and not node.op.inplace_pattern:
        return node.inputs[0]
    return None


@register_canonicalize("fast_compile")
@node_rewriter([Elemwise])
def local_useless_cast(fgraph, node):
    """``cast(x, x.dtype)`` -> ``x``."""
    x = _cast_input(node)
    if x is not None and x.dtype == node.outputs[0].dtype:
        return [x]
    return None


@register_canonicalize
@node_rewriter([Elemwise])
def local_cast_cast(fgraph, node):
    """``cast(cast(x, a), b)`` -> ``cast(x, b)`` when ``x -> a`` is lossless."""
    middle = _cast_input(node)
    if middle is None or middle.owner is None:
        return None
    x = _cast_input(middle.owner)
    if x is None or not np.can_cast(x.dtype, middle.dtype, casting="safe"):
        return None
    return [cast(x, node.outputs[0].dtype)]


@register_canonicalize("fast_compile")
@node_rewriter([Alloc])
def local_useless_alloc(fgraph, node):
    """``alloc(v, *shape)`` -> ``v`` when ``v`` already has ``shape`` (and its dims)."""
    value, *shape = node.inputs
    out = node.outputs[0]
    if value.ndim != out.ndim or value.dtype != out.dtype:
        return None
    if not all(is_dim_of(fgraph, entry, value, d) for d, entry in enumerate(shape)):
        return None
    return [value]
