"""In-place rewrites (the ``inplace`` stage, position 75): ops that overwrite an input
instead of allocating their output, wherever the DestroyHandler proves it safe.

- ``inplace_elemwise``: ``Elemwise`` -> ``Elemwise(..., inplace_pattern={out: in})`` on
  an input with the output's dtype that certainly has the output's shape (never a
  broadcast input: statically, or through the shape feature);
- ``inplace_incsubtensor``: ``IncSubtensor``/``AdvancedIncSubtensor``/``AdvancedIncSubtensor1``
  -> ``inplace=True``.

``InplaceRewriter`` is generic: it tries the candidates a function proposes for each
node, keeps the first the DestroyHandler validates, and silently rolls back the
others (a refused candidate is not an error).  Other in-place rewrites (gemm, ...)
are made the same way and registered with ``register_inplace``.

>>> import numpy as np, symgraph as sg, symgraph.tensor as T
>>> x = T.dmatrix('x')
>>> f = sg.function([x], T.exp(x.sum(axis=0)))
>>> str(f.maker.fgraph.outputs[0].owner.op)
'Elemwise{exp,inplace}'
"""
import time

from symgraph.graph.basic import Apply, Constant
from symgraph.graph.destroyhandler import add_destroy_handler
from symgraph.graph.fgraph import InconsistencyError
from symgraph.rewriting.core import GraphRewriter, ensure_history, report_rewrite_error
from symgraph.rewriting.pipeline import inplace as inplace_db
from symgraph.rewriting.profile import profile_of
from symgraph.tensor.elemwise import Elemwise
from symgraph.tensor.rewriting.utils import same_dim
from symgraph.tensor.subtensor import AdvancedIncSubtensor1, IncSubtensor


class InplaceRewriter(GraphRewriter):
    """Makes nodes of the ``tracks`` op classes destroy an input where that is safe.

    ``candidates(fgraph, node)`` yields replacement outputs for ``node`` (from an
    in-place op), best first; after one is accepted, the new node is offered again
    (an op with several outputs may take several inputs over, one at a time).
    """

    def __init__(self, name, tracks, candidates):
        self.name = name
        self.tracks = tuple(tracks)
        self.candidates = candidates

    def apply(self, fgraph):
        handler = add_destroy_handler(fgraph)
        history = ensure_history(fgraph)
        profile = profile_of(fgraph)
        order = fgraph.toposort()
        position = {node: k for k, node in enumerate(order)}
        for node in order:
            while node is not None and node in fgraph.apply_nodes \
                    and isinstance(node.op, self.tracks):
                start = time.perf_counter()
                node = self._try(fgraph, handler, history, node, position)
                profile.record_call(self, time.perf_counter() - start, node is not None)

    def _try(self, fgraph, handler, history, node, position):
        """The new node if a candidate was accepted, else None.

        ``position``: a topological order of the graph and its orderings, kept valid:
        a candidate whose readers all come before it is checked locally
        (``quick_check``); only the others cost a full validation (and a new order).
        """
        try:
            proposals = list(self.candidates(fgraph, node))
        except Exception as exc:
            report_rewrite_error(self, node, f"{type(exc).__name__}: {exc}", exc)
            return None
        for outputs in proposals:
            checkpoint = len(history.changes)
            new_node = outputs[0].owner
            position[new_node] = position[node]
            try:
                for old, new in zip(node.outputs, outputs):
                    fgraph.replace(old, new, reason=self.name)
                if not handler.quick_check(fgraph, new_node, position):
                    fgraph.validate()
                    position.update((n, k) for k, n in enumerate(fgraph.toposort()))
            except (InconsistencyError, TypeError):
                history.revert(fgraph, checkpoint)
                continue
            return new_node
        return None


def register_inplace(rewriter, *tags, position=None):
    """Register an InplaceRewriter in the ``inplace`` stage (tags fast_run, inplace).

    >>> 'inplace_elemwise' in inplace_db
    True
    """
    inplace_db.register(rewriter.name, rewriter, "fast_run", "inplace", *tags,
                        position=position)
    return rewriter


# -- Elemwise -------------------------------------------------------------------------------
def elemwise_candidates(fgraph, node):
    """Elemwise ops with one more output mapped to an input it can overwrite."""
    op = node.op
    taken_outputs = {o for o, _ in op.inplace_pattern}
    taken_inputs = {i for _, i in op.inplace_pattern}
    for o, out in enumerate(node.outputs):
        if o in taken_outputs:
            continue
        for i in range(len(node.inputs)):
            if i not in taken_inputs and can_overwrite(fgraph, node, i, out):
                pattern = dict(op.inplace_pattern)
                pattern[o] = i
                yield _same_node(node, Elemwise(op.scalar_op, pattern, op.name))


def can_overwrite(fgraph, node, i, out):
    """Whether input ``i`` of elementwise ``node`` can hold ``out``: same dtype, and the
    same shape at run time (so never a broadcast input); graph inputs and constants are
    left to the DestroyHandler's checks, except the obvious ones."""
    x = node.inputs[i]
    if x.type.dtype != out.type.dtype or isinstance(x, Constant):
        return False
    handler = getattr(fgraph, "destroy_handler", None)
    if x.owner is None and (handler is None or x not in handler.mutable_inputs):
        return False
    if sum(1 for other in node.inputs if other is x) > 1:
        return False
    for d, (size, out_size) in enumerate(zip(x.type.shape, out.type.shape)):
        if size == 1 and out_size != 1:
            return False
        if size is None and not _decides_dim(fgraph, node, i, d):
            return False
    return True


def _decides_dim(fgraph, node, i, d):
    """True if no other input can make the output larger than input ``i`` in dim ``d``."""
    x = node.inputs[i]
    for j, other in enumerate(node.inputs):
        if j == i or other.type.shape[d] == 1:
            continue
        if not same_dim(fgraph, x, d, other, d):
            return False
    return True


inplace_elemwise = register_inplace(
    InplaceRewriter("inplace_elemwise", [Elemwise], elemwise_candidates), position=1)


# -- IncSubtensor -----------------------------------------------------------------------------
def incsubtensor_candidates(fgraph, node):
    """The same increment (or set) writing into its first input."""
    op = node.op
    if op.inplace or isinstance(node.inputs[0], Constant):
        return
    if isinstance(op, AdvancedIncSubtensor1):
        yield _same_node(node, AdvancedIncSubtensor1(op.set_instead_of_inc, inplace=True))
        return
    yield _same_node(node, type(op)(op.idx_list, set_instead_of_inc=op.set_instead_of_inc,
                                    inplace=True))


def _same_node(node, op):
    """The outputs of ``op`` applied to ``node``'s inputs, typed like ``node``'s outputs
    (not through make_node: it could re-type weak constants)."""
    return Apply(op, node.inputs, [out.type.make_variable() for out in node.outputs]).outputs


inplace_incsubtensor = register_inplace(
    InplaceRewriter("inplace_incsubtensor", [IncSubtensor, AdvancedIncSubtensor1],
                    incsubtensor_candidates),
    position=2)
