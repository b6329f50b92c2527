"""Shape ops: Shape, Shape_i, Reshape, SpecifyShape."""
import numpy as np

from symgraph.graph.basic import Apply, Constant, LinearInFirstInput, Op
from symgraph.tensor.type import TensorType
from symgraph.tensor.var import TensorConstant, as_tensor_variable


class Shape(Op):
    """The shape of a tensor, as an int64 vector."""

    __props__ = ()

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,)).make_variable()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0].shape, dtype="int64")

    def infer_shape(self, fgraph, node, input_shapes):
        return [(node.inputs[0].ndim,)]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type

        return [disconnected_type()]

    def connection_pattern(self, node):
        return [[False]]

    def R_op(self, inputs, eval_points):
        return [None]


class Shape_i(Op):
    """The size of dimension ``i``, as an int64 scalar."""

    __props__ = ("i",)

    def __init__(self, i):
        self.i = int(i)

    def make_node(self, x):
        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise ValueError(f"Shape_i({self.i}) of a {x.ndim}-d tensor")
        return Apply(self, [x], [TensorType("int64", ()).make_variable()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0].shape[self.i], dtype="int64")

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type

        return [disconnected_type()]

    def connection_pattern(self, node):
        return [[False]]


_shape = Shape()


def shape(x):
    """The shape of ``x`` as a symbolic int64 vector (``x.shape``).

    >>> shape(np.zeros((2, 3))).eval().tolist()
    [2, 3]
    """
    return _shape(x)


def shape_i(x, i):
    """Size of dimension ``i`` of ``x``: a constant when statically known.

    >>> from symgraph.tensor.type import TensorType
    >>> shape_i(TensorType("float64", (4, None))(), 0).data
    array(4)
    """
    x = as_tensor_variable(x)
    if x.type.shape[i] is not None:
        return as_tensor_variable(np.int64(x.type.shape[i]))
    return Shape_i(i % x.ndim)(x)


class Reshape(LinearInFirstInput, Op):
    """Reshape to a symbolic shape vector with ``ndim`` entries (one may be -1)."""

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim):
        self.ndim = ndim

    def make_node(self, x, shp):
        x = as_tensor_variable(x)
        shp = as_tensor_variable(shp)
        if shp.ndim != 1 or shp.dtype not in ("int8", "int16", "int32", "int64", "uint8",
                                               "uint16", "uint32", "uint64"):
            raise TypeError(f"Reshape: the shape must be an integer vector, got {shp.type}")
        if shp.type.shape[0] is not None and shp.type.shape[0] != self.ndim:
            raise ValueError(f"Reshape{{{self.ndim}}}: the new shape has "
                             f"{shp.type.shape[0]} entries")
        static = [None] * self.ndim
        if isinstance(shp, TensorConstant):
            static = _check_static_reshape(x.type.shape, [int(s) for s in shp.data])
        else:
            from symgraph.tensor.basic import get_scalar_constant_entries

            for i, v in enumerate(get_scalar_constant_entries(shp, self.ndim)):
                if v is not None and v >= 0:
                    static[i] = v
        return Apply(self, [x, shp], [TensorType(x.dtype, tuple(static)).make_variable()])

    def perform(self, node, inputs, output_storage):
        x, shp = inputs
        if len(shp) != self.ndim:
            raise ValueError(f"Reshape: expected a shape of {self.ndim} entries, got {shp}")
        newshape = tuple(int(s) for s in shp)
        try:
            output_storage[0][0] = np.reshape(x, newshape)
        except ValueError:
            raise ValueError(f"Reshape: cannot reshape an array of shape {x.shape} (size "
                             f"{x.size}) into shape {newshape}") from None

    def infer_shape(self, fgraph, node, input_shapes):
        from symgraph.tensor import math
        from symgraph.tensor.basic import get_scalar_constant_entries

        x, shp = node.inputs
        entries = [shp[i] for i in range(self.ndim)]
        if any(e is not None and e < 0 for e in get_scalar_constant_entries(shp, self.ndim)) \
                or not isinstance(shp, Constant):
            # resolve a possible -1: total size over the product of the other entries
            total = math.prod(as_tensor_variable(list(input_shapes[0])) if input_shapes[0] else 1)
            # at least 1: a -1 beside a 0 is an error at run time anyway
            known = math.maximum(math.prod(math.switch(math.lt(shp, 0), 1, shp)), 1)
            entries = [math.switch(math.lt(shp[i], 0), total // known, shp[i])
                       for i in range(self.ndim)]
        return [tuple(entries)]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type

        x, shp = inputs
        return [reshape_like(output_grads[0], x), disconnected_type()]



def _check_static_reshape(old_shape, new_shape):
    """The static output shape of reshaping ``old_shape`` (ints/None) to the constant
    ``new_shape``; raises ValueError, with both shapes, when it cannot work."""
    def fail(why):
        raise ValueError(f"Reshape: cannot reshape a tensor of static shape {old_shape} into "
                         f"shape {tuple(new_shape)}: {why}")

    if sum(s == -1 for s in new_shape) > 1:
        fail("only one dimension can be -1")
    if any(s < -1 for s in new_shape):
        fail("negative size")
    known = [s for s in new_shape if s != -1]
    known_size = int(np.prod(known, dtype="int64"))
    static = [None if s == -1 else s for s in new_shape]
    if None in old_shape:
        return static
    total = int(np.prod(old_shape, dtype="int64"))
    if -1 not in new_shape:
        if known_size != total:
            fail(f"sizes {total} and {known_size} differ")
    elif known_size == 0 or total % known_size:
        fail(f"size {total} is not a multiple of {known_size}")
    else:
        static[static.index(None)] = total // known_size
    return static


def reshape_like(g, x):
    """``g`` reshaped to ``x``'s (symbolic) shape."""
    from symgraph.tensor.basic import reshape

    return reshape(g, x.shape, ndim=x.ndim)


class SpecifyShape(Op):
    """Asserts at run time that ``x`` has ``shape`` (None entries unchecked);
    refines the static type."""

    __props__ = ("shape",)
    view_map = {0: [0]}

    def __init__(self, shape):
        self.shape = tuple(None if s is None else int(s) for s in shape)

    def make_node(self, x):
        x = as_tensor_variable(x)
        if len(self.shape) != x.ndim:
            raise ValueError(f"specify_shape: {self.shape} has {len(self.shape)} entries but "
                             f"{x} has {x.ndim} dimensions")
        merged = []
        for have, want in zip(x.type.shape, self.shape):
            if have is not None and want is not None and have != want:
                raise ValueError(f"specify_shape: {x.type} cannot have shape {self.shape}")
            merged.append(want if want is not None else have)
        return Apply(self, [x], [TensorType(x.dtype, tuple(merged)).make_variable()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        if x.ndim != len(self.shape) or any(
                want is not None and want != got for want, got in zip(self.shape, x.shape)):
            raise AssertionError(f"SpecifyShape: expected shape {self.shape}, got {x.shape}")
        output_storage[0][0] = x

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(s if want is None else want for s, want in zip(input_shapes[0], self.shape))]

    def grad(self, inputs, output_grads):
        return [output_grads[0]]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


def specify_shape(x, shape):
    """``x`` with its static shape set to ``shape`` (None entries: unknown; checked at run
    time).

    >>> import symgraph.tensor as T
    >>> specify_shape(T.dmatrix(), (3, None)).type.shape
    (3, None)
    """
    shape = tuple(shape)
    if all(isinstance(s, (int, np.integer)) or s is None for s in shape):
        return SpecifyShape(shape)(x)
    raise TypeError("specify_shape takes ints or None")
