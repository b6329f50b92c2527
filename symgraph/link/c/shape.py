"""C code for shape and view ops and for the ops that build arrays.

Views, where NumPy makes one (the op declares a ``view_map``): ``DimShuffle``,
``Reshape`` (when the input's strides allow it, as NumPy decides; else a
C-order copy), ``SpecifyShape``, ``SumToShape`` when the shapes already
match.  Output k becomes a view through ``ctx->view`` (csrc/sg_abi.h), which
keeps the input alive as the view's base.  Fresh arrays: ``Shape``,
``Shape_i``, ``MakeVector``, ``Alloc``, ``Join``, ``Split``, ``ARange``,
``Eye``, ``SumToShape`` when it sums, and ``DeepCopyOp``.

Errors have the exception type ``perform`` raises and name the op and the
shapes involved.
"""
from symgraph.compile.ops import DeepCopyOp
from symgraph.link.c.registry import c_string, register_c_generator
from symgraph.link.c.scalar_c import c_type
from symgraph.link.c.strided import (copy_input_to_output, format_shape_function, read_int,
                                     read_int_at, run_update, update_loop)
from symgraph.tensor.basic import Alloc, ARange, Eye, Join, MakeVector, Split
from symgraph.tensor.elemwise import DimShuffle, SumToShape
from symgraph.tensor.shape import Reshape, Shape, Shape_i, SpecifyShape
from symgraph.tensor.type import INT_DTYPES

HEADERS = "#include <stdio.h>\n#include <string.h>\n"


def node_function(name, body, helpers=()):
    """The node function ``name`` with ``body`` (C lines, indented) after ``helpers``.

    >>> print(node_function("f", ["    return 0;"]).splitlines()[-3:])
    ['{', '    return 0;', '}']
    """
    return HEADERS + "".join(helpers) + "\n".join(
        [f"static int {name}(sg_ctx *ctx, const sg_array *in, sg_array *out)", "{"] + body +
        ["}", ""])


def _dims(n):
    return max(n, 1)


def _all_c_types(node):
    return all(c_type(v.type.dtype) is not None for v in node.inputs + node.outputs)


# -- views ---------------------------------------------------------------------------

@register_c_generator(DimShuffle)
def dimshuffle_c_function(node, name):
    """DimShuffle: a view with permuted strides (0 for the added dims).

    >>> import symgraph.tensor as T
    >>> "ctx->view" in dimshuffle_c_function(T.dmatrix().T.owner, "f")
    True
    """
    op = node.op
    ndim = node.outputs[0].type.ndim
    label = c_string(str(op))
    body = [f"    int64_t shape[{_dims(ndim)}], strides[{_dims(ndim)}];",
            "    const sg_array *x = &in[0];"]
    if op.drop:
        body.append("    char buf[256];")
    for d in op.drop:
        body += [f"    if (x->shape[{d}] != 1)",
                 f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: dimension {d} of an array "
                 f"of shape %s must have size 1 to be dropped\", {label}, "
                 f"{name}_shape(buf, {op.input_ndim}, x->shape));"]
    for o, d in enumerate(op.new_order):
        if d == "x":
            body.append(f"    shape[{o}] = 1, strides[{o}] = 0;")
        else:
            body.append(f"    shape[{o}] = x->shape[{d}], strides[{o}] = x->strides[{d}];")
    body.append(f"    return ctx->view(ctx, 0, 0, x->data, {ndim}, shape, strides, &out[0]);")
    helpers = [format_shape_function(name)] if op.drop else []
    return node_function(name, body, helpers)


@register_c_generator(SpecifyShape)
def specify_shape_c_function(node, name):
    """SpecifyShape: check the shape (AssertionError, as perform), then view the input.

    >>> import symgraph.tensor as T
    >>> from symgraph.tensor.shape import specify_shape
    >>> "SG_ERR_ASSERTION" in specify_shape_c_function(
    ...     specify_shape(T.dmatrix(), (2, None)).owner, "f")
    True
    """
    op = node.op
    ndim = node.inputs[0].type.ndim
    expected = "(" + ", ".join(str(s) for s in op.shape) + ("," if ndim == 1 else "") + ")"
    checks = [f"x->shape[{d}] != {s}" for d, s in enumerate(op.shape) if s is not None]
    body = ["    const sg_array *x = &in[0];"]
    if checks:
        body += ["    char buf[256];",
                 f"    if ({' || '.join(checks)})",
                 f"        return ctx->fail(ctx, SG_ERR_ASSERTION, \"%s: expected shape %s, got "
                 f"%s\", {c_string(str(op))}, {c_string(expected)}, "
                 f"{name}_shape(buf, {ndim}, x->shape));"]
    body.append(f"    return ctx->view(ctx, 0, 0, x->data, {ndim}, x->shape, x->strides, "
                "&out[0]);")
    return node_function(name, body, [format_shape_function(name)] if checks else [])


