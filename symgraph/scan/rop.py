"""The R-operator of a Scan: forward-mode differentiation through the loop.

The R-op is a new Scan that carries, beside each recurrent state, its tangent (with
the same taps), and returns each per-step output's tangent as an extra output.  It
recomputes the forward states in the same loop, so its first outputs are the
forward Scan's own outputs: a rewrite can replace the forward Scan by it (one loop
for ``f`` and ``J v``), and ``Lop(f, p, Rop(f, p, v))`` then runs two passes over
the sequence (this loop and its backward scan), not three.  Shared states become
sit-sot states in that loop (their tangents need their history).
"""
from symgraph.compile.sharedvalue import SharedVariable
from symgraph.gradient import Rop
from symgraph.scan.history import SharedHistory
from symgraph.scan.op import is_differentiable
from symgraph.scan.utils import clone_with, input_dependencies


def scan_rop(op, inputs, eval_points):
    """Tangents of the Scan's outputs given tangents of its inputs (Scan.R_op)."""
    from symgraph.tensor.basic import expand_dims

    info = op.info
    if not info.n_shared_outs:
        return _RopScan(op, inputs, eval_points).output_tangents()
    history = SharedHistory(op, inputs, record_other=False)
    first = 1 + info.n_seqs + info.n_states
    widened = [None if e is None else expand_dims(e, 0)
               for e in eval_points[first:first + info.n_shared_outs]]
    points = list(eval_points[:first]) + widened + list(eval_points[first + info.n_shared_outs:])
    tangents = _RopScan(history.op, history.node.inputs, points).output_tangents()
    return history.outputs_of(tangents)


class _RopScan:
    def __init__(self, op, inputs, eval_points):
        from symgraph.tensor.basic import cast

        info = self.info = op.info
        self.op = op
        self.n_steps, self.seqs, self.inits, self.shared, self.non_seqs = \
            info.split_outer_inputs(inputs)
        if not all(isinstance(v, SharedVariable) for v in self.shared):
            raise NotImplementedError("Scan.R_op: a non-tensor shared state (a random "
                                      "generator, say) that is not a shared variable")
        evs = [None if e is None or not is_differentiable(x) else cast(e, x.dtype)
               for x, e in zip(inputs, eval_points)]
        _, self.e_seqs, self.e_inits, _, self.e_non_seqs = info.split_outer_inputs(evs)
        self.news, self.nits, self.shared_news, self.cond = info.split_inner_outputs(
            op.inner_outputs)
        self._find_tangents()

    def _find_tangents(self):
        """Which inner inputs and outputs carry a (possibly) nonzero tangent."""
        info, inner = self.info, self.op.inner_inputs
        has = set(j for j, e in enumerate(self.e_seqs) if e is not None)
        first_non_seq = info.n_inner_inputs - info.n_non_seqs
        has |= {first_non_seq + j for j, e in enumerate(self.e_non_seqs) if e is not None}
        deps = input_dependencies(inner, self.news + self.nits)
        tap_ranges, pos = [], info.n_seqs
        for taps in info.state_taps:
            tap_ranges.append(range(pos, pos + len(taps)))
            pos += len(taps)
        moving = [self.e_inits[i] is not None for i in range(info.n_states)]
        changed = True
        while changed:  # a state whose update reads a moving input moves too
            changed = False
            for i in range(info.n_states):
                if moving[i] or not is_differentiable(self.news[i]):
                    continue
                if deps[i] & (has | {k for m in range(info.n_states) if moving[m]
                                     for k in tap_ranges[m]}):
                    moving[i] = changed = True
        for i in range(info.n_states):
            if moving[i]:
                has |= set(tap_ranges[i])
        self.has_tangent = {k for k in has if is_differentiable(inner[k])}
        self.moving_states = [i for i in range(info.n_states) if moving[i]]
        self.moving_nits = [j for j in range(info.n_nit_sot)
                            if is_differentiable(self.nits[j])
                            and deps[info.n_states + j] & self.has_tangent]

    def output_tangents(self):
        info = self.info
        if not self.moving_states and not self.moving_nits:
            return [None] * info.n_outer_outputs
        node = self._build()
        buffers, stacks, _ = node.op.info.split_outer_outputs(node.outputs)
        n_states = info.n_states
        result = [None] * info.n_outer_outputs
        for pos, i in enumerate(self.moving_states):
            result[i] = buffers[n_states + pos]
        for pos, j in enumerate(self.moving_nits):
            result[n_states + j] = stacks[info.n_nit_sot + pos]
        return result

    def _build(self):
        from symgraph.scan.builder import build_scan
        from symgraph.tensor.basic import zeros_like

        info = self.info
        seq_tangents = [j for j, e in enumerate(self.e_seqs) if e is not None and
                        j in self.has_tangent]
        first_non_seq = info.n_inner_inputs - info.n_non_seqs
        non_seq_tangents = [j for j, e in enumerate(self.e_non_seqs)
                            if e is not None and first_non_seq + j in self.has_tangent]
        states = [self._state_spec(self.inits[i], i) for i in range(info.n_states)]
        tangent_inits = [self.e_inits[i] if self.e_inits[i] is not None
                         else zeros_like(self.inits[i]) for i in self.moving_states]
        states += [self._state_spec(e, i) for e, i in zip(tangent_inits, self.moving_states)]
        step = _RopStep(self, seq_tangents, non_seq_tangents)
        built = build_scan(
            step, sequences=self.seqs + [self.e_seqs[j] for j in seq_tangents],
            outputs_info=states + [None] * (info.n_nit_sot + len(self.moving_nits)),
            non_sequences=self.non_seqs + [self.e_non_seqs[j] for j in non_seq_tangents],
            n_steps=self.n_steps, truncate_gradient=info.truncate_gradient,
            mode=self.op.mode, name=f"rop_of_{self.op.name or 'scan'}", fresh_non_seqs=True)
        return built.node

    def _state_spec(self, initial, i):
        taps = self.info.state_taps[i]
        if taps == (-1,):
            return initial[0]
        return dict(initial=initial, taps=list(taps))


