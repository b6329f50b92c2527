"""Helpers over a Scan's inner graph: structural signature, dependencies, shapes."""
import numpy as np

from symgraph.graph.basic import Constant
from symgraph.graph.replace import clone_get_equiv
from symgraph.graph.traversal import ancestors, graph_inputs, io_toposort


class GraphSignature:
    """A hashable description of an inner graph's structure: equal signatures mean the
    graphs compute the same thing (same ops, wiring, constants and input types).

    >>> import symgraph.tensor as T
    >>> from symgraph.graph.fgraph import FunctionGraph
    >>> def graph():
    ...     x = T.dvector('x')
    ...     return FunctionGraph([x], [T.exp(x) * 2.0])
    >>> GraphSignature(graph()) == GraphSignature(graph())
    True
    """

    def __init__(self, fgraph):
        ids = {v: ("in", k) for k, v in enumerate(fgraph.inputs)}

        def ref(v):
            if v in ids:
                return ids[v]
            if isinstance(v, Constant):
                return ("const",) + v.signature()
            raise ValueError(f"inner graph uses {v}, which is not one of its inputs")

        items = [tuple(v.type for v in fgraph.inputs)]
        for n, node in enumerate(io_toposort(fgraph.inputs, fgraph.outputs)):
            items.append((node.op, tuple(ref(v) for v in node.inputs),
                          tuple(o.type for o in node.outputs)))
            for k, out in enumerate(node.outputs):
                ids[out] = ("node", n, k)
        items.append(tuple(ref(o) for o in fgraph.outputs))
        self.key = tuple(items)
        self._hash = hash(self.key)

    def __eq__(self, other):
        return isinstance(other, GraphSignature) and self._hash == other._hash \
            and self.key == other.key

    def __hash__(self):
        return self._hash

    def __str__(self):
        return f"graph#{self._hash & 0xffff:04x}"

    __repr__ = __str__


def input_dependencies(inputs, outputs):
    """For each of ``outputs``, the set of indices of ``inputs`` it depends on."""
    position = {v: k for k, v in enumerate(inputs)}
    return [{position[v] for v in ancestors([out], blockers=inputs) if v in position}
            for out in outputs]


def is_known_zero(g):
    """True for a gradient that is symbolically all zeros (``zeros_like``'s Alloc of a
    constant 0), or disconnected: the backward pass can skip it."""
    from symgraph.gradient import DisconnectedType
    from symgraph.tensor.basic import Alloc

    if g is None or isinstance(g.type, DisconnectedType):
        return True
    if isinstance(g, Constant):
        return not np.any(g.data)
    node = g.owner
    return (node is not None and isinstance(node.op, Alloc) and
            isinstance(node.inputs[0], Constant) and not np.any(node.inputs[0].data))


def clone_with(outputs, replace):
    """Copy the graph of ``outputs`` with the variables in ``replace`` substituted; types
    may differ (nodes are rebuilt with ``make_node`` then), unlike ``clone_replace``."""
    memo = clone_get_equiv([], list(outputs), copy_inputs=False, copy_orphans=False,
                           memo=dict(replace), share_unchanged=True)
    return [memo[o] for o in outputs]


def translate_shapes(fgraph, outputs, shape_sources, value_sources):
    """Shapes of ``outputs`` (inner variables of ``fgraph``) as outer expressions.

    ``shape_sources[k]``: for inner input k whose *shape* is known outside, a function
    ``d -> outer size``; ``value_sources[k]``: an outer variable with the same *value* as
    inner input k (a non-sequence).  Raises ValueError when a shape depends on anything
    else (a value that changes from step to step).
    """
    from symgraph.tensor.rewriting.shape import ShapeFeature
    from symgraph.tensor.shape import Shape, Shape_i
    from symgraph.tensor.basic import MakeVector

    feature = ShapeFeature()
    fgraph.attach_feature(feature)
    try:
        entries = [list(feature.shape_of(o)) for o in outputs]
    finally:
        fgraph.remove_feature(feature)
    flat = [e for shape in entries for e in shape]
    inner = {v: k for k, v in enumerate(fgraph.inputs)}
    replace = {}
    for v in ancestors(flat):
        node = v.owner
        if node is None:
            if v in inner and inner[v] in value_sources:
                replace[v] = value_sources[inner[v]]
            continue
        source = node.inputs[0] if node.inputs else None
        k = inner.get(source)
        if k is None or k not in shape_sources:
            continue
        if isinstance(node.op, Shape_i):
            replace[v] = shape_sources[k](node.op.i)
        elif isinstance(node.op, Shape):
            replace[v] = MakeVector("int64")(*[shape_sources[k](d) for d in range(source.ndim)])
    result = clone_with(flat, replace) if flat else []
    if set(graph_inputs(result)) & set(fgraph.inputs):
        raise ValueError("an inner shape depends on values that change between steps")
    out, pos = [], 0
    for shape in entries:
        out.append(tuple(result[pos:pos + len(shape)]))
        pos += len(shape)
    return out
