"""Rewrites of Scan nodes, registered in the standard pipeline (tag ``scan``; each also
answers to its own name, so ``mode.excluding('scan_merge')`` turns one off).

canonicalize:

- ``scan_remove_unused``: outputs nobody reads (a backward scan's unrequested
  sequence gradients, say) and the states that only fed them are dropped, then the
  inputs the inner graph no longer reads; a state whose taps nothing reads becomes a
  plain per-step output;
- ``scan_merge_duplicates``: inputs given twice (the same outer variable) become
  one; states that start from the same value and are updated by the same
  computation become one, as do per-step outputs computed the same way;
- ``scan_push_out_invariant``: inner computations that read only non-sequences
  (and constants) run once, before the loop, and come in as new non-sequences;
- ``scan_push_out_seq``: inner computations that read only the current rows of
  sequences (and loop invariants) run on whole sequences before the loop, batched
  (per-step ``dot(x_t, W)`` becomes one ``dot(X, W)``; elementwise ops on ``x_t``
  become the same op on ``X``, ``x_t[a:b]`` becomes ``X[:, a:b]``) and come in as new
  sequences;
- ``scan_push_out_row_shapes``: the shape of a sequence's row, the same at every step,
  comes in as a non-sequence ``shape(X)[1:]``; a sequence read only for its shape is
  dropped (with what computed it outside, when nothing else reads that);
- ``scan_merge``: scans that run the same number of steps (the same ``n_steps``
  variable), neither feeding the other, become one loop; ``scan_merge_duplicates``
  then removes what they computed twice.  This is what makes the Gauss-Newton
  product ``Lop(f, p, Rop(f, p, v))`` of an RNN two passes over the sequence: the
  R-op scan recomputes the forward states, so the forward scan merges into it;
- ``scan_unroll_one_step``: a scan of exactly one (constant) step is replaced by
  its inner graph, applied once in the outer graph.

specialize:

- ``scan_save_memory``: a state whose buffer is only read through its last rows
  (``h[-1]``, ``h[-3:]``) keeps only those rows, in a circular buffer (info.py).

>>> import numpy as np, symgraph as sg, symgraph.tensor as T
>>> x, w = T.dmatrix('x'), T.dmatrix('w')
>>> hs, _ = sg.scan(lambda xt, h, w: T.tanh(T.dot(xt, w) + h), sequences=x,
...                 outputs_info=T.zeros((2,), dtype='float64'), non_sequences=w)
>>> f = sg.function([x, w], hs[-1])
>>> [n.op for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)]
[Scan{scan: seqs=1, states=[-1], keep=2}]
"""
from symgraph.graph.basic import Constant
from symgraph.graph.replace import clone_get_equiv
from symgraph.graph.traversal import ancestors, io_toposort
from symgraph.rewriting.core import node_rewriter
from symgraph.rewriting.pipeline import register_canonicalize, register_specialize
from symgraph.scan.info import ScanInfo
from symgraph.scan.op import Scan
from symgraph.scan.utils import clone_with
from symgraph.tensor.type import TensorType


