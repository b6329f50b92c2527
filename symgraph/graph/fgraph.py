"""FunctionGraph: a mutable graph with clients, features and validation.

Rewrites work on a FunctionGraph: they call ``replace`` and the graph keeps
its client lists, its node set and its features (shape inference, destroy
handling, history) up to date.  ``"output"`` stands for the graph's output
slot in client lists.
"""
from symgraph.graph.basic import Constant, Variable
from symgraph.graph.replace import clone_get_equiv
from symgraph.graph.traversal import io_toposort


class InconsistencyError(Exception):
    """A change would make the graph invalid (e.g. destroy a needed value)."""


class Feature:
    """Hooks a FunctionGraph calls as it changes.  Override what you need."""

    def on_attach(self, fgraph):
        pass

    def on_detach(self, fgraph):
        pass

    def on_import(self, fgraph, node, reason):
        pass

    def on_prune(self, fgraph, node, reason):
        pass

    def on_change_input(self, fgraph, node, i, old, new, reason):
        pass

    def validate(self, fgraph):
        pass


class FunctionGraph:
    def __init__(self, inputs, outputs, features=(), clone=True):
        if clone:
            memo = clone_get_equiv(inputs, outputs, copy_inputs=True, copy_orphans=False)
            inputs = [memo[i] for i in inputs]
            outputs = [memo[o] for o in outputs]
            self.equiv = memo
        else:
            self.equiv = None
        self.inputs = []
        self.outputs = list(outputs)
        self.apply_nodes = set()
        self.variables = set()
        self.clients = {}
        self._features = []
        for var in inputs:
            self.add_input(var)
        for i, out in enumerate(self.outputs):
            self._import_var(out, "init")
            self.clients[out].append(("output", i))
        for feature in features:
            self.attach_feature(feature)

    # -- building ------------------------------------------------------
    def add_input(self, var):
        if var in self.variables:
            return
        self.inputs.append(var)
        self.variables.add(var)
        self.clients.setdefault(var, [])

    def _import_var(self, var, reason):
        if var in self.variables:
            return
        if var.owner is None:
            if not isinstance(var, Constant) and var not in self.inputs:
                from symgraph.graph.basic import format_trace

                raise MissingInputError(
                    f"graph needs input {var} (type {var.type}) which is not among the "
                    f"function's inputs; created at {format_trace(var.tag.get('trace'))}"
                )
            self.variables.add(var)
            self.clients.setdefault(var, [])
            return
        for node in io_toposort(self.variables, [var]):
            if node in self.apply_nodes:
                continue
            for inp in node.inputs:
                if inp not in self.variables:
                    self._import_var(inp, reason)
            self.apply_nodes.add(node)
            for out in node.outputs:
                self.variables.add(out)
                self.clients.setdefault(out, [])
            for i, inp in enumerate(node.inputs):
                self.clients[inp].append((node, i))
            self._notify("on_import", node, reason)

    def _prune_if_unused(self, var, reason):
        # a worklist, not recursion: pruning a long chain must not hit the recursion limit
        pending = [var]
        while pending:
            node = pending.pop().owner
            if node is None or node not in self.apply_nodes:
                continue
            if any(self.clients[o] for o in node.outputs):
                continue
            self.apply_nodes.discard(node)
            for out in node.outputs:
                self.variables.discard(out)
                del self.clients[out]
            self._notify("on_prune", node, reason)
            for i, inp in enumerate(node.inputs):
                self.clients[inp].remove((node, i))
                if self.clients[inp]:
                    continue
                if inp.owner is not None:
                    pending.append(inp)
                elif isinstance(inp, Constant):
                    self.variables.discard(inp)
                    del self.clients[inp]

    # -- changing ------------------------------------------------------
    def change_input(self, node, i, new, reason=None):
        """Make input ``i`` of ``node`` (or output slot ``i`` if node == "output") be ``new``."""
        old = self.outputs[i] if node == "output" else node.inputs[i]
        if old is new:
            return
        self._check_type(old, new)
        self._import_var(new, reason)  # first: a missing input must leave the graph unchanged
        if node == "output":
            self.outputs[i] = new
        else:
            node.inputs[i] = new
        self.clients[new].append((node, i))
        self.clients[old].remove((node, i))
        self._notify("on_change_input", node, i, old, new, reason)
        if not self.clients[old]:
            self._prune_if_unused(old, reason)

    @staticmethod
    def _check_type(old, new):
        if old.type != new.type and not old.type.is_super(new.type):
            raise TypeError(
                f"replacement of {old} (type {old.type}) by {new} (type {new.type}): types differ"
            )

    def replace(self, var, new, reason=None, verbose=False):
        """Make every client of ``var`` use ``new`` instead."""
        if var is new or var not in self.variables:
            return
        if var.type != new.type:
            converted = var.type.convert_variable(new)
            if converted is None:
                raise TypeError(
                    f"{reason or 'replace'}: cannot replace {var} (type {var.type}) "
                    f"by {new} (type {new.type})"
                )
            new = converted
        self._inherit_trace(var, new)
        for node, i in list(self.clients[var]):
            self.change_input(node, i, new, reason)

    def _inherit_trace(self, var, new):
        """Nodes a rewrite builds to replace ``var`` stand for ``var``: give them its user
        trace, so run-time errors point at the user's line, not at the function() call."""
        trace = var.tag.get("trace")
        if trace is None or new in self.variables:
            return
        for node in io_toposort(self.variables, [new]):
            for out in node.outputs:
                out.tag.trace = trace

    def replace_all(self, pairs, reason=None):
        for var, new in pairs:
            self.replace(var, new, reason)

    def replace_all_validate(self, pairs, reason=None):
        """Replace, then validate; roll back with the history feature if validation fails."""
        checkpoint = self.checkpoint() if hasattr(self, "checkpoint") else None
        try:
            self.replace_all(pairs, reason)
            self.validate()
        except InconsistencyError:
            if checkpoint is not None:
                self.revert(checkpoint)
            raise

    # -- features ------------------------------------------------------
    def attach_feature(self, feature):
        if feature in self._features:
            return
        self._features.append(feature)
        feature.on_attach(self)

    def remove_feature(self, feature):
        self._features.remove(feature)
        feature.on_detach(self)

    def _notify(self, hook, *args):
        for feature in self._features:
            getattr(feature, hook)(self, *args)

    def validate(self):
        for feature in self._features:
            feature.validate(self)

    # -- reading -------------------------------------------------------
    def toposort(self):
        """The nodes in an order that respects data dependencies and the features'
        ``orderings`` (readers of a value before the node that destroys it)."""
        return io_toposort(self.inputs, self.outputs, self.orderings())

    def orderings(self):
        """``{node: [nodes that must run before it]}`` beyond data dependencies, from the
        features that define ``orderings(fgraph)`` (the DestroyHandler)."""
        result = {}
        for feature in self._features:
            get = getattr(feature, "orderings", None)
            if get is None:
                continue
            for node, before in get(self).items():
                result.setdefault(node, []).extend(before)
        return result

    def get_clients(self, var):
        return self.clients.get(var, [])

    def clone(self):
        memo = clone_get_equiv(self.inputs, self.outputs, copy_inputs=True, copy_orphans=False)
        return FunctionGraph([memo[i] for i in self.inputs], [memo[o] for o in self.outputs],
                             clone=False)

    def __str__(self):
        return f"FunctionGraph({', '.join(str(o) for o in self.outputs)})"


class MissingInputError(ValueError):
    """A graph output depends on an input the function was not given."""
