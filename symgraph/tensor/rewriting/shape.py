"""Shape inference over a graph (``ShapeFeature``) and the shape rewrites.

``ShapeFeature.shape_of(x)`` gives one int64 scalar expression per dimension of
``x``, built from the ops' ``infer_shape`` back to the graph's inputs, so the
shape of an intermediate is known without computing it.  Shapes are computed
on demand and cached; a cached shape that refers to a node later removed from
the graph is forgotten.

Rewrites here: shapes of intermediates lifted to those expressions (when only
shape ops use the intermediate), ``shape(x)[i] -> shape_i(x, i)``, static
``shape_i`` to constants, and removal of useless ``specify_shape`` and
``reshape``.
"""
import numpy as np

from symgraph.graph.basic import Apply
from symgraph.graph.fgraph import Feature
from symgraph.rewriting.core import GraphRewriter, node_rewriter
from symgraph.rewriting.pipeline import optdb, register_canonicalize
from symgraph.tensor.rewriting.utils import constant_value, is_tensor, same_dim, same_expr
from symgraph.tensor.shape import Reshape, Shape, Shape_i, SpecifyShape
from symgraph.tensor.subtensor import Subtensor
from symgraph.tensor.elemwise import Elemwise, SumToShape
from symgraph.tensor.type import INT_DTYPES, TensorType


_INT64_SCALAR = TensorType("int64", ()).make_variable
_BOOL_SCALAR = TensorType("bool", ()).make_variable
_int64_constants = {}


def int64_constant(value):
    """A shared int64 scalar constant (shape entries use few distinct values)."""
    const = _int64_constants.get(value)
    if const is None:
        from symgraph.tensor.var import constant

        const = _int64_constants[value] = constant(np.int64(value))
    return const


class ShapeFeature(Feature):
    """Symbolic shapes of a FunctionGraph's variables, on demand.

    >>> import symgraph.tensor as T
    >>> from symgraph.graph.fgraph import FunctionGraph
    >>> x, y = T.dmatrix('x'), T.dmatrix('y')
    >>> fg = FunctionGraph([x, y], [T.dot(x, y).T])
    >>> feature = ShapeFeature()
    >>> fg.attach_feature(feature)
    >>> [str(s.owner.op) for s in feature.shape_of(fg.outputs[0])]
    ['Shape_i{1}', 'Shape_i{0}']
    """

    def on_attach(self, fgraph):
        self.fgraph = fgraph
        self.cache = {}  # variable -> (shape tuple, leaves it depends on)
        self.users = {}  # leaf variable -> variables whose cached shape uses it
        fgraph.shape_feature = self

    def on_detach(self, fgraph):
        del fgraph.shape_feature

    def on_prune(self, fgraph, node, reason):
        for out in node.outputs:
            self.cache.pop(out, None)
            for var in self.users.pop(out, ()):
                self.cache.pop(var, None)

    def shape_of(self, var):
        """A tuple of int64 scalar variables (constants where the size is static)."""
        if var in self.cache:
            return self.cache[var][0]
        stack = [var]
        while stack:
            v = stack[-1]
            if v in self.cache:
                stack.pop()
                continue
            node = v.owner
            if node is None or not hasattr(node.op, "infer_shape"):
                stack.pop()
                self._store(v, self._leaf_shape(v), {v})
                continue
            missing = [i for i in node.inputs if is_tensor(i) and i not in self.cache]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            self._infer(node)
        return self.cache[var][0]

    def _store(self, var, shape, leaves):
        self.cache[var] = (shape, leaves)
        for leaf in leaves:
            self.users.setdefault(leaf, set()).add(var)

    @staticmethod
    def _leaf_shape(var):
        return tuple(Shape_i(d)(var) if s is None else int64_constant(s)
                     for d, s in enumerate(var.type.shape))

    def _infer(self, node):
        shapes = [self.cache[i][0] if is_tensor(i) else None for i in node.inputs]
        leaves = set()
        for i in node.inputs:
            if is_tensor(i):
                leaves |= self.cache[i][1]
        try:
            out_shapes = self._fast_infer(node, shapes)
            if out_shapes is None:
                out_shapes = node.op.infer_shape(self.fgraph, node, shapes)
            results = [self._normalize(out, shp) for out, shp in zip(node.outputs, out_shapes)]
            if len(results) != len(node.outputs):
                raise ValueError("wrong number of output shapes")
        except Exception:  # no usable infer_shape: the shape of the value itself
            results = [self._leaf_shape(out) if is_tensor(out) else None for out in node.outputs]
            leaves = leaves | set(node.outputs)
        for out, shape in zip(node.outputs, results):
            if shape is not None:
                self._store(out, shape, leaves)

    def _fast_infer(self, node, shapes):
        """Shapes for the commonest ops without building redundant nodes (None: ask the op)."""
        op = node.op
        if isinstance(op, Elemwise):  # every output (a Composite may have several)
            return [self._broadcast(node.outputs[0], node.inputs, shapes)] * len(node.outputs)
        if isinstance(op, SumToShape):
            entries = shape_entries(node.inputs[1], node.outputs[0].ndim)
            if entries is not None and all(isinstance(e, ShapeOf) for e in entries):
                return [tuple(self.shape_of(e.x)[e.d] for e in entries)]
        return None

    def _broadcast(self, out, inputs, shapes):
        """Elementwise broadcasting: per dimension, the one distinct size among the inputs
        that are not statically 1; where several, the first that is not 1 at run time
        (not their maximum: a size 0 beats a size 1)."""
        from symgraph.tensor import math

        entries = []
        for d, static in enumerate(out.type.shape):
            if static is not None:
                entries.append(static)
                continue
            distinct = []
            for inp, shape in zip(inputs, shapes):
                if inp.type.shape[d] != 1 and not any(same_expr(shape[d], c) for c in distinct):
                    distinct.append(shape[d])
            entry = distinct[0]
            for other in distinct[1:]:
                is_one = Apply(math.eq, [entry, int64_constant(1)], [_BOOL_SCALAR()]).outputs[0]
                entry = Apply(math.switch, [is_one, other, entry], [_INT64_SCALAR()]).outputs[0]
            entries.append(entry)
        return entries

    def _normalize(self, out, shape):
        from symgraph.tensor.basic import cast
        from symgraph.tensor.var import as_tensor_variable

        if not is_tensor(out):
            return None
        shape = tuple(shape)
        if len(shape) != out.ndim:
            raise ValueError(f"infer_shape gave {len(shape)} entries for {out.type}")
        entries = []
        for d, s in enumerate(shape):
            static = out.type.shape[d]
            if static is not None:
                entries.append(int64_constant(static))
                continue
            s = as_tensor_variable(s)
            if s.ndim != 0 or s.dtype not in INT_DTYPES:
                raise ValueError(f"infer_shape entry {s} is not an integer scalar")
            s = s if s.dtype == "int64" else cast(s, "int64")
            entries.append(self._resolve(s))
        return tuple(entries)

    def _resolve(self, entry):
        """``shape_i(v, d)`` or ``shape(v)[d]`` in an inferred shape, replaced by v's own
        inferred size, so that equal sizes get equal expressions."""
        source = dim_source(entry)
        return entry if source is None else self.shape_of(source[0])[source[1]]


