"""The rewrite framework: node rewriters, graph rewriters and the equilibrium driver.

A *node rewriter* looks at one Apply node and proposes replacements for its
outputs (or None).  It declares the ops it tracks, so the driver only calls it
on matching nodes.  A *graph rewriter* transforms a whole FunctionGraph (merge,
constant folding, a sequence of other rewriters).  The *equilibrium* driver
applies node rewriters from a worklist until no rewriter fires, with a bound
on how often any one rewriter may fire (a cycle between two rewriters ends
with a warning, not a hang).

Every replacement is checked before the graph changes: the new variable must
have the old one's type or a more specific one (same dtype and dimensions,
static sizes at least as known), and its graph must be computable from the
graph's inputs.  A rewriter that raises, or proposes an invalid replacement, is
reported with its name (``config.on_opt_error``: warn, raise or ignore) and
skipped; a replacement that fails half way is rolled back.

>>> import symgraph.tensor as T
>>> from symgraph.graph.fgraph import FunctionGraph
>>> x = T.dvector('x')
>>> @node_rewriter([T.neg])
... def neg_neg(fgraph, node):
...     inner = node.inputs[0].owner
...     if inner is not None and inner.op == T.neg:
...         return [inner.inputs[0]]
>>> fg = FunctionGraph([x], [-(-x)])
>>> _ = EquilibriumGraphRewriter([neg_neg]).rewrite(fg)
>>> fg.outputs[0] is fg.inputs[0]
True
"""
import time
import warnings
from collections import deque

from symgraph.config import config
from symgraph.graph.basic import Constant, Variable
from symgraph.graph.fgraph import Feature
from symgraph.rewriting.profile import profile_of


class RewriteWarning(UserWarning):
    """A rewrite raised or proposed an invalid replacement, and was skipped."""


def report_rewrite_error(rewriter, node, message, exc=None):
    """Warn (or raise, or stay silent, per ``config.on_opt_error``) naming ``rewriter``."""
    policy = config.on_opt_error
    where = f" on {node}" if node is not None else ""
    text = f"rewrite {rewriter_name(rewriter)!r} failed{where}: {message}; it was skipped"
    if policy == "raise":
        if exc is not None:
            raise exc
        raise RewriteError(text)
    if policy == "warn":
        warnings.warn(text, RewriteWarning, stacklevel=3)


class RewriteError(RuntimeError):
    """An invalid rewrite, raised when ``config.on_opt_error == 'raise'``."""


def rewriter_name(rewriter):
    return getattr(rewriter, "name", None) or type(rewriter).__name__


# -- rewriters -----------------------------------------------------------------
class GraphRewriter:
    """A transformation of a whole FunctionGraph, in place.  Subclasses define ``apply``."""

    name = None

    def apply(self, fgraph):
        raise NotImplementedError

    def rewrite(self, fgraph):
        """Apply this rewriter (timed into the graph's profile) and return ``fgraph``."""
        start = time.perf_counter()
        self.apply(fgraph)
        profile_of(fgraph).record_pass(rewriter_name(self), time.perf_counter() - start)
        return fgraph

    __call__ = rewrite

    def __repr__(self):
        return f"{type(self).__name__}({rewriter_name(self)})"


class FunctionGraphRewriter(GraphRewriter):
    """A graph rewriter made from a function ``fn(fgraph)``."""

    def __init__(self, fn, name=None):
        self.fn = fn
        self.name = name or fn.__name__
        self.__doc__ = fn.__doc__

    def apply(self, fgraph):
        self.fn(fgraph)


def graph_rewriter(fn):
    """Decorator: a GraphRewriter named after ``fn(fgraph)``.

    >>> @graph_rewriter
    ... def nothing(fgraph):
    ...     pass
    >>> nothing.name
    'nothing'
    """
    return FunctionGraphRewriter(fn)


