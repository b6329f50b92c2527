"""C code for reductions (``Reduce``: sum, prod, max, min, all, any), ``Argmax``
(argmax and argmin) and ``CumOp`` (cumsum, cumprod).

``Reduce`` walks its input in memory order whatever the axes: the dims are
sorted by the input's strides (largest outermost) and handed to
``ctx->iterate`` with the output as a second operand whose stride is 0 along
the reduced dims.  When the innermost walked dim is reduced, the inner loop
folds a run of the input into one output element (float sums pairwise in
the output dtype, as NumPy's); when it is kept (axis 0 of a C-contiguous
matrix, say), it folds a run of the input into a row of outputs, so memory
is still read in order.  Values accumulate in the output dtype, as NumPy's
``dtype=`` does; max and min propagate NaN, and those of nothing raise.

``Argmax`` scans each output's reduced elements, the innermost reduced dim as
one run, or, when a kept dim is innermost in memory, sweeps the input once
keeping the best value per output.  Ties and NaNs resolve as in NumPy: the
first maximum, or the first NaN.  ``CumOp`` folds sequentially along its axis,
as NumPy's accumulate, so its float results are NumPy's bit for bit.

Compile time: the loops live in small helpers, one set per (operation,
dtypes) that every node of a module shares (``#ifndef`` guards), compiled at
-O1; the loops that carry the work (unit-stride float sum, max and min runs
and rows, float argmax runs) are written with GCC vector types.  Letting
-O3's vectorizer loose on every loop tripled a module's gcc time.
``loop_nest``, ``SUPPORT``, ``fold_helpers`` and ``fold_run`` serve the softmax
family's C too (``symgraph/link/c/nnet.py``).
"""
from symgraph.link.c.registry import c_string, register_c_generator
from symgraph.link.c.scalar_c import c_type, convert
from symgraph.tensor.extra_ops import CumOp
from symgraph.tensor.math import Argmax, Reduce

# Emitted before every node function that needs it; the guard keeps one copy per module.
SUPPORT = r"""
#ifndef SG_REDUCE_SUPPORT
#define SG_REDUCE_SUPPORT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int64_t sg_abs64(int64_t v) { return v < 0 ? -v : v; }

/* The dims of a reduction in walking order: the input's largest stride outermost
 * (ties keep C order), so the inner loop follows memory; strides laid out as
 * ctx->iterate wants them, [operand * ndim + dim], input then output. */
__attribute__((noinline, optimize("no-tree-vectorize")))
static void sg_walk_order(int ndim, const int64_t *shape, const int64_t *xs,
                          const int64_t *os, int64_t *wshape, int64_t *wstrides)
{
    int perm[SG_MAXDIMS];
    for (int d = 0; d < ndim; d++) {
        int j = d;
        while (j > 0 && sg_abs64(xs[perm[j - 1]]) < sg_abs64(xs[d])) {
            perm[j] = perm[j - 1];
            j--;
        }
        perm[j] = d;
    }
    for (int d = 0; d < ndim; d++) {
        wshape[d] = shape[perm[d]];
        wstrides[d] = xs[perm[d]];
        wstrides[ndim + d] = os[perm[d]];
    }
}
#endif
"""

_FLOAT_SUFFIX = {"float32": "f32", "float64": "f64"}
_INT_LIMITS = {"int8": ("INT8_MIN", "INT8_MAX"), "int16": ("INT16_MIN", "INT16_MAX"),
               "int32": ("INT32_MIN", "INT32_MAX"), "int64": ("INT64_MIN", "INT64_MAX"),
               "uint8": ("0", "UINT8_MAX"), "uint16": ("0", "UINT16_MAX"),
               "uint32": ("0", "UINT32_MAX"), "uint64": ("0", "UINT64_MAX"),
               "bool": ("0", "1"), "float32": ("-INFINITY", "INFINITY"),
               "float64": ("-INFINITY", "INFINITY")}


