"""Where compile time goes: time per graph pass and per node rewriter.

Every FunctionGraph that is rewritten carries a ``RewriteProfile`` (created on
first use as ``fgraph.rewrite_profile``).  ``summary()`` prints the slowest
rewriters.

>>> import symgraph as sg, symgraph.tensor as T
>>> x = T.dvector('x')
>>> f = sg.function([x], T.log(1 + T.exp(x)))
>>> profile = f.maker.fgraph.rewrite_profile
>>> profile.total_time > 0
True
"""


class RewriteProfile:
    """Calls, fires and seconds per node rewriter; seconds per graph pass."""

    def __init__(self):
        self.node_stats = {}  # name -> [calls, fires, seconds]
        self.pass_stats = {}  # name -> [runs, seconds]
        self.total_time = 0.0

    def record_call(self, rewriter, seconds, fired):
        name = getattr(rewriter, "name", None) or type(rewriter).__name__
        stats = self.node_stats.get(name)
        if stats is None:
            stats = self.node_stats[name] = [0, 0, 0.0]
        stats[0] += 1
        stats[1] += fired
        stats[2] += seconds

    def record_pass(self, name, seconds):
        stats = self.pass_stats.setdefault(name, [0, 0.0])
        stats[0] += 1
        stats[1] += seconds

    def fired(self, name):
        """How many times the node rewriter ``name`` changed the graph."""
        return self.node_stats.get(name, [0, 0, 0.0])[1]

    def slowest(self, n=10):
        """The ``n`` node rewriters that took longest: ``(name, calls, fires, seconds)``."""
        rows = [(name, c, f, s) for name, (c, f, s) in self.node_stats.items()]
        return sorted(rows, key=lambda row: -row[3])[:n]

    def summary(self, n=10):
        """A printable table of the passes and the slowest node rewriters."""
        lines = [f"rewriting: {self.total_time * 1e3:.1f} ms in total", "passes:"]
        for name, (runs, seconds) in sorted(self.pass_stats.items(), key=lambda kv: -kv[1][1]):
            lines.append(f"  {seconds * 1e3:8.2f} ms  {runs:4d} runs  {name}")
        lines.append("node rewriters (slowest first):")
        lines.append(f"  {'ms':>8}  {'calls':>6}  {'fired':>5}  name")
        for name, calls, fires, seconds in self.slowest(n):
            lines.append(f"  {seconds * 1e3:8.2f}  {calls:6d}  {fires:5d}  {name}")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


def profile_of(fgraph):
    """The graph's RewriteProfile, created on first use."""
    profile = getattr(fgraph, "rewrite_profile", None)
    if profile is None:
        profile = fgraph.rewrite_profile = RewriteProfile()
    return profile
