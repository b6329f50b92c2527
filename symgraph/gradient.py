"""Symbolic differentiation: ``grad``, ``Lop``, ``Rop``, ``jacobian``, ``hessian``, ``verify_grad``.

Reverse mode walks the graph from the seeds back to ``wrt``, asking each
node's op for ``L_op(inputs, outputs, output_grads)`` and summing the
contributions each variable receives.  Forward mode asks each op for
``R_op``; an op without one gets the R-op derived from its L-op (``J v`` as the
gradient of ``<J^T u, v>`` with respect to ``u``), so every differentiable op
has both.
"""
import warnings

import numpy as np

from symgraph.config import config
from symgraph.graph.basic import Apply, Op, Type, Variable, format_trace
from symgraph.graph.replace import clone_replace
from symgraph.graph.traversal import graph_inputs, io_toposort
from symgraph.tensor.type import DISCRETE_DTYPES, TensorType, upgrade_to_float


class DisconnectedType(Type):
    """The type of a gradient that does not exist because there is no path."""

    def filter(self, value, strict=False, allow_downcast=None):
        raise TypeError("a disconnected gradient has no value")

    def __eq__(self, other):
        return type(other) is DisconnectedType

    def __hash__(self):
        return hash(DisconnectedType)

    def __str__(self):
        return "Disconnected"


class NullType(Type):
    """The type of an undefined gradient; ``why`` says why."""

    def __init__(self, why):
        self.why = why

    def filter(self, value, strict=False, allow_downcast=None):
        raise TypeError(f"an undefined gradient has no value: {self.why}")

    def __eq__(self, other):
        return type(other) is NullType

    def __hash__(self):
        return hash(NullType)

    def __str__(self):
        return f"NullType({self.why})"


def disconnected_type():
    return Variable(DisconnectedType())


def grad_undefined(op, i, x, comment=""):
    return Variable(NullType(f"the gradient of {op} w.r.t. input {i} is undefined. {comment}"))


def grad_not_implemented(op, i, x, comment=""):
    return Variable(NullType(f"{op} does not implement the gradient w.r.t. input {i}. {comment}"))


class DisconnectedInputError(ValueError):
    """``grad`` was asked for a gradient w.r.t. a variable the cost does not depend on."""


class NullTypeGradError(TypeError):
    """A gradient that is needed is undefined or not implemented."""


def _is_disconnected(g):
    return g is None or isinstance(g.type, DisconnectedType)


def _is_null(g):
    return g is not None and isinstance(g.type, NullType)


# -- reverse mode ----------------------------------------------------------------
def _backprop(seeds, wrt, consider_constant=()):
    """Map each of ``wrt`` to its accumulated gradient (None where disconnected)."""
    blockers = set(consider_constant or ())
    order = io_toposort([], list(seeds))
    wrt_set = set(wrt)
    depends = set(v for v in wrt_set if v not in blockers)
    relevant = []
    for node in order:
        if any(i in depends for i in node.inputs):
            relevant.append(node)
            depends.update(o for o in node.outputs if o not in blockers)
    grads = {}
    for var, g in seeds.items():
        if var in depends or var in wrt_set:
            _accumulate(grads, var, g)
    for node in reversed(relevant):
        output_grads = [_total(grads, o) for o in node.outputs]
        if all(g is None for g in output_grads):
            continue
        if any(_is_null(g) for g in output_grads):
            _propagate_null(node, output_grads, depends, grads)
            continue
        output_grads = [_zero_or_disconnected(o) if g is None else g
                        for o, g in zip(node.outputs, output_grads)]
        input_grads = node.op.L_op(node.inputs, node.outputs, output_grads)
        if len(input_grads) != len(node.inputs):
            raise ValueError(f"{node.op}.L_op returned {len(input_grads)} gradients for "
                             f"{len(node.inputs)} inputs")
        for x, g in zip(node.inputs, input_grads):
            if x in depends and not _is_disconnected(g):
                _accumulate(grads, x, _check_grad(node, x, g))
    return {v: _total(grads, v) for v in wrt}