def loop_nest(dims, walkers, body, tag, shape="n"):
    """C lines: nested loops over ``dims`` (outermost first), in a block of their own.

    Each walker ``(pointer, base, strides)`` declares ``char *pointer`` for the
    body, ``base`` advanced by ``index * strides[d]`` along each dim ``d``; the
    index of dim ``d`` is ``{tag}{d}`` and its length ``{shape}[d]``.  With no
    dims the body runs once, on the bases.

    >>> print("\\n".join(loop_nest([1], [("p", "x->data", "xs")], ["f(p);"], "k")))
    {
        for (int64_t k1 = 0; k1 < n[1]; k1++) {
            char *p = x->data + k1 * xs[1];
            f(p);
        }
    }
    """
    lines, current = ["{"], {pointer: base for pointer, base, _ in walkers}
    for level, d in enumerate(dims):
        pad, index = "    " * (level + 1), f"{tag}{d}"
        lines.append(f"{pad}for (int64_t {index} = 0; {index} < {shape}[{d}]; {index}++) {{")
        for pointer, _, strides in walkers:
            name = pointer if level == len(dims) - 1 else f"{pointer}_{tag}{d}"
            lines.append(f"{pad}    char *{name} = {current[pointer]} + {index} * {strides}[{d}];")
            current[pointer] = name
    pad = "    " * (len(dims) + 1)
    if not dims:
        lines += [f"{pad}char *{pointer} = {base};" for pointer, base, _ in walkers]
    lines += [pad + line for line in body]
    lines += ["    " * level + "}" for level in range(len(dims), -1, -1)]
    return lines


def shape_error(kind, label, message, ndim, shape):
    """C lines that fail the node with ``message`` followed by an array's shape.

    >>> print(shape_error("SG_ERR_VALUE", '"op"', "empty input of shape", 1, "x->shape")[1])
    ... # doctest: +NORMALIZE_WHITESPACE
    return ctx->fail(ctx, SG_ERR_VALUE, "%s: empty input of shape %s", "op",
                     sg_shape_text(text, sizeof text, 1, x->shape));
    """
    return ["char text[256];",
            f'return ctx->fail(ctx, {kind}, "%s: {message} %s", {label}, '
            f"sg_shape_text(text, sizeof text, {ndim}, {shape}));"]


# -- Reduce -------------------------------------------------------------------------

class _Fold:
    """How one reduction kind folds values of ``in_dtype`` into ``out_dtype`` in C."""

    def __init__(self, kind, in_dtype, out_dtype):
        self.kind, self.in_dtype, self.out_dtype = kind, in_dtype, out_dtype
        self.it, self.ot = c_type(in_dtype), c_type(out_dtype)
        self.is_float = out_dtype in _FLOAT_SUFFIX

    def identity(self):
        if self.kind in ("max", "min"):
            return _INT_LIMITS[self.out_dtype][0 if self.kind == "max" else 1]
        return {"sum": "0", "prod": "1", "all": "1", "any": "0"}[self.kind]

    def value(self, element):
        """An input element as the output dtype (all/any: as a truth value)."""
        target = "bool" if self.kind in ("all", "any") else self.out_dtype
        return convert(element, self.in_dtype, target)

    def combine(self, a, b):
        if self.kind == "sum":
            return f"({self.ot})({a} + {b})"
        if self.kind == "prod":
            return f"({self.ot})({a} * {b})"
        if self.kind in ("all", "any"):
            return f"({a} {'&' if self.kind == 'all' else '|'} {b})"
        if self.is_float:  # NaN-propagating, as np.maximum / np.minimum
            return f"sg_{self.kind}_{_FLOAT_SUFFIX[self.out_dtype]}({a}, {b})"
        return f"({a} {'>' if self.kind == 'max' else '<'} {b} ? {a} : {b})"

    def prefix(self):
        """The name prefix of this fold's C helpers (shared by nodes of equal signature)."""
        return f"sg_{self.kind}_{self.in_dtype}_{self.out_dtype}"

    def vectorized(self):
        """Float sum, max and min of their own dtype get hand-vectorized unit-stride loops."""
        return self.kind in ("sum", "max", "min") and self.is_float and \
            self.in_dtype == self.out_dtype

    def run_body(self):
        """C statements returning the fold of the ``n`` elements at ``p``, ``s`` bytes apart."""
        ot, ident = self.ot, self.identity()
        at = lambda i: self.value(f"*(const {self.it} *)(p + ({i}) * s)")  # noqa: E731
        if self.kind == "sum" and self.is_float:
            return self._pairwise_body(at)
        if self.kind in ("all", "any"):
            stop = "!" if self.kind == "all" else ""
            return ["for (int64_t i = 0; i < n; i++)", f"    if ({stop}{at('i')})",
                    f"        return {0 if self.kind == 'all' else 1};", f"return {ident};"]
        if self.kind in ("max", "min") and self.is_float:  # any NaN makes the result NaN
            sign = ">" if self.kind == "max" else "<"
            return [f"{ot} r = {ident};", "int nan = 0;",
                    "for (int64_t i = 0; i < n; i++) {", f"    {ot} v = {at('i')};",
                    f"    r = v {sign} r ? v : r;", "    nan |= v != v;", "}",
                    f"return nan ? ({ot})NAN : r;"]
        return [f"{ot} r = {ident};", "for (int64_t i = 0; i < n; i++)",
                f"    r = {self.combine('r', at('i'))};", "return r;"]

    def _pairwise_body(self, at):
        """Pairwise summation, as NumPy's: runs of up to 128 summed by 8 running partial
        sums, longer runs split in halves (rounding error grows like log n, not n)."""
        ot, run = self.ot, f"{self.prefix()}_run"
        first = ", ".join(f"r{k} = {at(k)}" for k in range(8))
        return ["if (n > 128) {", "    int64_t h = n / 2;", "    h -= h % 8;",
                f"    return {run}(p, s, h) + {run}(p + h * s, s, n - h);", "}",
                f"{ot} total = 0;", "int64_t i = 0;", "if (n >= 8) {", f"    {ot} {first};",
                "    for (i = 8; i <= n - 8; i += 8) {"] + \
            [f"        r{k} += {at(f'i + {k}')};" for k in range(8)] + \
            ["    }", "    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));", "}",
             "for (; i < n; i++)", f"    total += {at('i')};", "return total;"]


