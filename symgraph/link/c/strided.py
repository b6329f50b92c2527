"""C snippets shared by the shape, view and indexing generators (shape.py, subtensor.py).

Reading an integer scalar input, copying or accumulating one strided array
into another through ``ctx->iterate``, NumPy's slice arithmetic, and shapes
printed the way NumPy prints them in error messages.  Every helper function
a snippet defines is prefixed with the node function's name, so several node
functions can live in one module.
"""
from symgraph.link.c.scalar_c import c_type

def read_int(j, dtype):
    """A C expression: input ``j`` (a 0-d array of integer ``dtype``) as ``int64_t``.

    uint64 values above INT64_MAX saturate: as an index they are out of
    range either way, as a slice bound they clamp, as NumPy treats them.

    >>> read_int(2, "int32")
    '((int64_t)*(const int32_t *)in[2].data)'
    """
    if dtype == "uint64":
        return (f"({{ uint64_t v_ = *(const uint64_t *)in[{j}].data; "
                f"v_ > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v_; }})")
    return f"((int64_t)*(const {c_type(dtype)} *)in[{j}].data)"


def read_int_at(pointer, dtype):
    """A C expression: the integer of ``dtype`` at ``pointer`` (a ``char *``) as int64_t.

    >>> read_int_at("ip", "int16")
    '((int64_t)*(const int16_t *)(ip))'
    """
    if dtype == "uint64":
        return (f"({{ uint64_t v_ = *(const uint64_t *)({pointer}); "
                f"v_ > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v_; }})")
    return f"((int64_t)*(const {c_type(dtype)} *)({pointer}))"


def update_loop(fn_name, dtype, mode):
    """An ``sg_inner_fn`` over operands (destination, source): ``mode`` is "set"
    (copy) or "inc" (add, as NumPy's ``+=``: wrapping integers, ``or`` for bool).

    A destination stride of 0 accumulates (a reduction); the unit-stride and
    broadcast-source cases get their own (vectorizable) loops.

    >>> "static void f_copy(int64_t n" in update_loop("f_copy", "float32", "set")
    True
    """
    t = c_type(dtype)
    if mode == "set":
        def assign(dst, src):
            return f"{dst} = {src};"
    elif dtype == "bool":
        def assign(dst, src):
            return f"{dst} = (uint8_t)({dst} | {src});"
    else:
        def assign(dst, src):
            return f"{dst} = ({t})({dst} + {src});"
    return "\n".join([
        f"static void {fn_name}(int64_t n, char *const *p, const int64_t *s)", "{",
        f"    if (s[0] == sizeof({t}) && s[1] == sizeof({t})) {{",
        f"        {t} *o = ({t} *)p[0];", f"        const {t} *a = (const {t} *)p[1];",
        f"        for (int64_t i = 0; i < n; i++)", f"            {assign('o[i]', 'a[i]')}",
        "        return;", "    }",
        f"    if (s[0] == sizeof({t}) && s[1] == 0) {{",
        f"        {t} *o = ({t} *)p[0];", f"        const {t} v = *(const {t} *)p[1];",
        f"        for (int64_t i = 0; i < n; i++)", f"            {assign('o[i]', 'v')}",
        "        return;", "    }",
        "    for (int64_t i = 0; i < n; i++) {",
        f"        {t} *o = ({t} *)(p[0] + i * s[0]);",
        f"        const {t} a = *(const {t} *)(p[1] + i * s[1]);",
        f"        {assign('*o', 'a')}", "    }", "}", ""])


