"""Stable forms of softmax, log-softmax and the cross-entropy after a softmax (stabilize).

- ``local_log_softmax``: ``log(softmax(x))`` -> ``log_softmax(x)`` (so
  ``-(t * log(softmax(x))).sum(-1)`` becomes ``-(t * log_softmax(x)).sum(-1)``);
- ``local_exp_log_softmax``: ``exp(log_softmax(x))`` (in log-softmax gradients) ->
  ``softmax(x)``;
- ``local_log_softmax_grad``: the gradient through ``log(softmax(x))``,
  ``SoftmaxGrad(G / sm, sm)``, -> ``G - sum(G) * sm`` (no division by a probability
  that may have underflowed to 0);
- ``local_crossentropy_softmax``: ``categorical_crossentropy(softmax(x), y)`` with
  integer targets -> ``CrossentropySoftmax1Hot(x, y)``, whose loss comes from
  log-softmax; the softmax of ``x`` elsewhere in the graph becomes its second output;
- ``local_crossentropy_softmax_grad``: the gradient of that pair,
  ``SoftmaxGrad(CrossentropyCategorical1HotGrad(g, sm, y), sm)``, ->
  ``CrossentropySoftmax1HotGrad(g, sm, y) = (sm - onehot(y)) * g``;
- ``local_crossentropy_by_indexing``: the same loss written by hand,
  ``-log(softmax(x))[arange(n), y]`` (already ``log_softmax`` by then), ->
  ``CrossentropySoftmax1Hot(x, y)``, and the gradient of that form,
  ``SoftmaxGrad(inc_subtensor(zeros[arange(n), y], w) / sm, sm)``, ->
  ``CrossentropySoftmax1HotGrad(-w, sm, y)``.

The indexing form assumes one target per row: ``arange(n)`` must count the rows of
``x`` or the targets (then the fused op checks that the two agree at run time).

>>> import symgraph as sg, symgraph.tensor as T
>>> x, y = T.dmatrix('x'), T.lvector('y')
>>> cost = T.nnet.categorical_crossentropy(T.nnet.softmax(x), y).mean()
>>> f = sg.function([x, y], [cost, sg.grad(cost, x)])
>>> sorted({type(n.op).__name__ for n in f.maker.fgraph.apply_nodes} &
...        {'CrossentropySoftmax1Hot', 'CrossentropySoftmax1HotGrad', 'SoftmaxGrad'})
['CrossentropySoftmax1Hot', 'CrossentropySoftmax1HotGrad']
>>> [v.tolist() for v in f([[1e4, -1e4]], [1])]
[20000.0, [[1.0, -1.0]]]
"""
from symgraph.rewriting.core import node_rewriter
from symgraph.rewriting.pipeline import register_stabilize
from symgraph.scalar import basic as scal
from symgraph.tensor import math as tm
from symgraph.tensor.basic import ARange
from symgraph.tensor.nnet.basic import LogSoftmax, Softmax, SoftmaxGrad
from symgraph.tensor.nnet.losses import (CrossentropyCategorical1Hot,
                                         CrossentropyCategorical1HotGrad)
from symgraph.tensor.nnet.softmax_crossentropy import (CrossentropySoftmax1Hot,
                                                       crossentropy_softmax_1hot_fused,
                                                       crossentropy_softmax_1hot_grad)
from symgraph.tensor.rewriting.utils import (dim_expr, elemwise_input, is_constant, same_dim,
                                             same_expr)
from symgraph.tensor.subtensor import AdvancedIncSubtensor, AdvancedSubtensor
from symgraph.tensor.type import INT_DTYPES


# -- recognizing the parts ------------------------------------------------------------------
def _softmax_logits(sm):
    """``x`` if ``sm`` is the softmax of ``x`` along its last axis (a ``Softmax`` node or
    the softmax output of ``CrossentropySoftmax1Hot``), else None."""
    node = sm.owner
    if node is None:
        return None
    if isinstance(node.op, Softmax) and node.op.axis == sm.ndim - 1:
        return node.inputs[0]
    if isinstance(node.op, CrossentropySoftmax1Hot) and sm is node.outputs[1]:
        return node.inputs[0]
    return None


