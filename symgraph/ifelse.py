"""``ifelse``: a conditional that computes only the branch it takes.

``switch(c, a, b)`` is elementwise and eager: both ``a`` and ``b`` are
computed.  ``ifelse(c, a, b)`` takes a scalar condition and is lazy: the VMs
(Python and C) run only the nodes that the chosen branch alone needs (see
``symgraph/link/schedule.py``).  Its output is a view of the chosen input.
"""
import numpy as np

from symgraph.graph.basic import Apply, Op
from symgraph.rewriting.core import node_rewriter
from symgraph.rewriting.pipeline import register_canonicalize


class IfElse(Op):
    """Inputs ``(cond, then_1..then_n, else_1..else_n)``; outputs ``n``: the chosen branch."""

    __props__ = ("n_outs",)

    def __init__(self, n_outs):
        self.n_outs = n_outs
        self.view_map = {k: [1 + k, 1 + n_outs + k] for k in range(n_outs)}

    def lazy_branches(self, node):
        """(cond index, then input indices, else input indices), read by the scheduler."""
        n = self.n_outs
        return 0, list(range(1, 1 + n)), list(range(1 + n, 1 + 2 * n))

    def make_node(self, cond, *branches):
        from symgraph.tensor.var import as_tensor_variable

        n = self.n_outs
        cond = as_tensor_variable(cond)
        if cond.type.ndim != 0:
            raise TypeError(f"ifelse: the condition must be a scalar, got {cond.type}")
        if len(branches) != 2 * n:
            raise TypeError(f"ifelse: {n} then and {n} else values expected, "
                            f"got {len(branches)} values")
        then_vars, else_vars = _match_branches(branches[:n], branches[n:])
        outputs = [_join_type(t, e).make_variable() for t, e in zip(then_vars, else_vars)]
        return Apply(self, [cond, *then_vars, *else_vars], outputs)

    def perform(self, node, inputs, output_storage):
        n = self.n_outs
        chosen = inputs[1:1 + n] if inputs[0] else inputs[1 + n:]
        for cell, value in zip(output_storage, chosen):
            cell[0] = value

    def infer_shape(self, fgraph, node, input_shapes):
        from symgraph.tensor.basic import as_tensor_variable

        n, cond = self.n_outs, node.inputs[0]
        shapes = []
        for then_shape, else_shape in zip(input_shapes[1:1 + n], input_shapes[1 + n:]):
            dims = []
            for a, b in zip(then_shape, else_shape):
                same = a is b or _constant(a) is not None and _constant(a) == _constant(b)
                dims.append(a if same else IfElse(1)(cond, as_tensor_variable(a),
                                                     as_tensor_variable(b)))
            shapes.append(tuple(dims))
        return shapes

    def connection_pattern(self, node):
        n = self.n_outs
        return [[False] * n] + [[i % n == k for k in range(n)] for i in range(2 * n)]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import DisconnectedType, disconnected_type
        from symgraph.tensor.basic import zeros_like

        n, cond = self.n_outs, inputs[0]
        then_grads, else_grads = [], []
        for var, g in zip(inputs[1:1 + n], output_grads):
            if isinstance(g.type, DisconnectedType):
                g = zeros_like(var)
            zero = zeros_like(g)
            then_grads.append(ifelse(cond, g, zero))
            else_grads.append(ifelse(cond, zero, g))
        return [disconnected_type()] + then_grads + else_grads

    def R_op(self, inputs, eval_points):
        from symgraph.tensor.basic import zeros_like

        n = self.n_outs
        points = [p if p is not None else zeros_like(v)
                  for v, p in zip(inputs[1:], eval_points[1:])]
        result = IfElse(n)(inputs[0], *points)
        return result if isinstance(result, list) else [result]

    def __str__(self):
        return "if{}" if self.n_outs == 1 else f"if{{{self.n_outs}}}"


def _constant(v):
    from symgraph.tensor.basic import NotScalarConstantError, get_scalar_constant_value

    try:
        return get_scalar_constant_value(v)
    except (NotScalarConstantError, TypeError):
        return None


