"""Profiling compiled functions: where run time goes (per node and per op) and where
compile time went (per rewrite).

``function(..., profile=True)`` (or ``config.profile = True``) returns a
``ProfiledFunction``; its ``profile`` (a ``ProfileStats``) records every call,
and every node's calls and seconds when the function runs on the Python VM.
``profile.summary()`` is a printable table.  A ``ProfileStats`` may be passed as
``profile=`` to several functions to add them up.  Without profiling nothing is
timed: ``function`` returns a plain ``Function`` and the VM runs its usual loop.

With ``config.profile`` set (e.g. ``SYMGRAPH_FLAGS=profile=True``), the profiles
are also printed when the program exits.

>>> import numpy as np, symgraph as sg, symgraph.tensor as T
>>> x = T.dvector('x')
>>> f = sg.function([x], T.exp(x).sum(), profile=True)
>>> _ = f(np.ones(3)); _ = f(np.ones(3))
>>> f.profile.calls, sum(row.calls for row in f.profile.node_rows())
(2, 4)
>>> 'Sum' in f.profile.summary()
True
"""
import atexit
import sys
import time

from symgraph.compile.function import Function


class NodeRow:
    """One node's (or one op's) run time: ``name``, ``calls``, ``seconds``, ``share``
    (of the time spent in nodes) and ``count`` (nodes aggregated)."""

    __slots__ = ("name", "calls", "seconds", "share", "count")

    def __init__(self, name, calls, seconds, share, count=1):
        self.name, self.calls, self.seconds, self.share, self.count = \
            name, calls, seconds, share, count

    def __repr__(self):
        return f"NodeRow({self.name!r}, calls={self.calls}, seconds={self.seconds:.3g})"


class ProfileStats:
    """Calls and time of one or more functions, per node and per op, and their
    compile time per rewrite.

    >>> stats = ProfileStats("empty")
    >>> print(stats.summary().splitlines()[0])
    Profile 'empty': 0 functions, 0 calls
    """

    def __init__(self, name=None):
        self.name = name
        self.calls = 0
        self.call_seconds = 0.0
        self.compile_seconds = 0.0
        self.functions = []  # (nodes, seconds per node, calls per node, rewrite profile)
        self.untimed_nodes = 0  # nodes of functions whose linker has no per-node hook

    def add_function(self, maker, program, compile_seconds):
        """Time ``program``'s nodes (when its VM has the hook) into this profile."""
        self.compile_seconds += compile_seconds
        vm = getattr(program, "vm", None)
        nodes = list(getattr(vm, "nodes", ()))
        seconds, calls = [0.0] * len(nodes), [0] * len(nodes)
        if hasattr(vm, "time_nodes"):
            vm.time_nodes(seconds, calls)
        else:
            nodes = []
            self.untimed_nodes += len(maker.fgraph.apply_nodes)
        self.functions.append((nodes, seconds, calls,
                               getattr(maker.fgraph, "rewrite_profile", None)))

    def record_call(self, seconds):
        self.calls += 1
        self.call_seconds += seconds

    # -- tables --------------------------------------------------------------------------
    def node_seconds(self):
        return sum(sum(seconds) for _, seconds, _, _ in self.functions)

    def node_rows(self):
        """One row per node, slowest first."""
        total = self.node_seconds() or 1.0
        rows = [NodeRow(str(node), c, s, s / total)
                for nodes, seconds, calls, _ in self.functions
                for node, s, c in zip(nodes, seconds, calls) if node is not None]
        return sorted(rows, key=lambda row: -row.seconds)

    def op_rows(self):
        """One row per op (nodes with equal ops added up), slowest first."""
        total = self.node_seconds() or 1.0
        by_op = {}
        for nodes, seconds, calls, _ in self.functions:
            for node, s, c in zip(nodes, seconds, calls):
                if node is None:  # a jump of a lazy schedule
                    continue
                row = by_op.setdefault(str(node.op), NodeRow(str(node.op), 0, 0.0, 0.0, 0))
                row.calls += c
                row.seconds += s
                row.count += 1
        for row in by_op.values():
            row.share = row.seconds / total
        return sorted(by_op.values(), key=lambda row: -row.seconds)

    def rewrite_seconds(self):
        return sum(p.total_time for *_, p in self.functions if p is not None)

    def summary(self, n_ops=15, n_nodes=15, n_rewrites=10):
        """The profile as a printable table."""
        in_nodes = self.node_seconds()
        lines = [f"Profile {self.name!r}: {len(self.functions)} functions, {self.calls} calls",
                 f"  compile: {self.compile_seconds * 1e3:.2f} ms (rewriting "
                 f"{self.rewrite_seconds() * 1e3:.2f} ms)",
                 f"  run: {self.call_seconds * 1e3:.3f} ms in calls, {in_nodes * 1e3:.3f} ms "
                 f"in nodes ({_percent(in_nodes, self.call_seconds)} of the calls)"]
        if self.untimed_nodes:
            lines.append(f"  ({self.untimed_nodes} nodes ran on a linker without per-node "
                         f"timing; use linker='py' to see them)")
        lines += _table("ops", self.op_rows()[:n_ops], show_count=True)
        lines += _table("nodes", self.node_rows()[:n_nodes], show_count=False)
        for *_, rewrites in self.functions:
            if rewrites is not None:
                lines.append("compile time per rewrite:")
                lines += ["  " + line for line in rewrites.summary(n_rewrites).splitlines()]
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


def _percent(part, whole):
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def _table(title, rows, show_count):
    if not rows:
        return []
    head = f"  {'share':>6}  {'total ms':>9}  {'calls':>6}  {'us/call':>8}"
    head += f"  {'nodes':>5}" if show_count else ""
    lines = [f"{title} (slowest first):", head + f"  {title[:-1]}"]
    for row in rows:
        per_call = row.seconds / row.calls * 1e6 if row.calls else 0.0
        line = f"  {row.share * 100:5.1f}%  {row.seconds * 1e3:9.3f}  {row.calls:6d}  " \
               f"{per_call:8.1f}"
        line += f"  {row.count:5d}" if show_count else ""
        lines.append(f"{line}  {row.name}")
    return lines


class ProfiledFunction(Function):
    """A Function that times its calls (and its nodes) into ``self.profile``."""

    def __init__(self, maker, program, profile, compile_seconds):
        super().__init__(maker, program)
        self.profile = as_profile(profile, maker.name)
        self.profile.add_function(maker, program, compile_seconds)

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self.profile.record_call(time.perf_counter() - start)


_printed_at_exit = []


def as_profile(profile, name=None):
    """A ProfileStats from ``profile=`` (True, a name or a ProfileStats).

    >>> as_profile("train").name
    'train'
    """
    if isinstance(profile, ProfileStats):
        return profile
    from symgraph.config import config

    stats = ProfileStats(profile if isinstance(profile, str) else name)
    if config.profile:
        if not _printed_at_exit:
            atexit.register(_print_profiles)
        _printed_at_exit.append(stats)
    return stats


def _print_profiles():
    for stats in _printed_at_exit:
        print(stats.summary(), file=sys.stderr)