# -- a Scan node taken apart ---------------------------------------------------------
class _Piece:
    """One input or output of a Scan being edited (compared by identity)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


class _Parts:
    """A Scan node as editable pieces; ``build`` makes the new node and says which old
    outer variables its outputs replace.

    Inputs (``seqs``, ``non_seqs``) have ``outer`` and ``inner``; ``states`` have
    ``init``, ``taps``, ``tap_vars``, ``new``, ``keep``; ``nits`` have ``new``;
    ``shared`` have ``init``, ``var``, ``new``.  Outputs carry ``outs``: the old outer
    variables the piece's new outer output replaces, each with a ``finish`` function
    (or None) applied to the new output first.
    """

    def __init__(self, node):
        op, info = node.op, node.op.info
        self.mode, self.name, self.truncate_gradient = op.mode, op.name, info.truncate_gradient
        n_steps, seqs, inits, shared_inits, non_seqs = info.split_outer_inputs(node.inputs)
        in_seqs, taps, in_shared, in_non_seqs = info.split_inner_inputs(op.inner_inputs)
        news, nits, shared_news, self.cond = info.split_inner_outputs(op.inner_outputs)
        buffers, stacks, finals = info.split_outer_outputs(node.outputs)
        self.n_steps = n_steps
        self.seqs = [_Piece(outer=o, inner=i) for o, i in zip(seqs, in_seqs)]
        self.non_seqs = [_Piece(outer=o, inner=i) for o, i in zip(non_seqs, in_non_seqs)]
        self.states = [_Piece(init=init, taps=t, tap_vars=list(tv), new=new, keep=keep,
                                       outs=[(buf, None)])
                       for init, t, tv, new, keep, buf in zip(
                           inits, info.state_taps, taps, news, info.state_keep, buffers)]
        self.nits = [_Piece(new=new, outs=[(stack, None)])
                     for new, stack in zip(nits, stacks)]
        self.shared = [_Piece(init=init, var=var, new=new, outs=[(final, None)])
                       for init, var, new, final in zip(shared_inits, in_shared, shared_news,
                                                        finals)]
        self.extra = {}  # old outer variable -> its replacement, made outside the loop

    def inner_inputs(self):
        return ([s.inner for s in self.seqs] + [v for s in self.states for v in s.tap_vars]
                + [s.var for s in self.shared] + [s.inner for s in self.non_seqs])

    def inner_outputs(self):
        outs = [s.new for s in self.states] + [n.new for n in self.nits]
        outs += [s.new for s in self.shared]
        return outs + ([self.cond] if self.cond is not None else [])

    def _set_inner_outputs(self, values):
        values = list(values)
        for piece in self.states + self.nits + self.shared:
            piece.new = values.pop(0)
        if self.cond is not None:
            self.cond = values.pop(0)

    def substitute(self, mapping):
        """Replace inner variables (``mapping``: old -> new) in every inner output."""
        if mapping:
            self._set_inner_outputs(clone_with(self.inner_outputs(), mapping))

    def fresh_inputs(self):
        """Give every inner input a new variable (so two copies of one op can be merged)."""
        mapping = {}

        def fresh(v):
            mapping[v] = v.type.make_variable(name=v.name)
            return mapping[v]

        for s in self.seqs + self.non_seqs:
            s.inner = fresh(s.inner)
        for s in self.states:
            s.tap_vars = [fresh(v) for v in s.tap_vars]
        for s in self.shared:
            s.var = fresh(s.var)
        self.substitute(mapping)

    def read_inputs(self):
        """The inner inputs the inner outputs read."""
        inputs = set(self.inner_inputs())
        return {v for v in ancestors(self.inner_outputs()) if v in inputs}

    def build(self):
        """``{old outer variable: replacement}``, or None if a replacement would have a
        less specific type than the variable it replaces."""
        info = ScanInfo(n_seqs=len(self.seqs), state_taps=tuple(s.taps for s in self.states),
                        n_nit_sot=len(self.nits), n_shared_outs=len(self.shared),
                        n_non_seqs=len(self.non_seqs), as_while=self.cond is not None,
                        truncate_gradient=self.truncate_gradient,
                        state_keep=tuple(s.keep for s in self.states))
        op = Scan(self.inner_inputs(), self.inner_outputs(), info, mode=self.mode,
                  name=self.name)
        node = op.make_node(self.n_steps, *[s.outer for s in self.seqs],
                            *[s.init for s in self.states], *[s.init for s in self.shared],
                            *[s.outer for s in self.non_seqs])
        replacements = dict(self.extra)
        for piece, new in zip(self.states + self.nits + self.shared, node.outputs):
            for old, finish in piece.outs:
                replacements[old] = finish(new) if finish is not None else new
        if not all(_fits(old, new) for old, new in replacements.items()):
            return None
        return replacements


def _fits(old, new):
    return old.type == new.type or old.type.is_super(new.type)


def _used(fgraph, piece):
    return any(fgraph.clients.get(old) for old, _ in piece.outs)


def _outer_copy(variables, mapping):
    """Copies of inner ``variables`` for the outer graph, inner inputs replaced by
    ``mapping``; every node is new (the op's own inner graph must never be shared with
    a graph that rewrites change in place)."""
    memo = clone_get_equiv([], list(variables), copy_inputs=False, copy_orphans=False,
                           memo=dict(mapping))
    return [memo[v] for v in variables]


def _fit_outer(outer, inner_type, time_axis):
    """``outer`` with a static type that can feed an inner input of ``inner_type`` (its
    rows when ``time_axis``): a SpecifyShape where the outer type is less specific."""
    from symgraph.tensor.shape import specify_shape

    shape = outer.type.shape[1:] if time_axis else outer.type.shape
    if inner_type == TensorType(outer.dtype, shape) or inner_type.is_super(
            TensorType(outer.dtype, shape)):
        return outer
    return specify_shape(outer, ((None,) if time_axis else ()) + inner_type.shape)


# -- 6. dropping what nobody uses -------------------------------------------------------
def _live_pieces(parts, fgraph):
    """States and shared states whose values something used reads, and used nit-sots."""
    states = [s for s in parts.states if _used(fgraph, s)]
    nits = [n for n in parts.nits if _used(fgraph, n)]
    shared = [s for s in parts.shared if _used(fgraph, s)]
    while True:
        roots = [p.new for p in states + nits + shared]
        roots += [parts.cond] if parts.cond is not None else []
        read = set(ancestors(roots))
        more_states = [s for s in parts.states if s not in states
                       and any(v in read for v in s.tap_vars)]
        more_shared = [s for s in parts.shared if s not in shared and s.var in read]
        if not more_states and not more_shared:
            return states, nits, shared
        states += more_states
        shared += more_shared


def _drop_unused(parts, fgraph):
    """Drop dead outputs, then unread inputs and taps; True if anything changed."""
    states, nits, shared = _live_pieces(parts, fgraph)
    changed = (len(states), len(nits), len(shared)) != (
        len(parts.states), len(parts.nits), len(parts.shared))
    parts.states = [s for s in parts.states if s in states]
    parts.nits = [n for n in parts.nits if n in nits]
    parts.shared = [s for s in parts.shared if s in shared]
    return _drop_unread_inputs(parts) or changed


def _drop_unread_inputs(parts):
    """Drop the sequences, non-sequences and taps the inner graph does not read."""
    changed = False
    read = parts.read_inputs()
    kept_seqs = [s for s in parts.seqs if s.inner in read]
    kept_non_seqs = [s for s in parts.non_seqs if s.inner in read]
    changed |= (len(kept_seqs), len(kept_non_seqs)) != (len(parts.seqs), len(parts.non_seqs))
    parts.seqs, parts.non_seqs = kept_seqs, kept_non_seqs
    for state in list(parts.states):
        changed |= _drop_unread_taps(parts, state, read)
    return changed


def _drop_unread_taps(parts, state, read):
    """Drop the taps of ``state`` nothing reads, where that keeps its number of initial
    rows; a state none of whose taps are read becomes a nit-sot (its buffer is then its
    initial rows joined with the per-step values)."""
    from symgraph.tensor.basic import concatenate

    used = [(k, v) for k, v in zip(state.taps, state.tap_vars) if v in read]
    if len(used) == len(state.taps):
        return False
    if used and min(k for k, _ in used) == min(state.taps):
        state.taps = tuple(k for k, _ in used)
        state.tap_vars = [v for _, v in used]
        return True
    if used or state.keep:
        return False
    init = state.init
    outs = [(old, lambda stack, init=init, finish=finish: _then(
        finish, concatenate([init, stack.astype(init.dtype)]))) for old, finish in state.outs]
    parts.states.remove(state)
    parts.nits.insert(0, _Piece(new=state.new, outs=outs))
    return True


def _then(finish, value):
    return finish(value) if finish is not None else value


@register_canonicalize("scan")
@node_rewriter([Scan])
def scan_remove_unused(fgraph, node):
    """Outputs nobody reads, the states only they needed, and inputs nothing reads."""
    parts = _Parts(node)
    if not _drop_unused(parts, fgraph):
        return None
    if not (parts.states or parts.nits or parts.shared):
        return None  # nothing used: the node goes away with its clients
    return parts.build()


# -- duplicates ------------------------------------------------------------------------
def _structural_keys(inputs, outputs, alias):
    """A key per inner variable: equal keys mean equal values, given that the inputs in
    ``alias`` equal their images."""
    interned, keys = {}, {}

    def intern(item):
        return interned.setdefault(item, len(interned))

    for k, v in enumerate(inputs):
        keys[v] = intern(("in", alias.get(v, v)))

    def ref(v):
        if v in keys:
            return keys[v]
        if isinstance(v, Constant):
            return intern(("const",) + v.signature())
        raise ValueError(f"{v} is not an input of the inner graph")

    for node in io_toposort(inputs, outputs):
        args = tuple(ref(v) for v in node.inputs)
        for k, out in enumerate(node.outputs):
            keys[out] = intern((node.op, args, k, out.type))
    return ref


def _same_value(a, b):
    """True when outer variables ``a`` and ``b`` are known to hold the same value (the
    R-op and gradient scans rebuild a state's initial rows as ``expand_dims(h0[0], 0)``)."""
    return a is b or _strip_row_roundtrip(a) is _strip_row_roundtrip(b)


def _strip_row_roundtrip(v):
    """``expand_dims(u[0], 0)`` -> ``u`` when u has exactly one row."""
    from symgraph.tensor.elemwise import DimShuffle
    from symgraph.tensor.subtensor import Subtensor

    node = v.owner
    if node is None or not isinstance(node.op, DimShuffle) or \
            node.op.new_order != ("x",) + tuple(range(node.op.input_ndim)):
        return v
    row = node.inputs[0].owner
    if row is None or not isinstance(row.op, Subtensor) or row.op.idx_list != ("i",):
        return v
    u, index = row.inputs
    if u.type.shape[:1] == (1,) and isinstance(index, Constant) and int(index.data) == 0 \
            and u.type == v.type:
        return u
    return v


def _loop_rows(parts, seq):
    """``u`` for a sequence ``u[:n_steps]``: the loop reads the same rows of both."""
    from symgraph.tensor.subtensor import Subtensor

    cut = seq.owner
    if cut is not None and isinstance(cut.op, Subtensor) and \
            cut.op.idx_list == (("s", False, True, False),) and cut.inputs[1] is parts.n_steps:
        return cut.inputs[0]
    return seq


def _merge_duplicate_inputs(parts):
    """One inner input per outer variable among the sequences and the non-sequences."""
    mapping = {}
    for group, same in ((parts.seqs, lambda v: _loop_rows(parts, v)),
                        (parts.non_seqs, lambda v: v)):
        first = {}
        for s in list(group):
            rep = first.setdefault(same(s.outer), s)
            if rep is not s and rep.inner.type == s.inner.type:
                mapping[s.inner] = rep.inner
                group.remove(s)
    parts.substitute(mapping)
    return bool(mapping)


def _merge_duplicate_states(parts):
    """States with equal initial values and equal updates (given that the other
    duplicates are equal: the largest such partition, found by refinement) become one."""
    classes = []
    for s in parts.states:
        for cls in classes:
            r = cls[0]
            if r.taps == s.taps and r.tap_vars[0].type == s.tap_vars[0].type and \
                    _same_value(r.init, s.init):
                cls.append(s)
                break
        else:
            classes.append([s])
    while True:
        alias = {v: rv for cls in classes for s in cls[1:] for v, rv in zip(
            s.tap_vars, cls[0].tap_vars)}
        key = _structural_keys(parts.inner_inputs(), parts.inner_outputs(), alias)
        refined = []
        for cls in classes:
            by_key = {}
            for s in cls:
                by_key.setdefault(key(s.new), []).append(s)
            refined += list(by_key.values())
        if len(refined) == len(classes):
            break
        classes = refined
    if all(len(cls) == 1 for cls in classes):
        return False
    for cls in classes:
        rep = cls[0]
        for s in cls[1:]:
            rep.outs += s.outs
            rep.keep = 0 if 0 in (rep.keep, s.keep) else max(rep.keep, s.keep)
            parts.states.remove(s)
    parts.substitute(alias)
    return True


def _merge_duplicate_nits(parts):
    key = _structural_keys(parts.inner_inputs(), parts.inner_outputs(), {})
    first, changed = {}, False
    for n in list(parts.nits):
        rep = first.setdefault((key(n.new), n.new.type), n)
        if rep is not n:
            rep.outs += n.outs
            parts.nits.remove(n)
            changed = True
    return changed


def _merge_duplicates(parts):
    changed = _merge_duplicate_inputs(parts)
    changed |= _merge_duplicate_states(parts)
    return _merge_duplicate_nits(parts) or changed


@register_canonicalize("scan")
@node_rewriter([Scan])
def scan_merge_duplicates(fgraph, node):
    """Inputs given twice, states and per-step outputs computed twice, become one."""
    parts = _Parts(node)
    return parts.build() if _merge_duplicates(parts) else None


# -- 1. loop invariants ------------------------------------------------------------------
def _movable(node):
    return all(isinstance(o.type, TensorType) for o in node.outputs)


def _frontier(parts, computed, nodes):
    """The variables in ``computed`` (made by ``nodes``) that the rest of the step reads."""
    wanted = []
    inner_nodes = io_toposort(parts.inner_inputs(), parts.inner_outputs())
    moved = set(nodes)
    for node in inner_nodes:
        if node not in moved:
            wanted += [v for v in node.inputs if v in computed]
    wanted += [v for v in parts.inner_outputs() if v in computed]
    unique = []
    for v in wanted:
        if v.owner is not None and v not in unique:
            unique.append(v)
    return unique


@register_canonicalize("scan")
@node_rewriter([Scan])
def scan_push_out_invariant(fgraph, node):
    """Inner computations that read only non-sequences run once, before the loop."""
    parts = _Parts(node)
    given = {s.inner: s.outer for s in parts.non_seqs}
    invariant, from_inputs, nodes = set(given), set(given), []
    for n in io_toposort(parts.inner_inputs(), parts.inner_outputs()):
        if not _movable(n) or not all(v in invariant or isinstance(v, Constant)
                                      for v in n.inputs):
            continue
        invariant.update(n.outputs)
        if any(v in from_inputs for v in n.inputs):  # constants alone fold inside
            from_inputs.update(n.outputs)
            nodes.append(n)
    moved = _frontier(parts, from_inputs, nodes)
    if not moved:
        return None
    outer = _outer_copy(moved, given)
    mapping = {}
    for v, o in zip(moved, outer):
        mapping[v] = v.type.make_variable(name=v.name)
        parts.non_seqs.append(_Piece(outer=_fit_outer(o, v.type, False),
                                              inner=mapping[v]))
    parts.substitute(mapping)
    _drop_unread_inputs(parts)
    return parts.build()


# -- 2. sequence-only computations ------------------------------------------------------
def _has_steps_rows(parts, seq):
    """True if ``seq`` has exactly ``n_steps`` rows (n_steps is its length)."""
    from symgraph.tensor.shape import Shape_i

    n_steps = parts.n_steps
    steps_of = n_steps.owner
    if steps_of is not None and isinstance(steps_of.op, Shape_i) and steps_of.op.i == 0 \
            and steps_of.inputs[0] is seq:
        return True
    return isinstance(n_steps, Constant) and seq.type.shape[0] == int(n_steps.data)


def _steps_rows(parts, seq):
    """``seq``'s first ``n_steps`` rows (a sequence may be longer than the loop; if it
    is shorter, the loop, reading the batched values, still reports it)."""
    whole = _loop_rows(parts, seq)
    if _has_steps_rows(parts, whole):
        return whole
    if whole is not seq or _has_steps_rows(parts, seq):
        return seq
    return seq[:parts.n_steps]


def _batched(node, args):
    """``node`` applied to whole sequences: ``args`` pairs each input with its outer value
    and whether that value has a leading step axis; None if there is no batched form."""
    from symgraph.tensor.basic import dimshuffle
    from symgraph.tensor.elemwise import DimShuffle, Elemwise
    from symgraph.tensor.math import Dot, Reduce, dot
    from symgraph.tensor.subtensor import _FULL, Subtensor

    op = node.op
    if isinstance(op, Elemwise):
        return op.make_node(*[v for v, _ in args]).outputs
    if isinstance(op, Reduce):
        (x, _), = args
        return [Reduce(op.kind, tuple(a + 1 for a in op.axis), op.dtype)(x)]
    if isinstance(op, DimShuffle):
        (x, _), = args
        return [dimshuffle(x, (0,) + tuple(d if d == "x" else d + 1 for d in op.new_order))]
    if isinstance(op, Subtensor):  # x_t[i] -> X[:, i] (the index reads no sequence)
        (x, x_steps), *index = args
        if not x_steps or any(steps for _, steps in index):
            return None
        return [Subtensor((_FULL,) + op.idx_list)(x, *[v for v, _ in index])]
    if isinstance(op, Dot):
        (a, a_steps), (b, b_steps) = args
        if a_steps and not b_steps and a.ndim == 2:  # rows x_t . W
            return [dot(a, b)]
        if b_steps and not a_steps and b.ndim == 2:  # W . x_t = x_t . W^T
            return [dot(b, a.T if a.ndim == 2 else a)]
    return None


@register_canonicalize("scan")
@node_rewriter([Scan])
def scan_push_out_seq(fgraph, node):
    """Inner computations that read only the current sequence rows run batched on whole
    sequences before the loop (``dot(x_t, W)`` -> ``dot(X, W)``)."""
    from symgraph.tensor.elemwise import Elemwise

    parts = _Parts(node)
    if parts.cond is not None:  # a while loop may stop early: do not compute every row
        return None
    outer = {s.inner: (_steps_rows(parts, s.outer), True) for s in parts.seqs}
    outer.update({s.inner: (s.outer, False) for s in parts.non_seqs})
    # values with exactly n_steps rows (others were cut to n_steps and may be shorter)
    exact = {s.inner for s in parts.seqs if _has_steps_rows(parts, _loop_rows(parts, s.outer))}
    nodes = []
    for n in io_toposort(parts.inner_inputs(), parts.inner_outputs()):
        if not _movable(n) or not all(v in outer or isinstance(v, Constant) for v in n.inputs):
            continue
        args = [outer.get(v, (v, False)) for v in n.inputs]
        if not any(steps for _, steps in args):  # invariant (constants, say): stays inside,
            outputs = n.op.make_node(*[v for v, _ in args]).outputs  # but batched ops use it
            outer.update((v, (r, False)) for v, r in zip(n.outputs, outputs))
            continue
        if isinstance(n.op, Elemwise) and any(v.ndim - 1 < n.outputs[0].ndim
                                              for v, s in args if s):
            continue  # a row with fewer dimensions than the result: its axes would not align
        results = _batched(n, args)
        if results is None:
            continue
        outer.update((v, (r, True)) for v, r in zip(n.outputs, results))
        if all(v in exact for v, (_, steps) in zip(n.inputs, args) if steps):
            exact.update(n.outputs)
        nodes.append(n)
    moved = _frontier(parts, {v for n in nodes for v in n.outputs}, nodes)
    if not moved:
        return None
    mapping = {}
    for v in moved:
        mapping[v] = v.type.make_variable(name=v.name)
        parts.seqs.append(_Piece(outer=_fit_outer(outer[v][0], v.type, True),
                                          inner=mapping[v], exact=v in exact))
    parts.substitute(mapping)
    _nits_from_sequences(parts)
    _drop_unread_inputs(parts)
    return parts.build()


@register_canonicalize("scan")
@node_rewriter([Scan])
def scan_push_out_row_shapes(fgraph, node):
    """The shape of a sequence's row is the same at every step: ``shape(x_t)`` becomes
    the non-sequence ``shape(X)[1:]`` (a gradient's ``SumToShape`` reads such shapes), and
    a sequence read only for its shape is no longer an input of the loop."""
    from symgraph.tensor.shape import Shape, Shape_i

    parts = _Parts(node)
    rows = {s.inner: s.outer for s in parts.seqs}
    mapping = {}
    for n in io_toposort(parts.inner_inputs(), parts.inner_outputs()):
        if isinstance(n.op, (Shape, Shape_i)) and n.inputs[0] in rows:
            seq, v = rows[n.inputs[0]], n.outputs[0]
            outer = seq.shape[1:] if isinstance(n.op, Shape) else Shape_i(n.op.i + 1)(seq)
            mapping[v] = v.type.make_variable(name=v.name)
            parts.non_seqs.append(_Piece(outer=_fit_outer(outer, v.type, False),
                                         inner=mapping[v]))
    if not mapping:
        return None
    parts.substitute(mapping)
    _drop_unread_inputs(parts)
    return parts.build()


def _nits_from_sequences(parts):
    """A per-step output that is the row of a sequence of exactly ``n_steps`` rows is
    that sequence (not when it may be shorter: the loop would have reported that)."""
    rows = {s.inner: s.outer for s in parts.seqs
            if getattr(s, "exact", False) or _has_steps_rows(parts, _loop_rows(parts, s.outer))}
    for n in list(parts.nits):
        if n.new in rows:
            seq = rows[n.new]
            for old, finish in n.outs:
                parts.extra[old] = _then(finish, seq)
            parts.nits.remove(n)


# -- 3. merging loops ----------------------------------------------------------------------
def _depends_on(node, other):
    """True if ``node`` reads, directly or not, an output of ``other``."""
    targets = set(other.outputs)
    return any(v in targets for v in ancestors(node.inputs))


def _mergeable(a, b):
    if b is a or not isinstance(b.op, Scan):
        return False
    ia, ib = a.op.info, b.op.info
    return (b.inputs[0] is a.inputs[0]
            and not ia.as_while and not ib.as_while
            and ia.truncate_gradient == ib.truncate_gradient and a.op.mode is b.op.mode
            and not _depends_on(a, b) and not _depends_on(b, a))


def _merged_name(a, b):
    if a == b or b is None:
        return a
    return b if a is None else f"{a}&{b}"


@register_canonicalize("scan")
@node_rewriter([Scan])
def scan_merge(fgraph, node):
    """Two scans over the same number of steps, neither reading the other, become one
    loop (what they compute twice is then computed once)."""
    for client, i in fgraph.clients.get(node.inputs[0], []):
        if client == "output" or i != 0 or not _mergeable(node, client):
            continue
        parts, other = _Parts(node), _Parts(client)
        other.fresh_inputs()
        for field in ("seqs", "states", "nits", "shared", "non_seqs"):
            getattr(parts, field).extend(getattr(other, field))
        parts.name = _merged_name(parts.name, other.name)
        _merge_duplicates(parts)
        replacements = parts.build()
        if replacements is not None:
            return replacements
    return None


# -- 4. one step --------------------------------------------------------------------------
@register_canonicalize("scan")
@node_rewriter([Scan])
def scan_unroll_one_step(fgraph, node):
    """A scan of exactly one step: its inner graph applied once, in the outer graph."""
    from symgraph.tensor.basic import (NotScalarConstantError, concatenate, expand_dims,
                                       get_scalar_constant_value)

    try:
        if int(get_scalar_constant_value(node.inputs[0])) != 1:
            return None
    except NotScalarConstantError:
        return None
    parts = _Parts(node)
    mapping = {s.inner: s.outer[0] for s in parts.seqs}
    mapping.update({s.inner: s.outer for s in parts.non_seqs})
    mapping.update({s.var: s.init for s in parts.shared})
    for s in parts.states:
        lag = -min(s.taps)
        mapping.update({v: s.init[lag + k] for k, v in zip(s.taps, s.tap_vars)})
    pieces = parts.states + parts.nits + parts.shared
    values = _outer_copy([p.new for p in pieces], mapping)
    replacements = {}
    for piece, value in zip(pieces, values):
        if piece in parts.states:
            lag = -min(piece.taps)
            value = concatenate([piece.init, expand_dims(value.astype(piece.init.dtype), 0)])
            if piece.keep:
                value = value[max(0, lag + 1 - piece.keep):]
        elif piece in parts.nits:
            value = expand_dims(value, 0)
        for old, finish in piece.outs:
            replacements[old] = _then(finish, value)
    if not all(_fits(old, new) for old, new in replacements.items()):
        return None
    return replacements


# -- 5. memory -----------------------------------------------------------------------------
def _tail_rows_read(fgraph, var, depth=0):
    """How many of ``var``'s last rows (along axis 0) its clients read, or None when they
    may read others (or more, or its length).  Clients that index with a constant
    negative integer (``v[-j]``) or slice from a constant negative start (``v[-j:]``)
    read the last j rows; ``v[s:]`` (s >= 0, no stop) reads s more rows than its own
    clients do (its last rows are var's last rows, and it needs s rows before them)."""
    from symgraph.tensor.basic import NotScalarConstantError, get_scalar_constant_value
    from symgraph.tensor.subtensor import Subtensor

    clients = fgraph.clients.get(var, [])
    if not clients or depth > 8:
        return None
    need = 0
    for client, i in clients:
        if client == "output" or i != 0 or not isinstance(client.op, Subtensor):
            return None
        entry = client.op.idx_list[0]
        try:
            if entry == "i":
                index = int(get_scalar_constant_value(client.inputs[1]))
                if index >= 0:
                    return None
                need = max(need, -index)
                continue
            _, has_start, has_stop, has_step = entry
            if has_stop or (has_step and int(get_scalar_constant_value(
                    client.inputs[1 + has_start])) != 1):
                return None
            start = int(get_scalar_constant_value(client.inputs[1])) if has_start else 0
        except NotScalarConstantError:
            return None
        if start < 0:
            need = max(need, -start)
            continue
        rest = _tail_rows_read(fgraph, client.outputs[0], depth + 1)
        if rest is None:
            return None
        need = max(need, start + rest)
    return need or None


@register_specialize("scan")
@node_rewriter([Scan])
def scan_save_memory(fgraph, node):
    """A state read only through its last k rows keeps only those (a circular buffer)."""
    parts = _Parts(node)
    changed = False
    for s in parts.states:
        (buffer, _), = s.outs
        k = _tail_rows_read(fgraph, buffer)
        if k is not None and (s.keep == 0 or k < s.keep):
            s.keep, changed = k, True
    return parts.build() if changed else None


__all__ = ["scan_merge", "scan_merge_duplicates", "scan_push_out_invariant",
           "scan_push_out_seq", "scan_remove_unused", "scan_save_memory",
           "scan_unroll_one_step"]