class NodeRewriter:
    """Looks at one node; ``transform`` returns None (no change), a list of new
    outputs (None entries keep an output), or a dict ``{old variable: new}``.

    ``tracks()`` lists what it applies to: Op classes (matched with
    isinstance) or Op instances (matched by equality, e.g. ``Elemwise(exp)``);
    None means every node.
    """

    name = None

    def tracks(self):
        return None

    def transform(self, fgraph, node):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({rewriter_name(self)})"


class FunctionNodeRewriter(NodeRewriter):
    def __init__(self, fn, tracks, name=None):
        self.fn = fn
        self._tracks = None if tracks is None else list(tracks)
        self.name = name or fn.__name__
        self.__doc__ = fn.__doc__

    def tracks(self):
        return self._tracks

    def transform(self, fgraph, node):
        return self.fn(fgraph, node)


def node_rewriter(tracks, name=None):
    """Decorator: a NodeRewriter from ``fn(fgraph, node)`` tracking ``tracks``.

    >>> import symgraph.tensor as T
    >>> @node_rewriter([T.exp])
    ... def exp_of_nothing(fgraph, node):
    ...     return None
    >>> exp_of_nothing.name
    'exp_of_nothing'
    """
    def wrap(fn):
        return FunctionNodeRewriter(fn, tracks, name)

    return wrap


class SequentialGraphRewriter(GraphRewriter):
    """Graph rewriters applied one after the other."""

    def __init__(self, rewriters, name=None):
        self.rewriters = list(rewriters)
        self.name = name or "sequence"

    def apply(self, fgraph):
        for rewriter in self.rewriters:
            run_guarded(rewriter, fgraph)


# -- applying replacements -------------------------------------------------------
class History(Feature):
    """Records graph changes so a failed replacement can be undone.

    Installs ``fgraph.checkpoint()`` and ``fgraph.revert(checkpoint)``.
    """

    def __init__(self):
        self.changes = []
        self.paused = False

    def on_attach(self, fgraph):
        fgraph.checkpoint = lambda: len(self.changes)
        fgraph.revert = lambda checkpoint: self.revert(fgraph, checkpoint)

    def on_detach(self, fgraph):
        del fgraph.checkpoint, fgraph.revert

    def on_change_input(self, fgraph, node, i, old, new, reason):
        if not self.paused:
            self.changes.append((node, i, old, new))

    def revert(self, fgraph, checkpoint):
        self.paused = True
        try:
            while len(self.changes) > checkpoint:
                node, i, old, new = self.changes.pop()
                _undo_change(fgraph, node, i, old, new)
        finally:
            self.paused = False


def _undo_change(fgraph, node, i, old, new):
    """Put ``old`` back as input ``i`` of ``node``.

    Not ``fgraph.change_input``: that refuses a less specific type, and the
    variable being restored may be exactly that.
    """
    if node == "output":
        fgraph.outputs[i] = old
    else:
        node.inputs[i] = old
    fgraph._import_var(old, "revert")
    fgraph.clients[old].append((node, i))
    fgraph.clients[new].remove((node, i))
    fgraph._notify("on_change_input", node, i, new, old, "revert")
    if not fgraph.clients[new]:
        fgraph._prune_if_unused(new, "revert")


def ensure_history(fgraph):
    for feature in fgraph._features:
        if isinstance(feature, History):
            return feature
    history = History()
    fgraph.attach_feature(history)
    return history


def _replacement_pairs(node, result):
    if isinstance(result, dict):
        return list(result.items())
    result = list(result)
    if len(result) != len(node.outputs):
        raise ValueError(f"returned {len(result)} outputs for a node with {len(node.outputs)}")
    return [(old, new) for old, new in zip(node.outputs, result) if new is not None]


def _check_type(old, new):
    """None if ``new`` may replace ``old``, else the reason it may not."""
    if not isinstance(new, Variable):
        return f"replacement {new!r} is not a Variable"
    if old.type == new.type or old.type.is_super(new.type):
        return None
    return f"replacement of {old} (type {old.type}) has type {new.type}"


