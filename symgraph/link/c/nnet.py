"""C code for the softmax family: ``Softmax``, ``LogSoftmax``, ``SoftmaxGrad``, and the
categorical cross-entropy ops with their gradients (``CrossentropySoftmax1Hot``,
``CrossentropySoftmax1HotGrad``, ``CrossentropyCategorical1Hot``,
``CrossentropyCategorical1HotGrad``).

Each node function loops over the "rows" (every dim but the op's axis, in C
order) and makes a few passes along each row (along every dim for
``axis=None``): the row maximum first, subtracted before ``exp`` so that no
logit overflows, as ``perform`` does.  Every row's output is one run in memory
(the output is C-contiguous), so the sums ``perform`` takes with ``np.sum``
are taken over the output after an elementwise pass has written the terms
there, with the Reduce helpers (symgraph/link/c/reduce.py): pairwise, in the
output dtype, as NumPy sums a contiguous row, and vectorized, like the row
maximum and the final division.  Inputs may have any strides.

The elementwise passes along a row (``exp(x - m)``, ``(x - m) - log(total)``,
``sm * g``, ``(dy - total) * sm``) are small per-dtype helpers: a unit-stride
loop that gcc vectorizes (``VECTOR``; ``exp`` becomes libmvec's 16-wide
``_ZGVeN16v_expf`` where the CPU has AVX-512), and a strided fallback at -O1.
The node functions themselves stay at -O1 (``NODE``): their loops over rows
only call helpers, and -O3 on them would only add gcc time.

Class targets are validated in a first pass, in C order, so an out-of-range
target fails the node as ``perform`` does: a ValueError naming the first bad
index and the number of classes.
"""
from symgraph.link.c.reduce import (NODE, SCALAR, SUPPORT, fold_helpers, fold_run, loop_nest,
                                    vector_types)
from symgraph.link.c.registry import c_string, register_c_generator
from symgraph.link.c.scalar_c import c_type
from symgraph.tensor.nnet.basic import LogSoftmax, Softmax, SoftmaxGrad
from symgraph.tensor.nnet.losses import (CrossentropyCategorical1Hot,
                                         CrossentropyCategorical1HotGrad)
from symgraph.tensor.nnet.softmax_crossentropy import (CrossentropySoftmax1Hot,
                                                       CrossentropySoftmax1HotGrad)
from symgraph.tensor.type import upcast

# The unit-stride loops of the row helpers: -O1 plus the vectorizer with -O3's cost
# model, so that gcc vectorizes them (exp through libmvec) into the same vector loop
# as -O3 does, without -O3's unrolled scalar tails (about 8 ms of gcc per helper at
# -O3, 3 ms this way).  noinline keeps them out of their -O1 callers.
VECTOR = '__attribute__((noinline, optimize("O1", "tree-vectorize", ' \
    '"vect-cost-model=dynamic"))) '

_FLOAT = {"float32": ("float", "f32"), "float64": ("double", "f64")}
_SIGNATURE = NODE + "static int {}(sg_ctx *ctx, const sg_array *in, sg_array *out)"


def _function(name, body, helpers=()):
    return "\n".join([SUPPORT, *helpers, _SIGNATURE.format(name), "{"] +
                      ["    " + line for line in body] + ["}", ""])


def _row_helpers(dtype):
    """C helpers for rows of ``dtype``: the Reduce folds (max and pairwise sum) and
    ``sg_nn_{dtype}_divide(o, os, n, total)``, ``o[i] /= total`` (vectorized when
    unit-stride), and ``sg_nn_c_contiguous``, each emitted once per module."""
    t, vec = _FLOAT[dtype][0], f"sg_v8_{dtype}"
    divide = ["int64_t i = 0;", f"if (os == sizeof({t})) {{", f"    {t} *a = ({t} *)o;",
              "    for (; i <= n - 8; i += 8)",
              f"        *({vec} *)(a + i) = *({vec} *)(a + i) / total;",
              "}", "for (; i < n; i++)", f"    *({t} *)(o + i * os) /= total;"]
    name = f"sg_nn_{dtype}_divide"
    divide = [f"#ifndef {name.upper()}", f"#define {name.upper()}",
              f"{SCALAR}static void {name}(char *o, int64_t os, int64_t n, {t} total)", "{"] + \
        ["    " + line for line in divide] + ["}", "#endif", ""]
    return fold_helpers("max", dtype) + fold_helpers("sum", dtype) + vector_types(dtype) + \
        divide + _CONTIGUOUS


