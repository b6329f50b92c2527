"""DestroyHandler: the FunctionGraph feature that makes in-place ops safe.

An op that overwrites an input declares it in ``destroy_map`` (output index ->
input indices); an op whose output shares memory with an input declares it in
``view_map``.  Variables joined by view edges share one buffer: an *alias
class*.  When a node destroys a variable, the whole class is overwritten, so:

- no graph input may be in the class, except those declared mutable
  (``In(x, mutable=True)``); shared variables' values are never destroyed;
- no constant, and no graph output, may be in the class (an output must keep
  its value until the call returns);
- only one node may destroy a class;
- the destroyer may not read the class through another of its inputs (what it
  reads there would change under it);
- every other node that reads the class must run before the destroyer: these
  are the *orderings* the feature adds, and ``FunctionGraph.toposort`` (hence
  every linker) respects them.  If a reader can only run after the destroyer
  (it depends on the destroyer's output), the graph is invalid.

``validate`` raises ``InconsistencyError`` naming the destroyer and the reason;
the rewrite framework then rolls the change back.  The rules read only
``destroy_map``/``view_map``, so any op (in-place Elemwise, IncSubtensor, Gemm,
...) is handled the same way.  With no destroyer in the graph, validation costs
nothing.

>>> import symgraph.tensor as T
>>> from symgraph.graph.fgraph import FunctionGraph, InconsistencyError
>>> from symgraph.scalar import basic as scal
>>> x = T.dvector('x')
>>> fg = FunctionGraph([x], [T.Elemwise(scal.exp, {0: 0})(x)])
>>> fg.attach_feature(DestroyHandler())
>>> try:
...     fg.validate()
... except InconsistencyError as exc:
...     print(str(exc).split(':')[0])
Elemwise{exp,inplace} would overwrite graph input x
"""
from symgraph.graph.basic import Constant
from symgraph.graph.fgraph import Feature, InconsistencyError


class DestroyHandler(Feature):
    """Tracks destroyers and views of a FunctionGraph; validates and orders them.

    ``mutable_inputs``: graph inputs that may be overwritten (all others may not).
    Installs ``fgraph.destroy_handler``.
    """

    def __init__(self, mutable_inputs=()):
        self.mutable_inputs = list(mutable_inputs)
        self.fgraph = None
        self.destroyers = {}  # node -> None (an ordered set)
        self._orderings = None  # cached: destroyer -> nodes that must run before it

    def on_attach(self, fgraph):
        if getattr(fgraph, "destroy_handler", None) not in (None, self):
            raise ValueError("this FunctionGraph already has a DestroyHandler")
        self.fgraph = fgraph
        fgraph.destroy_handler = self
        for node in fgraph.toposort():
            self.on_import(fgraph, node, "attach")

    def on_detach(self, fgraph):
        del fgraph.destroy_handler
        self.fgraph = None
        self.destroyers.clear()

    def on_import(self, fgraph, node, reason):
        if node.op.destroy_map:
            self.destroyers[node] = None
        self._orderings = None

    def on_prune(self, fgraph, node, reason):
        self.destroyers.pop(node, None)
        self._orderings = None

    def on_change_input(self, fgraph, node, i, old, new, reason):
        self._orderings = None

    # -- the checks --------------------------------------------------------------------
    def validate(self, fgraph):
        if not self.destroyers:
            return
        _check_acyclic(fgraph, self.orderings(fgraph))

    def orderings(self, fgraph):
        """``{destroyer: [nodes that must run before it]}`` (empty with no destroyer).

        Raises InconsistencyError if the destroyers break a rule."""
        if not self.destroyers:
            return {}
        if self._orderings is None:
            self._orderings = self._compute_orderings(fgraph)
        return self._orderings

    def _compute_orderings(self, fgraph):
        classes = _AliasClasses(fgraph)
        claimed = {}
        orderings = {}
        for node in self.destroyers:
            for out_index, in_indices in node.op.destroy_map.items():
                for i in in_indices:
                    var = node.inputs[i]
                    members = classes.members(var)
                    self._check_class(fgraph, node, var, members)
                    root = classes.find(var)
                    if root in claimed and claimed[root] is not node:
                        raise InconsistencyError(
                            f"{node.op} would overwrite {var}, which {claimed[root].op} "
                            f"already overwrites")
                    claimed[root] = node
                    readers = orderings.setdefault(node, {})
                    for reader in _readers(fgraph, members, node):
                        readers[reader] = None
        result = {node: list(readers) for node, readers in orderings.items()}
        self._orderings = result
        return result

    def _check_class(self, fgraph, node, var, members):
        for member in members:
            if isinstance(member, Constant):
                raise InconsistencyError(f"{node.op} would overwrite constant {member}")
            if member.owner is None and member in fgraph.inputs \
                    and member not in self.mutable_inputs:
                where = "" if member is var else f" (through its view {var})"
                raise InconsistencyError(
                    f"{node.op} would overwrite graph input {member}{where}: function inputs "
                    f"are only destroyed when declared In(x, mutable=True), shared "
                    f"variables never")
            if any(client == "output" for client, _ in fgraph.clients.get(member, ())):
                raise InconsistencyError(
                    f"{node.op} would overwrite {member}, which is an output of the graph")
        destroyed = {i for in_indices in node.op.destroy_map.values() for i in in_indices}
        member_set = set(members)
        for j, other in enumerate(node.inputs):
            if j not in destroyed and other in member_set:
                raise InconsistencyError(
                    f"{node.op} would overwrite {var} while also reading it (or a view of it) "
                    f"as its input {j}")


    # -- a quick check for rewriters that add one destroyer at a time ---------------------
    def quick_check(self, fgraph, destroyer, position):
        """Check the rules for one destroyer just added, looking only near it.

        Raises InconsistencyError if it breaks a rule; returns True if the graph is
        certainly valid (every node that must run before ``destroyer`` already comes
        before it in ``position``, a topological order of the graph and its orderings),
        False if only the full ``validate`` can tell.
        """
        for in_indices in destroyer.op.destroy_map.values():
            for i in in_indices:
                var = destroyer.inputs[i]
                members = view_class(fgraph, var)
                self._check_class(fgraph, destroyer, var, members)
                for member in members:
                    for client, j in fgraph.clients.get(member, ()):
                        if client is not destroyer and client != "output" \
                                and j in _destroyed_inputs(client):
                            raise InconsistencyError(
                                f"{destroyer.op} would overwrite {var}, which {client.op} "
                                f"already overwrites")
                here = position.get(destroyer)
                for reader in _readers(fgraph, members, destroyer):
                    if here is None or position.get(reader, here) >= here:
                        return False
        return True