@register_c_generator(Reshape)
def reshape_c_function(node, name):
    """Reshape: resolve the new shape (one -1 allowed), then a view if the input's strides
    allow one (NumPy's rule: each group of old dims that maps onto a group of new dims
    must be contiguous within itself), else a C-order copy.

    >>> import symgraph.tensor as T
    >>> src = reshape_c_function(T.dmatrix().reshape((-1,)).owner, "f")
    >>> "ctx->view" in src and "ctx->alloc" in src
    True
    """
    if not _all_c_types(node):
        return None
    x, shp = node.inputs
    xnd, nd = x.type.ndim, node.op.ndim
    dtype = c_type(x.type.dtype)
    label = c_string(str(node.op))
    body = [f"    const sg_array *x = &in[0], *s = &in[1];",
            f"    int64_t shape[{_dims(nd)}], asked[{_dims(nd)}], strides[{_dims(nd)}];",
            "    int64_t total = 1, known = 1;",
            "    int unknown = -1, bad = 0;",
            "    char buf[256], buf2[256];",
            f"    if (s->shape[0] != {nd})",
            f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: expected a shape of {nd} entries, "
            f"got %lld\", {label}, (long long)s->shape[0]);",
            f"    for (int d = 0; d < {xnd}; d++)",
            "        total *= x->shape[d];",
            f"    for (int d = 0; d < {nd}; d++) {{",
            f"        int64_t v = {read_int_at('s->data + d * s->strides[0]', shp.type.dtype)};",
            "        asked[d] = shape[d] = v;",
            "        if (v == -1 && unknown < 0)",
            "            unknown = d;",
            "        else if (v < 0)",
            "            bad = 1;",
            "        else if (__builtin_mul_overflow(known, v, &known))",
            "            bad = 1;", "    }",
            "    if (unknown >= 0 && !bad && known != 0 && total % known == 0)",
            "        shape[unknown] = total / known;",
            "    else if (unknown >= 0 || known != total)",
            "        bad = 1;",
            "    if (bad)",
            f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: cannot reshape an array of shape "
            f"%s (size %lld) into shape %s\", {label}, {name}_shape(buf, {xnd}, x->shape), "
            f"(long long)total, {name}_shape(buf2, {nd}, asked));",
            f"    if ({name}_strides(x, total, shape, strides))",
            f"        return ctx->view(ctx, 0, 0, x->data, {nd}, shape, strides, &out[0]);",
            f"    if (ctx->alloc(ctx, 0, {nd}, shape, &out[0]))",
            "        return -1;",
            f"    int64_t cstrides[{_dims(xnd)}];  /* x's shape, C-contiguous: a C-order copy */",
            f"    for (int64_t d = {xnd} - 1, step = sizeof({dtype}); d >= 0; d--)",
            "        cstrides[d] = step, step *= x->shape[d];",
            run_update(f"{name}_copy", xnd, "x->shape", "out[0].data", "cstrides", "x->data",
                       "x->strides"),
            "    return 0;"]
    return node_function(name, body, [format_shape_function(name),
                                      update_loop(f"{name}_copy", x.type.dtype, "set"),
                                      _reshape_strides_function(name, xnd, nd, dtype)])