def _counts_rows(fgraph, rows, *candidates):
    """True if ``rows`` is ``arange(n)`` with ``n`` the length of one of ``candidates``."""
    node = rows.owner
    if node is None or not isinstance(node.op, ARange):
        return False
    start, stop, step = node.inputs
    if not (is_constant(start, 0) and is_constant(step, 1)):
        return False
    return any(_is_length_of(stop, v) or same_expr(stop, dim_expr(fgraph, v, 0))
               for v in candidates)


def _is_length_of(n, var):
    """True if ``n`` is literally ``var.shape[0]`` (a Shape_i{0} of ``var``): the shape
    feature may describe that length by another expression (a slice's length formula)."""
    from symgraph.tensor.shape import Shape_i

    return n.owner is not None and isinstance(n.owner.op, Shape_i) and n.owner.op.i == 0 \
        and n.owner.inputs[0] is var


def _targets(y):
    return y.ndim == 1 and y.dtype in INT_DTYPES


def _fused(fgraph, x, y):
    """The loss of a new ``CrossentropySoftmax1Hot(x, y)``, and replacements of the
    graph's softmaxes of ``x`` by its softmax output (so the softmax is computed once)."""
    nll, sm = crossentropy_softmax_1hot_fused(x, y)
    replacements = {}
    for client, _ in fgraph.clients.get(x, ()):
        if client != "output" and isinstance(client.op, Softmax) \
                and client.op.axis == x.ndim - 1:
            replacements[client.outputs[0]] = sm
    return nll, replacements


def _single_neg_client(fgraph, var):
    """The output of ``-var`` if that negation is ``var``'s only use, else None."""
    clients = fgraph.clients.get(var, ())
    if len(clients) != 1 or clients[0][0] == "output":
        return None
    out = clients[0][0].outputs[0]
    negated = elemwise_input(out, scal.neg)
    return out if negated is not None and out.dtype == var.dtype else None


# -- log-softmax ----------------------------------------------------------------------------
@register_stabilize
@node_rewriter([tm.log])
def local_log_softmax(fgraph, node):
    """``log(softmax(x))`` -> ``log_softmax(x)``."""
    sm = node.inputs[0]
    if sm.owner is None:
        return None
    if isinstance(sm.owner.op, Softmax):
        axis, x = sm.owner.op.axis, sm.owner.inputs[0]
    elif _softmax_logits(sm) is not None:
        axis, x = sm.ndim - 1, sm.owner.inputs[0]
    else:
        return None
    result = LogSoftmax(axis)(x)
    return [result] if result.type == node.outputs[0].type else None


@register_stabilize
@node_rewriter([tm.exp])
def local_exp_log_softmax(fgraph, node):
    """``exp(log_softmax(x))`` -> ``softmax(x)`` (the softmax output of a
    ``CrossentropySoftmax1Hot`` of ``x`` where the graph has one)."""
    ls = node.inputs[0].owner
    if ls is None or not isinstance(ls.op, LogSoftmax):
        return None
    x = ls.inputs[0]
    result = None
    if ls.op.axis == x.ndim - 1:
        fused = [c for c, _ in fgraph.clients.get(x, ())
                 if c != "output" and isinstance(c.op, CrossentropySoftmax1Hot)]
        result = fused[0].outputs[1] if fused else None
    if result is None:
        result = Softmax(ls.op.axis)(x)
    return [result] if result.type == node.outputs[0].type else None


def _reduced_axes_match(fgraph, g, sm, axis):
    """True if ``g`` certainly has ``sm``'s size along the softmax axes (where ``g``
    broadcast, its sum would differ from the sum of the broadcast values)."""
    axes = range(sm.ndim) if axis is None else [axis]
    return g.ndim == sm.ndim and all(
        (g.type.shape[d] != 1 or sm.type.shape[d] == 1) and same_dim(fgraph, g, d, sm, d)
        for d in axes)


@register_stabilize
@node_rewriter([SoftmaxGrad])
def local_crossentropy_softmax_grad(fgraph, node):
    """``SoftmaxGrad(CrossentropyCategorical1HotGrad(g, sm, y), sm)`` ->
    ``CrossentropySoftmax1HotGrad(g, sm, y)``."""
    dy, sm = node.inputs
    inner = dy.owner
    if inner is None or not isinstance(inner.op, CrossentropyCategorical1HotGrad) \
            or node.op.axis != sm.ndim - 1:
        return None
    g, coding_dist, y = inner.inputs
    if coding_dist is not sm or _softmax_logits(sm) is None:
        return None
    result = crossentropy_softmax_1hot_grad(g, sm, y)
    return [result] if result.type == node.outputs[0].type else None


