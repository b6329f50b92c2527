"""Linkers: turn an optimized FunctionGraph into a program that runs.

A linker's ``make(maker)`` returns a program: a callable with ``input_cells``
(one storage cell per function input, in order) and ``output_cells`` (one per
fgraph output: the function's outputs, then its update values).
"""
from symgraph.link.python import PythonLinker

_LINKERS = {"py": PythonLinker(gc=True), "vm": PythonLinker(gc=True),
            "vm_nogc": PythonLinker(gc=False)}


def linker_for(name):
    """The linker called ``name``; ``'auto'`` picks the fastest one available: the C VM
    where a C compiler and Python's headers are found, else the Python VM."""
    if name == "auto":
        from symgraph.link.c.compiler import c_backend_available

        name = "cvm" if c_backend_available() else "py"
    try:
        return _LINKERS[name]
    except KeyError:
        raise ValueError(f"unknown linker {name!r}; known: {sorted(_LINKERS) + ['auto']}") from None


def register_linker(name, linker):
    _LINKERS[name] = linker


from symgraph.link.c.linker import CVMLinker  # noqa: E402  (C VM; gcc runs only when used)
register_linker("cvm", CVMLinker(gc=True))
register_linker("cvm_nogc", CVMLinker(gc=False))
