"""Rewrites of Elemwise, DimShuffle and SumToShape that do not depend on the scalar op.

- ``local_dimshuffle_identity``: a dimshuffle that changes nothing is removed;
- ``local_dimshuffle_dimshuffle``: two dimshuffles become one;
- ``local_useless_sum_to_shape``: ``SumToShape(g, shape)`` -> ``g`` when g already
  has that shape (static types or the shape feature prove it);
- ``local_alloc_in_elemwise``: an ``alloc`` feeding an elementwise op whose other
  inputs already give the output's shape is replaced by the value it fills with
  (broadcasting does the rest, without materializing the array);
- ``local_dimshuffle_lift``: a dimshuffle of an elementwise result moves to its inputs;
- ``elemwise_fusion`` (stage ``fusion``, position 49.5): connected elementwise nodes become
  one ``Elemwise(Composite)`` (see ``ElemwiseFusion`` for the rule).
"""
from symgraph.graph.basic import Apply
from symgraph.rewriting.core import GraphRewriter, apply_replacements, node_rewriter
from symgraph.rewriting.pipeline import fusion as fusion_db
from symgraph.rewriting.pipeline import register_canonicalize
from symgraph.tensor.elemwise import DimShuffle, Elemwise, SumToShape, broadcast_static_shape
from symgraph.tensor.rewriting.shape import is_dim_of, shape_entries
from symgraph.tensor.rewriting.utils import is_tensor, keeps_shape, n_clients
from symgraph.tensor.type import TensorType


@register_canonicalize("fast_compile")
@node_rewriter([DimShuffle])
def local_dimshuffle_identity(fgraph, node):
    """``x.dimshuffle(0, 1, ..., n-1)`` -> ``x``."""
    if node.op.new_order == tuple(range(node.op.input_ndim)):
        return [node.inputs[0]]
    return None


@register_canonicalize("fast_compile")
@node_rewriter([DimShuffle])
def local_dimshuffle_dimshuffle(fgraph, node):
    """``x.dimshuffle(a).dimshuffle(b)`` -> ``x.dimshuffle(a o b)``."""
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, DimShuffle):
        return None
    inner_order = inner.op.new_order
    order = ["x" if d == "x" else inner_order[d] for d in node.op.new_order]
    x = inner.inputs[0]
    if tuple(order) == tuple(range(x.ndim)):
        return [x]
    return [DimShuffle(x.ndim, order)(x)]


@register_canonicalize("fast_compile", "shape")
@node_rewriter([SumToShape])
def local_useless_sum_to_shape(fgraph, node):
    """``SumToShape(g, shape)`` -> ``g`` when ``g`` certainly has ``shape``."""
    g, shp = node.inputs
    entries = shape_entries(shp, g.ndim)
    if entries is None or len(entries) != g.ndim:
        return None
    for d, entry in enumerate(entries):
        if isinstance(entry, (int,)):
            if entry != g.type.shape[d]:
                return None
        elif not is_dim_of(fgraph, entry, g, d):
            return None
    return [g]


@register_canonicalize
@node_rewriter([Elemwise])
def local_alloc_in_elemwise(fgraph, node):
    """``elemwise(alloc(v, *shape), y)`` -> ``elemwise(v, y)`` when ``y`` alone
    gives the output its shape."""
    from symgraph.tensor.basic import Alloc

    if node.op.inplace_pattern or len(node.outputs) != 1:
        return None
    out = node.outputs[0]
    for k, inp in enumerate(node.inputs):
        alloc_node = inp.owner
        if alloc_node is None or not isinstance(alloc_node.op, Alloc):
            continue
        value = alloc_node.inputs[0]
        if value.ndim < inp.ndim:
            value = DimShuffle(value.ndim, ["x"] * (inp.ndim - value.ndim)
                               + list(range(value.ndim)))(value)
        if value.dtype != inp.dtype:
            continue
        others = [i for j, i in enumerate(node.inputs) if j != k]
        inputs = others[:k] + [value] + others[k:]
        new = node.op.make_node(*inputs).outputs[0]
        if new.type.dtype == out.type.dtype and keeps_shape(fgraph, out, new, [inp], inputs):
            return [new]
    return None


@register_canonicalize
@node_rewriter([DimShuffle])
def local_dimshuffle_lift(fgraph, node):
    """``elemwise(a, b).dimshuffle(p)`` -> ``elemwise(a.dimshuffle(p), b.dimshuffle(p))``
    when nothing else uses the elementwise result: dimshuffles move toward the inputs,
    where they merge with each other and fold into constants."""
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, Elemwise) or inner.op.inplace_pattern \
            or len(inner.outputs) != 1 or n_clients(fgraph, node.inputs[0]) != 1:
        return None
    order = node.op.new_order
    moved = [DimShuffle(i.ndim, order)(i) for i in inner.inputs]
    new = inner.op.make_node(*moved).outputs[0]
    if new.type != node.outputs[0].type:
        return None
    return [new]