def _row_map(kind, in_dtypes, out_dtype, extras, expression):
    """C helper ``sg_nn_{kind}_{dtypes}(o, os, p0, s0, ..., n, extras...)`` writing
    ``o[i] = expression(p0[i], ...)`` for ``i < n``, each operand ``s`` bytes apart, and
    its name; emitted once per module.  When every stride is the element size, the
    loop runs in ``..._unit`` (plain indexed restrict pointers, vectorized: ``VECTOR``);
    otherwise in a strided -O1 loop.  ``extras``: ``(C type, name)`` scalar arguments
    the expression uses; ``expression`` maps operand element C expressions to C."""
    name = f"sg_nn_{kind}_{'_'.join(in_dtypes)}_{out_dtype}"
    ot = _FLOAT[out_dtype][0]
    types = [_FLOAT[d][0] for d in in_dtypes]
    extra_params = "".join(f", {t} {v}" for t, v in extras)
    extra_args = "".join(f", {v}" for _, v in extras)
    unit_params = "".join(f", const {t} *restrict p{k}" for k, t in enumerate(types))
    unit_args = "".join(f", (const {t} *)p{k}" for k, t in enumerate(types))
    params = "".join(f", const char *p{k}, int64_t s{k}" for k in range(len(types)))
    unit = expression(*[f"p{k}[i]" for k in range(len(types))])
    strided = expression(*[f"*(const {t} *)(p{k} + i * s{k})" for k, t in enumerate(types)])
    is_unit = " && ".join([f"os == sizeof({ot})"] +
                          [f"s{k} == sizeof({t})" for k, t in enumerate(types)])
    return name, [
        f"#ifndef {name.upper()}", f"#define {name.upper()}",
        f"{VECTOR}static void {name}_unit({ot} *restrict o{unit_params}, int64_t n"
        f"{extra_params})", "{", "    for (int64_t i = 0; i < n; i++)",
        f"        o[i] = {unit};", "}",
        f"{SCALAR}static void {name}(char *o, int64_t os{params}, int64_t n{extra_params})",
        "{", f"    if ({is_unit}) {{", f"        {name}_unit(({ot} *)o{unit_args}, n{extra_args});",
        "        return;", "    }", "    for (int64_t i = 0; i < n; i++)",
        f"        *({ot} *)(o + i * os) = {strided};", "}", "#endif", ""]


# A C helper (once per module): whether an array of ndim dims is C-contiguous.
_CONTIGUOUS = [
    "#ifndef SG_NN_C_CONTIGUOUS", "#define SG_NN_C_CONTIGUOUS",
    f"{SCALAR}static int sg_nn_c_contiguous(int ndim, const int64_t *n, const int64_t *s, "
    "int64_t itemsize)", "{", "    int64_t expected = itemsize;",
    "    for (int d = ndim - 1; d >= 0; d--) {", "        if (n[d] != 1 && s[d] != expected)",
    "            return 0;", "        expected *= n[d];", "    }", "    return 1;", "}", "#endif",
    ""]