def _reshape_strides_function(name, xnd, nd, dtype):
    """``{name}_strides(x, total, shape, strides)``: 1 and the strides of a view of ``x``
    with the new ``shape``, or 0 when the data must be copied."""
    return "\n".join([
        f"static int {name}_strides(const sg_array *x, int64_t total, const int64_t *ns, "
        "int64_t *strides)", "{",
        f"    int64_t od[{_dims(xnd)}], os[{_dims(xnd)}];",
        "    int no = 0;",
        "    if (total == 0) {  /* no elements: any strides do; C-contiguous ones */",
        f"        for (int64_t d = {nd} - 1, step = sizeof({dtype}); d >= 0; d--)",
        "            strides[d] = step, step *= ns[d] ? ns[d] : 1;",
        "        return 1;", "    }",
        f"    for (int d = 0; d < {xnd}; d++)  /* size-1 dims have no say */",
        "        if (x->shape[d] != 1)",
        "            od[no] = x->shape[d], os[no] = x->strides[d], no++;",
        # match groups of old dims with groups of new dims of equal products
        "    int oi = 0, oj = 1, ni = 0, nj = 1;",
        f"    while (ni < {nd} && oi < no) {{",
        "        int64_t np = ns[ni], op = od[oi];",
        "        while (np != op) {",
        "            if (np < op)",
        "                np *= ns[nj++];",
        "            else",
        "                op *= od[oj++];", "        }",
        "        for (int k = oi; k < oj - 1; k++)  /* the old group must be one block */",
        "            if (os[k] != od[k + 1] * os[k + 1])",
        "                return 0;",
        "        strides[nj - 1] = os[oj - 1];",
        "        for (int k = nj - 1; k > ni; k--)",
        "            strides[k - 1] = strides[k] * ns[k];",
        "        ni = nj++, oi = oj++;", "    }",
        f"    for (int k = ni; k < {nd}; k++)  /* trailing size-1 dims */",
        f"        strides[k] = sizeof({dtype});",
        "    return 1;", "}", ""])


@register_c_generator(SumToShape)
def sum_to_shape_c_function(node, name):
    """SumToShape: a view when the shapes match, else a sum over the differing axes
    (which must have size 1 in the target shape: ValueError otherwise, as perform).

    >>> import symgraph.tensor as T
    >>> g = T.dmatrix()
    >>> "memset" in sum_to_shape_c_function(SumToShape()(g, g.shape).owner, "f")
    True
    """
    if not _all_c_types(node):
        return None
    g, shp = node.inputs
    nd, dtype = g.type.ndim, g.type.dtype
    label = c_string(str(node.op))
    body = ["    const sg_array *g = &in[0], *s = &in[1];",
            f"    int64_t shape[{_dims(nd)}], ostrides[{_dims(nd)}];",
            "    int differ = 0;",
            "    char buf[256], buf2[256];",
            f"    if (s->shape[0] != {nd})",
            f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: a target shape of %lld entries for "
            f"an array of shape %s\", {label}, (long long)s->shape[0], "
            f"{name}_shape(buf, {nd}, g->shape));",
            f"    for (int d = 0; d < {nd}; d++) {{",
            f"        shape[d] = {read_int_at('s->data + d * s->strides[0]', shp.type.dtype)};",
            "        differ |= shape[d] != g->shape[d];", "    }",
            "    if (!differ)",
            f"        return ctx->view(ctx, 0, 0, g->data, {nd}, g->shape, g->strides, &out[0]);",
            f"    for (int d = 0; d < {nd}; d++)",
            "        if (shape[d] != g->shape[d] && shape[d] != 1)",
            f"            return ctx->fail(ctx, SG_ERR_VALUE, \"%s: cannot reduce shape %s to "
            f"%s\", {label}, {name}_shape(buf, {nd}, g->shape), {name}_shape(buf2, {nd}, shape));",
            f"    if (ctx->alloc(ctx, 0, {nd}, shape, &out[0]))",
            "        return -1;",
            f"    int64_t size = sizeof({c_type(dtype)});",
            f"    for (int d = 0; d < {nd}; d++) {{",
            "        size *= shape[d];",
            "        ostrides[d] = shape[d] == g->shape[d] ? out[0].strides[d] : 0;", "    }",
            "    memset(out[0].data, 0, (size_t)size);",
            run_update(f"{name}_add", nd, "g->shape", "out[0].data", "ostrides", "g->data",
                       "g->strides"),
            "    return 0;"]
    return node_function(name, body, [format_shape_function(name),
                                      update_loop(f"{name}_add", dtype, "inc")])


# -- shapes and small vectors ----------------------------------------------------------

@register_c_generator(Shape)
def shape_c_function(node, name):
    """Shape: an int64 vector of the input's dims.

    >>> import symgraph.tensor as T
    >>> "in[0].shape[d]" in shape_c_function(T.dmatrix().shape.owner, "f")
    True
    """
    nd = node.inputs[0].type.ndim
    body = [f"    const int64_t n = {nd};",
            "    if (ctx->alloc(ctx, 0, 1, &n, &out[0]))", "        return -1;",
            f"    for (int d = 0; d < {nd}; d++)",
            "        ((int64_t *)out[0].data)[d] = in[0].shape[d];", "    return 0;"]
    return node_function(name, body)


