"""Rewrites every mode runs: merge (common subexpressions) and constant folding.

``merge`` makes equal constants and equal applications (same op, same inputs)
share one variable.  ``constant_folding`` computes, once at compile time, the
nodes whose inputs are all constants; it is a graph pass and, as
``constant_folding_node``, a node rewriter for the equilibrium passes (so
constants created by other rewrites fold too).  Folding is bounded: results
larger than ``config.constant_folding_max_size`` elements, and results larger
than their inputs (an ``alloc`` or a broadcast, cheap to recompute and costly
to store), stay in the graph.

>>> import symgraph.tensor as T
>>> from symgraph.graph.fgraph import FunctionGraph
>>> x = T.dvector('x')
>>> fg = FunctionGraph([x], [T.exp(x) + T.exp(x)])
>>> _ = merge(fg)
>>> len(fg.apply_nodes)
2
"""
import numpy as np

from symgraph.config import config
from symgraph.graph.basic import Constant
from symgraph.rewriting.core import GraphRewriter, NodeRewriter, apply_replacements


class MergeRewriter(GraphRewriter):
    """Common subexpression elimination, constants included."""

    name = "merge"

    def apply(self, fgraph):
        order = fgraph.toposort()
        self._merge_constants(fgraph, order)
        seen = {}
        for node in order:
            if node not in fgraph.apply_nodes or node.op.destroy_map:
                continue
            try:
                key = (node.op, tuple(node.inputs))
                other = seen.setdefault(key, node)
            except TypeError:  # an unhashable op
                continue
            if other is not node:
                seen[key] = self._merge_nodes(fgraph, node, other)

    def _merge_nodes(self, fgraph, node, other):
        """Keep the node whose outputs have the more specific types (``other`` if equal);
        return the one kept."""
        if all(n.type.is_super(o.type) for o, n in zip(other.outputs, node.outputs)):
            if apply_replacements(fgraph, node, other.outputs, self):
                return other
        elif all(o.type.is_super(n.type) for o, n in zip(other.outputs, node.outputs)):
            if apply_replacements(fgraph, other, node.outputs, self):
                return node
        return other if other in fgraph.apply_nodes else node

    def _merge_constants(self, fgraph, order):
        by_signature = {}
        candidates = [i for node in order for i in node.inputs if isinstance(i, Constant)]
        candidates += [o for o in fgraph.outputs if isinstance(o, Constant)]
        for var in candidates:
            if var not in fgraph.variables:
                continue
            try:
                signature = var.signature()
                first = by_signature.setdefault(signature, var)
            except TypeError:
                continue
            if first is not var:
                fgraph.replace(var, first, reason="merge")


merge = MergeRewriter()


def fold_node(node, max_size=None):
    """The output values of ``node`` if it can and should be folded, else None."""
    if not node.inputs or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if getattr(node.op, "no_constant_folding", False) or node.op.destroy_map:
        return None
    cells = [[None] for _ in node.outputs]
    try:
        node.op.perform(node, [i.data for i in node.inputs], cells)
    except Exception:
        return None  # leave it: the error is raised, with context, at run time
    values = [c[0] for c in cells]
    max_size = config.constant_folding_max_size if max_size is None else max_size
    input_size = sum(int(np.size(i.data)) for i in node.inputs)
    for value in values:
        size = int(np.size(value))
        if size > max_size or (size > 64 and size > input_size):
            return None
    return values


def constants_for(node, values):
    """Constants holding ``values``, typed like ``node``'s outputs (static shapes added)."""
    return [_constant_like(out, value) for out, value in zip(node.outputs, values)]


def _constant_like(var, value):
    from symgraph.tensor.type import TensorType
    from symgraph.tensor.var import TensorConstant

    if isinstance(var.type, TensorType):
        value = np.array(value, dtype=var.type.dtype)  # a copy: never alias another constant
        c = TensorConstant(TensorType(value.dtype, value.shape), value)
    else:
        c = Constant(var.type, value)
    c.tag.update(var.tag)
    return c


class ConstantFoldingNode(NodeRewriter):
    """Node rewriter form of constant folding (tracks every op)."""

    name = "constant_folding"

    def transform(self, fgraph, node):
        values = fold_node(node)
        if values is None:
            return None
        return constants_for(node, values)


constant_folding_node = ConstantFoldingNode()


class ConstantFolding(GraphRewriter):
    """Fold every foldable node, in topological order (one pass)."""

    name = "constant_folding"

    def apply(self, fgraph):
        for node in fgraph.toposort():
            if node not in fgraph.apply_nodes:
                continue
            replacement = constant_folding_node.transform(fgraph, node)
            if replacement is not None:
                apply_replacements(fgraph, node, replacement, self)


constant_folding = ConstantFolding()