def _function(signature, body):
    return [signature, "{"] + ["    " + line for line in body] + ["}", ""]


# Helpers are compiled at -O1: loops stay scalar unless written with vector types.
# gcc's -O3 vectorizer, which tries several vector widths (and gathers, for strided
# loops) on every loop, and its unrolling and scheduling, tripled the compile time of
# a module for little gain on loops of run-time strides.  noinline also keeps the
# recursive pairwise sums from being inlined into themselves.
SCALAR = '__attribute__((noinline, optimize("O1"))) '
# Node functions: loops over dims that call the helpers; -O1 compiles them fast too.
NODE = '__attribute__((optimize("O1"))) '


def vector_types(dtype):
    """C lines typedef'ing ``sg_v8_{dtype}``, 8 lanes of a float dtype (unaligned loads
    allowed), and ``sg_m8_{dtype}``, the same-sized integer vector comparisons yield."""
    t, lane = c_type(dtype), "int32_t" if dtype == "float32" else "int64_t"
    size = 32 if dtype == "float32" else 64
    return [f"#ifndef SG_V8_{dtype.upper()}", f"#define SG_V8_{dtype.upper()}",
            f"typedef {t} sg_v8_{dtype} __attribute__((vector_size({size}), "
            f"aligned(sizeof({t}))));",
            f"typedef {lane} sg_m8_{dtype} __attribute__((vector_size({size}), "
            f"aligned(sizeof({t}))));", "#endif"]


def _vector_helpers(fold):
    """Unit-stride float folds written with GCC vector types (8 lanes): ``P_run_unit``
    folds a run into one value, ``P_rows_unit`` a run into a row of outputs.  Sums add in
    the order of the scalar 8-partial-sum pairwise code; max and min select lanes with
    comparison masks (no branches) and track NaNs in a mask, NaN-propagating as NumPy."""
    t, prefix, dtype = fold.ot, fold.prefix(), fold.out_dtype
    vec, mask = f"sg_v8_{dtype}", f"sg_m8_{dtype}"
    load = lambda at: f"*(const {vec} *)({at})"  # noqa: E731
    if fold.kind == "sum":
        run = ["if (n > 128) {", "    int64_t h = n / 2;", "    h -= h % 8;",
               f"    return {prefix}_run_unit(a, h) + {prefix}_run_unit(a + h, n - h);", "}",
               "if (n < 8)", f"    return {prefix}_run((const char *)a, sizeof({t}), n);",
               f"{vec} r = {load('a')};", "int64_t i;", "for (i = 8; i <= n - 8; i += 8)",
               f"    r += {load('a + i')};",
               f"{t} total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));",
               "for (; i < n; i++)", "    total += a[i];", "return total;"]
        rows = ["int64_t i;", "for (i = 0; i <= n - 8; i += 8)",
                f"    *({vec} *)(o + i) += {load('a + i')};", "for (; i < n; i++)",
                "    o[i] += a[i];"]
    else:
        sign = ">" if fold.kind == "max" else "<"
        run = ["if (n < 8)", f"    return {prefix}_run((const char *)a, sizeof({t}), n);",
               f"{vec} r = {load('a')};", f"{mask} nan = r != r;", "int64_t i;",
               "for (i = 8; i <= n - 8; i += 8) {", f"    {vec} v = {load('a + i')};",
               f"    {mask} take = v {sign} r;",
               f"    r = ({vec})((take & ({mask})v) | (~take & ({mask})r));", "    nan |= v != v;",
               "}", f"{t} best = r[0];", "int any = nan[0] != 0;", "for (int k = 1; k < 8; k++) {",
               f"    best = r[k] {sign} best ? r[k] : best;", "    any |= nan[k] != 0;", "}",
               "for (; i < n; i++) {", f"    best = a[i] {sign} best ? a[i] : best;",
               "    any |= a[i] != a[i];", "}", f"return any ? ({t})NAN : best;"]
        # keep o where o wins or is NaN, as sg_max/sg_min: o is the running result
        keep = f"(w {'>=' if fold.kind == 'max' else '<='} v) | (w != w)"
        rows = ["int64_t i;", "for (i = 0; i <= n - 8; i += 8) {",
                f"    {vec} w = {load('o + i')}, v = {load('a + i')};",
                f"    {mask} keep = {keep};",
                f"    *({vec} *)(o + i) = ({vec})((keep & ({mask})w) | (~keep & ({mask})v));", "}",
                "for (; i < n; i++)", f"    o[i] = {fold.combine('o[i]', 'a[i]')};"]
    return vector_types(dtype) + \
        _function(f"{SCALAR}static {t} {prefix}_run_unit(const {t} *a, int64_t n)", run) + \
        _function(f"{SCALAR}static void {prefix}_rows_unit({t} *o, const {t} *a, int64_t n)",
                  rows)