class _Rows:
    """The rows of an op along ``axis`` (None: one row of every element) of an array of
    ``ndim`` dims with shape ``n``.  The generated C names the row's input ``xk`` (strides
    ``xs``) and its output ``ok`` (strides ``os``); the output is C-contiguous, so each
    output row is one run in memory: along ``axis``, or the whole array."""

    def __init__(self, axis, ndim, dtype):
        self.along = list(range(ndim)) if axis is None else [axis]
        self.dims = [d for d in range(ndim) if d not in self.along]
        self.dtype, self.t = dtype, _FLOAT[dtype][0]
        self.single = len(self.along) == 1
        a = self.along[0]
        self.stride = f"os[{a}]" if self.single else f"sizeof({self.t})"
        self.length = f"n[{a}]" if self.single else "row_size"

    def declarations(self):
        """C lines the row code needs (the row length, for ``axis=None``)."""
        if self.single:
            return []
        return ["int64_t row_size = 1;"] + [f"row_size *= n[{d}];" for d in self.along]

    def input_max(self, pointer="xk", strides="xs"):
        """C lines: ``m``, the NaN-propagating maximum of the input row (as np.max)."""
        if self.single:
            a = self.along[0]
            run = fold_run("max", self.dtype, pointer, f"{strides}[{a}]", f"n[{a}]")
            return [f"{self.t} m = {run};"]
        suffix = _FLOAT[self.dtype][1]
        return [f"{self.t} m = -INFINITY;"] + loop_nest(
            self.along, [("xe", pointer, strides)],
            [f"m = sg_max_{suffix}(m, *(const {self.t} *)xe);"], "a")

    def apply(self, helper, inputs, extras, output="ok"):
        """C lines: the :func:`_row_map` helper ``helper`` over the output row ``output``
        and the input rows ``inputs`` (``(row pointer, strides, dtype)``), with the
        scalar arguments ``extras``.  Along one axis: one call.  Along several (the
        output is one run): one call when every input is C-contiguous too, else one
        per run of the innermost dim."""
        args = "".join(f", {v}" for v in extras)

        def call(out, operands, stride, length):
            pointers = "".join(f", {p}, {stride(s, dtype)}" for p, s, dtype in operands)
            return f"{helper}({out}, {stride('os', self.dtype)}{pointers}, {length}{args});"

        last = self.along[-1]
        along_last = lambda strides, dtype: f"{strides}[{last}]"  # noqa: E731
        if self.single:
            return [call(output, inputs, along_last, f"n[{last}]")]
        # several axes only for axis=None: the row is the whole array, of shape n
        flat = " && ".join(f"sg_nn_c_contiguous({len(self.along)}, n, {s}, "
                           f"sizeof({_FLOAT[dtype][0]}))" for _, s, dtype in inputs)
        itemsize = lambda strides, dtype: f"sizeof({_FLOAT[dtype][0]})"  # noqa: E731
        walkers = [(f"{p}e", p, s) for p, s, _ in inputs] + [("oe", output, "os")]
        inner = [(f"{p}e", s, dtype) for p, s, dtype in inputs]
        return [f"if ({flat})", "    " + call(output, inputs, itemsize, "row_size"), "else"] + \
            ["    " + line for line in loop_nest(self.along[:-1], walkers, [
                call("oe", inner, along_last, f"n[{last}]")], "a")]

    def output_sum(self, pointer="ok"):
        """C expression: the pairwise sum of the output row, as ``np.sum`` of a row."""
        return fold_run("sum", self.dtype, pointer, self.stride, self.length)

    def divide(self, total, pointer="ok"):
        return [f"sg_nn_{self.dtype}_divide({pointer}, {self.stride}, {self.length}, {total});"]


# -- softmax and log-softmax ----------------------------------------------------------