# -- fusion --------------------------------------------------------------------------------
class ElemwiseFusion(GraphRewriter):
    """Fuses connected Elemwise nodes into one ``Elemwise(Composite)`` (one loop, one pass).

    The rule: a group starts at an Elemwise node (latest first) and takes in the
    Elemwise producers of its inputs, transitively, when

    - they have the group's number of dimensions (an input reached through a
      dimshuffle stays an input: broadcasting is the fused loop's business);
    - joining keeps the graph acyclic: no input of the group may depend on a
      member (it would have to run both before and after the fused node);
    - the group stays within ``max_inputs`` distinct inputs.

    Nothing is recomputed: a member whose value is also used outside the group
    becomes an extra output of the Composite, provided that value certainly has
    the fused output's shape (an intermediate of a smaller broadcast shape, such as
    ``tanh(b)`` before ``+ x``, may only be used inside).  A member failing that is
    left out of the group, together with the members it depends on.  Groups are
    formed first and fused at the end; a group that would close a cycle through
    another group is given up (``_without_cycles``).
    """

    name = "elemwise_fusion"

    def __init__(self, max_inputs=31):
        self.max_inputs = max_inputs

    def apply(self, fgraph):
        order = fgraph.toposort()
        position = {node: k for k, node in enumerate(order)}
        ancestors = _ancestor_bits(order, position)
        grouped, groups = set(), []
        for sink in reversed(order):
            if sink in grouped or not _fusable(sink):
                continue
            group = _Group(sink, position)
            self._grow(group, grouped, ancestors)
            group.drop_unexposable(fgraph)
            if len(group.members) > 1:
                grouped.update(group.members)
                groups.append(group)
        for group in _without_cycles(order, groups):
            _fuse(fgraph, group, self)

    def _grow(self, group, grouped, ancestors):
        """Take producers in, breadth first, while the rule allows (see the class)."""
        sink = group.members[0]
        queue = [i.owner for i in sink.inputs if i.owner is not None]
        while queue:
            node = queue.pop(0)
            if node in group.member_set or node in grouped or not _fusable(node) \
                    or node.outputs[0].ndim != sink.outputs[0].ndim:
                continue
            trial = group.with_member(node)
            inputs = trial.inputs()
            if len(inputs) > self.max_inputs:
                continue
            bits = trial.bits()
            if any(v.owner is not None and ancestors.get(v.owner, -1) & bits for v in inputs):
                continue  # an input of the group would depend on the group: a cycle
            group.members = trial.members
            group.member_set = trial.member_set
            queue.extend(i.owner for i in node.inputs if i.owner is not None)


class _Group:
    """Nodes to fuse, kept in topological order."""

    def __init__(self, sink, position, members=None):
        self.position = position
        self.members = members or [sink]
        self.member_set = set(self.members)

    def with_member(self, node):
        members = sorted(self.members + [node], key=self.position.__getitem__)
        return _Group(None, self.position, members)

    def bits(self):
        bits = 0
        for node in self.members:
            bits |= 1 << self.position[node]
        return bits

    def inputs(self, members=None):
        """The distinct variables the group (or ``members`` of it) reads from outside."""
        members = self.members if members is None else members
        produced = {out for node in members for out in node.outputs}
        seen = {}
        for node in members:
            for v in node.inputs:
                if v not in produced:
                    seen.setdefault(v, None)
        return list(seen)

    def exposed(self, fgraph):
        """Member outputs used outside the group (or as graph outputs), in order."""
        return [out for node in self.members for out in node.outputs
                if any(client == "output" or client not in self.member_set
                       for client, _ in fgraph.clients.get(out, ()))]

    def upstream(self, node):
        """``node`` and the members it depends on, in order."""
        found, stack = {node}, [node]
        while stack:
            for v in stack.pop().inputs:
                if v.owner in self.member_set and v.owner not in found:
                    found.add(v.owner)
                    stack.append(v.owner)
        return [n for n in self.members if n in found]

    def drop_unexposable(self, fgraph):
        """Leave out members whose value is used outside but may be smaller than the
        fused output (broadcasting), with the members they depend on."""
        while len(self.members) > 1:
            inputs = self.inputs()
            full = broadcast_static_shape([v.type.shape for v in inputs])
            bad = [out for out in self.exposed(fgraph) if not self._full(out, inputs, full)]
            if not bad:
                return
            dropped = set(self.upstream(bad[-1].owner))
            self.members = [n for n in self.members if n not in dropped]
            self.member_set = set(self.members)

    def _full(self, out, inputs, full):
        """Whether ``out`` certainly has the broadcast shape of all the group's inputs."""
        used = set(self.inputs(self.upstream(out.owner)))
        missing = [v for v in inputs if v not in used]
        for d, size in enumerate(out.type.shape):
            if size is not None and size == full[d]:
                continue
            if any(v.type.shape[d] != 1 for v in missing):
                return False
        return True


