"""Indexing: basic slicing (views), advanced integer/boolean indexing (copies), and
``set_subtensor`` / ``inc_subtensor``, where repeated indices accumulate like ``np.add.at``.

An index is described by ``idx_list``, one entry per indexed dimension:
``"i"`` (an integer scalar), ``"a"`` (an integer or boolean array), or a
``("s", has_start, has_stop, has_step)`` slice.  The values themselves are
node inputs after ``x`` (and after ``y`` for the set/inc ops), so symbolic
bounds work like constant ones.
"""
import numpy as np

from symgraph.graph.basic import Apply, Constant, LinearInFirstInput, Op, Variable
from symgraph.tensor.type import DISCRETE_DTYPES, INT_DTYPES, TensorType
from symgraph.tensor.var import as_tensor_variable

_FULL = ("s", False, False, False)


def _entry_of(index):
    """(idx_list entry, [input variables]) for one user index."""
    if isinstance(index, slice):
        parts = [index.start, index.stop, index.step]
        entry = ("s",) + tuple(p is not None for p in parts)
        bounds = [as_tensor_variable(p) for p in parts if p is not None]
        for b in bounds:
            if b.ndim != 0 or b.dtype not in INT_DTYPES:
                raise IndexError(f"slice bounds must be integer scalars, got {b.type} in {index}")
        return entry, bounds
    v = as_tensor_variable(_index_value(index))
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


class _Getter(LinearInFirstInput, _IndexOp):
    """Reading ``x[index]``: the gradient scatters back with the matching increment op."""

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type
        from symgraph.tensor.basic import zeros_like

        x, *idx = inputs
        (gz,) = output_grads
        if x.dtype in DISCRETE_DTYPES:
            gx = zeros_like(x, dtype="float64")
        else:
            gx = self._increment_op()(zeros_like(x), gz, *idx)
        return [gx] + [disconnected_type() for _ in idx]



class Subtensor(_Getter):
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
                self._check_static_index(next(it), dim, x.type.shape[dim])
                continue
            bounds = [next(it) if has else None for has in entry[1:]]
            shape.append(_slice_length(bounds, x.type.shape[dim]))
        shape.extend(x.type.shape[len(self.idx_list):])
        return Apply(self, [x] + index_inputs, [TensorType(x.dtype, tuple(shape)).make_variable()])

    def _check_static_index(self, index, dim, size):
        """Fail at build time for a constant index out of a static dimension."""
        from symgraph.tensor.basic import NotScalarConstantError, get_scalar_constant_value

        if size is None:
            return
        try:
            i = int(get_scalar_constant_value(index))
        except NotScalarConstantError:
            return
        if not -size <= i < size:
            raise IndexError(f"{self}: index {i} is out of bounds for axis {dim} with size "
                             f"{size}")

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

    def _increment_op(self):
        return IncSubtensor(self.idx_list)


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


class AdvancedSubtensor(_Getter):
    """NumPy advanced indexing (integer arrays, boolean masks, mixed with slices): a copy."""

    def make_node(self, x, *index_inputs):
        x = as_tensor_variable(x)
        index_inputs = [as_tensor_variable(i) for i in index_inputs]
        ndim = _advanced_ndim(x.ndim, self.idx_list, index_inputs)
        return Apply(self, [x] + index_inputs, [TensorType(x.dtype, (None,) * ndim).make_variable()])

    def perform(self, node, inputs, output_storage):
        x, *values = inputs
        output_storage[0][0] = np.asarray(x[_build_index(self.idx_list, values)])

    def infer_shape(self, fgraph, node, input_shapes):
        return [_advanced_shape(self.idx_list, node.inputs, input_shapes)]

    def _increment_op(self):
        return AdvancedIncSubtensor(self.idx_list)


