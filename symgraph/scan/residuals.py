"""A Scan rebuilt to also output the products its backward pass would recompute.

The backward step of a loop needs values from inside the forward step: an LSTM's
gate derivatives need the pre-activations ``z_t = x_t + h_{t-1} W + b``.  Recomputing
them costs a matrix product per step (or one over all steps, once the product is moved
out of the loop), as much again as the forward product.  Storing them costs memory:
one row per step.  JAX keeps such residuals; so does this: the matrix products that
read a state (the recurrent ones: a product of sequences and constants alone is
computed out of the loop, where merging makes one of the two copies) become extra
per-step outputs of a rebuilt forward loop, and the backward step reads their rows.

The rebuilt loop computes everything the original does, so it is a second forward
loop in the graph until the scan merge rewrite joins the two (the default rewrites
do; the duplicated steps then run once).

Layout of the rebuilt op, from the original's (no shared states)::

    inner outputs  state news | nits + residuals | cond
    outer outputs  state buffers | nit stacks + residual stacks
"""
from symgraph.graph.traversal import io_toposort
from symgraph.scan.info import ScanInfo
from symgraph.scan.op import Scan
from symgraph.scan.utils import input_dependencies
from symgraph.tensor.math import Dot, Matmul

_PRODUCTS = (Dot, Matmul)


def recurrent_products(op):
    """The inner variables of ``op`` worth storing for its backward pass: outputs of
    matrix products that read a state tap, and are not already outputs of the step.

    >>> import symgraph.tensor as T
    >>> from symgraph.scan import scan
    >>> W = T.dmatrix('W')
    >>> hs, _ = scan(lambda h, W: T.tanh(T.dot(h, W)), outputs_info=T.dvector('h0'),
    ...              non_sequences=W, n_steps=3)
    >>> op = hs.owner.inputs[0].owner.op
    >>> [str(v.owner.op) for v in recurrent_products(op)]
    ['Dot']
    """
    info = op.info
    if info.n_shared_outs or info.as_while:
        return []
    first_tap, taps_end = info.n_seqs, info.n_seqs + info.n_taps
    outputs = set(op.inner_outputs)
    candidates = [out for node in io_toposort(op.inner_inputs, op.inner_outputs)
                  if isinstance(node.op, _PRODUCTS) for out in node.outputs
                  if out not in outputs]
    reads = input_dependencies(op.inner_inputs, candidates)
    return [v for v, d in zip(candidates, reads) if any(first_tap <= k < taps_end for k in d)]


class Residuals:
    """``op``/``node`` rebuilt with ``products`` (inner variables of ``op``) as extra
    per-step outputs; ``recorded`` pairs each with its outer stack."""

    def __init__(self, op, node, products):
        info = self.old_info = op.info
        news, nits, _, cond = info.split_inner_outputs(op.inner_outputs)
        new_info = ScanInfo(
            n_seqs=info.n_seqs, state_taps=info.state_taps,
            n_nit_sot=info.n_nit_sot + len(products), n_shared_outs=0,
            n_non_seqs=info.n_non_seqs, as_while=info.as_while,
            truncate_gradient=info.truncate_gradient)
        outputs = news + nits + list(products) + ([cond] if cond is not None else [])
        self.op = Scan(list(op.inner_inputs), outputs, new_info, mode=op.mode, name=op.name)
        self.node = self.op.make_node(*node.inputs)
        first = info.n_states + info.n_nit_sot
        inner = self.op.inner_outputs[first:first + len(products)]
        self.recorded = list(zip(inner, self.node.outputs[first:first + len(products)]))

    def output_grads(self, output_grads):
        """The original outputs' gradients, then zeros for the residual stacks."""
        from symgraph.tensor.basic import zeros_like

        n_out = self.old_info.n_states + self.old_info.n_nit_sot
        return list(output_grads[:n_out]) + [zeros_like(stack) for _, stack in self.recorded]
