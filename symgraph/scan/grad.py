"""The gradient of a Scan: backpropagation through time, as a second Scan.

The backward scan runs over the forward steps in reverse (the last
``truncate_gradient`` of them when truncated).  At forward step t it receives the
values the forward step read (sequence rows, state rows at the taps), the values it
produced (so the step is not recomputed where the gradient only needs its results)
and the output gradients at t; it carries, per recurrent state, the adjoints not
yet complete:

- a sit-sot state carries the adjoint of the state at t-1 (what step t sends back);
- a state with lag L carries a window of L rows, row j being the adjoint pending for
  the state at t-1-j: at each step the window shifts by one and the step's
  contributions through its taps are added;

Per-step gradients of the sequences are the backward scan's plain outputs, and so
are the per-step gradient contributions of the non-sequences: a non-sequence's
gradient is their sum over the steps, taken after the loop (step_sums.py), where a
weight's outer-product contributions become one matrix product over the stacked
factors instead of a weight-sized update per step.  Being a Scan built by ``scan()``,
the backward pass is itself differentiable (second order).
"""
from symgraph.gradient import disconnected_type, grad
from symgraph.scan.history import SharedHistory
from symgraph.scan.residuals import Residuals, recurrent_products
from symgraph.scan.op import is_differentiable
from symgraph.scan.utils import clone_with, input_dependencies, is_known_zero


def scan_grad(op, node, output_grads):
    """Gradients of ``node``'s inputs given its ``output_grads`` (Scan.L_op)."""
    if op.info.n_shared_outs and _shared_states_matter(op, output_grads):
        history = SharedHistory(op, node.inputs)
        grads = _Backward(history.op, history.node, history.output_grads(output_grads),
                          history.recorded).input_grads()
        return history.input_values(grads)
    products = recurrent_products(op)
    if products:  # store them in the forward pass, if the backward step reads them
        rebuilt = Residuals(op, node, products)
        backward = _Backward(rebuilt.op, rebuilt.node, rebuilt.output_grads(output_grads),
                             residuals=rebuilt.recorded)
        grads = backward.input_grads()
        if backward.reads_residuals:
            return grads
    return _Backward(op, node, output_grads).input_grads()


def _shared_states_matter(op, output_grads):
    """True if shared states feed differentiable outputs or get gradients themselves."""
    info = op.info
    _, _, finals = info.split_outer_outputs(output_grads)
    if any(not is_known_zero(g) for g in finals):
        return True
    first = info.n_seqs + info.n_taps
    shared_in = set(range(first, first + info.n_shared_outs))
    deps = input_dependencies(op.inner_inputs, op.inner_outputs[:info.n_states + info.n_nit_sot])
    return any(d & shared_in for d in deps)