def _softmax_like(node, name, log):
    """Softmax: ``e = exp(x - max)``, then ``e / sum(e)``; LogSoftmax (``log``):
    ``(x - max) - log(sum(exp(x - max)))``, both as ``perform`` computes them."""
    x = node.inputs[0]
    if x.dtype not in _FLOAT or node.outputs[0].dtype != x.dtype or x.ndim == 0:
        return None
    t = _FLOAT[x.dtype][0]
    rows = _Rows(node.op.axis, x.ndim, x.dtype)
    body = ["const sg_array *x = &in[0];", "const int64_t *n = x->shape, *xs = x->strides;",
            f"if (ctx->alloc(ctx, 0, {x.ndim}, n, &out[0]))", "    return -1;",
            "const int64_t *os = out[0].strides;"] + rows.declarations()
    exp_shift, helpers = _exp_shift(x.dtype)
    per_row = rows.input_max()
    per_row += rows.apply(exp_shift, [("xk", "xs", x.dtype)], ["m"])
    per_row += [f"{t} total = {rows.output_sum()};"]
    if log:
        shift_log, more = _row_map("shift_log", [x.dtype], x.dtype,
                                   [(t, "m"), (t, "log_total")],
                                   lambda a: f"({a} - m) - log_total")
        helpers += more
        per_row += [f"{t} log_total = log(total);"]
        per_row += rows.apply(shift_log, [("xk", "xs", x.dtype)], ["m", "log_total"])
    else:
        per_row += rows.divide("total")
    body += loop_nest(rows.dims, [("xk", "x->data", "xs"), ("ok", "out[0].data", "os")],
                      per_row, "k") + ["return 0;"]
    return _function(name, body, _row_helpers(x.dtype) + helpers)


def _exp_shift(dtype):
    """The :func:`_row_map` helper ``o = exp(x - m)``: its name and C lines."""
    return _row_map("exp_shift", [dtype], dtype, [(_FLOAT[dtype][0], "m")],
                    lambda a: f"exp({a} - m)")


@register_c_generator(Softmax)
def softmax_c_function(node, name):
    """The C source of the node function ``name`` for a Softmax node, or None.

    >>> import symgraph.tensor as T
    >>> x = T.matrix('x', dtype='float32')
    >>> "static int sg_fn_0(sg_ctx *ctx" in softmax_c_function(T.nnet.softmax(x).owner, "sg_fn_0")
    True
    """
    return _softmax_like(node, name, log=False)


@register_c_generator(LogSoftmax)
def log_softmax_c_function(node, name):
    """The C source of the node function ``name`` for a LogSoftmax node, or None.

    >>> import symgraph.tensor as T
    >>> x = T.matrix('x', dtype='float64')
    >>> src = log_softmax_c_function(T.nnet.log_softmax(x).owner, "sg_fn_0")
    >>> "static int sg_fn_0(sg_ctx *ctx" in src
    True
    """
    return _softmax_like(node, name, log=True)


@register_c_generator(SoftmaxGrad)
def softmax_grad_c_function(node, name):
    """The C source of the node function ``name`` for a SoftmaxGrad node, or None:
    ``(dy - sum(dy * sm, axis)) * sm``, computed in the output dtype.

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.nnet import SoftmaxGrad
    >>> dy, sm = T.dmatrix('dy'), T.dmatrix('sm')
    >>> "static int sg_fn_0(sg_ctx" in softmax_grad_c_function(SoftmaxGrad(1)(dy, sm).owner,
    ...                                                        "sg_fn_0")
    True
    """
    dy, sm = node.inputs
    out = node.outputs[0]
    if any(v.dtype not in _FLOAT for v in (dy, sm, out)) or sm.ndim == 0:
        return None
    t = _FLOAT[out.dtype][0]
    rows = _Rows(node.op.axis, sm.ndim, out.dtype)
    label, ndim = c_string(str(node.op)), sm.ndim
    body = ["const sg_array *dy = &in[0], *sm = &in[1];",
            "const int64_t *n = sm->shape, *ds = dy->strides, *ss = sm->strides;",
            f"for (int d = 0; d < {ndim}; d++)", "    if (dy->shape[d] != n[d]) {",
            "        char text[256], other[256];",
            '        return ctx->fail(ctx, SG_ERR_VALUE, "%s: dy of shape %s does not match '
            f'the softmax output of shape %s", {label}, sg_shape_text(text, sizeof text, '
            f"{ndim}, dy->shape), sg_shape_text(other, sizeof other, {ndim}, n));", "    }",
            f"if (ctx->alloc(ctx, 0, {ndim}, n, &out[0]))", "    return -1;",
            "const int64_t *os = out[0].strides;"] + rows.declarations()
    # one helper for both passes: dy * sm is (dy - 0) * sm, bit for bit
    grad, helpers = _row_map("softmax_grad", [dy.dtype, sm.dtype], out.dtype,
                             [(t, "total")], lambda d, s: f"(({t}){d} - total) * ({t}){s}")
    operands = [("dk", "ds", dy.dtype), ("sk", "ss", sm.dtype)]
    per_row = [f"{t} zero = 0;"] + rows.apply(grad, operands, ["zero"])
    per_row += [f"{t} total = {rows.output_sum()};"]
    per_row += rows.apply(grad, operands, ["total"])
    body += loop_nest(rows.dims, [("dk", "dy->data", "ds"), ("sk", "sm->data", "ss"),
                                  ("ok", "out[0].data", "os")], per_row, "k")
    return _function(name, body + ["return 0;"], _row_helpers(out.dtype) + helpers)