def run_update(loop, ndim, shape, dst_data, dst_strides, src_data, src_strides, indent="    "):
    """C statements: run ``loop`` (an update_loop) over ``shape`` (``ndim`` dims, a C
    expression of an int64_t array) with the given data pointers and stride arrays.

    >>> "ctx->iterate(2, 3, x->shape" in run_update("f_copy", 3, "x->shape", "o", "os", "i", "s")
    True
    """
    dims = max(ndim, 1)
    lines = ["{",
             f"    char *data_[2] = {{(char *)({dst_data}), (char *)({src_data})}};",
             f"    int64_t strides_[{2 * dims}];",
             f"    for (int d_ = 0; d_ < {ndim}; d_++) {{",
             f"        strides_[d_] = ({dst_strides})[d_];",
             f"        strides_[{ndim} + d_] = ({src_strides})[d_];", "    }",
             f"    ctx->iterate(2, {ndim}, {shape}, data_, strides_, {loop});", "}"]
    return "\n".join(indent + line for line in lines)


def copy_input_to_output(k, i, ndim, loop, indent="    "):
    """C statements: output ``k`` becomes a fresh C-contiguous copy of input ``i``.

    >>> print(copy_input_to_output(0, 0, 2, "f_copy").splitlines()[0])
        if (ctx->alloc(ctx, 0, 2, in[0].shape, &out[0]))
    """
    return "\n".join([
        f"{indent}if (ctx->alloc(ctx, {k}, {ndim}, in[{i}].shape, &out[{k}]))",
        f"{indent}    return -1;",
        run_update(loop, ndim, f"in[{i}].shape", f"out[{k}].data", f"out[{k}].strides",
                   f"in[{i}].data", f"in[{i}].strides", indent)])


def format_shape_function(name):
    """``{name}_shape(buf, ndim, shape)``, returning buf: "(3, 4)",
    "(3,)" or "()" into a buffer of 256 bytes, as NumPy prints a shape tuple.

    >>> format_shape_function("f").splitlines()[0]
    'static const char *f_shape(char *buf, int ndim, const int64_t *shape)'
    """
    return "\n".join([
        f"static const char *{name}_shape(char *buf, int ndim, const int64_t *shape)", "{",
        "    int used = snprintf(buf, 256, \"(\");",
        "    for (int d = 0; d < ndim && used < 256; d++)",
        "        used += snprintf(buf + used, 256 - used, d ? \", %lld\" : \"%lld\", "
        "(long long)shape[d]);",
        "    if (used < 256)",
        "        snprintf(buf + used, 256 - used, ndim == 1 ? \",)\" : \")\");",
        "    return buf;", "}", ""])


def slice_function(name):
    """``static int64_t {name}_slice(size, has_start, start, has_stop, stop, step, *first)``:
    the length of ``slice(start, stop, step)`` over a dimension of ``size`` and its first
    index (Python's rules: negative bounds count from the end, out-of-range ones
    clamp).  ``step`` is not 0 (the caller checks).

    >>> "static int64_t f_slice(int64_t size" in slice_function("f")
    True
    """
    return "\n".join([
        f"static int64_t {name}_slice(int64_t size, int has_start, int64_t start, "
        "int has_stop, int64_t stop, int64_t step, int64_t *first)", "{",
        "    if (step < -INT64_MAX)  /* so that -step exists */",
        "        step = -INT64_MAX;",
        "    if (!has_start) {",
        "        start = step < 0 ? size - 1 : 0;",
        "    } else if (start < 0) {",
        "        start += size;",
        "        if (start < 0)",
        "            start = step < 0 ? -1 : 0;",
        "    } else if (start >= size) {",
        "        start = step < 0 ? size - 1 : size;", "    }",
        "    if (!has_stop) {",
        "        stop = step < 0 ? -1 : size;",
        "    } else if (stop < 0) {",
        "        stop += size;",
        "        if (stop < 0)",
        "            stop = step < 0 ? -1 : 0;",
        "    } else if (stop >= size) {",
        "        stop = step < 0 ? size - 1 : size;", "    }",
        "    *first = start;",
        "    if (step < 0)",
        "        return stop < start ? (start - stop - 1) / (-step) + 1 : 0;",
        "    return start < stop ? (stop - start - 1) / step + 1 : 0;", "}", ""])