def _fold_helpers(fold):
    """C helpers of one fold, emitted once per module: ``P_run(p, s, n)`` folds a run of
    input into one value, ``P_rows`` a run into a row of outputs, ``P_fill`` sets the
    identity; ``P_inner`` is the ctx->iterate inner loop (operand 0 the input, 1 the
    output, whose stride is 0 along reduced dims)."""
    it, ot, prefix = fold.it, fold.ot, fold.prefix()
    element = f"*(const {it} *)(p[0] + i * s[0])"
    lines = [f"#ifndef {prefix.upper()}", f"#define {prefix.upper()}"]
    lines += _function(f"{SCALAR}static {ot} {prefix}_run(const char *p, int64_t s, int64_t n)",
                       fold.run_body())
    lines += _function(f"{SCALAR}static void {prefix}_rows(int64_t n, char *const *p, "
                       "const int64_t *s)",
                       ["for (int64_t i = 0; i < n; i++) {",
                        f"    {ot} *o = ({ot} *)(p[1] + i * s[1]);",
                        f"    *o = {fold.combine('*o', fold.value(element))};", "}"])
    lines += _function(f"{SCALAR}static void {prefix}_fill({ot} *o, int64_t n)",
                       ["for (int64_t i = 0; i < n; i++)", f"    o[i] = {fold.identity()};"])
    run = f"{prefix}_run(p[0], s[0], n)"
    body = ["if (s[1] == 0) {  /* a run of reduced elements into one output */"]
    if fold.vectorized():
        lines += _vector_helpers(fold)
        run = f"s[0] == sizeof({it}) ? {prefix}_run_unit((const {it} *)p[0], n) : {run}"
        body = [f"if (s[0] == sizeof({it}) && s[1] == sizeof({ot})) {{  /* a row into a row */",
                f"    {prefix}_rows_unit(({ot} *)p[1], (const {it} *)p[0], n);", "    return;",
                "}"] + body
    body += [f"    {ot} r = {run};", f"    *({ot} *)p[1] = {fold.combine(f'*({ot} *)p[1]', 'r')};",
             "    return;", "}", f"{prefix}_rows(n, p, s);"]
    lines += _function(f"static void {prefix}_inner(int64_t n, char *const *p, "
                       "const int64_t *s)", body)
    return lines + ["#endif", ""]


def fold_helpers(kind, dtype):
    """C lines of the helpers folding runs of ``dtype`` with ``kind`` into ``dtype`` (shared
    with Reduce nodes of the same module), for :func:`fold_run`."""
    return _fold_helpers(_Fold(kind, dtype, dtype))


