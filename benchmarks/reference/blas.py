"""Raw addresses of the BLAS routines that SciPy exports to Cython.

``scipy.linalg.cython_blas.__pyx_capi__`` maps names to PyCapsules whose pointer
is the C-callable routine (Fortran ABI: every argument by pointer).  The C
reference calls them through these addresses, so no BLAS is linked at build time.

>>> address = blas_address('sgemm')
>>> address > 0
True
"""
import ctypes

_get_name = ctypes.pythonapi.PyCapsule_GetName
_get_name.restype = ctypes.c_char_p
_get_name.argtypes = [ctypes.py_object]
_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_get_pointer.restype = ctypes.c_void_p
_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def blas_address(name):
    """The address (an int) of SciPy's BLAS routine ``name``, e.g. ``'sgemm'``."""
    from scipy.linalg import cython_blas

    capsule = cython_blas.__pyx_capi__[name]
    return _get_pointer(capsule, _get_name(capsule))
