"""Modes: which rewrites run and which linker executes the result."""
from symgraph.config import config


class Mode:
    """A rewrite pipeline (``optimizer``) plus a ``linker``.

    ``optimizer`` is a name (``'fast_run'``, ``'fast_compile'``, ``None``) or a
    callable taking a FunctionGraph.
    """

    def __init__(self, linker=None, optimizer="fast_run"):
        self.linker = linker or config.linker
        self.optimizer = optimizer

    def optimize(self, fgraph):
        from symgraph.rewriting import basic

        if callable(self.optimizer):
            return self.optimizer(fgraph)
        name = (self.optimizer or "none").lower()
        if name in ("fast_run", "o1", "merge_and_fold"):
            basic.merge(fgraph)
            basic.constant_folding(fgraph)
            basic.merge(fgraph)
        elif name == "fast_compile":
            basic.merge(fgraph)
        elif name not in ("none", "unsafe"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}")
        return fgraph

    def including(self, *tags):
        return self

    def excluding(self, *tags):
        return self

    def __repr__(self):
        return f"Mode(linker={self.linker!r}, optimizer={self.optimizer!r})"


_PREDEFINED = {
    "FAST_RUN": lambda: Mode(optimizer="fast_run"),
    "FAST_COMPILE": lambda: Mode(linker="py", optimizer="fast_compile"),
}


def get_mode(mode):
    """A Mode from a Mode, a name (``'FAST_RUN'``, ``'FAST_COMPILE'``) or None (config.mode)."""
    if isinstance(mode, Mode):
        return mode
    name = config.mode if mode is None else mode
    if name in _PREDEFINED:
        return _PREDEFINED[name]()
    raise ValueError(f"unknown mode {name!r}; known: {sorted(_PREDEFINED)}")
