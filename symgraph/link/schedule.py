"""The schedule both VMs run: nodes in order, with jumps around lazy branches.

A lazy op (``ifelse``) says which of its inputs belong to which branch
(``op.lazy_branches(node) -> (cond_index, then_indices, else_indices)``).
The nodes that only a branch needs (its *block*) are moved next to the lazy
node and fenced by jumps, so that a call computes only the branch it takes::

    ... cond ...
    Jump(cond, to=ELSE)      # skip the then-block when cond is false
    <then-block>
    Jump(None, to=JOIN)      # after the then-block, skip the else-block
    ELSE: <else-block>
    JOIN: ifelse node        # reads the branch that was computed

Blocks nest (an ifelse inside a branch gets its own jumps inside the block).
Each step also says which slots it frees (its *free list*): a variable is
freed after the last step that reads it, and a jump frees the variables
whose last reader is in the range it skips.
"""
from symgraph.graph.basic import Constant


class Jump:
    """Continue at step ``target``; with a ``cond`` variable, only when its value is false."""

    def __init__(self, cond):
        self.cond = cond
        self.target = None

    def __repr__(self):
        return f"Jump(if not {self.cond}, to {self.target})" if self.cond is not None \
            else f"Jump(to {self.target})"


def schedule(fgraph):
    """The steps (Apply nodes and Jumps) that compute ``fgraph``'s outputs.

    Without lazy ops this is ``fgraph.toposort()``.

    >>> import symgraph.tensor as T
    >>> from symgraph.graph.fgraph import FunctionGraph
    >>> from symgraph.ifelse import ifelse
    >>> c, x = T.bscalar('c'), T.dvector('x')
    >>> steps = schedule(FunctionGraph([c, x], [ifelse(c, T.exp(x), T.log(x))]))
    >>> [type(s).__name__ for s in steps]
    ['Jump', 'Apply', 'Jump', 'Apply', 'Apply']
    """
    order = fgraph.toposort()
    lazy = [node for node in order if hasattr(node.op, "lazy_branches")]
    if not lazy:
        return order
    blocks = {node: _blocks(fgraph, node) for node in lazy}
    steps = _linearize(order, blocks)
    if not _valid(fgraph, steps):  # blocks that do not nest: run eagerly, still correct
        return order
    return steps


def _ancestors(roots, stop):
    """Apply nodes above the variables ``roots``, not walking into ``stop`` (var ids)."""
    seen, stack = set(), [v.owner for v in roots if v.owner is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack += [v.owner for v in stop(node) if v.owner is not None]
    return seen


def _blocks(fgraph, lazy_node):
    """(then-block, else-block): the nodes only that branch of ``lazy_node`` needs."""
    _, then_idx, else_idx = lazy_node.op.lazy_branches(lazy_node)
    orderings = fgraph.orderings()
    related = {}  # node -> nodes it has an ordering constraint with (either way)
    for node, before in orderings.items():
        for other in before:
            related.setdefault(node, set()).add(other)
            related.setdefault(other, set()).add(node)
    result = []
    for skipped in (then_idx, else_idx):
        skip = {lazy_node.inputs[i] for i in skipped}
        forced = []  # outputs of nodes that must run eagerly (ordering constraints)
        while True:
            def inputs_of(node, skip=skip):
                if node is lazy_node:
                    return [v for v in node.inputs if v not in skip]
                return node.inputs
            needed = _ancestors(list(fgraph.outputs) + forced, inputs_of)
            block = _ancestors([lazy_node.inputs[i] for i in skipped],
                               lambda node: node.inputs) - needed
            crossing = [n for n in block if related.get(n, set()) - block]
            if not crossing:
                break
            forced += [v for n in crossing for v in n.outputs]
        result.append(block)
    return result


def _linearize(order, blocks):
    """Place each lazy node's blocks, fenced by jumps, right before it (innermost first)."""
    owner = {}  # node -> (lazy node, branch) of the smallest block holding it
    for lazy_node, pair in blocks.items():
        for branch, block in enumerate(pair):
            for node in block:
                best = owner.get(node)
                if best is None or len(block) < len(blocks[best[0]][best[1]]):
                    owner[node] = (lazy_node, branch)
    steps = []

    def emit(context):
        for node in order:
            if owner.get(node) != context:
                continue
            if node in blocks:
                to_else, to_join = Jump(node.inputs[node.op.lazy_branches(node)[0]]), Jump(None)
                steps.append(to_else)
                emit((node, 0))
                steps.append(to_join)
                to_else.target = len(steps)
                emit((node, 1))
                to_join.target = len(steps)
            steps.append(node)

    emit(None)
    return steps


def _valid(fgraph, steps):
    """Every node reads only variables that every path to it has computed."""
    nodes = [s for s in steps if not isinstance(s, Jump)]
    if len(nodes) != len(fgraph.apply_nodes):
        return False
    # a jump's skipped range: values produced there are not available after it
    return _check_paths(fgraph, steps, 0, len(steps), set(fgraph.inputs))


def _check_paths(fgraph, steps, start, stop, available):
    k = start
    while k < stop:
        step = steps[k]
        if isinstance(step, Jump):
            if step.cond is None or step.cond not in available and step.cond.owner is not None:
                return False
            # a then-block [k+1, goto), its goto, an else-block [goto+1, join)
            goto = step.target - 1
            if not isinstance(steps[goto], Jump) or steps[goto].cond is not None:
                return False
            join = steps[goto].target
            if not (_check_paths(fgraph, steps, k + 1, goto, set(available)) and
                    _check_paths(fgraph, steps, goto + 1, join, set(available))):
                return False
            k = join
            continue
        lazy = hasattr(step.op, "lazy_branches")
        for i, var in enumerate(step.inputs):
            if lazy and i not in (step.op.lazy_branches(step)[0],):
                continue  # a lazy node reads only the branch that was computed
            if var not in available and var.owner is not None and not isinstance(var, Constant):
                return False
        available.update(step.outputs)
        k += 1
    return True


def free_lists(fgraph, steps):
    """Per step, the variables to free after it; a jump's list applies when it jumps.

    A variable is freed after its last reader in step order; when that reader
    sits in a range a jump skips, the jump frees it (if it was computed
    before the jump).  Graph inputs, outputs and constants are never freed.
    """
    keep = set(fgraph.inputs) | set(fgraph.outputs)
    last_use, produced_at = {}, {}
    jumps = [(j, step) for j, step in enumerate(steps) if isinstance(step, Jump)]
    for k, step in enumerate(steps):
        if isinstance(step, Jump):
            continue
        for var in step.inputs:
            last_use[var] = k
        for var in step.outputs:
            produced_at[var] = k
            last_use.setdefault(var, k)  # never read: free right away
    free = [[] for _ in steps]
    for var, k in last_use.items():
        if var in keep or isinstance(var, Constant):
            continue
        free[k].append(var)
        for j, jump in jumps:
            if j < k < jump.target and produced_at.get(var, -1) < j:
                free[j].append(var)
    return free
