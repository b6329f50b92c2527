"""Rewrites of indexed increments (``symgraph/tensor/subtensor.py``).

Gradients of indexing are increments into zeros: ``inc_subtensor(zeros_like(x)[idx], g)``.
These rewrites make them cheap:

- ``local_useless_inc_subtensor``: incrementing by zeros leaves ``x`` as it is;
- ``local_inc_subtensor_of_zeros``: a basic-index increment into zeros is a ``set`` (basic
  indices never repeat, so nothing accumulates and the old zeros need not be read);
- ``local_advanced_inc_subtensor1``: an advanced increment along the first axis by one
  integer vector (the gradient of ``W[idx]``, e.g. an embedding lookup) becomes
  ``AdvancedIncSubtensor1``, the specialized row-scatter op.
"""
from symgraph.rewriting.core import node_rewriter
from symgraph.rewriting.pipeline import register_canonicalize, register_specialize
from symgraph.tensor.basic import Alloc
from symgraph.tensor.subtensor import (AdvancedIncSubtensor, AdvancedIncSubtensor1,
                                       IncSubtensor)
from symgraph.tensor.rewriting.utils import is_constant, uniform_value
from symgraph.tensor.type import INT_DTYPES


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