class _RopStep:
    """The R-op scan's step: the forward step, then its Jacobian-vector product."""

    def __init__(self, rop, seq_tangents, non_seq_tangents):
        self.rop, self.seq_tangents, self.non_seq_tangents = rop, seq_tangents, non_seq_tangents

    def __call__(self, *args):
        from symgraph.scan.builder import until

        rop = self.rop
        info, inner = rop.info, rop.op.inner_inputs
        args = list(args)
        seq_args = _take(args, info.n_seqs)
        seq_tangent_args = _take(args, len(self.seq_tangents))
        tap_args = [_take(args, len(t)) for t in info.state_taps]
        tangent_tap_args = [_take(args, len(info.state_taps[i])) for i in rop.moving_states]
        non_seq_args = _take(args, info.n_non_seqs)
        non_seq_tangent_args = args
        mapping = dict(zip(inner[:info.n_seqs], seq_args))
        pos = info.n_seqs
        for taps in tap_args:
            mapping.update(zip(inner[pos:pos + len(taps)], taps))
            pos += len(taps)
        first_non_seq = info.n_inner_inputs - info.n_non_seqs
        mapping.update(zip(inner[first_non_seq:], non_seq_args))
        # the other shared states (random generators) are updated in the loop, as before
        first_shared = info.n_seqs + info.n_taps
        mapping.update(zip(inner[first_shared:first_non_seq], rop.shared))
        tangents = dict(zip(self.seq_tangents, seq_tangent_args))
        tangents.update({first_non_seq + j: a
                         for j, a in zip(self.non_seq_tangents, non_seq_tangent_args)})
        for i, taps in zip(rop.moving_states, tangent_tap_args):
            start = info.n_seqs + sum(len(t) for t in info.state_taps[:i])
            tangents.update(zip(range(start, start + len(taps)), taps))
        forward = rop.news + rop.nits + rop.shared_news
        forward += [rop.cond] if rop.cond is not None else []
        cloned = clone_with(forward, mapping)
        n_out = info.n_states + info.n_nit_sot
        updates = dict(zip(rop.shared, cloned[n_out:n_out + info.n_shared_outs]))
        news = cloned[:info.n_states]
        nits = cloned[info.n_states:info.n_states + info.n_nit_sot]
        wrt = [mapping[inner[k]] for k in sorted(tangents)]
        points = [tangents[k] for k in sorted(tangents)]
        targets = [news[i] for i in rop.moving_states] + [nits[j] for j in rop.moving_nits]
        jvps = Rop(targets, wrt, points, disconnected_outputs="ignore",
                   return_disconnected="zero") if targets else []
        n_moving = len(rop.moving_states)
        outputs = news + jvps[:n_moving] + nits + jvps[n_moving:]
        if rop.cond is not None:
            return outputs, updates, until(cloned[-1])
        return outputs, updates


def _take(args, n):
    taken = args[:n]
    del args[:n]
    return taken
