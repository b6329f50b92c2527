"""Indexing: basic slicing (views), advanced integer/boolean indexing (copies), and
``set_subtensor`` / ``inc_subtensor``, where repeated indices accumulate like ``np.add.at``.

An index is described by ``idx_list``, one entry per indexed dimension:
``"i"`` (an integer scalar), ``"a"`` (an integer or boolean array), or a
``("s", has_start, has_stop, has_step)`` slice.  The values themselves are
node inputs after ``x`` (and after ``y`` for the set/inc ops), so symbolic
bounds work like constant ones.
"""
import numpy as np

from symgraph.graph.basic import Apply, Constant, Op, Variable
from symgraph.tensor.type import DISCRETE_DTYPES, INT_DTYPES, TensorType
from symgraph.tensor.var import as_tensor_variable

_FULL = ("s", False, False, False)


def _entry_of(index):
    """(idx_list entry, [input variables]) for one user index."""
    if isinstance(index, slice):
        parts = [index.start, index.stop, index.step]
        entry = ("s",) + tuple(p is not None for p in parts)
        return entry, [as_tensor_variable(p) for p in parts if p is not None]
    v = as_tensor_variable(index)
    if v.ndim == 0 and v.dtype in INT_DTYPES:
        return "i", [v]
    if v.dtype in INT_DTYPES or v.dtype == "bool":
        return "a", [v]
    raise IndexError(f"index {index} of type {v.type} is not an integer, slice or boolean mask")


def _consumed(entry, inp):
    return inp.ndim if entry == "a" and inp.dtype == "bool" else 1


def _build_index(idx_list, values):
    """The NumPy index tuple for ``idx_list`` and the input ``values``."""
    it = iter(values)
    out = []
    for entry in idx_list:
        if entry == "i":
            out.append(int(next(it)))
        elif entry == "a":
            out.append(next(it))
        else:
            out.append(slice(*[int(next(it)) if has else None for has in entry[1:]]))
    return tuple(out)


class _IndexOp(Op):
    __props__ = ("idx_list",)

    def __init__(self, idx_list):
        self.idx_list = tuple(idx_list)

    def __str__(self):
        parts = []
        for e in self.idx_list:
            parts.append(e if isinstance(e, str) else ":".join(
                "?" if has else "" for has in e[1:3]) + (":?" if e[3] else ""))
        return f"{type(self).__name__}{{{', '.join(parts)}}}"

    def _index_inputs(self, node, n_lead):
        return node.inputs[n_lead:]