def _propagate_null(node, output_grads, depends, grads):
    """An undefined output gradient makes every input connected to it undefined too
    (the op's L_op cannot be given a gradient that has no value)."""
    pattern = node.op.connection_pattern(node)
    for k, x in enumerate(node.inputs):
        if x not in depends:
            continue
        for j, g in enumerate(output_grads):
            if _is_null(g) and pattern[k][j]:
                _accumulate(grads, x, g)
                break


def _zero_or_disconnected(out):
    if isinstance(out.type, TensorType):
        from symgraph.tensor.basic import zeros_like

        return zeros_like(out, dtype=out.dtype if out.dtype not in DISCRETE_DTYPES
                          else config.floatX)
    return disconnected_type()


def _check_grad(node, x, g):
    if _is_null(g):
        return g
    if not isinstance(g, Variable):
        from symgraph.tensor.var import as_tensor_variable

        g = as_tensor_variable(g)
    if isinstance(x.type, TensorType) and isinstance(g.type, TensorType):
        if g.ndim != x.ndim:
            raise ValueError(f"{node.op}.L_op returned a gradient of {g.ndim} dims for an input "
                             f"of {x.ndim} dims ({x.type})")
        if x.dtype not in DISCRETE_DTYPES and g.dtype != x.dtype:
            from symgraph.tensor.basic import cast

            g = cast(g, x.dtype)
    return g


def _accumulate(grads, var, g):
    grads.setdefault(var, []).append(g)


def _total(grads, var):
    terms = grads.get(var)
    if not terms:
        return None
    nulls = [t for t in terms if _is_null(t)]
    if nulls:
        return nulls[0]
    if len(terms) == 1:
        return terms[0]
    from symgraph.tensor.math import add

    if all(isinstance(t.type, TensorType) for t in terms):
        total = add(*terms)
    else:  # sparse terms (symgraph.sparse) first: their ``+`` accepts dense operands
        ordered = sorted(terms, key=lambda t: isinstance(t.type, TensorType))
        total = ordered[0]
        for t in ordered[1:]:
            total = total + t
    grads[var] = [total]
    return total


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", add_names=True,
         known_grads=None, return_disconnected="zero", null_gradients="raise"):
    """Gradient of the scalar ``cost`` with respect to ``wrt`` (a variable or a list).

    >>> import symgraph.tensor as T
    >>> x = T.dscalar('x')
    >>> float(grad(x ** 3, x).eval({x: 2.0}))
    12.0
    """
    from symgraph.tensor.basic import ones_like
    from symgraph.tensor.var import as_tensor_variable

    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    for v in wrt_list:
        if not isinstance(v, Variable):
            raise TypeError(f"grad: wrt must be symbolic variables, got {v!r}")
    seeds = {}
    if known_grads:
        for var, g in known_grads.items():
            seeds[var] = as_tensor_variable(g)
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: cost must be a scalar, got {cost.type} built at "
                            f"{format_trace(cost.tag.get('trace'))}; sum it or use jacobian/Lop")
        dtype = cost.dtype if cost.dtype not in DISCRETE_DTYPES else config.floatX
        seeds[cost] = ones_like(cost, dtype=dtype)
    if not seeds:
        raise ValueError("grad needs a cost or known_grads")
    result = _backprop(seeds, wrt_list, consider_constant)
    out = [_finish(v, result[v], disconnected_inputs, return_disconnected, null_gradients,
                   cost, add_names) for v in wrt_list]
    return out[0] if single else out