def _check_computable(fgraph, new):
    """None if every input ``new`` depends on is in the graph (or a constant)."""
    stack, seen = [new], set()
    while stack:
        var = stack.pop()
        if var in fgraph.variables or id(var) in seen:
            continue
        seen.add(id(var))
        if var.owner is None:
            if not isinstance(var, Constant):
                return f"replacement depends on {var}, which is not an input of the graph"
        else:
            stack.extend(var.owner.inputs)
    return None


def apply_replacements(fgraph, node, result, rewriter):
    """Check and make the replacements ``result`` proposed for ``node``.

    Returns True if the graph changed; on any problem reports it and returns
    False with the graph as it was.
    """
    try:
        pairs = _replacement_pairs(node, result)
    except (TypeError, ValueError) as exc:
        report_rewrite_error(rewriter, node, str(exc), exc)
        return False
    pairs = [(old, new) for old, new in pairs if old is not new and old in fgraph.variables]
    if not pairs:
        return False
    for old, new in pairs:
        problem = _check_type(old, new) or _check_computable(fgraph, new)
        if problem:
            report_rewrite_error(rewriter, node, problem)
            return False
    history = ensure_history(fgraph)
    checkpoint = len(history.changes)
    try:
        for old, new in pairs:
            fgraph.replace(old, new, reason=rewriter_name(rewriter))
        fgraph.validate()
    except Exception as exc:  # roll back: the graph must stay consistent
        history.revert(fgraph, checkpoint)
        report_rewrite_error(rewriter, node, f"{type(exc).__name__}: {exc}", exc)
        return False
    return True


def run_guarded(rewriter, fgraph):
    """Run graph rewriter ``rewriter``; if it raises, undo what it did and report it."""
    history = ensure_history(fgraph)
    checkpoint = len(history.changes)
    try:
        rewriter.rewrite(fgraph)
    except Exception as exc:
        history.revert(fgraph, checkpoint)
        report_rewrite_error(rewriter, None, f"{type(exc).__name__}: {exc}", exc)


# -- the equilibrium driver ---------------------------------------------------------
class _Worklist(Feature):
    """Nodes still to visit: new ones, and those near a change (their inputs or
    their inputs' producers changed, which may enable a rewrite)."""

    def __init__(self):
        self.queue = deque()
        self.queued = set()

    def push(self, node):
        if node not in self.queued:
            self.queued.add(node)
            self.queue.append(node)

    def pop(self):
        node = self.queue.popleft()
        self.queued.discard(node)
        return node

    def __bool__(self):
        return bool(self.queue)

    def on_import(self, fgraph, node, reason):
        self.push(node)

    def on_change_input(self, fgraph, node, i, old, new, reason):
        if node != "output":
            self.push(node)
            for out in node.outputs:
                for client, _ in fgraph.clients.get(out, ()):
                    if client != "output":
                        self.push(client)
        for var in (old, new):
            if var.owner is not None and var.owner in fgraph.apply_nodes:
                self.push(var.owner)
        # ``old`` lost a client: rewrites of its other clients may now apply
        for client, _ in fgraph.clients.get(old, ()):
            if client != "output":
                self.push(client)