def _advanced_shape(idx_list, inputs, input_shapes):
    """Symbolic shape of ``x[index]`` with NumPy's advanced-indexing rules.

    Integer arrays, boolean masks (as their ``nonzero()``) and, among them, integer
    scalars broadcast together; the broadcast dimensions replace the indexed ones
    in place when those indices are adjacent, and go first otherwise.
    """
    from symgraph.tensor import math
    from symgraph.tensor.basic import cast

    x_shape = input_shapes[0]
    pairs = iter(zip(inputs[1:], input_shapes[1:]))
    dim, parts, adv_positions, adv_shapes, adv_static = 0, [], [], [], []
    for pos, entry in enumerate(idx_list):
        if entry in ("i", "a"):
            v, shp = next(pairs)
            if v.dtype == "bool":
                adv_shapes.append((cast(math.sum(v), "int64"),))
                adv_static.append((None,))
            else:
                adv_shapes.append(tuple(shp))
                adv_static.append(v.type.shape)
            adv_positions.append(pos)
            parts.append(None)
            dim += v.ndim if v.dtype == "bool" else 1
        else:
            bounds = [next(pairs)[0] if has else None for has in entry[1:]]
            parts.append(_symbolic_slice_length(bounds, x_shape[dim]))
            dim += 1
    broadcast = _broadcast_index_shapes(adv_shapes, adv_static)
    sliced = [p for p in parts if p is not None]
    if adv_positions == list(range(adv_positions[0], adv_positions[-1] + 1)):
        first = adv_positions[0]
        before = [p for p in parts[:first] if p is not None]
        out = before + list(broadcast) + sliced[len(before):]
    else:
        out = list(broadcast) + sliced
    return tuple(out) + tuple(x_shape[dim:])


def _broadcast_index_shapes(shapes, statics):
    """Symbolic broadcast shape of index arrays of possibly different ndims."""
    from symgraph.tensor.basic import broadcast_shape

    ndim = max(len(s) for s in shapes)
    if ndim == 0:
        return ()
    one = as_tensor_variable(np.int64(1))
    padded = [(one,) * (ndim - len(s)) + tuple(s) for s in shapes]
    padded_static = [(1,) * (ndim - len(s)) + tuple(s) for s in statics]
    return broadcast_shape(padded, padded_static)


