"""Walking graphs: ancestors, inputs, topological order."""
from symgraph.graph.basic import Constant


def ancestors(outputs, blockers=()):
    """Every Variable that ``outputs`` depend on (outputs included), stopping at ``blockers``."""
    blockers = set(blockers)
    seen, order, stack = set(), [], list(reversed(list(outputs)))
    while stack:
        var = stack.pop()
        if id(var) in seen:
            continue
        seen.add(id(var))
        order.append(var)
        if var.owner is not None and var not in blockers:
            stack.extend(reversed(var.owner.inputs))
    return order


def graph_inputs(outputs, blockers=()):
    """The ownerless Variables (inputs and constants) that ``outputs`` depend on."""
    blockers = set(blockers)
    return [v for v in ancestors(outputs, blockers) if v.owner is None or v in blockers]


def io_toposort(inputs, outputs, orderings=None):
    """Apply nodes between ``inputs`` and ``outputs`` in an order where producers come first.

    ``orderings[node]`` lists extra nodes that must come before ``node`` (a destroyer's
    readers; see graph/destroyhandler.py).  Raises ValueError on a cycle.  ``inputs`` may
    be a set, used as is (a FunctionGraph passes its variables: copying them on every call
    made each replacement cost the size of the graph)."""
    stop = inputs if isinstance(inputs, (set, frozenset)) else set(inputs)
    orderings = orderings or {}

    def before(node):
        deps = [v.owner for v in node.inputs if v.owner is not None and v not in stop]
        extra = orderings.get(node)
        return deps + list(extra) if extra else deps

    order, done, on_path = [], set(), set()
    for out in outputs:
        root = out.owner
        if root is None or out in stop or root in done:
            continue
        # iterative DFS: (node, its dependencies, next dependency index)
        stack = [(root, before(root), 0)]
        on_path.add(root)
        while stack:
            node, deps, i = stack[-1]
            if i < len(deps):
                stack[-1] = (node, deps, i + 1)
                parent = deps[i]
                if parent in done:
                    continue
                if parent in on_path:
                    raise ValueError("graph contains a cycle")
                on_path.add(parent)
                stack.append((parent, before(parent), 0))
            else:
                stack.pop()
                on_path.discard(node)
                done.add(node)
                order.append(node)
    return order


def toposort(outputs):
    return io_toposort([], outputs)


def applys_between(inputs, outputs):
    return io_toposort(inputs, outputs)


def is_in_ancestors(node, var):
    """True if ``var`` is computed by ``node`` or anything ``node`` depends on."""
    return any(v is var for v in ancestors(node.outputs))


def vars_between(inputs, outputs):
    stop = set(inputs)
    return [v for v in ancestors(outputs, stop)]


def constants_in(outputs):
    return [v for v in graph_inputs(outputs) if isinstance(v, Constant)]