@register_c_generator(Shape_i)
def shape_i_c_function(node, name):
    """Shape_i: an int64 scalar, the size of dimension i.

    >>> import symgraph.tensor as T
    >>> "in[0].shape[1]" in shape_i_c_function(Shape_i(1)(T.dmatrix()).owner, "f")
    True
    """
    body = ["    if (ctx->alloc(ctx, 0, 0, NULL, &out[0]))", "        return -1;",
            f"    *(int64_t *)out[0].data = in[0].shape[{node.op.i}];", "    return 0;"]
    return node_function(name, body)


@register_c_generator(MakeVector)
def make_vector_c_function(node, name):
    """MakeVector: the scalar inputs (already of the output dtype) in one vector.

    >>> import symgraph.tensor as T
    >>> src = make_vector_c_function(MakeVector("int64")(T.lscalar(), 3).owner, "f")
    >>> "(int64_t *)out[0].data" in src
    True
    """
    dtype = node.outputs[0].type.dtype
    if c_type(dtype) is None or any(v.type.dtype != dtype for v in node.inputs):
        return None
    t, n = c_type(dtype), len(node.inputs)
    body = [f"    const int64_t n = {n};",
            "    if (ctx->alloc(ctx, 0, 1, &n, &out[0]))", "        return -1;",
            f"    for (int k = 0; k < {n}; k++)",
            f"        (({t} *)out[0].data)[k] = *(const {t} *)in[k].data;", "    return 0;"]
    return node_function(name, body)


# -- new arrays -------------------------------------------------------------------------

@register_c_generator(Alloc)
def alloc_c_function(node, name):
    """Alloc: a new array of the given shape, filled with the value broadcast to it.

    >>> import symgraph.tensor as T
    >>> "could not broadcast" in alloc_c_function(Alloc()(T.dvector(), 2, 3).owner, "f")
    True
    """
    if not _all_c_types(node):
        return None
    value, *dims = node.inputs
    nd, vnd = len(dims), value.type.ndim
    label = c_string(str(node.op))
    body = [f"    int64_t shape[{_dims(nd)}], vstrides[{_dims(nd)}];",
            "    const sg_array *v = &in[0];",
            "    char buf[256], buf2[256];",
            "    int bad = 0;"]
    body += [f"    shape[{d}] = {read_int(d + 1, s.type.dtype)};" for d, s in enumerate(dims)]
    body += [f"    for (int d = 0; d < {nd}; d++)",
             "        bad |= shape[d] < 0;",
             "    if (bad)",
             f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: negative dimensions are not "
             f"allowed (shape %s)\", {label}, {name}_shape(buf, {nd}, shape));"]
    for d in range(nd):
        vd = d - (nd - vnd)
        if vd < 0:
            body.append(f"    vstrides[{d}] = 0;")
            continue
        body += [f"    vstrides[{d}] = v->shape[{vd}] == 1 ? 0 : v->strides[{vd}];",
                 f"    bad |= v->shape[{vd}] != 1 && v->shape[{vd}] != shape[{d}];"]
    body += ["    if (bad)",
             f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: could not broadcast input array "
             f"from shape %s into shape %s\", {label}, {name}_shape(buf, {vnd}, v->shape), "
             f"{name}_shape(buf2, {nd}, shape));",
             f"    if (ctx->alloc(ctx, 0, {nd}, shape, &out[0]))", "        return -1;",
             run_update(f"{name}_fill", nd, "shape", "out[0].data", "out[0].strides", "v->data",
                        "vstrides"),
             "    return 0;"]
    return node_function(name, body, [format_shape_function(name),
                                      update_loop(f"{name}_fill", value.type.dtype, "set")])