class _Backward:
    """Builds the backward scan of one forward Scan node (shared states ignored: the
    caller checked they play no part in the gradient)."""

    def __init__(self, op, node, output_grads, recorded=(), residuals=()):
        info = self.info = op.info
        self.op, self.node = op, node
        # (inner variable, outer per-step values): read from the forward pass, not recomputed
        self.recorded = list(recorded)
        # the same for intermediates the gradient reads: their values, not their graph
        self.residuals = list(residuals)
        self.reads_residuals = False  # set when the backward step is built
        self.n_steps, self.seqs, self.inits, _, self.non_seqs = info.split_outer_inputs(
            node.inputs)
        self.buffers, self.stacks, _ = info.split_outer_outputs(node.outputs)
        self.output_grads = list(output_grads)
        self.g_buffers, self.g_stacks, _ = info.split_outer_outputs(output_grads)
        self.in_seqs, self.in_taps, _, self.in_non_seqs = info.split_inner_inputs(
            op.inner_inputs)
        self.news, self.nits, _, _ = info.split_inner_outputs(op.inner_outputs)
        self._find_live()

    # -- what the backward pass needs ------------------------------------------------
    def _find_live(self):
        """Which outputs get nonzero adjoints, which inner inputs they read."""
        info, op = self.info, self.op
        outs = self.news + self.nits
        deps = input_dependencies(op.inner_inputs + [v for v, _ in self.recorded], outs)
        tap_state = {}
        pos = info.n_seqs
        for i, taps in enumerate(info.state_taps):
            for k in range(pos, pos + len(taps)):
                tap_state[k] = i
            pos += len(taps)
        live = [is_differentiable(b) and not is_known_zero(g)
                for b, g in zip(self.buffers, self.g_buffers)]
        live += [is_differentiable(s) and not is_known_zero(g)
                 for s, g in zip(self.stacks, self.g_stacks)]
        changed = True
        while changed:  # a state read by a live output gets adjoints through its taps
            changed = False
            for o, d in enumerate(deps):
                if not live[o]:
                    continue
                for k in d:
                    i = tap_state.get(k)
                    if i is not None and not live[i] and is_differentiable(self.buffers[i]):
                        live[i] = changed = True
        self.live_states = [i for i in range(info.n_states) if live[i]]
        self.live_nits = [j for j in range(info.n_nit_sot) if live[info.n_states + j]]
        used = set()
        for o, d in enumerate(deps):
            if live[o]:
                used |= d
        self.used = used
        inner = op.inner_inputs
        self.wrt = [k for k in sorted(used) if k < len(inner) and is_differentiable(inner[k])]
        wrt = set(self.wrt)
        pos = info.n_seqs
        self.carry_states = []
        for i, taps in enumerate(info.state_taps):
            if i in self.live_states and any(k in wrt for k in range(pos, pos + len(taps))):
                self.carry_states.append(i)
            pos += len(taps)

    # -- building ----------------------------------------------------------------------
    def input_grads(self):
        if not self.live_states and not self.live_nits:
            return self._assemble(None)
        return self._assemble(self._build_backward_scan())

    def _steps(self):
        """(T_run, K, start): steps the forward ran, steps to go back, first one."""
        from symgraph.tensor import math
        from symgraph.tensor.shape import shape_i

        info = self.info
        if not info.as_while:
            t_run = self.n_steps
        elif info.n_states:
            t_run = shape_i(self.buffers[0], 0) - info.state_lags[0]
        else:
            t_run = shape_i(self.stacks[0], 0)
        if info.truncate_gradient == -1:
            return t_run, t_run, 0
        k = math.minimum(t_run, info.truncate_gradient)
        return t_run, k, t_run - k

    def _reversed(self, x, offset):
        """Rows ``offset + start .. offset + T_run - 1`` of ``x``, last first."""
        return x[offset + self.start:offset + self.t_run][::-1]

    def _sequence_groups(self):
        """The backward scan's sequences, each ``(kind, index, outer sequence)``: what
        the forward step read ("seq", "tap", "recorded"), what it produced ("value")
        and the output gradients ("g"), all reversed in time."""
        info = self.info
        lags = info.state_lags
        seq_groups = []
        for j, x in enumerate(self.seqs):
            if j in self.used:
                seq_groups.append(("seq", j, self._reversed(x, 0)))
        pos = info.n_seqs
        for i, taps in enumerate(info.state_taps):
            for k in taps:
                if pos in self.used:
                    seq_groups.append(("tap", pos, self._reversed(self.buffers[i], lags[i] + k)))
                pos += 1
        n_inner = len(self.op.inner_inputs)
        for r, (_, stack) in enumerate(self.recorded):
            if n_inner + r in self.used:
                seq_groups.append(("recorded", r, self._reversed(stack, 0)))
        for r, (_, stack) in enumerate(self.residuals):
            seq_groups.append(("residual", r, self._reversed(stack, 0)))
        for i in self.live_states:
            if self._stored(self.news[i]):
                seq_groups.append(("value", i, self._reversed(self.buffers[i], lags[i])))
        for j in self.live_nits:
            if self._stored(self.nits[j]):
                seq_groups.append(("value", info.n_states + j, self._reversed(self.stacks[j], 0)))
        for i in self.live_states:
            if not is_known_zero(self.g_buffers[i]):
                seq_groups.append(("g", i, self._reversed(self.g_buffers[i], lags[i])))
        for j in self.live_nits:
            seq_groups.append(("g", info.n_states + j, self._reversed(self.g_stacks[j], 0)))
        return seq_groups

    def _build_backward_scan(self):
        from symgraph.scan.builder import build_scan
        from symgraph.tensor.basic import zeros_like

        info = self.info
        lags = info.state_lags
        self.t_run, self.k_steps, self.start = self._steps()
        seq_groups = self._sequence_groups()
        first_non_seq = info.n_inner_inputs - info.n_non_seqs
        self.non_seq_used = [j for j in range(info.n_non_seqs) if first_non_seq + j in self.used]
        self.acc_non_seqs = [j for j in self.non_seq_used if first_non_seq + j in self.wrt]
        self.grad_seqs = [j for j in range(info.n_seqs) if j in self.wrt]
        carries = [zeros_like(self.inits[i][0]) if lags[i] == 1 else zeros_like(self.inits[i])
                   for i in self.carry_states]
        step = _BackwardStep(self, seq_groups)
        n_nits = len(self.acc_non_seqs) + len(self.grad_seqs)
        built = build_scan(step, sequences=[g[2] for g in seq_groups],
                           outputs_info=carries + [None] * n_nits,
                           non_sequences=[self.non_seqs[j] for j in self.non_seq_used],
                           n_steps=self.k_steps, truncate_gradient=info.truncate_gradient,
                           mode=self.op.mode, name=f"grad_of_{self.op.name or 'scan'}",
                           fresh_non_seqs=True)
        return built.node

    def _non_seq_sums(self, bnode):
        """``(backward node's outputs, non-sequence gradients)``: the sums over the steps
        of the per-step contributions, the node refactored to emit their factors
        (step_sums.py); the outputs are those of ``bnode``, each replaced by the same value
        of the refactored node."""
        from symgraph.scan.step_sums import sum_over_steps

        n_acc = len(self.acc_non_seqs)
        _, remap, sums = sum_over_steps(bnode, list(range(n_acc)))
        outputs = [remap.get(v) for v in bnode.outputs]
        return outputs, [sums[p] for p in range(n_acc)]

    def _stored(self, out):
        """An inner output computed by the step (not an input or a constant): its stored
        value replaces recomputation in the backward step."""
        return out.owner is not None

    def _assemble(self, bnode):
        """The forward node's input gradients from the backward scan's outputs."""
        from symgraph.tensor import math
        from symgraph.tensor.basic import zeros_like
        from symgraph.tensor.subtensor import set_subtensor

        info = self.info
        inputs = self.node.inputs
        grads = [None] * len(inputs)
        if bnode is not None:
            b_outputs, non_seq_grads = self._non_seq_sums(bnode)
            b_buffers, b_stacks, _ = bnode.op.info.split_outer_outputs(b_outputs)
            for pos, j in enumerate(self.grad_seqs):
                zeros = zeros_like(self.seqs[j])
                stack = b_stacks[len(self.acc_non_seqs) + pos]
                grads[1 + j] = set_subtensor(zeros[self.start:self.t_run], stack[::-1])
            for pos, i in enumerate(self.carry_states):
                final = b_buffers[pos][-1]
                window = final[None] if info.state_lags[i] == 1 else final[::-1]
                if info.truncate_gradient != -1:  # the pass stopped before the beginning
                    reached = math.eq(self.k_steps, self.t_run)
                    window = math.switch(reached, window, zeros_like(window))
                grads[1 + info.n_seqs + i] = window
            first = 1 + info.n_seqs + info.n_states + info.n_shared_outs
            for j, g in zip(self.acc_non_seqs, non_seq_grads):
                grads[first + j] = g
        for i, lag in enumerate(info.state_lags):  # initial rows are outputs as they are
            g = self.g_buffers[i]
            if is_differentiable(self.inits[i]) and not is_known_zero(g):
                k = 1 + info.n_seqs + i
                grads[k] = g[:lag] if grads[k] is None else grads[k] + g[:lag]
        return self._fill_missing(grads)

    def _fill_missing(self, grads):
        """Zeros for differentiable inputs connected to an output that has a gradient,
        else disconnected."""
        from symgraph.tensor.basic import zeros_like

        pattern = self.op.connection_pattern(self.node)
        flowing = [not is_known_zero(g) for g in self.output_grads]
        out = []
        for k, (x, g) in enumerate(zip(self.node.inputs, grads)):
            if g is None:
                connected = k > 0 and is_differentiable(x) and any(
                    c and f for c, f in zip(pattern[k], flowing))
                g = zeros_like(x) if connected else disconnected_type()
            out.append(g)
        return out


