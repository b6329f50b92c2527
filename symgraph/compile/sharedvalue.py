"""Shared variables: values that live between calls, read and updated by functions."""
import copy

import numpy as np

from symgraph.graph.basic import Variable
from symgraph.tensor.type import TensorType
from symgraph.tensor.var import _TensorMethods, _python_scalar_dtype


class Container:
    """A storage cell shared by a SharedVariable and every function that uses it."""

    def __init__(self, type, value, name=None):
        self.type, self.name = type, name
        self.storage = [value]

    @property
    def value(self):
        return self.storage[0]


class SharedVariable(Variable):
    """A graph input whose value is held in a ``container`` between calls.

    >>> import numpy as np
    >>> w = shared(np.zeros(3), name='w')
    >>> w.set_value(np.ones(3)); w.get_value().tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, type, value, name=None, strict=False, allow_downcast=None):
        super().__init__(type, None, None, name)
        value = type.filter(value, strict=strict, allow_downcast=allow_downcast)
        self.container = Container(type, value, name)
        self.default_update = None
        self.strict, self.allow_downcast = strict, allow_downcast

    def get_value(self, borrow=False, return_internal_type=False):
        value = self.container.storage[0]
        return value if borrow else copy.deepcopy(value)

    def set_value(self, value, borrow=False):
        try:
            value = self.type.filter(value, strict=self.strict, allow_downcast=self.allow_downcast)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"set_value of shared variable {self}: {exc}") from None
        if not borrow and isinstance(value, np.ndarray):
            value = value.copy()
        self.container.storage[0] = value

    def clone(self, **kwargs):
        cp = type(self)(self.type, self.container.storage[0], kwargs.get("name", self.name))
        cp.container = self.container
        cp.strict, cp.allow_downcast = self.strict, self.allow_downcast
        cp.tag.update(self.tag)
        return cp

    @property
    def value(self):  # debugging convenience
        return self.get_value(borrow=True)


_constructors = []  # functions that make shared variables of non-array values


def shared_constructor(constructor):
    """Register ``constructor(value, name, strict, allow_downcast, borrow)``: it returns a
    SharedVariable for the values it handles (a random generator, a sparse matrix) and
    None for the others; ``shared`` tries the latest registered first, ndarrays last.

    >>> @shared_constructor
    ... def _no_strings(value, name, strict, allow_downcast, borrow):
    ...     return None
    >>> _constructors.remove(_no_strings)
    """
    _constructors.append(constructor)
    return constructor


def shared(value, name=None, strict=False, allow_downcast=None, borrow=False, shape=None,
           broadcastable=None):
    """A shared variable holding ``value`` (copied unless ``borrow``).

    Its type has no static shape beyond the number of dimensions (so
    ``set_value`` can change the shape), unless ``shape`` says otherwise.

    >>> import numpy as np
    >>> w = shared(np.ones((2, 2)), name='W')
    >>> w.type
    Tensor{float64, (?, ?)}
    """
    if isinstance(value, Variable):
        raise TypeError("shared() takes a value, not a symbolic variable")
    for constructor in reversed(_constructors):
        var = constructor(value, name, strict, allow_downcast, borrow)
        if var is not None:
            return var
    if isinstance(value, (int, float, bool)) and not isinstance(value, np.generic):
        array = np.asarray(value, dtype=_python_scalar_dtype(value))
    else:
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"shared(): cannot make a shared variable of {type(value).__name__}")
    if not borrow or not isinstance(value, np.ndarray):
        array = array.copy()
    if shape is None:
        shape = (None,) * array.ndim
        if broadcastable is not None:
            shape = tuple(1 if b else None for b in broadcastable)
    ttype = TensorType(array.dtype, shape)
    return TensorSharedVariable(ttype, array, name=name, strict=strict,
                                allow_downcast=allow_downcast)


class TensorSharedVariable(_TensorMethods, SharedVariable):
    """A shared variable holding an ndarray (with the tensor operators)."""
