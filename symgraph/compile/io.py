"""``In`` and ``Out``: how a function takes its inputs and returns its outputs."""
from symgraph.graph.basic import Variable


class In:
    """A function input with options.

    ``value``: a default used when the argument is omitted; ``name``: the
    keyword to pass it by; ``borrow``: the function may keep a reference to
    the given array; ``strict``: refuse any conversion; ``allow_downcast``:
    permit lossy conversion.
    """

    def __init__(self, variable, name=None, value=None, update=None, mutable=False,
                 strict=False, allow_downcast=None, borrow=False, implicit=False):
        if not isinstance(variable, Variable):
            raise TypeError(f"In() needs a symbolic variable, got {variable!r}")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.value = value
        self.update = update
        self.mutable = mutable
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.borrow = borrow or mutable
        self.implicit = implicit


class Out:
    """A function output; ``borrow=True`` may return internal storage (no copy)."""

    def __init__(self, variable, borrow=False):
        self.variable = variable
        self.borrow = borrow
