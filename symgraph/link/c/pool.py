"""C code for the pooling ops of ``tensor.signal.pool``: ``Pool`` (every mode),
``MaxPoolGrad``, ``AveragePoolGrad`` and ``MaxPoolGradGrad``, for float32 and float64.

Every node function walks the images of its input (every leading dimension
is a batch dimension) window by window.  Windows wholly inside the image
(most of them) take a fast path whose loops over the window have bounds
known at compile time, so gcc unrolls them and vectorizes across windows;
it needs rows of contiguous elements.  The other windows, and inputs of any
other strides, take a general path whose bounds are clipped to the image:
padding and the part of a partial window past the edge are never read,
which is what ``perform``'s canvas, filled with a value that cannot win,
amounts to.  Sums run over a window's cells in ``perform``'s order (row by
row), so the forward pass gives the same bits; the gradients may add
overlapping windows' shares in another order (equal up to rounding).

The images are independent, so the loop over them is an OpenMP loop when the
module is compiled with ``-fopenmp`` (without it the pragma is compiled out).
"""
from string import Template

from symgraph.link.c.registry import c_string, register_c_generator
from symgraph.link.c.scalar_c import c_type
from symgraph.tensor.signal.pool import AveragePoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool

# below this many window-cell visits a parallel region costs more than it saves
_PARALLEL_WORK = 1 << 15

_HELPERS = """
static int64_t ${name}_pooled(int64_t size, int64_t ws, int64_t st, int64_t pad)
{
    size += 2 * pad;
    if ($ignore_border)
        return size < ws ? 0 : (size - ws) / st + 1;
    if (st >= ws)
        return size <= 0 ? 0 : (size - 1) / st + 1;
    return (size - 1 < ws ? 0 : (size - 1 - ws) / st + 1) + 1;
}

/* The divisor of window k along an axis: its cells inside the padded image
 * (average_inc_pad) or inside the image (average_exc_pad). */
static inline int64_t ${name}_count(int64_t k, int64_t st, int64_t pad, int64_t ws,
                                    int64_t size)
{
    int64_t start = k * st - pad, end = start + ws;
    if ($include_padding) {
        const int64_t limit = size + pad;
        return (end < limit ? end : limit) - start;
    }
    if (start < 0)
        start = 0;
    return (end < size ? end : size) - start;
}

/* The windows k along an axis that lie wholly inside the image: [*first, *stop). */
static void ${name}_inside(int64_t size, int64_t n, int64_t ws, int64_t st, int64_t pad,
                           int64_t *first, int64_t *stop)
{
    *first = (pad + st - 1) / st;
    *stop = size + pad - ws < 0 ? 0 : (size + pad - ws) / st + 1;
    if (*stop > n)
        *stop = n;
    if (*stop < *first)
        *first = *stop = 0;
}

/* The byte offset of image n (a flat index over the leading dims) in array a. */
static inline int64_t ${name}_image(const sg_array *a, int64_t n)
{
    int64_t offset = 0;
    for (int d = $nd - 3; d >= 0; d--) {
        offset += (n % a->shape[d]) * a->strides[d];
        n /= a->shape[d];
    }
    return offset;
}

/* Is a's shape x's with images of rows x cols? */
static int ${name}_check(sg_ctx *ctx, const sg_array *x, const sg_array *a, int64_t rows,
                         int64_t cols, const char *what)
{
    for (int d = 0; d < $nd - 2; d++)
        if (a->shape[d] != x->shape[d])
            return ctx->fail(ctx, SG_ERR_VALUE, "%s: %s has size %lld in dimension %d, but x "
                             "has %lld", $label, what, (long long)a->shape[d], d,
                             (long long)x->shape[d]);
    if (a->shape[$nd - 2] != rows || a->shape[$nd - 1] != cols)
        return ctx->fail(ctx, SG_ERR_VALUE, "%s: %s has images of %lld x %lld, but pooling x "
                         "gives %lld x %lld", $label, what, (long long)a->shape[$nd - 2],
                         (long long)a->shape[$nd - 1], (long long)rows, (long long)cols);
    return 0;
}

/* Rows of contiguous elements: the fast path may index with element strides. */
static inline int ${name}_rows_contiguous(const sg_array *a)
{
    return a->strides[$nd - 1] == sizeof($T) && a->strides[$nd - 2] % sizeof($T) == 0;
}
"""