# -- cross-entropy against integer targets --------------------------------------------

def _target_checks(who, y_dtype, ndim, broadcast, what):
    """C lines checking the targets ``y`` (``in`` operand named y) against the rows of an
    array of ``ndim`` dims with shape ``n``: shape first (equal, or 1 where ``broadcast``),
    then every value in range, in C order.  Declares ``ys``, the targets' strides."""
    rows, label = ndim - 1, c_string(who)
    yt = c_type(y_dtype)
    match = "y->shape[d] != n[d] && y->shape[d] != 1" if broadcast else "y->shape[d] != n[d]"
    lines = [f"int64_t ys[{max(rows, 1)}];", f"for (int d = 0; d < {rows}; d++) {{",
             f"    if ({match}) {{", "        char text[256], other[256];",
             f'        return ctx->fail(ctx, SG_ERR_VALUE, "%s: targets of shape %s do not '
             f'match {what} of shape %s", {label}, sg_shape_text(text, sizeof text, {rows}, '
             f"y->shape), sg_shape_text(other, sizeof other, {ndim}, n));", "    }",
             "    ys[d] = y->shape[d] == 1 ? 0 : y->strides[d];", "}",
             f"const int64_t classes = n[{rows}];"]
    if y_dtype.startswith("u"):
        bad, form, value = "(uint64_t)t >= (uint64_t)classes", "%llu", "(unsigned long long)t"
    else:
        bad, form, value = "t < 0 || (int64_t)t >= classes", "%lld", "(long long)t"
    check = [f"{yt} t = *(const {yt} *)yk;", f"if ({bad})",
             f'    return ctx->fail(ctx, SG_ERR_VALUE, "%s: class index {form} is out of range '
             f'for %lld classes", {label}, {value}, (long long)classes);']
    return lines + loop_nest(list(range(rows)), [("yk", "y->data", "ys")], check, "k")


def _target(y_dtype):
    return f"(int64_t)*(const {c_type(y_dtype)} *)yk"


def _broadcast_rows(who, name, rows, ndim):
    """C lines: ``{name}s``, strides of operand ``name`` (one value per row) broadcast to
    the rows of shape ``n``, or a ValueError naming both shapes."""
    return [f"int64_t {name}s[{max(rows, 1)}];", f"for (int d = 0; d < {rows}; d++) {{",
            f"    if ({name}->shape[d] != n[d] && {name}->shape[d] != 1) {{",
            "        char text[256], other[256];",
            f'        return ctx->fail(ctx, SG_ERR_VALUE, "%s: {name} of shape %s does not '
            f'match the rows of shape %s", {c_string(who)}, sg_shape_text(text, sizeof text, '
            f"{rows}, {name}->shape), sg_shape_text(other, sizeof other, {ndim}, n));", "    }",
            f"    {name}s[d] = {name}->shape[d] == 1 ? 0 : {name}->strides[d];", "}"]


