"""Ops the compiler inserts: DeepCopyOp guards outputs that alias inputs or state."""
import copy

from symgraph.graph.basic import Apply, Op


class DeepCopyOp(Op):
    """Returns a copy of its input (so a function never hands out its own storage)."""

    __props__ = ()
    no_constant_folding = True

    def make_node(self, x):
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        value = inputs[0]
        # values with no ``copy`` (a random generator) are deep-copied: never handed out
        output_storage[0][0] = value.copy() if hasattr(value, "copy") else copy.deepcopy(value)

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes

    def grad(self, inputs, output_grads):
        return output_grads


deep_copy_op = DeepCopyOp()
