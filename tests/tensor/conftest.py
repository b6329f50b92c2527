"""Every op test runs twice: on the C VM (the default linker) and on the Python VM.

The Python VM runs each op's ``perform`` (the NumPy reference); the C VM runs
generated C where an op has it.  Tests that name a linker in their mode keep it.
Here the C is compiled unoptimized (``QUICK_FLAGS``: what each op computes, at a
quarter of gcc's time); tests/link/c checks the optimized builds.
"""
import pytest

import symgraph as sg
from symgraph.link.c import compiler


@pytest.fixture(autouse=True, params=["cvm", "py"])
def default_linker(request):
    """The linker ``sg.function`` uses when a test gives no mode."""
    with sg.change_flags(linker=request.param), compiler.using_flags(compiler.QUICK_FLAGS):
        yield request.param