_FUNCTION = """
static int ${name}(sg_ctx *ctx, const sg_array *in, sg_array *out)
{
    const sg_array *x = &in[0];
    int64_t n_images = 1;
    for (int d = 0; d < $nd - 2; d++)
        n_images *= x->shape[d];
    const int64_t height = x->shape[$nd - 2], width = x->shape[$nd - 1];
    const int64_t rows = ${name}_pooled(height, $ws0, $st0, $pd0);
    const int64_t cols = ${name}_pooled(width, $ws1, $st1, $pd1);
    int64_t row_first, row_stop, col_first, col_stop;
    ${name}_inside(height, rows, $ws0, $st0, $pd0, &row_first, &row_stop);
    ${name}_inside(width, cols, $ws1, $st1, $pd1, &col_first, &col_stop);
    int64_t shape[$nd];
    for (int d = 0; d < $nd; d++)
        shape[d] = x->shape[d];
$checks
$output_shape
    if (ctx->alloc(ctx, 0, $nd, shape, &out[0]))
        return -1;
    $T *restrict z = ($T *)out[0].data;  /* a fresh buffer: it aliases no input */
    const int fast = $fast;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n_images * rows * cols * $ws0 * $ws1 > $work)
#endif
    for (int64_t n = 0; n < n_images; n++) {
$bases
$image_start
        for (int64_t i = 0; i < rows; i++) {
            const int64_t top = i * $st0 - $pd0;
            const int64_t r0 = top < 0 ? 0 : top;
            const int64_t r1 = top + $ws0 < height ? top + $ws0 : height;
$row_start
            /* the windows of this row that take the fast path: [inner_first, inner_stop) */
            const int inner = fast && i >= row_first && i < row_stop;
            const int64_t inner_first = inner ? col_first : cols;
            const int64_t inner_stop = inner ? col_stop : cols;
            for (int64_t j = 0; j < cols; j++) {
                if (j == inner_first) {
                    for (; j < inner_stop; j++) {
                        const int64_t left = j * $st1 - $pd1;
$fast_window
                    }
                    if (j == cols)
                        break;
                }
                const int64_t left = j * $st1 - $pd1;
                const int64_t c0 = left < 0 ? 0 : left;
                const int64_t c1 = left + $ws1 < width ? left + $ws1 : width;
$clipped_window
            }
        }
    }
    return 0;
}
"""


class _Array:
    """Input ``k`` as the generated code reads it: ``image`` True for x-shaped inputs
    (indexed by an image cell ``r, c``), False for pooled-shaped ones (by window ``i, j``)."""

    def __init__(self, k, var, image):
        self.k, self.var, self.image = k, var, image

    def bases(self):
        v, k = self.var, self.k
        return (f"        const char *{v} = in[{k}].data + ${{name}}_image(&in[{k}], n);\n"
                f"        const int64_t {v}_rs = in[{k}].strides[$nd - 2], "
                f"{v}_cs = in[{k}].strides[$nd - 1];\n"
                f"        const $T *restrict {v}_t = (const $T *){v};\n"
                f"        const int64_t {v}_ts = {v}_rs / (int64_t)sizeof($T);")

    def at(self, fast):
        row, col = ("r", "c") if self.image else ("i", "j")
        if fast:
            return f"{self.var}_t[({row}) * {self.var}_ts + ({col})]"
        return f"*(const $T *)({self.var} + ({row}) * {self.var}_rs + ({col}) * {self.var}_cs)"


def _window(fast, before, cell, after, indent):
    """The loop over one window's cells: compile-time bounds on the fast path, clipped
    bounds otherwise; ``before``, ``cell`` and ``after`` give the statements of a path."""
    if fast:
        loops = ["for (int64_t a = 0; a < $ws0; a++)",
                 "    for (int64_t b = 0; b < $ws1; b++) {",
                 "        const int64_t r = top + a, c = left + b;"]
    else:
        loops = ["for (int64_t r = r0; r < r1; r++)", "    for (int64_t c = c0; c < c1; c++) {"]
    lines = before(fast) + loops + [f"        {line}" for line in cell(fast)] + ["    }"] + \
        after(fast)
    return "\n".join(indent + line for line in lines)


def _node_function(name, arrays, checks, pooled_output, image_start, row_start, before, cell,
                   after):
    """A node function: ``before``/``after`` (of ``fast``) the statements around a window's
    loop, ``cell`` those for its cell (r, c)."""
    check_lines = "\n".join(f"    if (${{name}}_check(ctx, x, &in[{k}], {shape}, "
                            f"{c_string(what)}))\n        return -1;" for k, shape, what in checks)
    output_shape = "    shape[$nd - 2] = rows;\n    shape[$nd - 1] = cols;" if pooled_output else ""
    fast = " && ".join(f"${{name}}_rows_contiguous(&in[{a.k}])" for a in arrays)
    return Template(_FUNCTION).safe_substitute(
        checks=check_lines, output_shape=output_shape, fast=fast,
        bases="\n".join(a.bases() for a in arrays), image_start=image_start, row_start=row_start,
        fast_window=_window(True, before, cell, after, " " * 24),
        clipped_window=_window(False, before, cell, after, " " * 16))


_ROW_COUNT = "            const int64_t row_count = ${name}_count(i, $st0, $pd0, $ws0, height);"
_DIVISOR = "($T)(row_count * ${name}_count(j, $st1, $pd1, $ws1, width))"
_OUTPUT_ROW = "            $T *restrict zr = z + (n * rows + i) * cols;"
_OUTPUT_IMAGE = "        $T *restrict zs = z + n * height * width;\n" \
                "        for (int64_t k = 0; k < height * width; k++)\n            zs[k] = 0;"


def _fixed(lines):
    """Statements that are the same on both paths."""
    return lambda fast: lines