def _finish(v, g, disconnected_inputs, return_disconnected, null_gradients, cost, add_names):
    from symgraph.tensor.basic import zeros_like

    if _is_null(g):
        if null_gradients == "raise":
            raise NullTypeGradError(f"grad w.r.t. {v}: {g.type.why}")
        return g
    if g is None:
        message = (f"grad: the cost does not depend on {v} (created at "
                   f"{format_trace(v.tag.get('trace'))})")
        if disconnected_inputs == "raise":
            raise DisconnectedInputError(message + "; pass disconnected_inputs='ignore' to get zeros")
        if disconnected_inputs == "warn":
            warnings.warn(message, stacklevel=3)
        if return_disconnected == "None":
            return None
        if return_disconnected == "Disconnected":
            return disconnected_type()
        g = zeros_like(v, dtype=v.dtype if v.dtype not in DISCRETE_DTYPES else config.floatX)
    if v.dtype in DISCRETE_DTYPES:
        return zeros_like(v, dtype=config.floatX)
    if add_names and g.name is None and cost is not None and cost.name and v.name:
        g.name = f"(d{cost.name}/d{v.name})"
    return g


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):
    """The vector-Jacobian product ``eval_points^T (df/dwrt)``.

    >>> import symgraph.tensor as T
    >>> x, v = T.dvectors('x', 'v')
    >>> Lop(x * 2, x, v).eval({v: [1.0, 1.0]}).tolist()
    [2.0, 2.0]
    """
    from symgraph.tensor.var import as_tensor_variable

    fs = f if isinstance(f, (list, tuple)) else [f]
    evs = eval_points if isinstance(eval_points, (list, tuple)) else [eval_points]
    seeds = {fi: as_tensor_variable(e) for fi, e in zip(fs, evs)}
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    result = _backprop(seeds, wrt_list, consider_constant)
    out = [_finish(v, result[v], disconnected_inputs, "zero", "raise", None, False)
           for v in wrt_list]
    return out[0] if single else out


# -- forward mode ----------------------------------------------------------------
def Rop(f, wrt, eval_points, disconnected_outputs="raise", return_disconnected="zero"):
    """The Jacobian-vector product ``(df/dwrt) eval_points`` (forward mode).

    >>> import symgraph.tensor as T
    >>> x, v = T.dvectors('x', 'v')
    >>> Rop(x ** 2, x, v).eval({x: [1.0, 3.0], v: [1.0, 1.0]}).tolist()
    [2.0, 6.0]
    """
    from symgraph.tensor.basic import cast, zeros_like
    from symgraph.tensor.var import as_tensor_variable

    single_f = not isinstance(f, (list, tuple))
    fs = [f] if single_f else list(f)
    wrt_list = wrt if isinstance(wrt, (list, tuple)) else [wrt]
    evs = eval_points if isinstance(eval_points, (list, tuple)) else [eval_points]
    tangents = {}
    for x, e in zip(wrt_list, evs):
        if isinstance(x.type, TensorType):
            e = as_tensor_variable(e)
            if e.ndim != x.ndim:
                raise ValueError(f"Rop: eval point {e.type} does not match {x.type}")
        else:
            e = _rop_eval_point(x, e)
        tangents[x] = e
    for node in io_toposort(wrt_list, fs):
        ins = [tangents.get(i) for i in node.inputs]
        if all(e is None for e in ins):
            continue
        outs = _node_rop(node, ins)
        for o, t in zip(node.outputs, outs):
            if t is None or getattr(o.type, "dtype", None) in DISCRETE_DTYPES:
                continue
            if isinstance(o.type, TensorType):
                t = as_tensor_variable(t)
                tangents[o] = t if t.dtype == o.dtype else cast(t, o.dtype)
            elif hasattr(o.type, "dtype"):  # e.g. sparse: the tangent has the output's type
                tangents[o] = _rop_tangent_like(t, o, node)
    result = []
    for fi in fs:
        t = tangents.get(fi)
        if t is None:
            if disconnected_outputs == "raise":
                raise DisconnectedInputError(f"Rop: {fi} does not depend on {wrt_list}")
            if return_disconnected == "None":
                t = None
            else:  # a sparse output's zeros are its own method
                t = zeros_like(fi) if isinstance(fi.type, TensorType) else fi.zeros_like()
        result.append(t)
    return result[0] if single_f else result