def _one_true(shape):
    """A mask with a single True: its ``nonzero()`` broadcasts against any index."""
    mask = np.zeros(shape, bool)
    mask[(0,) * len(shape)] = True
    return mask


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
            values.append(_one_true((2,) * v.ndim) if v.dtype == "bool"
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
        target_ndim = self._indexed_ndim(x, index_inputs)
        if y.ndim > target_ndim:
            raise ValueError(f"{self}: cannot put a {y.ndim}-d value into a {target_ndim}-d "
                             f"part of a {x.ndim}-d tensor")
        if y.dtype != x.dtype:
            from symgraph.tensor.basic import cast

            y = cast(y, x.dtype)
        return Apply(self, [x, y] + index_inputs, [x.type.make_variable()])

    def _indexed_ndim(self, x, index_inputs):
        """The ndim of ``x[index]``."""
        return x.ndim - sum(entry == "i" for entry in self.idx_list)

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
        if self.set_instead_of_inc and getter is AdvancedSubtensor and _may_repeat(idx):
            gy = gy * _last_write_mask(x, gy, self.idx_list, idx)
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


def _may_repeat(idx):
    """Whether an advanced index may name an element twice (integer arrays can)."""
    return any(v.ndim > 0 and v.dtype != "bool" for v in idx)


def _last_write_mask(x, indexed, idx_list, idx):
    """Which elements of ``x[idx] = value`` (of ``indexed``'s shape) are the ones kept.

    With repeated indices only one write per element survives; writing the
    positions' own ids the same way and reading them back finds which.
    """
    from symgraph.tensor import math
    from symgraph.tensor.basic import arange, reshape, zeros_like

    ids = reshape(arange(math.prod(indexed.shape)), indexed.shape, ndim=indexed.ndim)
    owners = AdvancedIncSubtensor(idx_list, set_instead_of_inc=True)(
        zeros_like(x, dtype="int64"), ids, *idx)
    return math.eq(AdvancedSubtensor(idx_list)(owners, *idx), ids)


def _zeros_of(v):
    from symgraph.tensor.basic import zeros_like

    return zeros_like(v)


class AdvancedIncSubtensor(IncSubtensor):
    """Advanced-index ``set``/``inc``; repeated indices accumulate (``np.add.at``)."""

    def _indexed_ndim(self, x, index_inputs):
        return _advanced_ndim(x.ndim, self.idx_list, index_inputs)

    def _apply(self, out, index, y):
        if self.set_instead_of_inc:
            out[index] = y
        else:
            np.add.at(out, index, y)


def getitem(x, index):
    """``x[index]`` with NumPy's semantics (see the module docstring).

    >>> import symgraph.tensor as T
    >>> getitem(T.as_tensor(np.arange(6).reshape(2, 3)), (slice(None), [2, 0])).eval().tolist()
    [[2, 0], [5, 3]]
    """
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
    """``x[idx] = y`` as a new tensor, where ``x`` is an indexing expression.

    >>> import symgraph.tensor as T
    >>> v = T.as_tensor(np.zeros(3))
    >>> set_subtensor(v[1:], 5.0).eval().tolist()
    [0.0, 5.0, 5.0]
    """
    return inc_subtensor(x, y, inplace, set_instead_of_inc=True)


def take(a, indices, axis=None, mode="raise"):
    """``np.take``: elements of ``a`` at ``indices`` along ``axis`` (None: of the
    flattened ``a``).  ``mode`` is ``'raise'`` (out-of-range indices are an error),
    ``'wrap'`` (taken modulo the size) or ``'clip'`` (clipped to the ends).

    >>> import symgraph.tensor as T
    >>> take(T.as_tensor([[1, 2], [3, 4]]), [1, 1, 0], axis=1).eval().tolist()
    [[2, 2, 1], [4, 4, 3]]
    """
    from symgraph.tensor import math
    from symgraph.tensor.basic import shape_i

    a = as_tensor_variable(a)
    if axis is None:
        a, axis = a.flatten(), 0
    else:
        if not -a.ndim <= int(axis) < a.ndim:
            raise IndexError(f"take: axis {axis} is out of range for {a.type}")
        axis = int(axis) % a.ndim
    indices = as_tensor_variable(_index_value(indices))
    if indices.dtype not in INT_DTYPES:
        raise IndexError(f"take: indices must be integers, got {indices.type}")
    if mode == "wrap":
        indices = math.mod(indices, shape_i(a, axis))
    elif mode == "clip":
        indices = math.clip(indices, 0, shape_i(a, axis) - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return getitem(a, (slice(None),) * axis + (indices,))


def _index_value(index):
    """An empty Python list indexes nothing, as NumPy reads it (not as a float array)."""
    if isinstance(index, (list, tuple)) and len(index) == 0:
        return np.zeros(0, dtype="int64")
    return index


class AdvancedIncSubtensor1(Op):
    """``x[index] += y`` (or ``= y``) for an integer vector ``index`` along the first axis.

    The gradient of ``W[index]`` (an embedding lookup, a row gather) is this op on
    zeros; rows named twice accumulate, as ``np.add.at``.  Rewrites produce it from
    ``AdvancedIncSubtensor``; it is the unit a backend implements as one scatter loop.

    >>> import symgraph.tensor as T
    >>> op = AdvancedIncSubtensor1()
    >>> op(T.as_tensor(np.zeros(3)), 1.0, T.as_tensor([0, 0, 2])).eval().tolist()
    [2.0, 0.0, 1.0]
    """

    __props__ = ("set_instead_of_inc", "inplace")

    def __init__(self, set_instead_of_inc=False, inplace=False):
        self.set_instead_of_inc = set_instead_of_inc
        self.inplace = inplace
        self.destroy_map = {0: [0]} if inplace else {}

    def __str__(self):
        kind = "Set" if self.set_instead_of_inc else "Inc"
        return f"Advanced{kind}Subtensor1" + ("{inplace}" if self.inplace else "")

    def make_node(self, x, y, index):
        x, y, index = (as_tensor_variable(v) for v in (x, y, index))
        if index.ndim != 1 or index.dtype not in INT_DTYPES:
            raise TypeError(f"{self}: the index must be an integer vector, got {index.type}")
        if x.ndim == 0 or y.ndim > x.ndim:
            raise TypeError(f"{self}: cannot put {y.type} into rows of {x.type}")
        if y.dtype != x.dtype:
            from symgraph.tensor.basic import cast

            y = cast(y, x.dtype)
        return Apply(self, [x, y, index], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        x, y, index = inputs
        n = x.shape[0]
        if index.size and (index.max() >= n or index.min() < -n):
            bad = index[(index >= n) | (index < -n)][0]
            raise IndexError(f"{self}: index {bad} is out of bounds for axis 0 of size {n}")
        out = x if self.inplace else x.copy()
        if self.set_instead_of_inc:
            out[index] = y
        else:
            np.add.at(out, index, y)
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def grad(self, inputs, output_grads):
        from symgraph.gradient import disconnected_type
        from symgraph.tensor.elemwise import sum_to_like

        x, y, index = inputs
        (gz,) = output_grads
        rows = AdvancedSubtensor(("a",))(gz, index)
        gy = sum_to_like(rows if rows.ndim == y.ndim else rows, y)
        if self.set_instead_of_inc:
            gx = AdvancedIncSubtensor1(set_instead_of_inc=True)(gz, _zeros_of(gy), index)
        else:
            gx = gz
        return [gx, gy, disconnected_type()]

    def connection_pattern(self, node):
        return [[True], [True], [False]]
