"""Shape ops: Shape, Shape_i, Reshape, SpecifyShape."""
import numpy as np

from symgraph.graph.basic import Apply, Constant, Op
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
    return _shape(x)


def shape_i(x, i):
    """Size of dimension ``i`` of ``x``: a constant when statically known."""
    x = as_tensor_variable(x)
    if x.type.shape[i] is not None:
        return as_tensor_variable(np.int64(x.type.shape[i]))
    return Shape_i(i % x.ndim)(x)


class Reshape(Op):
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
        static = [None] * self.ndim
        if isinstance(shp, TensorConstant):
            static = [None if int(s) < 0 else int(s) for s in shp.data]
            known = [s for s in static if s is not None]
            total = int(np.prod([s for s in x.type.shape])) if None not in x.type.shape else None
            if total is not None and None in static and 0 not in known:
                static[static.index(None)] = total // int(np.prod(known))
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
        output_storage[0][0] = np.reshape(x, tuple(int(s) for s in shp))

    def infer_shape(self, fgraph, node, input_shapes):
        from symgraph.tensor import math
        from symgraph.tensor.basic import get_scalar_constant_entries

        x, shp = node.inputs
        entries = [shp[i] for i in range(self.ndim)]
        if any(e is not None and e < 0 for e in get_scalar_constant_entries(shp, self.ndim)) \
                or not isinstance(shp, Constant):
            # resolve a possible -1: total size over the product of the other entries
            total = math.prod(as_tensor_variable(list(input_shapes[0])) if input_shapes[0] else 1)
            known = math.prod(math.switch(math.lt(shp, 0), 1, shp))
            entries = [math.switch(math.lt(shp[i], 0), total // known, shp[i])
                       for i in range(self.ndim)]
        return [tuple(entries)]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type

        x, shp = inputs
        return [reshape_like(output_grads[0], x), disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [False]]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], inputs[1])]


def reshape_like(g, x):
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
    """``x`` with its static shape set to ``shape`` (checked at run time)."""
    shape = tuple(shape)
    if all(isinstance(s, (int, np.integer)) or s is None for s in shape):
        return SpecifyShape(shape)(x)
    raise TypeError("specify_shape takes ints or None")
