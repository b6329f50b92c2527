"""Sums over the steps of a Scan's per-step outputs, as one product of stacked factors.

The backward scan (grad.py) emits, per step, each non-sequence's gradient
contribution; the non-sequence's gradient is their sum over the steps.  A weight's
contribution is usually an outer product (``outer(h_{t-1}, dz_t)`` for ``dot(h, W)``) or
a matrix product ``dot(a_t.T, b_t)``: stacking that per step costs ``T`` weight-sized
rows, and accumulating it costs a weight-sized update per step.  Here such a term
becomes two per-step outputs, the factors, stacked by the loop (``A``: ``T x n``,
``B``: ``T x m``, or ``T x batch x ...``), and the sum over steps is one matrix product
after the loop, ``dot(A.T, B)`` (one BLAS call over all the steps).  A factor that is a
row of one of the scan's sequences is not even emitted: the sequence is the stack.
"""
from symgraph.scalar import basic as scal
from symgraph.scan.info import ScanInfo
from symgraph.tensor.elemwise import DimShuffle, Elemwise
from symgraph.tensor.math import Dot


def sum_over_steps(node, nit_positions):
    """``(new_node, remap, sums)`` for the Scan ``node``: ``sums[p]`` is the sum over the
    steps of its nit-sot output ``p`` (for each ``p`` in ``nit_positions``), ``remap`` maps
    each of ``node``'s outer outputs not summed to the same value of ``new_node``.

    >>> import numpy as np, symgraph as sg, symgraph.tensor as T
    >>> A, B = T.dmatrix('A'), T.dmatrix('B')
    >>> built = sg.scan(lambda a, b: T.outer(a, b), sequences=[A, B])[0]
    >>> _, _, sums = sum_over_steps(built.owner, [0])
    >>> a, b = np.arange(6.0).reshape(3, 2), np.ones((3, 2))
    >>> bool(np.allclose(sums[0].eval({A: a, B: b}), a.T @ b))
    True
    """
    from symgraph.tensor.math import sum as tsum

    op, info = node.op, node.op.info
    plans = {p: _split_terms(op.inner_outputs[info.n_states + p]) for p in nit_positions}
    if not any(factors for factors, _ in plans.values()) or info.as_while:
        stacks = node.outputs[info.n_states:info.n_states + info.n_nit_sot]
        return node, {v: v for v in node.outputs}, {p: tsum(stacks[p], axis=0)
                                                    for p in nit_positions}
    return _Refactored(node, plans).build()


def _split_terms(out):
    """``(factor pairs, other terms)`` of the inner output ``out``: a sum of terms, each a
    product of two per-step factors, or something else."""
    factors, others = [], []
    for term in _addends(out):
        pair = _product_factors(term, out)
        if pair is None:
            others.append(term)
        else:
            factors.append(pair)
    return factors, others


def _addends(var):
    """The terms of ``var`` as a sum of same-shaped terms (no broadcasting)."""
    node = var.owner
    if (node is not None and isinstance(node.op, Elemwise) and node.op.scalar_op == scal.add
            and all(i.type == var.type for i in node.inputs)):
        return [t for i in node.inputs for t in _addends(i)]
    return [var]


def _product_factors(term, out):
    """``(a, b, kind)`` when ``term`` is ``outer(a, b)`` (kind "outer": a, b vectors) or
    ``dot(a.T, b)`` (kind "dot": a, b matrices), of ``out``'s dtype; else None."""
    node = term.owner
    if node is None or term.dtype != out.dtype or term.ndim != 2:
        return None
    if isinstance(node.op, Elemwise) and node.op.scalar_op == scal.mul and len(node.inputs) == 2:
        for column, row in (node.inputs, node.inputs[::-1]):
            a, b = _undimshuffle(column, (0, "x")), _undimshuffle(row, ("x", 0))
            if a is not None and b is not None and a.dtype == b.dtype == out.dtype:
                return a, b, "outer"
        return None
    if isinstance(node.op, Dot):
        x, b = node.inputs
        a = _undimshuffle(x, (1, 0))
        if a is not None and b.ndim == 2 and a.dtype == b.dtype == out.dtype:
            return a, b, "dot"
    return None