@register_c_generator(Join)
def join_c_function(node, name):
    """Join: concatenate the inputs (all of the output dtype) along the op's axis.

    >>> import symgraph.tensor as T
    >>> x = T.dmatrix()
    >>> "ctx->alloc" in join_c_function(Join(1)(x, x).owner, "f")
    True
    """
    if not _all_c_types(node) or any(v.type.dtype != node.outputs[0].type.dtype
                                     for v in node.inputs):
        return None
    nd, axis, n = node.outputs[0].type.ndim, node.op.axis, len(node.inputs)
    body = [f"    int64_t shape[{_dims(nd)}];",
            f"    for (int d = 0; d < {nd}; d++)",
            "        shape[d] = in[0].shape[d];",
            f"    shape[{axis}] = 0;",
            f"    for (int i = 0; i < {n}; i++) {{",
            f"        for (int d = 0; d < {nd}; d++)",
            f"            if (d != {axis} && in[i].shape[d] != in[0].shape[d])",
            "                return ctx->fail(ctx, SG_ERR_VALUE, \"%s: all the input array "
            "dimensions except for the concatenation axis must match exactly, but along "
            "dimension %d, the array at index 0 has size %lld and the array at index %d has "
            f"size %lld\", {c_string(str(node.op))}, d, (long long)in[0].shape[d], i, "
            "(long long)in[i].shape[d]);",
            f"        shape[{axis}] += in[i].shape[{axis}];", "    }",
            f"    if (ctx->alloc(ctx, 0, {nd}, shape, &out[0]))", "        return -1;",
            "    char *dst = out[0].data;",
            f"    for (int i = 0; i < {n}; i++) {{",
            run_update(f"{name}_copy", nd, "in[i].shape", "dst", "out[0].strides", "in[i].data",
                       "in[i].strides", indent="        "),
            f"        dst += in[i].shape[{axis}] * out[0].strides[{axis}];", "    }",
            "    return 0;"]
    return node_function(name, body, [update_loop(f"{name}_copy", node.outputs[0].type.dtype,
                                                  "set")])


@register_c_generator(Split)
def split_c_function(node, name):
    """Split: copies of consecutive pieces of the input along the op's axis.

    >>> import symgraph.tensor as T
    >>> node = Split(2, 0)(T.dvector(), [1, 2])[0].owner
    >>> split_c_function(node, "f").count("ctx->alloc")
    1
    """
    if not _all_c_types(node):
        return None
    x, sizes = node.inputs
    nd, axis, n = x.type.ndim, node.op.axis, node.op.n_splits
    size_k = read_int_at("s->data + k * s->strides[0]", sizes.type.dtype)
    body = ["    const sg_array *x = &in[0], *s = &in[1];",
            f"    int64_t shape[{_dims(nd)}], total = 0;",
            "    int bad = 0;",
            "    char buf[256];",
            f"    if (s->shape[0] != {n})",
            "        bad = 1;",
            f"    for (int64_t k = 0; !bad && k < {n}; k++) {{",
            f"        int64_t size = {size_k};",
            "        bad |= size < 0;",
            "        total += size;", "    }",
            f"    if (bad || total != x->shape[{axis}])",
            f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: %lld sizes summing to %lld do not "
            f"split dimension {axis} of shape %s into {n} pieces\", {c_string(str(node.op))}, "
            f"(long long)s->shape[0], (long long)total, {name}_shape(buf, {nd}, x->shape));",
            "    char *src = x->data;",
            f"    for (int k = 0; k < {n}; k++) {{",
            f"        for (int d = 0; d < {nd}; d++)",
            "            shape[d] = x->shape[d];",
            f"        shape[{axis}] = {size_k};",
            f"        if (ctx->alloc(ctx, k, {nd}, shape, &out[k]))", "            return -1;",
            run_update(f"{name}_copy", nd, "shape", "out[k].data", "out[k].strides", "src",
                       "x->strides", indent="        "),
            f"        src += shape[{axis}] * x->strides[{axis}];", "    }",
            "    return 0;"]
    return node_function(name, body, [format_shape_function(name),
                                      update_loop(f"{name}_copy", x.type.dtype, "set")])


@register_c_generator(DeepCopyOp)
def deep_copy_c_function(node, name):
    """DeepCopyOp: a fresh C-contiguous copy (``ndarray.copy()``).

    >>> import symgraph.tensor as T
    >>> "ctx->alloc" in deep_copy_c_function(DeepCopyOp()(T.dvector()).owner, "f")
    True
    """
    if not _all_c_types(node):
        return None
    nd = node.inputs[0].type.ndim
    body = [copy_input_to_output(0, 0, nd, f"{name}_copy"), "    return 0;"]
    return node_function(name, body, [update_loop(f"{name}_copy", node.inputs[0].type.dtype,
                                                  "set")])


