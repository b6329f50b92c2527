"""C code for indexing: basic slicing (a view), set/inc on basic slices, and
integer-array gathers and scatters.

``Subtensor`` reads its integer and slice bounds from its scalar inputs at
run time (NumPy's rules: negative indices count from the end, slice bounds
clamp, out-of-range integers raise IndexError) and returns a view through
``ctx->view``.  ``IncSubtensor`` writes into a copy of ``x``, or into ``x``
itself when the op destroys it and no other input reads that memory.  The
advanced ops handle one integer array on one axis, with slices on the
others (``x[idx]``, ``x[:, idx]``, ``x[1:, idx, ::2]``); a scatter-add adds
the value once per occurrence of a repeated index (``np.add.at``).  Boolean masks, several arrays
and integers mixed with arrays run through ``perform``.
"""
from symgraph.link.c.registry import c_string, register_c_generator
from symgraph.link.c.scalar_c import c_type
from symgraph.link.c.shape import node_function
from symgraph.link.c.strided import (copy_input_to_output, format_shape_function, read_int,
                                     read_int_at, run_update, slice_function, update_loop)
from symgraph.tensor.subtensor import (AdvancedIncSubtensor, AdvancedIncSubtensor1,
                                       AdvancedSubtensor, IncSubtensor, Subtensor)
from symgraph.tensor.type import INT_DTYPES


def _dims(n):
    return max(n, 1)


def _index_positions(idx_list, first):
    """Per idx_list entry, the node input indices of its values (from ``first`` on)."""
    out, j = [], first
    for entry in idx_list:
        n = 1 if entry in ("i", "a") else sum(entry[1:])
        out.append(list(range(j, j + n)))
        j += n
    return out


def _supported(node, n_data_inputs):
    """Whether the data inputs (x, and y for the set/inc ops) and outputs have C types."""
    return all(c_type(v.type.dtype) is not None for v in node.inputs[:n_data_inputs] +
               node.outputs)


# -- locating a basic index -------------------------------------------------------------

def _locate_function(name, node, idx_list, first, label):
    """``{name}_locate(ctx, in, base, &data, shape, strides)``: the region ``base[index]``
    as a data pointer, shape and strides; an "a" entry keeps its dim whole (the caller
    gathers along it).  Returns -1 with the error set for a bad index."""
    xnd = node.inputs[0].type.ndim
    lines = [f"static int {name}_locate(sg_ctx *ctx, const sg_array *in, const sg_array *base, "
             "char **data, int64_t *shape, int64_t *strides)", "{",
             "    char *p = base->data;"]
    o = 0
    for d, (entry, inputs) in enumerate(zip(idx_list, _index_positions(idx_list, first))):
        if entry == "i":
            j = inputs[0]
            lines += ["    {",
                      f"        int64_t i = {read_int(j, node.inputs[j].type.dtype)}, "
                      f"n = base->shape[{d}];",
                      "        if (i < -n || i >= n)",
                      f"            return ctx->fail(ctx, SG_ERR_INDEX, \"%s: index %lld is out of "
                      f"bounds for axis {d} with size %lld\", {label}, (long long)i, "
                      "(long long)n);",
                      f"        p += (i < 0 ? i + n : i) * base->strides[{d}];", "    }"]
            continue
        if entry == "a":
            lines.append(f"    shape[{o}] = base->shape[{d}], strides[{o}] = base->strides[{d}];")
            o += 1
            continue
        values, bounds = iter(inputs), []
        for has in entry[1:]:
            j = next(values) if has else None
            bounds.append(read_int(j, node.inputs[j].type.dtype) if has else None)
        start, stop, step = bounds[0] or "0", bounds[1] or "0", bounds[2] or "1"
        lines += ["    {", f"        int64_t step = {step}, first;",
                  "        if (step == 0)",
                  f"            return ctx->fail(ctx, SG_ERR_VALUE, \"%s: slice step cannot be "
                  f"zero\", {label});",
                  f"        int64_t n = {name}_slice(base->shape[{d}], {int(entry[1])}, {start}, "
                  f"{int(entry[2])}, {stop}, step, &first);",
                  "        if (n > 0)",
                  f"            p += first * base->strides[{d}], strides[{o}] = step * "
                  f"base->strides[{d}];",
                  "        else",
                  f"            strides[{o}] = base->strides[{d}];",
                  f"        shape[{o}] = n;", "    }"]
        o += 1
    for d in range(len(idx_list), xnd):
        lines.append(f"    shape[{o}] = base->shape[{d}], strides[{o}] = base->strides[{d}];")
        o += 1
    lines += ["    *data = p;", "    return 0;", "}", ""]
    return slice_function(name) + "\n".join(lines), o