def _fusable(node):
    op = node.op
    return isinstance(op, Elemwise) and not op.inplace_pattern \
        and all(is_tensor(v) for v in node.inputs + node.outputs)


def _ancestor_bits(order, position):
    """For each node, a bitset (an int) of the nodes it depends on."""
    bits = {}
    for node in order:
        acc = 0
        for v in node.inputs:
            owner = v.owner
            if owner is not None and owner in bits:
                acc |= bits[owner] | (1 << position[owner])
        bits[node] = acc
    return bits


def _without_cycles(order, groups):
    """The groups, less any that would make a cycle with the others.

    Each group alone keeps the graph acyclic (``_grow`` checks that), but two groups
    together may not: a path may leave one group through the other and come back.
    The graph with every group contracted to one node is sorted; while that fails,
    a group on a cycle is given up.  (Fusing the groups one at a time is then safe:
    contracting fewer groups cannot make a cycle that contracting all did not.)
    """
    groups = list(groups)
    while groups:
        key = {}
        for g, group in enumerate(groups):
            for node in group.members:
                key[node] = g
        cycle = _quotient_cycle(order, key)
        if cycle is None:
            return groups
        groups = [group for g, group in enumerate(groups) if g != cycle]
    return groups


def _quotient_cycle(order, key):
    """A group index on a cycle of the graph with groups contracted (None: acyclic).

    ``key``: node -> group index, for the grouped nodes."""
    def unit(node):
        return key.get(node, node)

    successors, predecessors, indegree = {}, {}, {}
    for node in order:
        indegree.setdefault(unit(node), 0)
        for v in node.inputs:
            if v.owner is not None and unit(v.owner) != unit(node):
                successors.setdefault(unit(v.owner), []).append(unit(node))
                predecessors.setdefault(unit(node), []).append(unit(v.owner))
                indegree[unit(node)] += 1
    ready = [u for u, d in indegree.items() if d == 0]
    while ready:
        for w in successors.get(ready.pop(), ()):
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    stuck = [u for u, d in indegree.items() if d > 0]
    if not stuck:
        return None
    # every stuck unit has a stuck predecessor: walking back must close a cycle
    path, seen, u = [], {}, stuck[0]
    while u not in seen:
        seen[u] = len(path)
        path.append(u)
        u = next(p for p in predecessors[u] if indegree[p] > 0)
    return next(u for u in path[seen[u]:] if isinstance(u, int))


def _fuse(fgraph, group, rewriter):
    """Replace the group by one Elemwise(Composite); returns the new node (None if the
    replacement was refused)."""
    from symgraph.scalar.composite import Composite

    inputs = group.inputs()
    ref = {v: j for j, v in enumerate(inputs)}
    statements = []
    for node in group.members:
        args = [ref[v] for v in node.inputs]
        op = node.op.scalar_op
        if isinstance(op, Composite):  # inline a Composite fused earlier
            values = list(args)
            for inner_op, refs in op.statements:
                values.append(len(inputs) + len(statements))
                statements.append((inner_op, tuple(values[r] for r in refs)))
            results = [values[r] for r in op.outputs]
        else:
            statements.append((op, tuple(args)))
            results = [len(inputs) + len(statements) - 1]
        for out, r in zip(node.outputs, results):
            ref[out] = r
    exposed = group.exposed(fgraph)
    shape = broadcast_static_shape([v.type.shape for v in inputs])
    composite = Composite(len(inputs), statements, [ref[v] for v in exposed])
    new_node = Apply(Elemwise(composite), inputs,
                     [TensorType(v.type.dtype, shape).make_variable() for v in exposed])
    if any(old.type != new.type and not old.type.is_super(new.type)
           for old, new in zip(exposed, new_node.outputs)):
        return None
    if not apply_replacements(fgraph, group.members[-1], dict(zip(exposed, new_node.outputs)),
                              rewriter):
        return None
    return new_node


fusion_db.register("elemwise_fusion", ElemwiseFusion(), "fast_run", "fusion")
