"""Copying graphs and substituting variables in them."""
from symgraph.graph.basic import Constant, Apply
from symgraph.graph.traversal import io_toposort


def clone_get_equiv(inputs, outputs, copy_inputs=True, copy_orphans=True, memo=None,
                    share_unchanged=False):
    """Copy the graph between ``inputs`` and ``outputs``; return the old -> new map.

    ``memo`` may pre-map variables (that is how replacement works): a mapped
    variable is used as is and its ancestors are not copied.  With
    ``share_unchanged`` a node whose inputs are all unchanged is kept, not copied.
    """
    memo = {} if memo is None else memo
    for var in inputs:
        if var not in memo:
            memo[var] = var.clone() if copy_inputs else var
    for node in io_toposort(list(memo), outputs):
        if node in memo:
            continue
        new_inputs = []
        for var in node.inputs:
            if var not in memo:
                # an orphan: a constant or an input not listed in ``inputs``
                memo[var] = var.clone() if (copy_orphans and isinstance(var, Constant)) else var
            new_inputs.append(memo[var])
        if share_unchanged and all(a is b for a, b in zip(new_inputs, node.inputs)):
            new_node = node
        else:
            new_node = _rebuild(node, new_inputs)
        memo[node] = new_node
        for old, new in zip(node.outputs, new_node.outputs):
            memo.setdefault(old, new)
    for var in outputs:
        memo.setdefault(var, var)
    return memo


def _rebuild(node, new_inputs):
    """Apply ``node.op`` to ``new_inputs``: same types keep the op's outputs' types."""
    if all(old.type == new.type for old, new in zip(node.inputs, new_inputs)):
        outputs = []
        for o in node.outputs:
            c = o.clone()
            outputs.append(c)
        new = Apply(node.op, new_inputs, outputs)
        new.tag.update(node.tag)
        return new
    return node.op.make_node(*new_inputs)


def clone(inputs, outputs, copy_inputs=True, copy_orphans=True):
    """Copies of ``inputs`` and ``outputs`` with every node in between copied."""
    memo = clone_get_equiv(inputs, outputs, copy_inputs, copy_orphans)
    return [memo[v] for v in inputs], [memo[v] for v in outputs]


def clone_replace(output, replace=None, **rebuild_kwds):
    """Copy ``output`` (a Variable or list) with each key of ``replace`` swapped for its value.

    >>> import symgraph.tensor as T
    >>> x, y = T.dscalars('x', 'y')
    >>> z = clone_replace(x * 2, {x: y})
    >>> float(z.eval({y: 4.0}))
    8.0
    """
    items = list(replace.items()) if isinstance(replace, dict) else list(replace or [])
    single = not isinstance(output, (list, tuple))
    outputs = [output] if single else list(output)
    memo = {}
    for old, new in items:
        if hasattr(old.type, "convert_variable") and old.type != new.type:
            converted = old.type.convert_variable(new)
            if converted is None:
                raise TypeError(
                    f"cannot replace {old} of type {old.type} by {new} of type {new.type}"
                )
            new = converted
        memo[old] = new
    memo = clone_get_equiv([], outputs, copy_inputs=False, copy_orphans=False, memo=memo,
                           share_unchanged=True)
    result = [memo[o] for o in outputs]
    return result[0] if single else result
