"""A Scan rebuilt so that differentiation can see what its shared states did.

A shared state keeps only its value after the last step, but the backward (and
tangent) pass needs its value at every step.  ``SharedHistory`` rebuilds the loop
with each *tensor* shared state turned into a sit-sot state (its history kept), and
with the tensor values computed from *non-tensor* shared states (random samples
drawn from a shared generator) recorded as extra per-step outputs: the backward
pass reads those instead of drawing again.  The rebuilt loop computes the same
values as the original (it runs the same steps from the same initial states); it
is a second forward loop in the graph, the price of shared states in a gradient.

Layout of the rebuilt op, from the original's::

    inner inputs   seqs | taps + tensor shared | other shared | non-seqs
    inner outputs  state news + tensor shared news | nits + recorded | other shared news | cond
    outer inputs   n_steps | seqs | inits + tensor shared[None] | other shared | non-seqs
"""
from symgraph.graph.traversal import ancestors, io_toposort
from symgraph.scan.info import ScanInfo
from symgraph.scan.op import Scan
from symgraph.tensor.type import TensorType


class SharedHistory:
    """``op``/``node`` rebuilt as the module docstring says; ``recorded`` pairs each
    recorded inner variable (in the new op's graph) with its outer per-step stack."""

    def __init__(self, op, inputs, record_other=True):
        from symgraph.tensor.basic import expand_dims

        info = self.old_info = op.info
        seqs, taps, shared, non_seqs = info.split_inner_inputs(op.inner_inputs)
        news, nits, shared_news, cond = info.split_inner_outputs(op.inner_outputs)
        self.tensor = [j for j, v in enumerate(shared) if isinstance(v.type, TensorType)]
        self.other = [j for j in range(len(shared)) if j not in self.tensor]
        recorded = _computed_from(op, [shared[j] for j in self.other]) if record_other else []
        new_info = ScanInfo(
            n_seqs=info.n_seqs, state_taps=info.state_taps + ((-1,),) * len(self.tensor),
            n_nit_sot=info.n_nit_sot + len(recorded), n_shared_outs=len(self.other),
            n_non_seqs=info.n_non_seqs, as_while=info.as_while,
            truncate_gradient=info.truncate_gradient)
        inner_inputs = seqs + [v for t in taps for v in t] + [shared[j] for j in self.tensor]
        inner_inputs += [shared[j] for j in self.other] + non_seqs
        inner_outputs = news + [shared_news[j] for j in self.tensor] + nits + recorded
        inner_outputs += [shared_news[j] for j in self.other] + ([cond] if cond is not None else [])
        self.op = Scan(inner_inputs, inner_outputs, new_info, mode=op.mode, name=op.name)
        n_steps, o_seqs, o_inits, o_shared, o_non_seqs = info.split_outer_inputs(inputs)
        self.node = self.op.make_node(
            n_steps, *o_seqs, *o_inits, *[expand_dims(o_shared[j], 0) for j in self.tensor],
            *[o_shared[j] for j in self.other], *o_non_seqs)
        first = new_info.n_states + info.n_nit_sot
        self.recorded = [(self.op.inner_outputs[first + r], self.node.outputs[first + r])
                         for r in range(len(recorded))]

    def output_grads(self, output_grads):
        """The original outputs' gradients as gradients of the rebuilt node's outputs."""
        from symgraph.scan.utils import is_known_zero
        from symgraph.tensor.basic import zeros_like
        from symgraph.tensor.subtensor import set_subtensor

        info = self.old_info
        g_states, g_nits, g_finals = info.split_outer_outputs(output_grads)
        histories = self.node.outputs[info.n_states:info.n_states + len(self.tensor)]
        g_hist = []
        for hist, j in zip(histories, self.tensor):
            zeros = zeros_like(hist)
            g = g_finals[j]
            g_hist.append(zeros if is_known_zero(g) else set_subtensor(zeros[-1], g))
        first = self.op.info.n_states + info.n_nit_sot
        g_recorded = [zeros_like(v) for v in self.node.outputs[first:first + len(self.recorded)]]
        return g_states + g_hist + g_nits + g_recorded + [g_finals[j] for j in self.other]

    def input_values(self, values):
        """Per original input, the value (or gradient) at the rebuilt node's input: a
        tensor shared state's has a leading step axis of 1."""
        info = self.old_info
        first = 1 + info.n_seqs + info.n_states
        out = list(values[:first])
        shared = [None] * info.n_shared_outs
        for pos, j in enumerate(self.tensor):
            g = values[first + pos]
            shared[j] = g if _is_disconnected(g) else g[0]
        for pos, j in enumerate(self.other):
            shared[j] = values[first + len(self.tensor) + pos]
        return out + shared + list(values[first + info.n_shared_outs:])

    def outputs_of(self, values):
        """Per original output, the rebuilt node's corresponding value (or tangent); a
        tensor shared state's final value is the last row of its history."""
        info = self.old_info
        n_new_states = self.op.info.n_states
        states = list(values[:info.n_states])
        histories = values[info.n_states:n_new_states]
        nits = list(values[n_new_states:n_new_states + info.n_nit_sot])
        others = values[n_new_states + info.n_nit_sot + len(self.recorded):]
        finals = [None] * info.n_shared_outs
        for h, j in zip(histories, self.tensor):
            finals[j] = None if h is None else h[-1]
        for v, j in zip(others, self.other):
            finals[j] = v
        return states + nits + finals


def _computed_from(op, sources):
    """The tensor variables computed directly from ``sources`` (non-tensor inner inputs)
    or from non-tensor values derived from them, that the loop's outputs use."""
    if not sources:
        return []
    tainted, found = set(sources), []
    for node in io_toposort(op.inner_inputs, op.inner_outputs):
        if not any(v in tainted for v in node.inputs):
            continue
        for out in node.outputs:
            if isinstance(out.type, TensorType):
                found.append(out)
            else:
                tainted.add(out)
    used = set(ancestors([v for v in op.inner_outputs if isinstance(v.type, TensorType)]))
    return [v for v in found if v in used]


def _is_disconnected(g):
    from symgraph.gradient import DisconnectedType

    return g is None or isinstance(g.type, DisconnectedType)