class Subtensor(_IndexOp):
    """Basic indexing: ints and slices; the output is a view of ``x``."""

    view_map = {0: [0]}

    def make_node(self, x, *index_inputs):
        x = as_tensor_variable(x)
        index_inputs = [as_tensor_variable(i) for i in index_inputs]
        if len(self.idx_list) > x.ndim:
            raise IndexError(f"too many indices ({len(self.idx_list)}) for {x.type}")
        shape, it = [], iter(index_inputs)
        for dim, entry in enumerate(self.idx_list):
            if entry == "i":
                next(it)
                continue
            bounds = [next(it) if has else None for has in entry[1:]]
            shape.append(_slice_length(bounds, x.type.shape[dim]))
        shape.extend(x.type.shape[len(self.idx_list):])
        return Apply(self, [x] + index_inputs, [TensorType(x.dtype, tuple(shape)).make_variable()])

    def perform(self, node, inputs, output_storage):
        x, *values = inputs
        out = x[_build_index(self.idx_list, values)]
        output_storage[0][0] = out if isinstance(out, np.ndarray) else np.asarray(out)

    def infer_shape(self, fgraph, node, input_shapes):
        from symgraph.tensor import math
        from symgraph.tensor.basic import cast

        x_shape = input_shapes[0]
        it = iter(node.inputs[1:])
        out = []
        for dim, entry in enumerate(self.idx_list):
            if entry == "i":
                next(it)
                continue
            bounds = [next(it) if has else None for has in entry[1:]]
            out.append(_symbolic_slice_length(bounds, x_shape[dim]))
        out.extend(x_shape[len(self.idx_list):])
        return [tuple(out)]

    def scalar_constant_value(self, node):
        """Constant ``shape(x)[i]`` or ``make_vector(...)[i]`` (for static shapes)."""
        from symgraph.tensor.basic import MakeVector, NotScalarConstantError, get_scalar_constant_value
        from symgraph.tensor.shape import Shape

        x, *idx = node.inputs
        if self.idx_list == ("i",) and x.owner is not None:
            i = int(get_scalar_constant_value(idx[0]))
            if isinstance(x.owner.op, Shape):
                size = x.owner.inputs[0].type.shape[i]
                if size is not None:
                    return size
            elif isinstance(x.owner.op, MakeVector):
                return get_scalar_constant_value(x.owner.inputs[i])
        if isinstance(x, Constant) and all(isinstance(v, Constant) for v in idx):
            value = x.data[_build_index(self.idx_list, [v.data for v in idx])]
            if np.ndim(value) == 0:
                return value.item()
        raise NotScalarConstantError(f"{node} is not constant")

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type
        from symgraph.tensor.basic import zeros_like

        x, *idx = inputs
        (gz,) = output_grads
        if x.dtype in DISCRETE_DTYPES:
            gx = zeros_like(x, dtype="float64")
        else:
            gx = IncSubtensor(self.idx_list)(zeros_like(x), gz, *idx)
        return [gx] + [disconnected_type() for _ in idx]

    def connection_pattern(self, node):
        return [[True]] + [[False] for _ in node.inputs[1:]]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], *inputs[1:])]


def _slice_length(bounds, size):
    """Static length of ``slice(*bounds)`` over a dimension of static ``size``."""
    from symgraph.tensor.basic import NotScalarConstantError, get_scalar_constant_value

    values = []
    for b in bounds:
        if b is None:
            values.append(None)
            continue
        try:
            values.append(int(get_scalar_constant_value(b)))
        except NotScalarConstantError:
            return None
    if size is None:
        start, stop, step = values
        # x[:k] with k >= 0 constant can still be shorter than k: unknown
        return None
    return len(range(*slice(*values).indices(size)))


def _symbolic_slice_length(bounds, size):
    """Length of ``slice(*bounds)`` over a dimension of symbolic ``size`` (NumPy's rules)."""
    from symgraph.tensor import math
    from symgraph.tensor.basic import cast

    start, stop, step = bounds
    step = 1 if step is None else step
    m = math

    def clamp(v, default_pos, default_neg, lo_pos, hi_pos, lo_neg, hi_neg):
        if v is None:
            return m.switch(m.gt(step, 0), default_pos, default_neg)
        v = m.switch(m.lt(v, 0), v + size, v)
        return m.switch(m.gt(step, 0), m.clip(v, lo_pos, hi_pos), m.clip(v, lo_neg, hi_neg))

    s = clamp(start, 0, size - 1, 0, size, -1, size - 1)
    e = clamp(stop, size, -1, 0, size, -1, size - 1)
    n = m.switch(m.gt(step, 0), (e - s + step - 1) // step, (s - e - step - 1) // (-step))
    return cast(m.maximum(n, 0), "int64")


class AdvancedSubtensor(_IndexOp):
    """NumPy advanced indexing (integer arrays, boolean masks, mixed with slices): a copy."""

    def make_node(self, x, *index_inputs):
        x = as_tensor_variable(x)
        index_inputs = [as_tensor_variable(i) for i in index_inputs]
        ndim = _advanced_ndim(x.ndim, self.idx_list, index_inputs)
        return Apply(self, [x] + index_inputs, [TensorType(x.dtype, (None,) * ndim).make_variable()])

    def perform(self, node, inputs, output_storage):
        x, *values = inputs
        output_storage[0][0] = np.asarray(x[_build_index(self.idx_list, values)])

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type
        from symgraph.tensor.basic import zeros_like

        x, *idx = inputs
        (gz,) = output_grads
        if x.dtype in DISCRETE_DTYPES:
            gx = zeros_like(x, dtype="float64")
        else:
            gx = AdvancedIncSubtensor(self.idx_list)(zeros_like(x), gz, *idx)
        return [gx] + [disconnected_type() for _ in idx]

    def connection_pattern(self, node):
        return [[True]] + [[False] for _ in node.inputs[1:]]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], *inputs[1:])]


