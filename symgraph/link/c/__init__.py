"""The C backend: generated C per node, a compile cache, and the C VM (csrc/).

- ``cache``: content-addressed shared libraries in ``config.compiledir``
  (``python -m symgraph.link.c.cache list|size|clear``).
- ``compiler``: the gcc command line; compile errors name the op at fault.
- ``scalar_c``, ``elemwise``: C for Elemwise nodes (``registry``: which ops have C).
- ``module``: one generated module per function; ``runtime``: the VM extension.
- ``plan``, ``linker``: the storage plan and the ``cvm`` linker.

Nothing here is imported by ``import symgraph`` beyond this docstring: gcc
runs only when a function is compiled with the ``cvm`` linker.
"""