def _destroyed_inputs(node):
    return {i for in_indices in node.op.destroy_map.values() for i in in_indices}


def view_class(fgraph, var):
    """The variables sharing ``var``'s buffer through view_map edges (``var`` included).

    >>> import symgraph.tensor as T
    >>> from symgraph.graph.fgraph import FunctionGraph
    >>> x = T.dmatrix('x')
    >>> y = x * 2.0
    >>> fg = FunctionGraph([x], [y.T + y[0]], clone=False)
    >>> sorted(str(v) for v in view_class(fg, y))  # y[0] is broadcast: a view of a view
    ['DimShuffle{1,0}.out', 'DimShuffle{x,0}.out', 'Elemwise{mul}.out', 'Subtensor{i}.out']
    """
    found, stack = {var: None}, [var]
    while stack:
        v = stack.pop()
        linked = []
        node = v.owner
        if node is not None:
            linked += [node.inputs[i] for i in node.op.view_map.get(v.index, ())]
        for client, i in fgraph.clients.get(v, ()):
            if client != "output":
                linked += [client.outputs[o] for o, ins in client.op.view_map.items() if i in ins]
        for other in linked:
            if other not in found:
                found[other] = None
                stack.append(other)
    return list(found)


def _readers(fgraph, members, destroyer):
    """Nodes other than ``destroyer`` that read a member of the alias class."""
    for member in members:
        for client, _ in fgraph.clients.get(member, ()):
            if client != "output" and client is not destroyer:
                yield client


class _AliasClasses:
    """Union-find over view_map edges: variables that share one buffer."""

    def __init__(self, fgraph):
        self.parent = {}
        self.groups = None
        for node in fgraph.apply_nodes:
            for out_index, in_indices in node.op.view_map.items():
                for i in in_indices:
                    self._union(node.outputs[out_index], node.inputs[i])

    def find(self, var):
        parent = self.parent
        root = var
        while parent.get(root, root) is not root:
            root = parent[root]
        while var is not root:  # path compression
            var, parent[var] = parent[var], root
        return root

    def _union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra is not rb:
            self.parent[ra] = rb

    def members(self, var):
        if self.groups is None:
            self.groups = {}
            for v in list(self.parent):
                root = self.find(v)
                self.groups.setdefault(root, [root]).append(v)
        return self.groups.get(self.find(var), [var])


def _check_acyclic(fgraph, orderings):
    """Raise InconsistencyError if the orderings contradict the data dependencies."""
    from symgraph.graph.traversal import io_toposort

    try:
        io_toposort(fgraph.inputs, fgraph.outputs, orderings)
    except ValueError:
        destroyer, reader = _find_conflict(orderings)
        raise InconsistencyError(
            f"{destroyer.op} would overwrite a value that {reader.op} still needs, and "
            f"{reader.op} can only run after it") from None


def _find_conflict(orderings):
    """A (destroyer, reader) pair where the reader depends on the destroyer."""
    from symgraph.graph.traversal import ancestors

    for destroyer, readers in orderings.items():
        outputs = set(destroyer.outputs)
        for reader in readers:
            if any(v in outputs for v in ancestors(reader.inputs)):
                return destroyer, reader
    destroyer = next(iter(orderings))
    return destroyer, orderings[destroyer][0]


def add_destroy_handler(fgraph, mutable_inputs=()):
    """The graph's DestroyHandler, attached first if it has none.

    >>> import symgraph.tensor as T
    >>> from symgraph.graph.fgraph import FunctionGraph
    >>> x = T.dvector('x')
    >>> fg = FunctionGraph([x], [x * 2])
    >>> add_destroy_handler(fg) is fg.destroy_handler
    True
    """
    handler = getattr(fgraph, "destroy_handler", None)
    if handler is None:
        handler = DestroyHandler(mutable_inputs)
        fgraph.attach_feature(handler)
    return handler
