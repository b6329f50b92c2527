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

_FLOAT = {"float32": ("float", "f32"), "float64": ("double", "f64")}
_SIGNATURE = NODE + "static int {}(sg_ctx *ctx, const sg_array *in, sg_array *out)"


def _function(name, body, helpers=()):
    return "\n".join([SUPPORT, *helpers, _SIGNATURE.format(name), "{"] +
                      ["    " + line for line in body] + ["}", ""])


def _row_helpers(dtype):
    """C helpers for rows of ``dtype``: the Reduce folds (max and pairwise sum) and
    ``sg_nn_{dtype}_divide(o, os, n, total)``, ``o[i] /= total`` (vectorized when
    unit-stride), each emitted once per module."""
    t, vec = _FLOAT[dtype][0], f"sg_v8_{dtype}"
    divide = ["int64_t i = 0;", f"if (os == sizeof({t})) {{", f"    {t} *a = ({t} *)o;",
              "    for (; i <= n - 8; i += 8)",
              f"        *({vec} *)(a + i) = *({vec} *)(a + i) / total;",
              "}", "for (; i < n; i++)", f"    *({t} *)(o + i * os) /= total;"]
    name = f"sg_nn_{dtype}_divide"
    return fold_helpers("max", dtype) + fold_helpers("sum", dtype) + vector_types(dtype) + \
        [f"#ifndef {name.upper()}", f"#define {name.upper()}",
         f"{SCALAR}static void {name}(char *o, int64_t os, int64_t n, {t} total)", "{"] + \
        ["    " + line for line in divide] + ["}", "#endif", ""]


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

    def each(self, walkers, body):
        """C lines: ``body`` once per element of the row (walkers from the row pointers)."""
        return loop_nest(self.along, walkers, body, "a")

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
    walkers = [("xe", "xk", "xs"), ("oe", "ok", "os")]
    per_row = rows.input_max()
    per_row += rows.each(walkers, [f"*({t} *)oe = exp(*(const {t} *)xe - m);"])
    per_row += [f"{t} total = {rows.output_sum()};"]
    if log:
        per_row += [f"{t} log_total = log(total);"]
        per_row += rows.each(walkers, [f"*({t} *)oe = (*(const {t} *)xe - m) - log_total;"])
    else:
        per_row += rows.divide("total")
    body += loop_nest(rows.dims, [("xk", "x->data", "xs"), ("ok", "out[0].data", "os")],
                      per_row, "k") + ["return 0;"]
    return _function(name, body, _row_helpers(x.dtype))


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
    dt, st, t = _FLOAT[dy.dtype][0], _FLOAT[sm.dtype][0], _FLOAT[out.dtype][0]
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
    dy_at, sm_at = f"(({t})*(const {dt} *)de)", f"(({t})*(const {st} *)se)"
    walkers = [("de", "dk", "ds"), ("se", "sk", "ss"), ("oe", "ok", "os")]
    per_row = rows.each(walkers, [f"*({t} *)oe = {dy_at} * {sm_at};"])
    per_row += [f"{t} total = {rows.output_sum()};"]
    per_row += rows.each(walkers, [f"*({t} *)oe = ({dy_at} - total) * {sm_at};"])
    body += loop_nest(rows.dims, [("dk", "dy->data", "ds"), ("sk", "sm->data", "ss"),
                                  ("ok", "out[0].data", "os")], per_row, "k")
    return _function(name, body + ["return 0;"], _row_helpers(out.dtype))


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
    per_row = rows.input_max()
    per_row += rows.each([("xe", "xk", "xs"), ("oe", "ok", "os")],
                         [f"*({t} *)oe = exp(*(const {t} *)xe - m);"])
    per_row += [f"{t} total = {rows.output_sum()};",
                f"{t} picked = *(const {t} *)(xk + {_target(y.dtype)} * xs[{last}]) - m;",
                f"*({t} *)lk = log(total) - picked;"] + rows.divide("total")
    body += loop_nest(list(range(last)), [("xk", "x->data", "xs"), ("yk", "y->data", "ys"),
                                          ("lk", "out[0].data", "ls"),
                                          ("ok", "out[1].data", "os")], per_row, "k")
    return _function(name, body + ["return 0;"], _row_helpers(x.dtype))


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
    per_row = [f"{t} gr = *(const {t} *)gk;"]
    per_row += loop_nest([last], [("se", "sk", "ss"), ("oe", "ok", "os")],
                         [f"*({t} *)oe = *(const {t} *)se * gr;"], "a")
    per_row += [f"{t} *target = ({t} *)(ok + {_target(y.dtype)} * os[{last}]);",
                "*target = *target - gr;"]
    body += loop_nest(list(range(last)), [("gk", "g->data", "gs"), ("sk", "sm->data", "ss"),
                                          ("yk", "y->data", "ys"),
                                          ("ok", "out[0].data", "os")], per_row, "k")
    return _function(name, body + ["return 0;"])


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