class AttachShapeFeature(GraphRewriter):
    """Gives the graph a ShapeFeature (shape rewrites use it when present)."""

    name = "shape_feature"

    def apply(self, fgraph):
        if getattr(fgraph, "shape_feature", None) is None:
            fgraph.attach_feature(ShapeFeature())


optdb.register("shape_feature", AttachShapeFeature(), "fast_run", "fast_compile", "shape",
               position=0.1)


def _only_shape_clients(fgraph, var):
    return all(client != "output" and isinstance(client.op, (Shape, Shape_i))
               for client, _ in fgraph.clients.get(var, ()))


def _lifted_dims(fgraph, x):
    """``x``'s inferred shape if computing it does not need ``x`` itself, else None."""
    feature = getattr(fgraph, "shape_feature", None)
    if feature is None or x.owner is None or not _only_shape_clients(fgraph, x):
        return None
    shape = feature.shape_of(x)
    if x in feature.cache[x][1]:  # the shape is read from x: nothing to gain
        return None
    return shape


@register_canonicalize("fast_compile", "shape")
@node_rewriter([Shape_i])
def local_shape_i_lift(fgraph, node):
    """``shape_i(x, d)`` -> the size computed from x's inputs: a constant when static,
    else the inferred expression when only shape ops use ``x`` (so x need not be computed)."""
    x = node.inputs[0]
    d = node.op.i
    if x.type.shape[d] is not None:
        from symgraph.tensor.var import constant

        return [constant(np.int64(x.type.shape[d]))]
    shape = _lifted_dims(fgraph, x)
    if shape is None or same_expr(shape[d], node.outputs[0]):
        return None
    return [shape[d]]


@register_canonicalize("fast_compile", "shape")
@node_rewriter([Shape])
def local_shape_lift(fgraph, node):
    """``shape(x)`` -> a vector of the sizes computed from x's inputs (when only shape
    ops use ``x``), or a constant when x's static shape is complete."""
    from symgraph.tensor.basic import MakeVector
    from symgraph.tensor.var import constant

    x = node.inputs[0]
    if None not in x.type.shape:
        return [constant(np.asarray(x.type.shape, dtype="int64").reshape(x.ndim))]
    shape = _lifted_dims(fgraph, x)
    if shape is None or not shape:
        return None
    return [MakeVector("int64")(*shape)]