class _BackwardStep:
    """The backward scan's step function: one forward step's vector-Jacobian product."""

    def __init__(self, backward, seq_groups):
        self.bw, self.groups = backward, seq_groups

    def __call__(self, *args):
        bw = self.bw
        info = bw.info
        inner = bw.op.inner_inputs
        n_groups = len(self.groups)
        n_carry = len(bw.carry_states)
        seq_args = args[:n_groups]
        carry_args = args[n_groups:n_groups + n_carry]
        non_seq_args = args[n_groups + n_carry:]
        mapping, values, g_ext, residuals = {}, {}, {}, {}
        for (kind, index, _), arg in zip(self.groups, seq_args):
            if kind == "seq":
                mapping[inner[index]] = arg
            elif kind == "tap":
                mapping[inner[index]] = arg
            elif kind == "recorded":
                mapping[bw.recorded[index][0]] = arg
            elif kind == "residual":
                residuals[index] = arg
            elif kind == "value":
                values[index] = arg
            else:
                g_ext[index] = arg
        first_non_seq = info.n_inner_inputs - info.n_non_seqs
        for j, arg in zip(bw.non_seq_used, non_seq_args):
            mapping[inner[first_non_seq + j]] = arg
        carry = dict(zip(bw.carry_states, carry_args))
        outs = [(i, bw.news[i]) for i in bw.live_states]
        outs += [(info.n_states + j, bw.nits[j]) for j in bw.live_nits]
        cloned = clone_with([o for _, o in outs] + [v for v, _ in bw.residuals], mapping)
        stored = {var: residuals[r] for r, var in enumerate(cloned[len(outs):])}
        cloned = cloned[:len(outs)]
        seeds = {}
        for (o, _), var in zip(outs, cloned):
            adj = self._adjoint(o, carry, g_ext)
            if adj is not None:
                seeds[var] = adj if var not in seeds else seeds[var] + adj
        wrt = [mapping[inner[k]] for k in bw.wrt]
        contributions = dict(zip(bw.wrt, self._vjp(seeds, wrt, outs, cloned, values, stored)))
        results = [self._new_carry(i, carry[i], contributions) for i in bw.carry_states]
        for j in bw.acc_non_seqs:  # summed over the steps after the loop
            c = contributions.get(first_non_seq + j)
            results.append(c if c is not None else _zeros_like(mapping[inner[first_non_seq + j]]))
        for j in bw.grad_seqs:
            c = contributions.get(j)
            results.append(c if c is not None else _zeros_like(mapping[inner[j]]))
        return results

    def _adjoint(self, o, carry, g_ext):
        """The adjoint of output ``o`` at this step: what later steps sent back (for a
        state) plus the output's own gradient."""
        parts = []
        if o in carry:
            lag = self.bw.info.state_lags[o]
            parts.append(carry[o] if lag == 1 else carry[o][0])
        if o in g_ext:
            parts.append(g_ext[o])
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]

    def _vjp(self, seeds, wrt, outs, cloned, values, stored):
        if not seeds or not wrt:
            return [None] * len(wrt)
        grads = grad(None, wrt, known_grads=seeds, disconnected_inputs="ignore",
                     return_disconnected="None")
        present = [g for g in grads if g is not None]
        # the stored forward values (outputs and residuals) stand for their recomputation
        swap = {var: values[o] for (o, _), var in zip(outs, cloned)
                if o in values and var.owner is not None}
        if swap and present:
            present = clone_with(present, swap)
        if stored and present:  # a product whose shape alone is read is not stored
            read = _values_read(present)
            stored = {var: row for var, row in stored.items() if var in read}
            if stored:
                self.bw.reads_residuals = True
                present = clone_with(present, stored)
        present = iter(present)
        return [None if g is None else next(present) for g in grads]

    def _new_carry(self, i, window, contributions):
        """Shift state i's window by one step and add this step's contributions through
        its taps (tap k sends to the state at t + k, row -k-1 of the new window)."""
        from symgraph.tensor.basic import stack

        info = self.bw.info
        lag = info.state_lags[i]
        pos = info.n_seqs + sum(len(t) for t in info.state_taps[:i])
        by_row = {}
        for n, k in enumerate(info.state_taps[i]):
            c = contributions.get(pos + n)
            if c is not None:
                by_row.setdefault(-k - 1, []).append(c)
        if lag == 1:
            parts = by_row.get(0, [])
            return _sum(parts) if parts else _zeros_like(window)
        rows = []
        for r in range(lag):
            parts = ([window[r + 1]] if r + 1 < lag else []) + by_row.get(r, [])
            rows.append(_sum(parts) if parts else _zeros_like(window[0]))
        return stack(rows)


def _values_read(outputs):
    """The variables whose values ``outputs`` are computed from (not those of which only
    the shape is read: the shape rewrites compute that from the inputs)."""
    from symgraph.tensor.shape import Shape, Shape_i

    seen, stack = set(), list(outputs)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v.owner is not None and not isinstance(v.owner.op, (Shape, Shape_i)):
            stack.extend(v.owner.inputs)
    return seen


def _sum(parts):
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


def _zeros_like(x):
    from symgraph.tensor.basic import zeros_like

    return zeros_like(x)