class EquilibriumGraphRewriter(GraphRewriter):
    """Applies ``node_rewriters`` until none fires.

    Each round runs ``global_rewriters``, drains the worklist of nodes, then
    runs ``final_rewriters`` (e.g. merge); rounds repeat while they change the
    graph, at most ``max_rounds`` times.  A node rewriter that fires more than
    ``max_use_ratio`` times the graph's size is disabled with a warning.
    """

    def __init__(self, node_rewriters, global_rewriters=(), final_rewriters=(),
                 max_use_ratio=8, max_rounds=10, name=None):
        self.node_rewriters = list(node_rewriters)
        self.global_rewriters = list(global_rewriters)
        self.final_rewriters = list(final_rewriters)
        self.max_use_ratio = max_use_ratio
        self.max_rounds = max_rounds
        self.name = name or "equilibrium"
        self._build_index()

    def _build_index(self):
        """Rewriters by tracked op instance and by op class, so lookups are dict hits."""
        self._by_op, self._by_class, self._for_all = {}, {}, []
        for order, rewriter in enumerate(self.node_rewriters):
            tracks = rewriter.tracks()
            if tracks is None:
                self._for_all.append((order, rewriter))
                continue
            for track in tracks:
                table = self._by_class if isinstance(track, type) else self._by_op
                table.setdefault(track, []).append((order, rewriter))
        self._cache = {}

    def candidates(self, op):
        """The rewriters that track ``op``, in registration order."""
        try:
            return self._cache[op]
        except KeyError:
            pass
        except TypeError:  # an unhashable op: look it up every time
            return self._lookup(op)
        found = self._lookup(op)
        self._cache[op] = found
        return found

    def _lookup(self, op):
        found = list(self._for_all)
        try:
            found += self._by_op.get(op, [])
        except TypeError:
            pass
        for cls in type(op).__mro__:
            found += self._by_class.get(cls, [])
        found.sort(key=lambda pair: pair[0])
        return [rewriter for _, rewriter in found]

    def apply(self, fgraph):
        profile = profile_of(fgraph)
        ensure_history(fgraph)
        worklist = _Worklist()
        fgraph.attach_feature(worklist)
        try:
            for node in fgraph.toposort():
                worklist.push(node)
            limit = self.max_use_ratio * max(len(fgraph.apply_nodes), 16)
            fired = {}
            for _ in range(self.max_rounds):
                for rewriter in self.global_rewriters:
                    run_guarded(rewriter, fgraph)
                self._drain(fgraph, worklist, fired, limit, profile)
                for rewriter in self.final_rewriters:
                    run_guarded(rewriter, fgraph)
                if not worklist:
                    break
        finally:
            fgraph.remove_feature(worklist)
        return fgraph

    def _drain(self, fgraph, worklist, fired, limit, profile):
        apply_nodes = fgraph.apply_nodes
        clock = time.perf_counter
        failed = set()  # (rewriter, node) pairs that raised or were rejected: not retried
        while worklist:
            node = worklist.pop()
            if node not in apply_nodes:
                continue
            for rewriter in self.candidates(node.op):
                if fired.get(rewriter, 0) > limit or (rewriter, node) in failed:
                    continue
                start = clock()
                try:
                    result = rewriter.transform(fgraph, node)
                except Exception as exc:
                    profile.record_call(rewriter, clock() - start, False)
                    failed.add((rewriter, node))
                    report_rewrite_error(rewriter, node, f"{type(exc).__name__}: {exc}", exc)
                    continue
                changed = bool(result) and apply_replacements(fgraph, node, result, rewriter)
                profile.record_call(rewriter, clock() - start, changed)
                if changed:
                    self._count(rewriter, fired, limit)
                    break
                if result:
                    failed.add((rewriter, node))

    @staticmethod
    def _count(rewriter, fired, limit):
        fired[rewriter] = fired.get(rewriter, 0) + 1
        if fired[rewriter] > limit:
            warnings.warn(f"rewrite {rewriter_name(rewriter)!r} fired more than {limit} times "
                          f"(a cycle between rewrites?); disabled for the rest of this pass",
                          RewriteWarning, stacklevel=4)


def apply_node_rewriters(fgraph, rewriters):
    """Run node ``rewriters`` to a fixed point on ``fgraph``; returns ``fgraph``.

    >>> import symgraph.tensor as T
    >>> from symgraph.graph.fgraph import FunctionGraph
    >>> from symgraph.tensor.rewriting.math import local_neg_neg
    >>> x = T.dvector('x')
    >>> fg = apply_node_rewriters(FunctionGraph([x], [T.exp(-(-x))]), [local_neg_neg])
    >>> [str(n.op) for n in fg.toposort()]
    ['Elemwise{exp}']
    """
    return EquilibriumGraphRewriter(rewriters).rewrite(fgraph)
