"""Symbolic variable constructors: ``matrix('x')``, ``fvector()``, ``tensor(dtype, shape)``."""
from symgraph.config import config
from symgraph.tensor.type import TensorType

_NDIMS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4, "tensor5": 5,
          "tensor6": 6, "tensor7": 7}
_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
             "d": "float64", "c": "complex64", "z": "complex128"}


def tensor(dtype=None, shape=None, name=None, broadcastable=None, ndim=None):
    """A symbolic tensor: ``tensor('float32', (None, 3), name='x')``.

    >>> tensor('float32', (None, 3)).type
    Tensor{float32, (?, 3)}
    """
    if isinstance(dtype, (list, tuple)) and shape is None:  # tensor(shape) convenience
        dtype, shape = None, dtype
    dtype = config.floatX if dtype in (None, "floatX") else dtype
    if shape is None:
        if broadcastable is not None:
            shape = tuple(1 if b else None for b in broadcastable)
        else:
            shape = (None,) * (ndim or 0)
    return TensorType(dtype, shape).make_variable(name)


def _constructor(ndim, dtype):
    def make(name=None, dtype=dtype, shape=None):
        return tensor(dtype, shape if shape is not None else (None,) * ndim, name=name)

    return make


def _plural(single):
    def make(*names, dtype=None):
        if len(names) == 1 and isinstance(names[0], int):
            names = [None] * names[0]
        kwargs = {} if dtype is None else {"dtype": dtype}
        return [single(name, **kwargs) for name in names]

    return make


_namespace = {}
for _kind, _ndim in _NDIMS.items():
    _namespace[_kind] = _constructor(_ndim, None)
    _plural_name = "matrices" if _kind == "matrix" else _kind + "s"
    _namespace[_plural_name] = _plural(_namespace[_kind])
    for _p, _dtype in _PREFIXES.items():
        _namespace[_p + _kind] = _constructor(_ndim, _dtype)
        _namespace[_p + _plural_name] = _plural(_namespace[_p + _kind])
for _name, _fn in _namespace.items():
    _fn.__name__ = _name
globals().update(_namespace)

row = lambda name=None, dtype=None: tensor(dtype, (1, None), name)  # noqa: E731
col = lambda name=None, dtype=None: tensor(dtype, (None, 1), name)  # noqa: E731
__all__ = ["tensor", "row", "col"] + list(_namespace)
