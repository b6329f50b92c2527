"""Rewrites of Elemwise, DimShuffle and SumToShape that do not depend on the scalar op.

- ``local_dimshuffle_identity``: a dimshuffle that changes nothing is removed;
- ``local_dimshuffle_dimshuffle``: two dimshuffles become one;
- ``local_useless_sum_to_shape``: ``SumToShape(g, shape)`` -> ``g`` when g already
  has that shape (static types or the shape feature prove it);
- ``local_alloc_in_elemwise``: an ``alloc`` feeding an elementwise op whose other
  inputs already give the output's shape is replaced by the value it fills with
  (broadcasting does the rest, without materializing the array);
- ``local_dimshuffle_lift``: a dimshuffle of an elementwise result moves to its inputs.
"""
from symgraph.rewriting.core import node_rewriter
from symgraph.rewriting.pipeline import register_canonicalize
from symgraph.tensor.elemwise import DimShuffle, Elemwise, SumToShape
from symgraph.tensor.rewriting.shape import is_dim_of, shape_entries
from symgraph.tensor.rewriting.utils import keeps_shape, n_clients


@register_canonicalize("fast_compile")
@node_rewriter([DimShuffle])
def local_dimshuffle_identity(fgraph, node):
    """``x.dimshuffle(0, 1, ..., n-1)`` -> ``x``."""
    if node.op.new_order == tuple(range(node.op.input_ndim)):
        return [node.inputs[0]]
    return None


@register_canonicalize("fast_compile")
@node_rewriter([DimShuffle])
def local_dimshuffle_dimshuffle(fgraph, node):
    """``x.dimshuffle(a).dimshuffle(b)`` -> ``x.dimshuffle(a o b)``."""
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, DimShuffle):
        return None
    inner_order = inner.op.new_order
    order = ["x" if d == "x" else inner_order[d] for d in node.op.new_order]
    x = inner.inputs[0]
    if tuple(order) == tuple(range(x.ndim)):
        return [x]
    return [DimShuffle(x.ndim, order)(x)]


@register_canonicalize("fast_compile", "shape")
@node_rewriter([SumToShape])
def local_useless_sum_to_shape(fgraph, node):
    """``SumToShape(g, shape)`` -> ``g`` when ``g`` certainly has ``shape``."""
    g, shp = node.inputs
    entries = shape_entries(shp, g.ndim)
    if entries is None or len(entries) != g.ndim:
        return None
    for d, entry in enumerate(entries):
        if isinstance(entry, (int,)):
            if entry != g.type.shape[d]:
                return None
        elif not is_dim_of(fgraph, entry, g, d):
            return None
    return [g]


@register_canonicalize
@node_rewriter([Elemwise])
def local_alloc_in_elemwise(fgraph, node):
    """``elemwise(alloc(v, *shape), y)`` -> ``elemwise(v, y)`` when ``y`` alone
    gives the output its shape."""
    from symgraph.tensor.basic import Alloc

    if node.op.inplace_pattern:
        return None
    out = node.outputs[0]
    for k, inp in enumerate(node.inputs):
        alloc_node = inp.owner
        if alloc_node is None or not isinstance(alloc_node.op, Alloc):
            continue
        value = alloc_node.inputs[0]
        if value.ndim < inp.ndim:
            value = DimShuffle(value.ndim, ["x"] * (inp.ndim - value.ndim)
                               + list(range(value.ndim)))(value)
        if value.dtype != inp.dtype:
            continue
        others = [i for j, i in enumerate(node.inputs) if j != k]
        inputs = others[:k] + [value] + others[k:]
        new = node.op.make_node(*inputs).outputs[0]
        if new.type.dtype == out.type.dtype and keeps_shape(fgraph, out, new, [inp], inputs):
            return [new]
    return None


@register_canonicalize
@node_rewriter([DimShuffle])
def local_dimshuffle_lift(fgraph, node):
    """``elemwise(a, b).dimshuffle(p)`` -> ``elemwise(a.dimshuffle(p), b.dimshuffle(p))``
    when nothing else uses the elementwise result: dimshuffles move toward the inputs,
    where they merge with each other and fold into constants."""
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, Elemwise) or inner.op.inplace_pattern \
            or len(inner.outputs) != 1 or n_clients(fgraph, node.inputs[0]) != 1:
        return None
    order = node.op.new_order
    moved = [DimShuffle(i.ndim, order)(i) for i in inner.inputs]
    new = inner.op.make_node(*moved).outputs[0]
    if new.type != node.outputs[0].type:
        return None
    return [new]