def _advanced_ndim(x_ndim, idx_list, index_inputs):
    """Output ndim, found by indexing a small dummy array the same way."""
    dummy = np.zeros((2,) * x_ndim)
    values, it = [], iter(index_inputs)
    for entry in idx_list:
        if entry == "i":
            next(it)
            values.append(0)
        elif entry == "a":
            v = next(it)
            values.append(np.ones((2,) * v.ndim, bool) if v.dtype == "bool"
                          else np.zeros((1,) * v.ndim, int))
        else:
            for has in entry[1:]:
                if has:
                    next(it)
            values.append(slice(None))
    return dummy[tuple(values)].ndim


class IncSubtensor(_IndexOp):
    """``x`` with ``x[index]`` incremented by (or, with ``set_instead_of_inc``, set to) ``y``."""

    __props__ = ("idx_list", "set_instead_of_inc", "inplace")

    def __init__(self, idx_list, set_instead_of_inc=False, inplace=False):
        super().__init__(idx_list)
        self.set_instead_of_inc = set_instead_of_inc
        self.inplace = inplace
        self.destroy_map = {0: [0]} if inplace else {}

    def __str__(self):
        kind = "Set" if self.set_instead_of_inc else "Inc"
        return f"{type(self).__name__.replace('Inc', kind)}{{{len(self.idx_list)}}}" + (
            "{inplace}" if self.inplace else "")

    def make_node(self, x, y, *index_inputs):
        x = as_tensor_variable(x)
        y = as_tensor_variable(y)
        index_inputs = [as_tensor_variable(i) for i in index_inputs]
        if y.ndim > x.ndim:
            raise ValueError(f"{self}: cannot put a {y.ndim}-d value into a {x.ndim}-d tensor")
        if y.dtype != x.dtype:
            from symgraph.tensor.basic import cast

            y = cast(y, x.dtype)
        return Apply(self, [x, y] + index_inputs, [x.type.make_variable()])

    def _apply(self, out, index, y):
        if self.set_instead_of_inc:
            out[index] = y
        else:
            out[index] += y

    def perform(self, node, inputs, output_storage):
        x, y, *values = inputs
        out = x if self.inplace else x.copy()
        self._apply(out, _build_index(self.idx_list, values), y)
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type
        from symgraph.tensor.elemwise import sum_to_like

        x, y, *idx = inputs
        (gz,) = output_grads
        getter = Subtensor if type(self) is IncSubtensor else AdvancedSubtensor
        setter = type(self)(self.idx_list, set_instead_of_inc=True)
        gy = getter(self.idx_list)(gz, *idx)
        gy = sum_to_like(gy, y)
        if self.set_instead_of_inc:
            gx = setter(gz, _zeros_of(gy), *idx)  # what was overwritten gets no gradient
        else:
            gx = gz
        if x.dtype in DISCRETE_DTYPES:
            from symgraph.tensor.basic import zeros_like

            return [zeros_like(x, dtype="float64"), zeros_like(y, dtype="float64")] + \
                [disconnected_type() for _ in idx]
        return [gx, gy] + [disconnected_type() for _ in idx]

    def connection_pattern(self, node):
        return [[True], [True]] + [[False] for _ in node.inputs[2:]]

    def R_op(self, inputs, eval_points):
        from symgraph.tensor.basic import zeros_like

        x, y, *idx = inputs
        ex, ey = eval_points[:2]
        if ex is None and ey is None:
            return [None]
        ex = zeros_like(x) if ex is None else ex
        ey = zeros_like(y) if ey is None else ey
        return [type(self)(self.idx_list, self.set_instead_of_inc)(ex, ey, *idx)]