@register_stabilize
@node_rewriter([SoftmaxGrad])
def local_log_softmax_grad(fgraph, node):
    """``SoftmaxGrad(G / sm, sm)`` -> ``G - sum(G) * sm``, or, for the gradient of
    ``-log(softmax(x))[arange(n), y]``, ``CrossentropySoftmax1HotGrad(-w, sm, y)``."""
    dy, sm = node.inputs
    pair = elemwise_input(dy, scal.true_div)
    if pair is None or pair[1] is not sm:
        return None
    g = pair[0]
    out = node.outputs[0]
    if not _reduced_axes_match(fgraph, g, sm, node.op.axis):
        return None
    onehot_grad = _indexed_loss_grad(fgraph, g, sm, node.op.axis)
    if onehot_grad is not None and onehot_grad.type == out.type:
        return [onehot_grad]
    result = g - tm.sum(g, axis=node.op.axis, keepdims=True) * sm
    if result.dtype != out.dtype:
        result = result.astype(out.dtype)
    return [result] if result.type == out.type or out.type.is_super(result.type) else None


def _indexed_loss_grad(fgraph, g, sm, axis):
    """``CrossentropySoftmax1HotGrad(-w, sm, y)`` if ``g`` is ``w`` added into zeros at
    ``[arange(n), y]`` (so that ``g - sum(g) * sm == -w * (sm - onehot(y))``), else None."""
    node = g.owner
    if node is None or type(node.op) is not AdvancedIncSubtensor \
            or node.op.set_instead_of_inc or node.op.idx_list != ("a", "a") \
            or sm.ndim != 2 or axis != 1:
        return None
    zeros, w, rows, y = node.inputs
    if not _is_zeros(zeros) or not _targets(y) or w.ndim > 1 \
            or not _counts_rows(fgraph, rows, sm, y):
        return None
    w = w if w.ndim == 1 else w.dimshuffle("x")
    negated = elemwise_input(w, scal.neg)
    return crossentropy_softmax_1hot_grad(negated[0] if negated is not None else -w, sm, y)


def _is_zeros(var):
    from symgraph.tensor.basic import Alloc

    if var.owner is not None and isinstance(var.owner.op, Alloc):
        return is_constant(var.owner.inputs[0], 0)
    return is_constant(var, 0)


# -- cross-entropy after a softmax ------------------------------------------------------------
@register_stabilize
@node_rewriter([CrossentropyCategorical1Hot])
def local_crossentropy_softmax(fgraph, node):
    """``categorical_crossentropy(softmax(x), y)`` -> ``CrossentropySoftmax1Hot(x, y)``."""
    sm, y = node.inputs
    x = _softmax_logits(sm)
    if x is None:
        return None
    nll, replacements = _fused(fgraph, x, y)
    if nll.type != node.outputs[0].type:
        return None
    replacements[node.outputs[0]] = nll
    return replacements


@register_stabilize
@node_rewriter([AdvancedSubtensor])
def local_crossentropy_by_indexing(fgraph, node):
    """``-log_softmax(x)[arange(n), y]`` (or ``log_softmax(x)[arange(n), y]`` negated
    afterwards) -> ``CrossentropySoftmax1Hot(x, y)``."""
    if node.op.idx_list != ("a", "a"):
        return None
    source, rows, y = node.inputs
    inner = elemwise_input(source, scal.neg)
    negated = inner is not None
    log_sm = inner[0] if negated else source
    ls_node = log_sm.owner
    if ls_node is None or not isinstance(ls_node.op, LogSoftmax) or log_sm.ndim != 2 \
            or ls_node.op.axis != 1 or not _targets(y):
        return None
    x = ls_node.inputs[0]
    if not _counts_rows(fgraph, rows, x, y):
        return None
    nll, replacements = _fused(fgraph, x, y)
    out = node.outputs[0]
    if negated:
        replacements[out] = nll
    else:
        neg_out = _single_neg_client(fgraph, out)
        if neg_out is not None:
            replacements[neg_out] = nll
        else:
            replacements[out] = tm.neg(nll)
    return replacements