@register_c_generator(CrossentropySoftmax1Hot)
def crossentropy_softmax_c_function(node, name):
    """The C source of the node function ``name`` for CrossentropySoftmax1Hot, or None:
    ``nll = log(sum(exp(x - max))) - (x[y] - max)`` and the softmax, per row.

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.nnet.softmax_crossentropy import CrossentropySoftmax1Hot
    >>> node = CrossentropySoftmax1Hot()(T.fmatrix('x'), T.ivector('y'))[0].owner
    >>> "static int sg_fn_0(sg_ctx" in crossentropy_softmax_c_function(node, "sg_fn_0")
    True
    """
    x, y = node.inputs
    if x.dtype not in _FLOAT or c_type(y.dtype) is None or y.dtype == "bool":
        return None
    t = _FLOAT[x.dtype][0]
    ndim, last = x.ndim, x.ndim - 1
    rows = _Rows(last, ndim, x.dtype)
    body = ["const sg_array *x = &in[0], *y = &in[1];",
            "const int64_t *n = x->shape, *xs = x->strides;"]
    body += _target_checks("CrossentropySoftmax1Hot", y.dtype, ndim, True, "logits")
    body += [f"if (ctx->alloc(ctx, 0, {last}, n, &out[0]) || "
             f"ctx->alloc(ctx, 1, {ndim}, n, &out[1]))", "    return -1;",
             "const int64_t *ls = out[0].strides, *os = out[1].strides;"]
    exp_shift, helpers = _exp_shift(x.dtype)
    per_row = rows.input_max()
    per_row += rows.apply(exp_shift, [("xk", "xs", x.dtype)], ["m"])
    per_row += [f"{t} total = {rows.output_sum()};",
                f"{t} picked = *(const {t} *)(xk + {_target(y.dtype)} * xs[{last}]) - m;",
                f"*({t} *)lk = log(total) - picked;"] + rows.divide("total")
    body += loop_nest(list(range(last)), [("xk", "x->data", "xs"), ("yk", "y->data", "ys"),
                                          ("lk", "out[0].data", "ls"),
                                          ("ok", "out[1].data", "os")], per_row, "k")
    return _function(name, body + ["return 0;"], _row_helpers(x.dtype) + helpers)


@register_c_generator(CrossentropySoftmax1HotGrad)
def crossentropy_softmax_grad_c_function(node, name):
    """The C source of the node function ``name`` for CrossentropySoftmax1HotGrad, or None:
    ``sm * g`` per row, minus ``g`` at the target.

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.nnet.softmax_crossentropy import CrossentropySoftmax1HotGrad
    >>> node = CrossentropySoftmax1HotGrad()(T.dvector('g'), T.dmatrix('sm'),
    ...                                      T.lvector('y')).owner
    >>> "static int sg_fn_0(sg_ctx" in crossentropy_softmax_grad_c_function(node, "sg_fn_0")
    True
    """
    g, sm, y = node.inputs
    if sm.dtype not in _FLOAT or g.dtype != sm.dtype or c_type(y.dtype) is None or \
            y.dtype == "bool":
        return None
    t = _FLOAT[sm.dtype][0]
    ndim, last = sm.ndim, sm.ndim - 1
    body = ["const sg_array *g = &in[0], *sm = &in[1], *y = &in[2];",
            "const int64_t *n = sm->shape, *ss = sm->strides;"]
    body += _target_checks("CrossentropySoftmax1HotGrad", y.dtype, ndim, True, "the softmax")
    body += _broadcast_rows(str(node.op), "g", last, ndim)
    body += [f"if (ctx->alloc(ctx, 0, {ndim}, n, &out[0]))", "    return -1;",
             "const int64_t *os = out[0].strides;"]
    scale, helpers = _row_map("scale", [sm.dtype], sm.dtype, [(t, "g")],
                              lambda a: f"{a} * g")
    per_row = [f"{t} gr = *(const {t} *)gk;",
               f"{scale}(ok, os[{last}], sk, ss[{last}], n[{last}], gr);"]
    per_row += [f"{t} *target = ({t} *)(ok + {_target(y.dtype)} * os[{last}]);",
                "*target = *target - gr;"]
    body += loop_nest(list(range(last)), [("gk", "g->data", "gs"), ("sk", "sm->data", "ss"),
                                          ("yk", "y->data", "ys"),
                                          ("ok", "out[0].data", "os")], per_row, "k")
    return _function(name, body + ["return 0;"], helpers)


