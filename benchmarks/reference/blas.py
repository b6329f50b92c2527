"""Raw addresses of the BLAS routines symgraph's generated code calls.

The C references call BLAS through these addresses (Fortran ABI: every argument by
pointer, 32-bit integers), so no BLAS is linked at build time, and a reference uses
exactly the BLAS that symgraph uses (``symgraph.link.c.runtime.ensure_blas``: NumPy's
bundled OpenBLAS behind adapters, or SciPy's ``cython_blas``): the comparison is of
everything but the BLAS.

>>> address = blas_address('sgemm')
>>> address > 0
True
"""


def blas_address(name):
    """The address (an int) of the BLAS routine ``name``, e.g. ``'sgemm'``."""
    from symgraph.link.c.runtime import cvm, ensure_blas

    ensure_blas()
    return cvm().blas_addresses()[name]