def _rop_eval_point(x, e):
    """The eval point ``e`` of a non-tensor ``wrt`` ``x`` (sparse...): a variable of
    ``x``'s type, or a value that type accepts."""
    from symgraph.graph.basic import Constant

    if not isinstance(e, Variable):
        e = (x.type.constant_type or Constant)(x.type, e)
    if x.type.convert_variable(e) is None:
        raise TypeError(f"Rop: eval point {e} of type {e.type} for {x} of type {x.type}; "
                        f"they must have the same type")
    return x.type.convert_variable(e)


def _rop_tangent_like(t, o, node):
    """The tangent ``t`` an R_op gave for the non-tensor output ``o``, in ``o``'s dtype."""
    if getattr(t, "dtype", None) != o.type.dtype and hasattr(t, "astype"):
        t = t.astype(o.type.dtype)
    if t.type != o.type:
        raise TypeError(f"R_op of {node.op} gave a tangent of type {t.type} for an output of "
                        f"type {o.type}")
    return t


def _node_rop(node, eval_points):
    try:
        return node.op.R_op(node.inputs, eval_points)
    except NotImplementedError:
        return rop_from_lop(node, eval_points)


def rop_from_lop(node, eval_points):
    """R-op of ``node`` derived from its L-op: ``J v = d/du <J^T u, v>``, u being any value."""
    from symgraph.tensor import math
    from symgraph.tensor.basic import zeros_like

    outputs = [o for o in node.outputs]
    dummies = [o.type.make_variable(name="u") for o in outputs]
    lops = node.op.L_op(node.inputs, outputs, dummies)
    inner = []
    for g, e in zip(lops, eval_points):
        if e is None or _is_disconnected(g) or _is_null(g):
            continue
        inner.append(math.sum(g * e))
    if not inner:
        return [None] * len(outputs)
    total = math.add(*inner) if len(inner) > 1 else inner[0]
    jv = grad(total, dummies, disconnected_inputs="ignore")
    # the result is linear in u, so u may be replaced by any value of its type
    return clone_replace(jv, {u: zeros_like(o) for u, o in zip(dummies, outputs)})


def elemwise_rop(op, inputs, eval_points):
    """R-op of an Elemwise: sum over inputs of (d out / d input) * eval point."""
    from symgraph.tensor import math
    from symgraph.tensor.basic import alloc, shape_i
    from symgraph.tensor.var import as_tensor_variable

    z = op(*inputs)
    terms = []
    for i, e in enumerate(eval_points):
        if e is None or inputs[i].dtype in DISCRETE_DTYPES:
            continue
        g = op.scalar_op.grad(inputs, z, e)[i]
        if g is not None:
            terms.append(as_tensor_variable(g))
    if not terms or z.dtype in DISCRETE_DTYPES:
        return [None]
    total = math.add(*terms) if len(terms) > 1 else terms[0]
    if total.type.shape != z.type.shape:
        total = alloc(total, *[shape_i(z, d) for d in range(z.ndim)])
    return [total]


# -- stopping gradients ---------------------------------------------------------
class GradientStop(Op):
    """Identity in the forward pass; ``kind`` says what the backward pass gives:
    ``'zero'`` (zeros), ``'disconnected'`` (no path), ``'undefined'`` (an error if needed)."""

    __props__ = ("kind",)
    view_map = {0: [0]}

    def __init__(self, kind):
        self.kind = kind

    def make_node(self, x):
        from symgraph.tensor.var import as_tensor_variable

        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type.make_variable()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0]

    def infer_shape(self, fgraph, node, input_shapes):
        return input_shapes

    def grad(self, inputs, output_grads):
        from symgraph.tensor.basic import zeros_like

        if self.kind == "zero":
            return [zeros_like(inputs[0])]
        if self.kind == "undefined":
            return [grad_undefined(self, 0, inputs[0])]
        return [disconnected_type()]

    def connection_pattern(self, node):
        return [[self.kind != "disconnected"]]

    def R_op(self, inputs, eval_points):
        return [None]