@register_c_generator(Eye)
def eye_c_function(node, name):
    """Eye: zeros with ones on diagonal k (``np.eye(n, m, k)``).

    >>> import symgraph.tensor as T
    >>> "memset" in eye_c_function(Eye("float32")(T.lscalar(), 3, 0).owner, "f")
    True
    """
    if not _all_c_types(node):
        return None
    t = c_type(node.outputs[0].type.dtype)
    n, m, k = (read_int(j, v.type.dtype) for j, v in enumerate(node.inputs))
    body = [f"    int64_t shape[2] = {{{n}, {m}}}, k = {k};",
            "    if (shape[0] < 0 || shape[1] < 0)",
            f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: negative dimensions are not "
            f"allowed (%lld, %lld)\", {c_string(str(node.op))}, (long long)shape[0], "
            "(long long)shape[1]);",
            "    if (ctx->alloc(ctx, 0, 2, shape, &out[0]))", "        return -1;",
            f"    {t} *o = ({t} *)out[0].data;",
            f"    memset(o, 0, (size_t)(shape[0] * shape[1]) * sizeof({t}));",
            "    for (int64_t i = k < 0 ? -k : 0; i < shape[0] && i + k < shape[1]; i++)",
            "        o[i * shape[1] + i + k] = 1;",
            "    return 0;"]
    return node_function(name, body)


@register_c_generator(ARange)
def arange_c_function(node, name):
    """ARange: NumPy's values exactly (``start + i * delta`` in the output dtype, with
    ``delta = (T)(start + step) - (T)start``); float outputs from any real bounds,
    integer outputs from integer bounds (not uint64).

    >>> import symgraph.tensor as T
    >>> arange_c_function(ARange("float32")(0, T.dscalar(), 0.5).owner, "f") is not None
    True
    >>> arange_c_function(ARange("bool")(0, 1, 1).owner, "f") is None
    True
    """
    dtype = node.outputs[0].type.dtype
    in_dtypes = [v.type.dtype for v in node.inputs]
    if dtype in ("float32", "float64"):
        if any(d not in INT_DTYPES and d not in ("float32", "float64") for d in in_dtypes):
            return None
        return node_function(name, _arange_float_body(node, c_type(dtype)))
    if dtype in INT_DTYPES and all(d in INT_DTYPES and d != "uint64" for d in in_dtypes):
        return node_function(name, _arange_int_body(node, c_type(dtype)))
    return None


def _read_double(j, dtype):
    return f"((double)*(const {c_type(dtype)} *)in[{j}].data)"


def _arange_float_body(node, t):
    label = c_string(str(node.op))
    a, b, s = (_read_double(j, v.type.dtype) for j, v in enumerate(node.inputs))
    return [f"    const double a = {a}, b = {b}, s = {s};",
            "    if (s == 0)",
            f"        return ctx->fail(ctx, SG_ERR_ZERO_DIVISION, \"%s: float division by zero "
            f"(step 0)\", {label});",
            "    const double length = ceil((b - a) / s);",
            "    if (length != length)",
            f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: arange: cannot compute length\", "
            f"{label});",
            "    if (length >= 9.2e18)",
            f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: Maximum allowed size exceeded\", "
            f"{label});",
            "    const int64_t n = length > 0 ? (int64_t)length : 0;",
            "    if (ctx->alloc(ctx, 0, 1, &n, &out[0]))", "        return -1;",
            f"    {t} *o = ({t} *)out[0].data;",
            f"    const {t} first = ({t})a, second = ({t})(a + s), delta = second - first;",
            "    if (n > 0)", "        o[0] = first;",
            "    if (n > 1)", "        o[1] = second;",
            "    for (int64_t i = 2; i < n; i++)",
            f"        o[i] = first + ({t})i * delta;", "    return 0;"]


def _arange_int_body(node, t):
    label = c_string(str(node.op))
    a, b, s = (read_int(j, v.type.dtype) for j, v in enumerate(node.inputs))
    return [f"    const int64_t a = {a}, b = {b}, s = {s};",
            "    if (s == 0)",
            f"        return ctx->fail(ctx, SG_ERR_ZERO_DIVISION, \"%s: division by zero (step "
            f"0)\", {label});",
            "    const double length = ceil((double)((__int128)b - a) / (double)s);",
            "    if (length >= 9.2e18)",
            f"        return ctx->fail(ctx, SG_ERR_VALUE, \"%s: Maximum allowed size exceeded\", "
            f"{label});",
            "    const int64_t n = length > 0 ? (int64_t)length : 0;",
            "    if (ctx->alloc(ctx, 0, 1, &n, &out[0]))", "        return -1;",
            f"    {t} *o = ({t} *)out[0].data;",
            f"    const {t} first = ({t})a, second = ({t})((__int128)a + s);",
            f"    const {t} delta = ({t})(second - first);",
            "    if (n > 0)", "        o[0] = first;",
            "    if (n > 1)", "        o[1] = second;",
            "    for (int64_t i = 2; i < n; i++)",
            f"        o[i] = ({t})(first + i * delta);", "    return 0;"]