def _match_branches(then_values, else_values):
    """Both branches as variables of the same dtype and ndim (Python numbers follow the
    other branch's dtype), or a TypeError naming the mismatch."""
    from symgraph.graph.basic import Variable
    from symgraph.tensor.basic import cast
    from symgraph.tensor.var import as_tensor_variable

    then_vars, else_vars = [], []
    for k, (a, b) in enumerate(zip(then_values, else_values)):
        if not isinstance(a, Variable) and isinstance(b, Variable):
            a = cast(as_tensor_variable(a), b.type.dtype) if hasattr(b.type, "dtype") else a
        if not isinstance(b, Variable) and isinstance(a, Variable):
            b = cast(as_tensor_variable(b), a.type.dtype) if hasattr(a.type, "dtype") else b
        a, b = (v if isinstance(v, Variable) else as_tensor_variable(v) for v in (a, b))
        if getattr(a.type, "dtype", None) != getattr(b.type, "dtype", None) or \
                getattr(a.type, "ndim", None) != getattr(b.type, "ndim", None) or \
                type(a.type) is not type(b.type):
            raise TypeError(f"ifelse: branch value {k} has type {a.type} when true and "
                            f"{b.type} when false; cast one so that both agree")
        then_vars.append(a)
        else_vars.append(b)
    return then_vars, else_vars


def _join_type(a, b):
    """The type of a value that is ``a`` or ``b``: static dims where both agree."""
    from symgraph.tensor.type import TensorType

    if not isinstance(a.type, TensorType):
        if a.type != b.type:
            raise TypeError(f"ifelse: {a.type} when true, {b.type} when false")
        return a.type
    shape = tuple(x if x == y else None for x, y in zip(a.type.shape, b.type.shape))
    return TensorType(a.type.dtype, shape)


def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` if the scalar ``condition`` is true, else ``else_branch``; lazy.

    The branches may be variables or equal-length lists of variables.  Only
    the chosen branch is computed when the function runs.

    >>> import numpy as np, symgraph as sg, symgraph.tensor as T
    >>> c, x = T.bscalar('c'), T.dvector('x')
    >>> f = sg.function([c, x], ifelse(c, T.exp(x), T.log(x)))
    >>> f(1, np.array([0.0])).tolist(), f(0, np.array([1.0])).tolist()
    ([1.0], [0.0])
    """
    as_list = isinstance(then_branch, (list, tuple))
    then_list = list(then_branch) if as_list else [then_branch]
    else_list = list(else_branch) if isinstance(else_branch, (list, tuple)) else [else_branch]
    if len(then_list) != len(else_list):
        raise ValueError(f"ifelse: {len(then_list)} values when true, {len(else_list)} when "
                         "false")
    outputs = IfElse(len(then_list))(condition, *then_list, *else_list)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    if name is not None:
        for k, out in enumerate(outputs):
            out.name = name if len(outputs) == 1 else f"{name}[{k}]"
    return outputs if as_list else outputs[0]


@register_canonicalize("fast_compile")
@node_rewriter([IfElse])
def local_ifelse_constant_condition(fgraph, node):
    """``ifelse(True, a, b)`` -> ``a``; ``ifelse(False, a, b)`` -> ``b``."""
    value = _constant(node.inputs[0])
    if value is None:
        return None
    n = node.op.n_outs
    chosen = node.inputs[1:1 + n] if bool(np.asarray(value)) else node.inputs[1 + n:]
    return list(chosen)  # as specific a type as the output's: a valid replacement


@register_canonicalize("fast_compile")
@node_rewriter([IfElse])
def local_ifelse_same_branches(fgraph, node):
    """``ifelse(c, a, a)`` -> ``a``."""
    n = node.op.n_outs
    if all(a is b for a, b in zip(node.inputs[1:1 + n], node.inputs[1 + n:])):
        return list(node.inputs[1:1 + n])
    return None