def zero_grad(x):
    """``x``, but its gradient is zero."""
    return GradientStop("zero")(x)


def disconnected_grad(x):
    """``x``, but no gradient flows through it (``stop_gradient``)."""
    return GradientStop("disconnected")(x)


def undefined_grad(x):
    return GradientStop("undefined")(x)


consider_constant = disconnected_grad


# -- Jacobian and Hessian -------------------------------------------------------
class JacobianRows(Op):
    """Rows ``d expr_flat[i] / d wrt`` for every i, computed by one vector-Jacobian
    product per row over an inner graph (the inputs are the inner graph's free inputs)."""

    __props__ = ("fgraph_id",)

    def __init__(self, flat_expr, wrt, free_inputs):
        self.flat_expr, self.wrt, self.free_inputs = flat_expr, wrt, list(free_inputs)
        self.seed = flat_expr.type.make_variable("seed")
        self.row = Lop(flat_expr, wrt, self.seed, disconnected_inputs="ignore")
        self.fgraph_id = id(self)
        self._fn = None

    def make_node(self, *inputs):
        out_shape = (self.flat_expr.type.shape[0],) + self.wrt.type.shape
        return Apply(self, list(inputs), [TensorType(self.row.dtype, out_shape).make_variable()])

    def _compiled(self):
        from symgraph.compile.function import function

        if self._fn is None:
            ins = [self.seed] + self.free_inputs
            self._fn = (function(ins, self.row, on_unused_input="ignore"),
                        function(self.free_inputs, [self.flat_expr.shape[0], self.wrt.shape],
                                 on_unused_input="ignore"))
        return self._fn

    def perform(self, node, inputs, output_storage):
        row_fn, size_fn = self._compiled()
        n, wrt_shape = size_fn(*inputs)
        out = np.empty((int(n),) + tuple(int(s) for s in wrt_shape), node.outputs[0].dtype)
        seed = np.zeros(int(n), self.seed.type.dtype)
        for i in range(int(n)):
            seed[i] = 1
            out[i] = row_fn(seed, *inputs)
            seed[i] = 0
        output_storage[0][0] = out


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """The Jacobian of ``expression`` (any ndim) w.r.t. ``wrt``: shape ``expr.shape + wrt.shape``.

    >>> import symgraph.tensor as T
    >>> x = T.dvector('x')
    >>> jacobian(x ** 2, x).eval({x: [1.0, 2.0]}).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    from symgraph.tensor.basic import concatenate, reshape, shape_i
    from symgraph.tensor.var import as_tensor_variable

    expression = as_tensor_variable(expression)
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    if expression.ndim == 0:
        out = grad(expression, wrt_list, consider_constant=consider_constant,
                   disconnected_inputs=disconnected_inputs)
        return out[0] if single else out
    flat = expression.flatten()
    results = []
    for w in wrt_list:
        free = [v for v in graph_inputs([flat, w]) if v.owner is None
                and not hasattr(v, "data") and not hasattr(v, "container")]
        op = JacobianRows(flat, w, free)
        rows = op(*free)
        shape = [shape_i(expression, d) for d in range(expression.ndim)] + \
            [shape_i(w, d) for d in range(w.ndim)]
        results.append(reshape(rows, shape, ndim=len(shape)))
    return results[0] if single else results


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """The Hessian of the scalar ``cost`` w.r.t. ``wrt`` (each a vector).

    >>> import symgraph.tensor as T
    >>> x = T.dvector('x')
    >>> hessian((x ** 3).sum(), x).eval({x: [1.0, 2.0]}).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    single = not isinstance(wrt, (list, tuple))
    wrt_list = [wrt] if single else list(wrt)
    out = []
    for w in wrt_list:
        g = grad(cost, w, consider_constant=consider_constant,
                 disconnected_inputs=disconnected_inputs)
        out.append(jacobian(g, w, consider_constant=consider_constant,
                            disconnected_inputs=disconnected_inputs))
    return out[0] if single else out


