"""Tests that do not name a linker run on the Python VM.  The C VM is covered by the tests
parametrized over both linkers; compiling C for each of the many small graphs that the
gradient checks build would make this suite slow whenever the compile cache is cold."""
import pytest

import symgraph as sg


@pytest.fixture(autouse=True)
def python_linker_by_default():
    with sg.config.change_flags(linker="py"):
        yield
