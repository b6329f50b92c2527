"""Modes: which rewrites run and which linker executes the result.

A Mode's ``optimizer`` is a name, a ``RewriteQuery`` on the rewrite pipeline
(``symgraph.rewriting.pipeline.optdb``), a graph rewriter, or None:

- ``'fast_run'``: everything tagged fast_run (the default; FAST_RUN mode);
- ``'fast_compile'``: only the cheap rewrites (merge, constant folding,
  removal of useless ops); FAST_COMPILE mode;
- ``'merge'``: only merging; ``None`` (or ``'None'``): nothing.

``including``, ``excluding`` and ``requiring`` return a new Mode with tags
(or rewrite names) added to the query.

>>> import symgraph as sg, symgraph.tensor as T
>>> x = T.dscalar('x')
>>> mode = get_mode('FAST_RUN').excluding('stabilize', 'fusion', 'inplace')
>>> f = sg.function([x], T.log(1 + x), mode=mode)
>>> [str(n.op) for n in f.maker.fgraph.toposort()]
['Elemwise{add}', 'Elemwise{log}']
>>> f = sg.function([x], T.log(1 + x))
>>> [str(n.op) for n in f.maker.fgraph.toposort()]
['Elemwise{log1p}']
"""
import time

from symgraph.config import config

_NAMED_QUERIES = {
    "fast_run": ("fast_run",),
    "o1": ("fast_run",),
    "fast_compile": ("fast_compile",),
    "merge": ("merge",),
    "merge_and_fold": ("merge", "constant_folding"),
    "none": (),
}


def _query_for(name):
    from symgraph.rewriting.db import RewriteQuery

    try:
        return RewriteQuery(include=_NAMED_QUERIES[name.lower()])
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; known: {sorted(_NAMED_QUERIES)}, a "
                         f"RewriteQuery, a graph rewriter or None") from None


def _load_rewrites():
    """Import the modules that register rewrites in the pipeline."""
    import symgraph.tensor.rewriting  # noqa: F401


class Mode:
    """A rewrite pipeline (``optimizer``) plus a ``linker``.

    ``optimizer``: a name (``'fast_run'``, ``'fast_compile'``, ``'merge'``,
    ``None``), a ``RewriteQuery``, or a graph rewriter / callable taking a
    FunctionGraph.
    """

    def __init__(self, linker=None, optimizer="fast_run"):
        from symgraph.rewriting.db import RewriteQuery

        self.linker = linker or config.linker
        if optimizer is None or (isinstance(optimizer, str) and optimizer.lower() == "none"):
            optimizer = RewriteQuery()
        elif isinstance(optimizer, str):
            optimizer = _query_for(optimizer)
        self.optimizer = optimizer
        self._built = None  # (database generation, rewriter) for a query optimizer

    @property
    def query(self):
        """The RewriteQuery (None when the optimizer is a rewriter object)."""
        from symgraph.rewriting.db import RewriteQuery

        return self.optimizer if isinstance(self.optimizer, RewriteQuery) else None

    @property
    def provided_optimizer(self):
        """The graph rewriter this mode runs (built from the query, cached)."""
        from symgraph.rewriting import db, pipeline

        if self.query is None:
            return self.optimizer
        _load_rewrites()
        if self._built is None or self._built[0] != db.generation():
            self._built = (db.generation(), pipeline.optdb.query(self.query))
        return self._built[1]

    def optimize(self, fgraph):
        """Rewrite ``fgraph`` in place; its ``rewrite_profile`` says where the time went."""
        from symgraph.rewriting.profile import profile_of

        from symgraph.rewriting.core import History

        rewriter = self.provided_optimizer
        had_history = any(isinstance(f, History) for f in fgraph._features)
        start = time.perf_counter()
        if hasattr(rewriter, "rewrite"):
            rewriter.rewrite(fgraph)
        else:
            rewriter(fgraph)
        profile_of(fgraph).total_time += time.perf_counter() - start
        if not had_history:  # the undo log holds every replaced node: let it go
            for feature in [f for f in fgraph._features if isinstance(f, History)]:
                fgraph.remove_feature(feature)
        return fgraph

    def _with_query(self, method, tags):
        if self.query is None:
            raise TypeError(f"{self!r}: including/excluding need a query optimizer, not "
                            f"{self.optimizer!r}")
        return Mode(self.linker, getattr(self.query, method)(*tags))

    def including(self, *tags):
        """A copy of this mode that also runs the rewrites with these tags or names."""
        return self._with_query("including", tags)

    def excluding(self, *tags):
        """A copy of this mode that skips the rewrites with these tags or names."""
        return self._with_query("excluding", tags)

    def requiring(self, *tags):
        """A copy of this mode that runs only rewrites carrying all these tags."""
        return self._with_query("requiring", tags)

    def __repr__(self):
        return f"Mode(linker={self.linker!r}, optimizer={self.optimizer!r})"


def _debug_mode():
    from symgraph.compile.debugmode import DebugMode

    return DebugMode()


_PREDEFINED = {
    "FAST_RUN": lambda: Mode(optimizer="fast_run"),
    "FAST_COMPILE": lambda: Mode(linker="py", optimizer="fast_compile"),
    "DebugMode": _debug_mode,  # FAST_RUN's rewrites, every call checked (compile/debugmode.py)
}
_cache = {}


def get_mode(mode):
    """A Mode from a Mode, a name (``'FAST_RUN'``, ``'FAST_COMPILE'``, ``'DebugMode'``) or
    None (config.mode).

    >>> get_mode('FAST_COMPILE').query
    RewriteQuery(include=['fast_compile'], require=[], exclude=[])
    """
    if isinstance(mode, Mode):
        return mode
    name = config.mode if mode is None else mode
    if name not in _PREDEFINED:
        raise ValueError(f"unknown mode {name!r}; known: {sorted(_PREDEFINED)}")
    key = (name, config.linker)
    if key not in _cache:  # one Mode per name, so its built rewriter is reused
        _cache[key] = _PREDEFINED[name]()
    return _cache[key]