def fold_run(kind, dtype, pointer, stride, length):
    """C expression: the ``kind`` fold (sum: pairwise, as NumPy) of ``length`` elements of
    ``dtype`` at ``pointer``, ``stride`` bytes apart; needs :func:`fold_helpers`.

    >>> fold_run("sum", "int64", "p", "s", "n")
    'sg_sum_int64_int64_run(p, s, n)'
    """
    fold, t = _Fold(kind, dtype, dtype), c_type(dtype)
    run = f"{fold.prefix()}_run({pointer}, {stride}, {length})"
    if not fold.vectorized():
        return run
    unit = f"{fold.prefix()}_run_unit((const {t} *)({pointer}), {length})"
    return unit if stride == f"sizeof({t})" else f"({stride} == sizeof({t}) ? {unit} : {run})"


@register_c_generator(Reduce)
def reduce_c_function(node, name):
    """The C source of the node function ``name`` for a Reduce node, or None.

    >>> import symgraph.tensor as T
    >>> x = T.matrix('x', dtype='float32')
    >>> src = reduce_c_function(T.sum(x, axis=0).owner, "sg_fn_0")
    >>> "static int sg_fn_0(sg_ctx *ctx" in src
    True
    """
    x, out = node.inputs[0], node.outputs[0]
    kind, axes, ndim = node.op.kind, node.op.axis, node.inputs[0].ndim
    if c_type(x.dtype) is None or c_type(out.dtype) is None:
        return None
    if kind in ("sum", "prod") and out.dtype == "bool":
        return None  # NumPy sums booleans as logical or: rare, left to perform
    fold = _Fold(kind, x.dtype, out.dtype)
    kept = [d for d in range(ndim) if d not in axes]
    nk, nd = max(len(kept), 1), max(ndim, 1)
    label = c_string(str(node.op))
    body = ["const sg_array *x = &in[0];", f"int64_t oshape[{nk}] = {{0}}, os[{nd}];"]
    body += [f"oshape[{j}] = x->shape[{d}];" for j, d in enumerate(kept)]
    if kind in ("max", "min") and axes:
        count = " * ".join(f"x->shape[{d}]" for d in axes)
        operation = "maximum" if kind == "max" else "minimum"
        error = shape_error("SG_ERR_VALUE", label, f"zero-size array to reduction operation "
                            f"{operation} which has no identity; input shape", ndim, "x->shape")
        body += [f"if ({count} == 0) {{"] + ["    " + line for line in error] + ["}"]
    body += [f"if (ctx->alloc(ctx, 0, {len(kept)}, oshape, &out[0]))", "    return -1;",
             f"{fold.ot} *o = ({fold.ot} *)out[0].data;", "int64_t size = 1;"]
    body += [f"size *= oshape[{j}];" for j in range(len(kept))]
    body += [f"{fold.prefix()}_fill(o, size);"]
    body += [f"os[{d}] = {f'out[0].strides[{kept.index(d)}]' if d in kept else '0'};"
             for d in range(ndim)]
    body += [f"int64_t shape[{nd}], strides[{2 * nd}];",
             "char *data[2] = {x->data, out[0].data};",
             f"sg_walk_order({ndim}, x->shape, x->strides, os, shape, strides);",
             f"ctx->iterate(2, {ndim}, shape, data, strides, {fold.prefix()}_inner);", "return 0;"]
    lines = _fold_helpers(fold) + \
        _function(f"{NODE}static int {name}(sg_ctx *ctx, const sg_array *in, sg_array *out)",
                  body)
    return "\n".join([SUPPORT] + lines)


# -- Argmax -------------------------------------------------------------------------

def _better(kind, dtype, v, best):
    """C: is ``v`` a strictly better candidate than ``best``?  A NaN beats any number and
    no NaN beats a NaN, so the first NaN wins, as in NumPy."""
    sign = ">" if kind == "max" else "<"
    if dtype in _FLOAT_SUFFIX:
        return f"({v} {sign} {best} || ({v} != {v} && {best} == {best}))"
    return f"{v} {sign} {best}"