@register_c_generator(CrossentropyCategorical1Hot)
def crossentropy_categorical_c_function(node, name):
    """The C source of the node function ``name`` for CrossentropyCategorical1Hot, or None:
    ``-log(p[..., y])``.

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.nnet import crossentropy_categorical_1hot
    >>> node = crossentropy_categorical_1hot(T.dmatrix('p'), T.lvector('y')).owner
    >>> "static int sg_fn_0(sg_ctx" in crossentropy_categorical_c_function(node, "sg_fn_0")
    True
    """
    p, y = node.inputs
    if p.dtype not in _FLOAT or node.outputs[0].dtype != p.dtype or \
            c_type(y.dtype) is None or y.dtype == "bool":
        return None
    t = _FLOAT[p.dtype][0]
    ndim, last = p.ndim, p.ndim - 1
    body = ["const sg_array *p = &in[0], *y = &in[1];",
            "const int64_t *n = p->shape, *ps = p->strides;"]
    body += _target_checks("CrossentropyCategorical1Hot", y.dtype, ndim, False,
                           "probabilities")
    body += [f"if (ctx->alloc(ctx, 0, {last}, n, &out[0]))", "    return -1;",
             "const int64_t *os = out[0].strides;"]
    per_row = [f"*({t} *)ok = -log(*(const {t} *)(pk + {_target(y.dtype)} * ps[{last}]));"]
    body += loop_nest(list(range(last)), [("pk", "p->data", "ps"), ("yk", "y->data", "ys"),
                                          ("ok", "out[0].data", "os")], per_row, "k")
    return _function(name, body + ["return 0;"])


@register_c_generator(CrossentropyCategorical1HotGrad)
def crossentropy_categorical_grad_c_function(node, name):
    """The C source of the node function ``name`` for CrossentropyCategorical1HotGrad, or
    None: zeros, except ``-g / p`` at each target (computed in NumPy's result dtype of
    ``g`` and ``p``, stored in ``p``'s).

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.nnet import CrossentropyCategorical1HotGrad
    >>> node = CrossentropyCategorical1HotGrad()(T.dvector('g'), T.dmatrix('p'),
    ...                                          T.lvector('y')).owner
    >>> "static int sg_fn_0(sg_ctx" in crossentropy_categorical_grad_c_function(node, "sg_fn_0")
    True
    """
    g, p, y = node.inputs
    if p.dtype not in _FLOAT or g.dtype not in _FLOAT or c_type(y.dtype) is None or \
            y.dtype == "bool" or node.outputs[0].dtype != p.dtype:
        return None
    t, gt, ct = _FLOAT[p.dtype][0], _FLOAT[g.dtype][0], _FLOAT[upcast(g.dtype, p.dtype)][0]
    ndim, last = p.ndim, p.ndim - 1
    body = ["const sg_array *g = &in[0], *p = &in[1], *y = &in[2];",
            "const int64_t *n = p->shape, *ps = p->strides;"]
    body += _target_checks("CrossentropyCategorical1HotGrad", y.dtype, ndim, False,
                           "probabilities")
    body += _broadcast_rows(str(node.op), "g", last, ndim)
    body += [f"if (ctx->alloc(ctx, 0, {ndim}, n, &out[0]))", "    return -1;",
             "const int64_t *os = out[0].strides;", "int64_t size = 1;",
             f"for (int d = 0; d < {ndim}; d++)", "    size *= n[d];",
             f"memset(out[0].data, 0, (size_t)size * sizeof({t}));"]
    per_row = [f"{ct} picked = *(const {t} *)(pk + {_target(y.dtype)} * ps[{last}]);",
               f"*({t} *)(ok + {_target(y.dtype)} * os[{last}]) = "
               f"({t})(-({ct})*(const {gt} *)gk / picked);"]
    body += loop_nest(list(range(last)), [("gk", "g->data", "gs"), ("pk", "p->data", "ps"),
                                          ("yk", "y->data", "ys"),
                                          ("ok", "out[0].data", "os")], per_row, "k")
    return _function(name, body + ["return 0;"])
