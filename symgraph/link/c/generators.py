"""Imports every module that registers C generators (``registry.register_c_generator``).

The linker imports this module once before generating code, so an op family's
C lives next to the other C generators and is found without the op's module
importing the C backend.  Add one line per generator module.
"""
import symgraph.link.c.elemwise  # noqa: F401
import symgraph.link.c.ifelse  # noqa: F401
import symgraph.link.c.pool  # noqa: F401
import symgraph.link.c.conv  # noqa: F401
import symgraph.link.c.blas  # noqa: F401
import symgraph.link.c.shape  # noqa: F401
import symgraph.link.c.subtensor  # noqa: F401
import symgraph.link.c.reduce  # noqa: F401
import symgraph.link.c.nnet  # noqa: F401