def _arg_helpers(kind, dtype):
    """C helpers of argmax/argmin over one dtype, emitted once per module:
    ``P_run(p, s, n, &value)``, the index of the first best of a run (its value in
    ``value``), and ``P_sweep(p, s, n, best, at, r)``, which offers the run as candidate
    ``r`` to each of n outputs (a kept dim innermost in memory)."""
    t, prefix = c_type(dtype), f"sg_arg{kind}_{dtype}"
    sign = ">" if kind == "max" else "<"
    is_float = dtype in _FLOAT_SUFFIX
    run = [f"{t} best = *(const {t} *)p;", "int64_t at = 0;"]
    run += ["if (best == best)  /* else a NaN came first: it wins */"] if is_float else []
    run += ["    for (int64_t i = 1; i < n; i++) {", f"        {t} v = *(const {t} *)(p + i * s);",
            f"        if (v {sign} best) {{", "            best = v;", "            at = i;",
            "        }"]
    run += ["        else if (v != v) {  /* the first NaN wins */", "            best = v;",
            "            at = i;", "            break;", "        }"] if is_float else []
    run += ["    }", "*value = best;", "return at;"]
    sweep = ["for (int64_t i = 0; i < n; i++) {", f"    {t} v = *(const {t} *)(p + i * s);",
             f"    if (r == 0 || {_better(kind, dtype, 'v', 'best[i]')}) {{",
             "        best[i] = v;",
             "        at[i] = r;", "    }", "}"]
    lines = [f"#ifndef {prefix.upper()}", f"#define {prefix.upper()}"] + \
        _function(f"{SCALAR}static int64_t {prefix}_run(const char *p, int64_t s, int64_t n, "
                  f"{t} *value)", run) + \
        _function(f"{SCALAR}static void {prefix}_sweep(const char *p, int64_t s, int64_t n, "
                  f"{t} *best, int64_t *at, int64_t r)", sweep)
    if is_float:
        lines += _arg_vector_run(kind, dtype)
    return lines + ["#endif", ""]


def _arg_vector_run(kind, dtype):
    """``P_run_unit(a, n, &value)``: ``P_run`` on a unit-stride run, 8 lanes at a time,
    each lane keeping its first best and that index; the lanes' best with the lowest
    index wins.  A NaN anywhere hands the run to the scalar code (the first NaN wins)."""
    t, prefix = c_type(dtype), f"sg_arg{kind}_{dtype}"
    vec, mask, sign = f"sg_v8_{dtype}", f"sg_m8_{dtype}", ">" if kind == "max" else "<"
    body = ["if (n < 16 || n > INT32_MAX)",
            f"    return {prefix}_run((const char *)a, sizeof({t}), n, value);",
            f"{vec} best = *(const {vec} *)a;", f"{mask} at = {{0, 1, 2, 3, 4, 5, 6, 7}};",
            f"{mask} index = at, nan = best != best;", "int64_t i;",
            "for (i = 8; i <= n - 8; i += 8) {", f"    {vec} v = *(const {vec} *)(a + i);",
            "    index += 8;", f"    {mask} take = v {sign} best;",
            f"    best = ({vec})((take & ({mask})v) | (~take & ({mask})best));",
            "    at = (take & index) | (~take & at);", "    nan |= v != v;", "}",
            "int any = 0;", "for (int k = 0; k < 8; k++)", "    any |= nan[k] != 0;",
            "if (any)", f"    return {prefix}_run((const char *)a, sizeof({t}), n, value);",
            f"{t} b = best[0];", "int64_t bi = at[0];", "for (int k = 1; k < 8; k++)",
            f"    if (best[k] {sign} b || (best[k] == b && at[k] < bi)) {{",
            "        b = best[k];", "        bi = at[k];", "    }",
            "for (; i < n; i++) {", f"    if (a[i] {sign} b) {{", "        b = a[i];",
            "        bi = i;", "    } else if (a[i] != a[i]) {", "        b = a[i];",
            "        bi = i;", "        break;", "    }", "}", "*value = b;", "return bi;"]
    return vector_types(dtype) + _function(
        f"{SCALAR}static int64_t {prefix}_run_unit(const {t} *a, int64_t n, {t} *value)", body)