def _region_declaration(prefix, nd):
    """C lines declaring ``{prefix}data``, ``{prefix}shape``, ``{prefix}strides`` (set by
    ``_locate``; initialized only to keep gcc's uninitialized-use warnings quiet)."""
    dims = _dims(nd)
    return [f"    char *{prefix}data = NULL;",
            f"    int64_t {prefix}shape[{dims}] = {{0}}, {prefix}strides[{dims}] = {{0}};"]


# -- basic indexing ----------------------------------------------------------------------

@register_c_generator(Subtensor)
def subtensor_c_function(node, name):
    """Subtensor: ``x[index]`` as a view of ``x``.

    >>> import symgraph.tensor as T
    >>> x = T.dmatrix()
    >>> "ctx->view" in subtensor_c_function(x[1:, 0].owner, "f")
    True
    """
    if not _supported(node, 1):
        return None
    label = c_string(str(node.op))
    locate, nd = _locate_function(name, node, node.op.idx_list, 1, label)
    body = _region_declaration("", nd) + [
            f"    if ({name}_locate(ctx, in, &in[0], &data, shape, strides))",
            "        return -1;",
            f"    return ctx->view(ctx, 0, 0, data, {nd}, shape, strides, &out[0]);"]
    return node_function(name, body, [locate])


def _output_from_x(node, name, loop):
    """C lines: output 0 is x itself (an in-place op whose x nobody else reads) or a copy."""
    xnd = node.inputs[0].type.ndim
    copy = copy_input_to_output(0, 0, xnd, loop, indent="        ")
    if not node.op.destroy_map:
        return [copy_input_to_output(0, 0, xnd, loop)]
    sizes = ", ".join(f"sizeof({c_type(v.type.dtype)})" for v in node.inputs)
    return ["    {", f"        const int64_t itemsizes[{len(node.inputs)}] = {{{sizes}}};",
            "        int rc = 1;",
            f"        if (ctx->can_overwrite({len(node.inputs)}, in, itemsizes, 0))",
            "            rc = ctx->alias(ctx, 0, 0, &out[0]);",
            "        if (rc < 0)", "            return -1;",
            "        if (rc > 0) {", copy, "        }", "    }"]


def _broadcast_y(name, label, y_ndim, nd, target_shape):
    """C lines: ``ystrides`` for input y (in[1]) broadcast to ``target_shape`` (a C array
    of ``nd`` dims), or a ValueError naming both shapes."""
    lines = [f"    int64_t ystrides[{_dims(nd)}];", "    int bad = 0;"]
    for d in range(nd):
        yd = d - (nd - y_ndim)
        if yd < 0:
            lines.append(f"    ystrides[{d}] = 0;")
            continue
        lines += [f"    ystrides[{d}] = in[1].shape[{yd}] == 1 ? 0 : in[1].strides[{yd}];",
                  f"    bad |= in[1].shape[{yd}] != 1 && in[1].shape[{yd}] != {target_shape}[{d}];"]
    lines += ["    if (bad) {", "        char buf[256], buf2[256];",
              f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: could not broadcast input array "
              f"from shape %s into shape %s\", {label}, {name}_shape(buf, {y_ndim}, in[1].shape), "
              f"{name}_shape(buf2, {nd}, {target_shape}));", "    }"]
    return lines


@register_c_generator(IncSubtensor)
def inc_subtensor_c_function(node, name):
    """IncSubtensor: ``x[index] = y`` or ``x[index] += y`` on a copy of x (or on x).

    >>> import symgraph.tensor as T
    >>> x = T.dmatrix()
    >>> "ctx->alias" in inc_subtensor_c_function(IncSubtensor(("i",), inplace=True)(
    ...     x, x[0], 1).owner, "f")
    True
    """
    if not _supported(node, 2):
        return None
    op, dtype = node.op, node.inputs[0].type.dtype
    label = c_string(str(op))
    locate, nd = _locate_function(name, node, op.idx_list, 2, label)
    mode = "set" if op.set_instead_of_inc else "inc"
    body = _output_from_x(node, name, f"{name}_copy")
    body += _region_declaration("", nd) + [
             f"    if ({name}_locate(ctx, in, &out[0], &data, shape, strides))",
             "        return -1;"]
    body += _broadcast_y(name, label, node.inputs[1].type.ndim, nd, "shape")
    loop = f"{name}_copy" if mode == "set" else f"{name}_inc"
    body += [run_update(loop, nd, "shape", "data", "strides", "in[1].data", "ystrides"),
             "    return 0;"]
    helpers = [format_shape_function(name), locate, update_loop(f"{name}_copy", dtype, "set")]
    if mode == "inc":
        helpers.append(update_loop(f"{name}_inc", dtype, "inc"))
    return node_function(name, body, helpers)


# -- one integer array on one axis: gathers and scatters ----------------------------------