@register_canonicalize("fast_compile", "shape")
@node_rewriter([Subtensor])
def local_shape_subtensor(fgraph, node):
    """``shape(x)[i]`` (i constant) -> ``shape_i(x, i)``; ``make_vector(a, b)[1]`` -> ``b``."""
    from symgraph.tensor.basic import MakeVector

    if type(node.op) is not Subtensor or node.op.idx_list != ("i",):
        return None
    vec, index = node.inputs
    i = constant_value(index)
    if vec.owner is None or i is None:
        return None
    i = int(i)
    if isinstance(vec.owner.op, Shape):
        x = vec.owner.inputs[0]
        return [Shape_i(i % x.ndim)(x)] if -x.ndim <= i < x.ndim else None
    if isinstance(vec.owner.op, MakeVector):
        entries = vec.owner.inputs
        if -len(entries) <= i < len(entries) and entries[i].type == node.outputs[0].type:
            return [entries[i]]
    return None


@register_canonicalize("fast_compile", "shape")
@node_rewriter([SpecifyShape])
def local_useless_specify_shape(fgraph, node):
    """``specify_shape(x, shape)`` -> ``x`` when x's type already guarantees ``shape``."""
    x = node.inputs[0]
    if all(want is None or want == have for want, have in zip(node.op.shape, x.type.shape)):
        return [x]
    return None


@register_canonicalize("fast_compile", "shape")
@node_rewriter([Reshape])
def local_useless_reshape(fgraph, node):
    """``reshape(x, shape)`` -> ``x`` when ``shape`` is x's own shape, entry by entry."""
    x, shp = node.inputs
    if node.op.ndim != x.ndim:
        return None
    entries = shape_entries(shp, x.ndim)
    if entries is None:
        return None
    for d, entry in enumerate(entries):
        if isinstance(entry, (int, np.integer)):
            if entry != x.type.shape[d]:
                return None
        elif not is_dim_of(fgraph, entry, x, d):
            return None
    return [x]


def shape_entries(shp, n):
    """The ``n`` entries of shape vector ``shp``: ints (constant ``shp``), scalar variables
    (a ``make_vector``), ``ShapeOf`` (``shape(x)``), or None when they cannot be read.

    >>> import symgraph.tensor as T
    >>> shape_entries(T.constant([2, 3]), 2)
    [2, 3]
    >>> [e.d for e in shape_entries(T.dmatrix().shape, 2)]
    [0, 1]
    """
    from symgraph.tensor.basic import MakeVector

    value = constant_value(shp)
    if value is not None:
        return [int(v) for v in value]
    if shp.owner is not None and isinstance(shp.owner.op, MakeVector):
        return list(shp.owner.inputs)
    if shp.owner is not None and isinstance(shp.owner.op, Shape):
        x = shp.owner.inputs[0]
        return [ShapeOf(x, d) for d in range(n)]
    return None


class ShapeOf:
    """Stands for ``x.shape[d]`` without building a node."""

    def __init__(self, x, d):
        self.x, self.d = x, d


def dim_source(entry):
    """``(v, d)`` if scalar ``entry`` is ``shape_i(v, d)`` or ``shape(v)[d]``, else None.

    >>> import symgraph.tensor as T
    >>> x = T.dmatrix('x')
    >>> dim_source(x.shape[1]) == (x, 1)
    True
    """
    node = entry.owner
    if node is None:
        return None
    if isinstance(node.op, Shape_i):
        return node.inputs[0], node.op.i
    if type(node.op) is Subtensor and node.op.idx_list == ("i",):
        vec, index = node.inputs
        i = constant_value(index)
        if i is not None and vec.owner is not None and isinstance(vec.owner.op, Shape):
            v = vec.owner.inputs[0]
            if -v.ndim <= int(i) < v.ndim:
                return v, int(i) % v.ndim
    return None


def is_dim_of(fgraph, entry, x, d):
    """True if the scalar ``entry`` (a variable or ``ShapeOf``) is certainly dimension
    ``d`` of ``x``.

    >>> import symgraph.tensor as T
    >>> from symgraph.graph.fgraph import FunctionGraph
    >>> x = T.dmatrix('x')
    >>> fg = FunctionGraph([x], [x], clone=False)
    >>> is_dim_of(fg, x.shape[1], x, 1), is_dim_of(fg, x.shape[1], x, 0)
    (True, False)
    """
    from symgraph.tensor.shape import shape_i

    if isinstance(entry, ShapeOf):
        return same_dim(fgraph, entry.x, entry.d, x, d)
    value = constant_value(entry)
    if value is not None:
        return x.type.shape[d] is not None and int(value) == x.type.shape[d]
    source = dim_source(entry)
    if source is not None:
        return same_dim(fgraph, source[0], source[1], x, d)
    feature = getattr(fgraph, "shape_feature", None)
    if feature is not None:
        return same_expr(entry, feature.shape_of(x)[d])
    return same_expr(entry, shape_i(x, d))


@register_canonicalize("fast_compile", "shape")
@node_rewriter([Reshape])
def local_reshape_reshape(fgraph, node):
    """``reshape(reshape(x, s1), s2)`` -> ``reshape(x, s2)``."""
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, Reshape):
        return None
    return [node.op(inner.inputs[0], node.inputs[1])]