def _undimshuffle(var, order):
    """``x`` when ``var`` is ``x`` dimshuffled by ``order``, else None."""
    node = var.owner
    if node is not None and isinstance(node.op, DimShuffle) and node.op.new_order == tuple(order):
        return node.inputs[0]
    return None


class _Refactored:
    """The Scan with each factorable summed output replaced by its factors' stacks."""

    def __init__(self, node, plans):
        self.node, self.op, self.info = node, node.op, node.op.info
        self.plans = plans

    def build(self):
        info, op = self.info, self.op
        news, nits, shared_news, cond = info.split_inner_outputs(op.inner_outputs)
        seq_inputs = op.inner_inputs[:info.n_seqs]
        kept_nits, extra = [], []  # extra: per-step factors the loop must stack
        where = {}  # nit p -> ("kept", index) for kept nits, remainders included
        factor_refs = {}  # nit p -> [(ref_a, ref_b, kind)], a ref is ("seq", k) or ("nit", i)

        def ref(factor):
            for k, s in enumerate(seq_inputs):
                if factor is s:
                    return ("seq", k)
            extra.append(factor)
            return ("extra", len(extra) - 1)

        for p, out in enumerate(nits):
            plan = self.plans.get(p)
            if plan is None or not plan[0]:
                where[p] = len(kept_nits)
                kept_nits.append(out)
                continue
            factors, others = plan
            factor_refs[p] = [(ref(a), ref(b), kind) for a, b, kind in factors]
            if others:
                where[p] = len(kept_nits)
                kept_nits.append(_add_all(others))
        new_info = ScanInfo(info.n_seqs, info.state_taps, len(kept_nits) + len(extra),
                            info.n_shared_outs, info.n_non_seqs, info.as_while,
                            info.truncate_gradient, info.state_keep)
        inner_outputs = news + kept_nits + extra + shared_news + ([cond] if cond is not None
                                                                   else [])
        from symgraph.scan.op import Scan

        new_op = Scan(op.inner_inputs, inner_outputs, new_info, mode=op.mode, name=op.name)
        new_node = new_op.make_node(*self.node.inputs)
        return new_node, self._remap(new_node, where), self._sums(new_node, where, factor_refs,
                                                                   len(kept_nits))

    def _remap(self, new_node, where):
        info = self.info
        old_bufs, old_stacks, old_finals = info.split_outer_outputs(self.node.outputs)
        new_bufs, new_stacks, new_finals = new_node.op.info.split_outer_outputs(
            new_node.outputs)
        remap = dict(zip(old_bufs, new_bufs))
        remap.update(zip(old_finals, new_finals))
        for p, stack in enumerate(old_stacks):
            if p not in self.plans and p in where:
                remap[stack] = new_stacks[where[p]]
        return remap

    def _sums(self, new_node, where, factor_refs, n_kept):
        from symgraph.tensor.math import dot, sum as tsum

        _, new_stacks, _ = new_node.op.info.split_outer_outputs(new_node.outputs)
        n_steps = self.node.inputs[0]
        seqs = self.node.inputs[1:1 + self.info.n_seqs]

        def stacked(r):
            kind, k = r
            return seqs[k][:n_steps] if kind == "seq" else new_stacks[n_kept + k]

        sums = {}
        for p in self.plans:
            parts = [] if p not in where else [tsum(new_stacks[where[p]], axis=0)]
            for ra, rb, kind in factor_refs.get(p, []):
                a, b = stacked(ra), stacked(rb)
                if kind == "dot":  # rows of every step at once: (T * batch, n)
                    a = a.reshape((-1, a.shape[-1]))
                    b = b.reshape((-1, b.shape[-1]))
                parts.append(dot(a.T, b))
            out_type = self.op.inner_outputs[self.info.n_states + p].type
            total = _add_all(parts)
            sums[p] = total if total.dtype == out_type.dtype else total.astype(out_type.dtype)
        return sums


def _add_all(parts):
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total