def _zeros_of(v):
    from symgraph.tensor.basic import zeros_like

    return zeros_like(v)


class AdvancedIncSubtensor(IncSubtensor):
    """Advanced-index ``set``/``inc``; repeated indices accumulate (``np.add.at``)."""

    def _apply(self, out, index, y):
        if self.set_instead_of_inc:
            out[index] = y
        else:
            np.add.at(out, index, y)


def getitem(x, index):
    """``x[index]`` with NumPy's semantics (see the module docstring)."""
    from symgraph.tensor.basic import expand_dims

    if not isinstance(index, tuple):
        index = (index,)
    index = _expand_ellipsis(x, index)
    # np.newaxis: insert the axis into x first, then take all of it
    new_axes, pos, entries = [], 0, []
    for item in index:
        if item is None:
            new_axes.append(pos)
            entries.append(slice(None))
            pos += 1
        else:
            entries.append(item)
            pos += _consumed_by(item)
    if new_axes:
        x = expand_dims(x, new_axes)
    idx_list, inputs = [], []
    for item in entries:
        entry, vals = _entry_of(item)
        idx_list.append(entry)
        inputs.extend(vals)
    while idx_list and idx_list[-1] == _FULL:
        idx_list.pop()
    if not idx_list:
        return x
    if "a" in idx_list:
        return AdvancedSubtensor(idx_list)(x, *inputs)
    return Subtensor(idx_list)(x, *inputs)


def _consumed_by(item):
    if isinstance(item, (Variable, np.ndarray)) and getattr(item, "dtype", None) in ("bool", np.bool_):
        return item.ndim
    if isinstance(item, (list, tuple)) and np.asarray(item).dtype == bool:
        return np.asarray(item).ndim
    return 1


def _expand_ellipsis(x, index):
    if not any(i is Ellipsis for i in index):
        return index
    k = [j for j, i in enumerate(index) if i is Ellipsis]
    if len(k) > 1:
        raise IndexError("an index can only have a single ellipsis")
    used = sum(_consumed_by(i) for i in index if i is not None and i is not Ellipsis)
    fill = (slice(None),) * (x.ndim - used)
    return index[:k[0]] + fill + index[k[0] + 1:]


def _index_of(x):
    """(op class, idx_list, index inputs) of a variable produced by indexing."""
    node = x.owner
    if node is None or not isinstance(node.op, (Subtensor, AdvancedSubtensor)):
        raise TypeError(f"set_subtensor/inc_subtensor need an indexed tensor like x[idx], "
                        f"got {x}")
    return node.op, node.inputs[0], node.inputs[1:]


def inc_subtensor(x, y, inplace=False, set_instead_of_inc=False):
    """``x[idx] += y`` as a new tensor, where ``x`` is an indexing expression.

    Repeated indices accumulate, like ``np.add.at``:

    >>> import symgraph.tensor as T
    >>> v = T.as_tensor(np.zeros(3))
    >>> inc_subtensor(v[[0, 0, 2]], 1.0).eval().tolist()
    [2.0, 0.0, 1.0]
    """
    op, base, idx = _index_of(x)
    cls = IncSubtensor if isinstance(op, Subtensor) else AdvancedIncSubtensor
    return cls(op.idx_list, set_instead_of_inc=set_instead_of_inc)(base, y, *idx)


def set_subtensor(x, y, inplace=False):
    """``x[idx] = y`` as a new tensor, where ``x`` is an indexing expression."""
    return inc_subtensor(x, y, inplace, set_instead_of_inc=True)


def take(a, indices, axis=None):
    """``np.take``: elements of ``a`` at ``indices`` along ``axis``."""
    a = as_tensor_variable(a)
    if axis is None:
        return getitem(a.flatten(), as_tensor_variable(indices))
    axis = axis % a.ndim
    return getitem(a, (slice(None),) * axis + (as_tensor_variable(indices),))