def _one_array_axis(node, idx_list, first):
    """(axis, input index) of the single integer-array entry, or None when the index
    is not slices around one integer array."""
    arrays = [k for k, e in enumerate(idx_list) if e == "a"]
    if len(arrays) != 1 or "i" in idx_list:
        return None
    axis = arrays[0]
    j = _index_positions(idx_list, first)[axis][0]
    if node.inputs[j].type.dtype not in INT_DTYPES:
        return None
    return axis, j


def _walk_index(j, dtype, body, extra_step=None):
    """C lines: run ``body`` (lines using ``int64_t v``, the index value, and ``k``, its
    C-order position) over every element of the index array in[j].  ``extra_step``:
    (pointer variable, C array of strides) advanced along with the index."""
    lines = ["    {", f"        int64_t pos[SG_MAXDIMS] = {{0}};",
             f"        const char *ip = in[{j}].data;",
             f"        for (int64_t k = 0; k < count; k++) {{",
             f"            const int64_t v = {read_int_at('ip', dtype)};"]
    lines += ["            " + line for line in body]
    lines += [f"            for (int d = in[{j}].ndim - 1; d >= 0; d--) {{",
              f"                ip += in[{j}].strides[d];"]
    if extra_step:
        lines.append(f"                {extra_step[0]} += {extra_step[1]}[d];")
    lines += [f"                if (++pos[d] < in[{j}].shape[d])", "                    break;",
              f"                ip -= in[{j}].strides[d] * in[{j}].shape[d];"]
    if extra_step:
        lines.append(f"                {extra_step[0]} -= {extra_step[1]}[d] * in[{j}].shape[d];")
    lines += ["                pos[d] = 0;", "            }", "        }", "    }"]
    return lines


def _check_bounds(j, dtype, axis, message, label):
    """C lines: every index in in[j] within [-n, n), n = vshape[axis]; else IndexError."""
    return _walk_index(j, dtype, [
        "if (v < -n || v >= n)",
        f"    return ctx->fail(ctx, SG_ERR_INDEX, \"%s: index %lld is out of bounds for axis "
        f"{axis} {message} %lld\", {label}, (long long)v, (long long)n);"])


def _sub_layout(xnd, axis, k_ndim, target_strides):
    """C lines: ``sshape``/``sstrides`` (the region without the indexed axis) and
    ``tstrides`` (``target_strides``, a C array laid out as the result: dims before the
    axis, the index's dims, the dims after, with the index's dims left out)."""
    sd = xnd - 1
    lines = [f"    int64_t sshape[{_dims(sd)}], sstrides[{_dims(sd)}], tstrides[{_dims(sd)}];"]
    for d in range(xnd):
        if d == axis:
            continue
        s = d if d < axis else d - 1
        t = d if d < axis else d - 1 + k_ndim
        lines.append(f"    sshape[{s}] = vshape[{d}], sstrides[{s}] = vstrides[{d}], "
                     f"tstrides[{s}] = {target_strides}[{t}];")
    return lines


def _move(loop, sd, dst, dst_strides, src, src_strides, dtype, mode):
    """C lines: one element (no other dims) or a strided sub-array, set or added."""
    if sd == 0:
        t = c_type(dtype)
        if mode == "set":
            return [f"*({t} *)({dst}) = *(const {t} *)({src});"]
        if dtype == "bool":
            return [f"*({t} *)({dst}) |= *(const {t} *)({src});"]
        return [f"*({t} *)({dst}) = ({t})(*({t} *)({dst}) + *(const {t} *)({src}));"]
    return run_update(loop, sd, "sshape", dst, dst_strides, src, src_strides, "").split("\n")


def _index_shape_lines(j, xnd, axis, k_ndim):
    """C lines: ``tshape``, the result's shape (region dims with the axis replaced by the
    index array's dims), and ``count``, the number of indices."""
    nd = xnd - 1 + k_ndim
    lines = [f"    int64_t tshape[{_dims(nd)}], count = 1;"]
    for d in range(axis):
        lines.append(f"    tshape[{d}] = vshape[{d}];")
    for d in range(k_ndim):
        lines.append(f"    tshape[{axis + d}] = in[{j}].shape[{d}], count *= in[{j}].shape[{d}];")
    for d in range(axis + 1, xnd):
        lines.append(f"    tshape[{d - 1 + k_ndim}] = vshape[{d}];")
    return lines, nd


