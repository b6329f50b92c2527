"""Which ops have C code, and how to ask for it.

A C generator takes ``(node, name)`` and returns the C source of a function
``static int name(sg_ctx *ctx, const sg_array *in, sg_array *out)``
(sg_abi.h) computing the node, or None when it has no C for this node (a
dtype it does not handle, say).  Generators are registered per Op class
(looked up along the MRO); an op may instead define a method
``c_node_function(node, name)`` with the same contract.  A node without C
runs its ``perform`` through the VM.
"""
_GENERATORS = {}


def register_c_generator(op_class):
    """Decorator: ``fn(node, name) -> C source or None`` generates C for ``op_class`` nodes.

    >>> class Noop: pass
    >>> @register_c_generator(Noop)
    ... def noop_c(node, name):
    ...     return None
    >>> _GENERATORS[Noop] is noop_c
    True
    """
    def register(fn):
        _GENERATORS[op_class] = fn
        return fn

    return register


def c_function_for(node, name):
    """The C source of ``node``'s function called ``name``, or None if it has none."""
    method = getattr(node.op, "c_node_function", None)
    if method is not None:
        return method(node, name)
    for cls in type(node.op).__mro__:
        generator = _GENERATORS.get(cls)
        if generator is not None:
            return generator(node, name)
    return None


def c_string(text):
    """``text`` as a C string literal.

    >>> print(c_string('Elemwise{add}("x")'))
    "Elemwise{add}(\\"x\\")"
    """
    out = []
    for ch in text.encode("utf-8"):
        if ch in (0x22, 0x5C):  # " and \\
            out.append("\\" + chr(ch))
        elif 0x20 <= ch < 0x7F:
            out.append(chr(ch))
        else:  # octal escapes: valid C for any byte
            out.append(f"\\{ch:03o}")
    return '"' + "".join(out) + '"'