# -- numeric checking -------------------------------------------------------------
class GradientError(AssertionError):
    """``verify_grad`` found symbolic and numeric gradients that disagree."""


def numeric_grad(f, inputs, eps):
    """Central finite differences of the scalar ``f(*inputs)`` w.r.t. each input."""
    grads = []
    for k, x in enumerate(inputs):
        g = np.zeros(x.shape, dtype="float64")
        flat = x.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = f(*inputs)
            flat[i] = old - eps
            down = f(*inputs)
            flat[i] = old
            g.reshape(-1)[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, out_type=None, abs_tol=None,
                rel_tol=None, mode=None, cast_to_output_type=False, no_debug_ref=True):
    """Check ``grad`` of ``fun`` at the point ``pt`` (a list of arrays) against finite
    differences, along a random projection of the output (as Theano does).

    >>> import symgraph.tensor as T
    >>> verify_grad(lambda x: T.tanh(x) * 3, [np.array([0.1, -0.4])],
    ...             rng=np.random.default_rng(0))
    """
    from symgraph.compile.function import function
    from symgraph.compile.sharedvalue import shared
    from symgraph.tensor import math
    from symgraph.tensor.var import as_tensor_variable

    rng = rng if rng is not None else np.random.default_rng()
    if isinstance(rng, np.random.RandomState):
        rng = np.random.default_rng(rng.randint(2**31))
    pt = [np.array(p) for p in pt]
    floats = [p.dtype for p in pt if p.dtype.kind == "f"]
    dtype = str(np.result_type(*floats)) if floats else "float64"
    eps = eps or {"float64": 1e-6, "float32": 1e-3, "float16": 1e-1}[dtype]
    tol = {"float64": 1e-4, "float32": 1e-2, "float16": 5e-2}[dtype]
    abs_tol, rel_tol = abs_tol or tol, rel_tol or tol
    inputs = [TensorType(p.dtype, (None,) * p.ndim).make_variable(f"input{i}")
              for i, p in enumerate(pt)]
    output = as_tensor_variable(fun(*inputs))
    for _ in range(n_tests):
        proj_value = rng.random(1) if output.ndim == 0 else None
        out_fn = function(inputs, output, mode=mode, on_unused_input="ignore")
        out_value = np.asarray(out_fn(*pt))
        proj_value = rng.random(out_value.shape).astype(output.dtype) + 0.5
        proj = shared(proj_value, name="random_projection")
        cost = math.sum(output * proj)
        symbolic = function(inputs, grad(cost, inputs, disconnected_inputs="ignore"), mode=mode,
                            on_unused_input="ignore")
        cost_fn = function(inputs, cost, mode=mode, on_unused_input="ignore")
        analytic = symbolic(*[p.copy() for p in pt])
        work = [p.astype("float64") if p.dtype.kind == "f" else p.copy() for p in pt]
        numeric = numeric_grad(lambda *xs: float(cost_fn(*[x.astype(p.dtype) for x, p in
                                                           zip(xs, pt)])), work, eps)
        for i, (a, n, p) in enumerate(zip(analytic, numeric, pt)):
            if p.dtype.kind != "f":
                continue
            abs_err = np.abs(np.asarray(a, "float64") - n)
            rel_err = abs_err / np.maximum(np.abs(a) + np.abs(n), 1e-8)
            bad = np.minimum(abs_err, rel_err)
            if bad.size and (bad > np.maximum(abs_tol, rel_tol)).any():
                worst = np.unravel_index(np.argmax(bad), bad.shape)
                raise GradientError(
                    f"verify_grad: gradient w.r.t. input {i} (shape {p.shape}, {p.dtype}) "
                    f"differs from finite differences at {tuple(int(w) for w in worst)}: "
                    f"symbolic {np.asarray(a)[worst]!r}, numeric {n[worst]!r} "
                    f"(abs err {abs_err[worst]:.3g}, rel err {rel_err[worst]:.3g})")