@register_c_generator(AdvancedSubtensor)
def advanced_subtensor_c_function(node, name):
    """AdvancedSubtensor with one integer array (slices elsewhere): a gather, one strided
    copy per index.

    >>> import symgraph.tensor as T
    >>> x = T.dmatrix()
    >>> advanced_subtensor_c_function(x[:, T.lvector()].owner, "f") is not None
    True
    >>> advanced_subtensor_c_function(x[T.bmatrix() > 0].owner, "f") is None  # a mask
    True
    """
    found = _one_array_axis(node, node.op.idx_list, 1)
    if found is None or not _supported(node, 1):
        return None
    axis, j = found
    x, index = node.inputs[0], node.inputs[j]
    xnd, dtype = x.type.ndim, x.type.dtype
    label = c_string(str(node.op))
    locate, _ = _locate_function(name, node, node.op.idx_list, 1, label)
    shape_lines, nd = _index_shape_lines(j, xnd, axis, index.type.ndim)
    body = _region_declaration("v", xnd) + [
            f"    if ({name}_locate(ctx, in, &in[0], &vdata, vshape, vstrides))",
            "        return -1;", f"    const int64_t n = vshape[{axis}];"] + shape_lines
    body += _check_bounds(j, index.type.dtype, axis, "with size", label)
    body += [f"    if (ctx->alloc(ctx, 0, {nd}, tshape, &out[0]))", "        return -1;"]
    body += _sub_layout(xnd, axis, index.type.ndim, "out[0].strides")
    block = " * ".join([f"sizeof({c_type(dtype)})"] +
                       [f"vshape[{d}]" for d in range(axis + 1, xnd)])
    body += [f"    const int64_t block = {block};  /* bytes of the result per index */"]
    body += _walk_index(j, index.type.dtype, [
        f"const char *src = vdata + (v < 0 ? v + n : v) * vstrides[{axis}];",
        "char *dst = out[0].data + k * block;"] +
        _move(f"{name}_copy", xnd - 1, "dst", "tstrides", "src", "sstrides", dtype, "set"))
    body.append("    return 0;")
    return node_function(name, body, [locate, update_loop(f"{name}_copy", dtype, "set")])


def _scatter_function(node, name, idx_list, axis, j, message):
    """x (in[0]) with y (in[1]) set or added at one integer array (in[j]) on ``axis``
    and slices elsewhere; repeated indices add up (``np.add.at``)."""
    x, y, index = node.inputs[0], node.inputs[1], node.inputs[j]
    xnd, dtype = x.type.ndim, x.type.dtype
    mode = "set" if node.op.set_instead_of_inc else "inc"
    loop = f"{name}_copy" if mode == "set" else f"{name}_inc"
    label = c_string(str(node.op))
    locate, _ = _locate_function(name, node, idx_list, 2, label)
    shape_lines, nd = _index_shape_lines(j, xnd, axis, index.type.ndim)
    body = _output_from_x(node, name, f"{name}_copy")
    body += _region_declaration("v", xnd) + [
             f"    if ({name}_locate(ctx, in, &out[0], &vdata, vshape, vstrides))",
             "        return -1;", f"    const int64_t n = vshape[{axis}];"] + shape_lines
    body += _check_bounds(j, index.type.dtype, axis, message, label)
    body += _broadcast_y(name, label, y.type.ndim, nd, "tshape")
    body += _sub_layout(xnd, axis, index.type.ndim, "ystrides")
    body += ["    const char *ysrc = in[1].data;"]
    body += _walk_index(j, index.type.dtype, [
        f"char *dst = vdata + (v < 0 ? v + n : v) * vstrides[{axis}];"] +
        _move(loop, xnd - 1, "dst", "sstrides", "ysrc", "tstrides", dtype, mode),
        extra_step=("ysrc", f"(ystrides + {axis})"))
    body.append("    return 0;")
    helpers = [format_shape_function(name), locate, update_loop(f"{name}_copy", dtype, "set")]
    if mode == "inc":
        helpers.append(update_loop(f"{name}_inc", dtype, "inc"))
    return node_function(name, body, helpers)


@register_c_generator(AdvancedIncSubtensor)
def advanced_inc_subtensor_c_function(node, name):
    """AdvancedIncSubtensor with one integer array (slices elsewhere): a scatter.

    >>> import symgraph.tensor as T
    >>> x = T.dmatrix()
    >>> node = T.inc_subtensor(x[1:, T.lvector()], 1.0).owner
    >>> "index %lld is out of bounds" in advanced_inc_subtensor_c_function(node, "f")
    True
    """
    found = _one_array_axis(node, node.op.idx_list, 2)
    if found is None or not _supported(node, 2):
        return None
    return _scatter_function(node, name, node.op.idx_list, *found, "with size")


@register_c_generator(AdvancedIncSubtensor1)
def advanced_inc_subtensor1_c_function(node, name):
    """AdvancedIncSubtensor1: rows of x at an integer vector, set or added (np.add.at).

    >>> import symgraph.tensor as T
    >>> node = AdvancedIncSubtensor1()(T.dmatrix(), T.dvector(), T.lvector()).owner
    >>> "f_inc" in advanced_inc_subtensor1_c_function(node, "f")
    True
    """
    if not _supported(node, 2):
        return None
    return _scatter_function(node, name, ("a",), 0, 2, "of size")