def _arg_modes(node, t, prefix):
    """C lines of Argmax's two walks, given ``o`` (the output) and ``osize``."""
    ndim, axes, kind = node.inputs[0].ndim, list(node.op.axis), node.op.kind
    kept = [d for d in range(ndim) if d not in axes]
    if not axes:  # nothing reduced: every index is 0
        return ["for (int64_t j = 0; j < osize; j++)", "    o[j] = 0;"]
    lines = []
    if kept:  # a kept dim innermost in memory: one sweep, a best value per output
        last = kept[-1]
        lines += ["int64_t smallest = INT64_MAX;", "int kept_inner = 0;"]
        for d in range(ndim):
            lines += [f"if (n[{d}] > 1 && sg_abs64(xs[{d}]) < smallest) {{",
                      f"    smallest = sg_abs64(xs[{d}]);",
                      f"    kept_inner = {int(d in kept)};", "}"]
        sweep = [f"{prefix}_sweep(xk, xs[{last}], n[{last}], best + j, o + j, r);",
                 f"j += n[{last}];"]
        per_reduced = ["int64_t j = 0;"] + loop_nest(kept[:-1], [("xk", "xr", "xs")], sweep,
                                                     "k") + ["r++;"]
        lines += ["if (kept_inner) {",
                  f"    {t} *best = ({t} *)malloc((size_t)osize * sizeof({t}));",
                  "    if (!best)",
                  f'        return ctx->fail(ctx, SG_ERR_MEMORY, "%s: no memory for %lld values", '
                  f"{c_string(str(node.op))}, (long long)osize);", "    int64_t r = 0;"]
        lines += ["    " + x for x in loop_nest(axes, [("xr", "x->data", "xs")], per_reduced, "r")]
        lines += ["    free(best);", "    return 0;", "}"]
    # otherwise each output's reduced elements in turn, the innermost reduced dim a run
    last = axes[-1]
    run = f"{prefix}_run(xr, xs[{last}], n[{last}], &v)"
    if node.inputs[0].dtype in _FLOAT_SUFFIX:
        run = f"xs[{last}] == sizeof({t}) ? {prefix}_run_unit((const {t} *)xr, n[{last}], &v) " \
              f": {run}"
    scan = [f"{t} v;", f"int64_t i = {run};",
            f"if ({_better(kind, node.inputs[0].dtype, 'v', 'best')}) {{", "    best = v;",
            "    at = base + i;", "}", f"base += n[{last}];"]
    per_output = [f"{t} best = *(const {t} *)xk;", "int64_t at = 0, base = 0;"] + \
        loop_nest(axes[:-1], [("xr", "xk", "xs")], scan, "r") + ["*o++ = at;"]
    return lines + loop_nest(kept, [("xk", "x->data", "xs")], per_output, "k")


@register_c_generator(Argmax)
def argmax_c_function(node, name):
    """The C source of the node function ``name`` for an Argmax (or argmin) node, or None.

    The reduced axes count as one, flattened in C order, as ``perform`` does; an empty
    input fails, as ``perform`` does (NumPy has no index to give).

    >>> import symgraph.tensor as T
    >>> x = T.matrix('x', dtype='float64')
    >>> "static int sg_fn_0(sg_ctx *ctx" in argmax_c_function(T.argmax(x, 1).owner, "sg_fn_0")
    True
    """
    x = node.inputs[0]
    t, ndim, kind = c_type(x.dtype), x.ndim, node.op.kind
    if t is None or kind not in ("max", "min"):
        return None
    kept = [d for d in range(ndim) if d not in node.op.axis]
    label = c_string(str(node.op))
    body = ["const sg_array *x = &in[0];", "const int64_t *n = x->shape, *xs = x->strides;",
            f"int64_t oshape[{max(len(kept), 1)}] = {{0}}, size = 1, osize = 1;"]
    body += [f"size *= n[{d}];" for d in range(ndim)]
    body += [f"oshape[{j}] = n[{d}];" for j, d in enumerate(kept)]
    body += [f"osize *= n[{d}];" for d in kept]
    error = shape_error("SG_ERR_VALUE", label, f"attempt to get arg{kind} of an empty "
                        "sequence; input shape", ndim, "n")
    body += ["if (size == 0) {"] + ["    " + line for line in error] + ["}"]
    body += [f"if (ctx->alloc(ctx, 0, {len(kept)}, oshape, &out[0]))", "    return -1;",
             "int64_t *o = (int64_t *)out[0].data;"]
    body += _arg_modes(node, t, f"sg_arg{kind}_{x.dtype}") + ["return 0;"]
    return "\n".join([SUPPORT] + _arg_helpers(kind, x.dtype) + _function(
        f"{NODE}static int {name}(sg_ctx *ctx, const sg_array *in, sg_array *out)", body))


# -- CumOp --------------------------------------------------------------------------

