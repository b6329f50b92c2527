"""Rewrite databases: rewriters registered under names and tags, selected by queries.

A ``RewriteQuery`` keeps the entries that carry one of its ``include`` tags,
all of its ``require`` tags and none of its ``exclude`` tags; an entry's name
counts as one of its tags.  A database may hold other databases; the same
query selects inside them.  A nested database is also entered when one of its
entries is named in ``include`` (so ``including('local_log1p')`` works even in
a mode that does not run the database holding it); ``require`` applies to the
rewriters, not to the databases holding them.

- ``SequenceDB``: graph rewriters and databases, run in order of ``position``.
- ``EquilibriumDB``: node rewriters (and global/final graph rewriters) run to a
  fixed point by one ``EquilibriumGraphRewriter``.

>>> from symgraph.rewriting.core import graph_rewriter
>>> db = SequenceDB()
>>> @graph_rewriter
... def noop(fgraph):
...     pass
>>> _ = db.register('noop', noop, 'fast_run', position=1)
>>> [r.name for r in db.query(RewriteQuery(include=['fast_run'])).rewriters]
['noop']
>>> db.query(RewriteQuery(include=['fast_run'], exclude=['noop'])).rewriters
[]
"""
from symgraph.rewriting.core import (EquilibriumGraphRewriter, GraphRewriter, NodeRewriter,
                                     SequentialGraphRewriter)


class RewriteQuery:
    """Which entries of a database to use.

    >>> q = RewriteQuery(include=['fast_run']).excluding('stabilize')
    >>> sorted(q.exclude)
    ['stabilize']
    """

    def __init__(self, include=(), require=(), exclude=()):
        self.include = frozenset(include)
        self.require = frozenset(require)
        self.exclude = frozenset(exclude)

    def including(self, *tags):
        return RewriteQuery(self.include | set(tags), self.require, self.exclude)

    def requiring(self, *tags):
        return RewriteQuery(self.include, self.require | set(tags), self.exclude)

    def excluding(self, *tags):
        return RewriteQuery(self.include, self.require, self.exclude | set(tags))

    def __eq__(self, other):
        return isinstance(other, RewriteQuery) and (self.include, self.require, self.exclude) == (
            other.include, other.require, other.exclude)

    def __hash__(self):
        return hash((self.include, self.require, self.exclude))

    def __repr__(self):
        return (f"RewriteQuery(include={sorted(self.include)}, require={sorted(self.require)}, "
                f"exclude={sorted(self.exclude)})")


_generation = [0]  # bumped by every registration, so cached queries know they are stale


def generation():
    """A counter that changes whenever any database changes."""
    return _generation[0]


class _Entry:
    def __init__(self, name, obj, tags, position, order):
        self.name, self.obj, self.position, self.order = name, obj, position, order
        self.tags = frozenset(tags) | {name}


class RewriteDatabase:
    """Named, tagged rewriters (or nested databases)."""

    def __init__(self, name=None):
        self.name = name
        self._entries = {}

    def register(self, name, obj, *tags, position=None):
        """Add ``obj`` as ``name`` with ``tags``; returns ``obj`` (usable as a decorator)."""
        if name in self._entries:
            raise ValueError(f"{self.name or 'database'}: {name!r} is already registered")
        if not isinstance(obj, (GraphRewriter, NodeRewriter, RewriteDatabase)):
            raise TypeError(f"cannot register {obj!r}: not a rewriter or a database")
        self._check_kind(obj)
        if getattr(obj, "name", None) is None:
            obj.name = name
        order = len(self._entries)
        _generation[0] += 1
        self._entries[name] = _Entry(name, obj, tags, order if position is None else position,
                                     order)
        return obj

    def _check_kind(self, obj):
        pass

    def __getitem__(self, name):
        return self._entries[name].obj

    def __contains__(self, name):
        return name in self._entries

    def names(self):
        return list(self._entries)

    def all_names(self):
        """Every name in this database and the databases it holds."""
        names = set()
        for entry in self._entries.values():
            names.add(entry.name)
            if isinstance(entry.obj, RewriteDatabase):
                names |= entry.obj.all_names()
        return names

    def _selected(self, query):
        """Matching entries, in position order; nested databases already queried."""
        chosen = []
        for entry in self._entries.values():
            if entry.tags & query.exclude:
                continue
            if isinstance(entry.obj, RewriteDatabase):
                # entered when its own tags match, or when one of its rewrites is named
                if not (entry.tags & query.include or entry.obj.all_names() & query.include):
                    continue
                chosen.append((entry, entry.obj.query(query)))
            elif entry.tags & query.include and query.require <= entry.tags:
                chosen.append((entry, entry.obj))
        chosen.sort(key=lambda pair: (pair[0].position, pair[0].order))
        return chosen

    def query(self, query):
        raise NotImplementedError


class SequenceDB(RewriteDatabase):
    """Graph rewriters and databases, run in order of position.

    Querying gives a ``SequentialGraphRewriter``.
    """

    def _check_kind(self, obj):
        if isinstance(obj, NodeRewriter):
            raise TypeError(f"SequenceDB {self.name!r} takes graph rewriters or databases; wrap "
                            f"node rewriter {obj.name!r} in an EquilibriumDB")

    def query(self, query):
        rewriters = [obj for _, obj in self._selected(query)]
        return SequentialGraphRewriter(rewriters, name=self.name)


class EquilibriumDB(RewriteDatabase):
    """Node rewriters applied to a fixed point.

    Graph rewriters registered with ``final=True`` run after each round of
    node rewrites (merge, typically); others run at the start of each round.
    """

    def __init__(self, name=None, max_use_ratio=8):
        super().__init__(name)
        self.max_use_ratio = max_use_ratio
        self._final = set()

    def _check_kind(self, obj):
        if isinstance(obj, RewriteDatabase):
            raise TypeError(f"EquilibriumDB {self.name!r} holds rewriters, not databases")

    def register(self, name, obj, *tags, position=None, final=False):
        super().register(name, obj, *tags, position=position)
        if final:
            self._final.add(name)
        return obj

    def query(self, query):
        node_rewriters, global_rewriters, final_rewriters = [], [], []
        for entry, obj in self._selected(query):
            if isinstance(obj, NodeRewriter):
                node_rewriters.append(obj)
            elif entry.name in self._final:
                final_rewriters.append(obj)
            else:
                global_rewriters.append(obj)
        return EquilibriumGraphRewriter(node_rewriters, global_rewriters, final_rewriters,
                                        max_use_ratio=self.max_use_ratio, name=self.name)