def _forward(node, name):
    """Pool: z[i, j] = the max, sum or average of window (i, j) of x."""
    mode = node.op.mode
    x = _Array(0, "xs", True)
    if mode == "max":  # NaN wins, as in np.maximum (a separate flag keeps the max loop
        # a plain compare-and-select, which vectorizes)
        before = _fixed(["$T best = -INFINITY;", "int nan = 0;"])
        after = _fixed(["zr[j] = nan ? NAN : best;"])

        def cell(fast):
            return [f"const $T v = {x.at(fast)};", "best = v > best ? v : best;",
                    "nan |= v != v;"]
    else:
        divide = "" if mode == "sum" else f" / {_DIVISOR}"
        before, after = _fixed(["$T total = 0;"]), _fixed([f"zr[j] = total{divide};"])

        def cell(fast):
            return [f"total += {x.at(fast)};"]
    row_start = _OUTPUT_ROW + ("\n" + _ROW_COUNT if mode.startswith("average") else "")
    return _node_function(name, [x], [], True, "", row_start, before, cell, after)


def _scatter(node, name):
    """MaxPoolGrad (x, maxout, gz) and AveragePoolGrad (x, gz): z, shaped like x, gets each
    window's gz (at the window's max, or shared over the window)."""
    x = _Array(0, "xs", True)
    if isinstance(node.op, MaxPoolGrad):
        maxout, gz = _Array(1, "ms", False), _Array(2, "gs", False)
        arrays = [x, maxout, gz]
        checks = [(1, "rows, cols", "maxout"), (2, "rows, cols", "gz")]

        def before(fast):
            return [f"const $T best = {maxout.at(fast)}, shares[2] = {{0, {gz.at(fast)}}};"]

        def cell(fast):
            # an indexed load, not a branch: which cell is the max is unpredictable
            return [f"zs[r * width + c] += shares[{x.at(fast)} == best];"]
        row_start = ""
    else:
        gz = _Array(1, "gs", False)  # x gives only the shape
        arrays, checks = [gz], [(1, "rows, cols", "gz")]
        divide = "" if node.op.mode == "sum" else f" / {_DIVISOR}"

        def before(fast):
            return [f"const $T share = {gz.at(fast)}{divide};"]

        def cell(fast):
            return ["zs[r * width + c] += share;"]
        row_start = "" if node.op.mode == "sum" else _ROW_COUNT
    return _node_function(name, arrays, checks, False, _OUTPUT_IMAGE, row_start, before, cell,
                          _fixed([]))


def _gather(node, name):
    """MaxPoolGradGrad (x, maxout, ggx): z[i, j] = ggx summed over the cells of window
    (i, j) where x equals maxout[i, j]."""
    x, maxout, ggx = _Array(0, "xs", True), _Array(1, "ms", False), _Array(2, "gs", True)
    checks = [(1, "rows, cols", "maxout"), (2, "height, width", "ggx")]

    def before(fast):
        return [f"const $T best = {maxout.at(fast)};", "$T total = 0;"]

    def cell(fast):  # a mask, not a branch: which cell is the max is unpredictable
        return [f"const $T terms[2] = {{0, {ggx.at(fast)}}};",
                f"total += terms[{x.at(fast)} == best];"]
    return _node_function(name, [x, maxout, ggx], checks, True, "", _OUTPUT_ROW, before, cell,
                          _fixed(["zr[j] = total;"]))


def _pool_c(node, name, body):
    dtype = node.inputs[0].type.dtype
    if dtype not in ("float32", "float64") or \
            any(v.type.dtype != dtype for v in node.inputs + node.outputs):
        return None
    op = node.op
    values = dict(name=name, T=c_type(dtype), nd=node.inputs[0].type.ndim,
                  ignore_border=int(op.ignore_border), ws0=op.ws[0], ws1=op.ws[1],
                  st0=op.stride[0], st1=op.stride[1], pd0=op.pad[0], pd1=op.pad[1],
                  include_padding=int(op.mode == "average_inc_pad"), label=c_string(str(op)),
                  work=_PARALLEL_WORK)
    return Template(_HELPERS + body(node, name)).substitute(values)


@register_c_generator(Pool)
def pool_c_function(node, name):
    """The C node function of a ``Pool`` node (float32/float64), or None.

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.signal.pool import pool_2d
    >>> src = pool_c_function(pool_2d(T.tensor4('x'), (2, 2), ignore_border=True).owner, "sg_fn_0")
    >>> "static int sg_fn_0(sg_ctx *ctx" in src
    True
    """
    return _pool_c(node, name, _forward)


@register_c_generator(MaxPoolGrad)
@register_c_generator(AveragePoolGrad)
def pool_grad_c_function(node, name):
    """The C node function of a ``MaxPoolGrad`` or ``AveragePoolGrad`` node, or None."""
    return _pool_c(node, name, _scatter)


@register_c_generator(MaxPoolGradGrad)
def max_pool_grad_grad_c_function(node, name):
    """The C node function of a ``MaxPoolGradGrad`` node, or None."""
    return _pool_c(node, name, _gather)