def _cum_helpers(fold):
    """C helpers of one cumulative fold, emitted once per module: ``P_line(p, s, n, o,
    acc, fresh)`` writes the running fold of a run of input (``fresh``: starting at its
    first element, else continuing from ``acc``) and returns it; ``P_rows(p, s, n, o,
    prev)`` writes ``prev[i] (op) x[i]``; ``P_copy`` writes the converted input."""
    it, ot, prefix = fold.it, fold.ot, f"sg_cum{fold.prefix()[2:]}"
    value = fold.value(f"*(const {it} *)(p + i * s)")
    line = ["int64_t i = 0;", "if (fresh && n > 0) {", f"    acc = {value};", "    o[0] = acc;",
            "    i = 1;", "}", "for (; i < n; i++) {", f"    acc = {fold.combine('acc', value)};",
            "    o[i] = acc;", "}", "return acc;"]
    rows = ["for (int64_t i = 0; i < n; i++)", f"    o[i] = {fold.combine('prev[i]', value)};"]
    copy = ["for (int64_t i = 0; i < n; i++)", f"    o[i] = {value};"]
    head = f"const char *p, int64_t s, int64_t n, {ot} *o"
    return [f"#ifndef {prefix.upper()}", f"#define {prefix.upper()}"] + \
        _function(f"{SCALAR}static {ot} {prefix}_line({head}, {ot} acc, int fresh)", line) + \
        _function(f"{SCALAR}static void {prefix}_rows({head}, const {ot} *prev)", rows) + \
        _function(f"{SCALAR}static void {prefix}_copy({head})", copy) + ["#endif", ""]


@register_c_generator(CumOp)
def cumop_c_function(node, name):
    """The C source of the node function ``name`` for a CumOp (cumsum, cumprod) node, or None.

    Sequential, as NumPy's accumulate: float results match NumPy's bit for bit.

    >>> import symgraph.tensor as T
    >>> x = T.matrix('x', dtype='int32')
    >>> "static int sg_fn_0(sg_ctx *ctx" in cumop_c_function(T.cumsum(x, 0).owner, "sg_fn_0")
    True
    """
    x, out = node.inputs[0], node.outputs[0]
    it, ot, ndim, axis = c_type(x.dtype), c_type(out.dtype), x.ndim, node.op.axis
    if it is None or ot is None or out.dtype == "bool":
        return None
    fold = _Fold("sum" if node.op.mode == "add" else "prod", x.dtype, out.dtype)
    prefix = f"sg_cum{fold.prefix()[2:]}"
    body = ["const sg_array *x = &in[0];", "const int64_t *n = x->shape, *xs = x->strides;"]
    if ndim == 0:  # one element: a 1-d output
        body += ["int64_t one[1] = {1};", "if (ctx->alloc(ctx, 0, 1, one, &out[0]))",
                 "    return -1;",
                 f"{prefix}_line(x->data, 0, 1, ({ot} *)out[0].data, {fold.identity()}, 1);"]
    elif axis is None:  # the flattened input in C order, the last dim a line at a time
        last = ndim - 1
        body += ["int64_t oshape[1] = {1};"] + [f"oshape[0] *= n[{d}];" for d in range(ndim)]
        body += ["if (ctx->alloc(ctx, 0, 1, oshape, &out[0]))", "    return -1;",
                 f"{ot} *o = ({ot} *)out[0].data;", f"{ot} acc = {fold.identity()};",
                 "int fresh = 1;"]
        step = [f"acc = {prefix}_line(xp, xs[{last}], n[{last}], o, acc, fresh);",
                f"o += n[{last}];", "fresh = 0;"]
        body += loop_nest(list(range(last)), [("xp", "x->data", "xs")], step, "k")
    elif axis == ndim - 1:  # along the last dim: one line per row
        body += [f"if (ctx->alloc(ctx, 0, {ndim}, n, &out[0]))", "    return -1;",
                 f"{ot} *o = ({ot} *)out[0].data;"]
        step = [f"{prefix}_line(xp, xs[{axis}], n[{axis}], o, {fold.identity()}, 1);",
                f"o += n[{axis}];"]
        body += loop_nest(list(range(axis)), [("xp", "x->data", "xs")], step, "k")
    else:  # C order: each row of the last dim adds to the row one step back along axis
        last = ndim - 1
        body += [f"if (ctx->alloc(ctx, 0, {ndim}, n, &out[0]))", "    return -1;",
                 f"{ot} *o = ({ot} *)out[0].data;", "int64_t step = 1;"]
        body += [f"step *= n[{d}];" for d in range(axis + 1, ndim)]
        row = [f"if (k{axis} == 0)", f"    {prefix}_copy(xp, xs[{last}], n[{last}], o);",
               "else", f"    {prefix}_rows(xp, xs[{last}], n[{last}], o, o - step);",
               f"o += n[{last}];"]
        body += loop_nest(list(range(last)), [("xp", "x->data", "xs")], row, "k")
    body += ["return 0;"]
    return "\n".join([SUPPORT] + _cum_helpers(fold) + _function(
        f"{NODE}static int {name}(sg_ctx *ctx, const sg_array *in, sg_array *out)", body))
