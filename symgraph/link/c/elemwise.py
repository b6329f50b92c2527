"""C code for ``Elemwise`` nodes: one loop per node over n-d strided arrays.

A plain scalar op becomes one C expression; a fused ``Composite`` becomes one
C statement per scalar op inside the same loop (``Composite.c_lines``), with
one or several outputs.  The node function broadcasts the input shapes
(NumPy's rule: size-1 dims stretch), gets each output's buffer from the VM
or, for an in-place output, takes over the input it destroys when that is
safe (as ``perform`` does: same shape, writeable, no other input reading the
same memory through another view; otherwise a fresh buffer, still correct),
then runs ``ctx->iterate`` (csrc/sg_runtime.c), which merges dims that every operand
walks as one: contiguous arrays and broadcast scalars collapse into one flat
inner loop.  The inner loop has a typed, vectorizable branch for unit
strides (inputs statically known to be broadcast scalars are read once) and
a general strided branch.  The unit-stride loop is split across cores
(OpenMP) when it has at least ``SG_OMP_MIN_ELEMENTS`` elements (sg_kernels.h)
and modules are built with ``config.openmp``.
"""
from symgraph.link.c.registry import c_string, register_c_generator
from symgraph.link.c.scalar_c import c_type, scalar_c_expression
from symgraph.tensor.elemwise import Elemwise

SG_MAXOPS = 64  # sg_abi.h


@register_c_generator(Elemwise)
def elemwise_c_function(node, name):
    """The C source of the node function ``name`` for an Elemwise node, or None.

    >>> import symgraph.tensor as T
    >>> x = T.vector('x', dtype='float32')
    >>> src = elemwise_c_function((x + x).owner, "sg_fn_0")
    >>> "static int sg_fn_0(sg_ctx *ctx" in src
    True
    """
    nin, nout = len(node.inputs), len(node.outputs)
    if nin + nout > SG_MAXOPS:
        return None
    in_dtypes = [v.type.dtype for v in node.inputs]
    out_dtypes = [v.type.dtype for v in node.outputs]
    if any(c_type(d) is None for d in in_dtypes + out_dtypes):
        return None
    body = scalar_body(node.op.scalar_op, in_dtypes, out_dtypes)
    if body is None:
        return None
    destroyed = {o: i for o, i in node.op.inplace_pattern if in_dtypes[i] == out_dtypes[o]}
    scalars = [all(s == 1 for s in v.type.shape) for v in node.inputs]
    return _inner_loop(name, in_dtypes, out_dtypes, scalars, *body) + \
        _node_function(name, str(node.op), in_dtypes, nout, node.outputs[0].type.ndim,
                       destroyed)


def scalar_body(scalar_op, in_dtypes, out_dtypes):
    """(C statements, one C expression per output) over inputs ``i0, i1, ...``, or None.

    >>> from symgraph.scalar import basic as scal
    >>> scalar_body(scal.exp, ["float64"], ["float64"])
    ([], ['exp(i0)'])
    """
    names = [f"i{k}" for k in range(len(in_dtypes))]
    if hasattr(scalar_op, "c_lines"):  # a Composite: one statement per scalar op
        lines = scalar_op.c_lines(in_dtypes, scalar_c_expression, c_type)
        if lines is None:
            return None
        return lines, scalar_op.describe(in_dtypes)[2]
    if len(out_dtypes) != 1:
        return None
    expr = scalar_c_expression(scalar_op, in_dtypes, out_dtypes[0], names)
    return None if expr is None else ([], [expr])


def _inner_loop(name, in_dtypes, out_dtypes, scalars, lines, results):
    """Two loops: typed unit-stride (vectorized) and general strided (not: gcc's
    vectorizer would only add compile time to a loop of unknown strides)."""
    nin = len(in_dtypes)
    in_t = [c_type(d) for d in in_dtypes]
    out_t = [c_type(d) for d in out_dtypes]
    unit = [f"s[{k}] == {'0' if scalars[k] else f'sizeof({t})'}" for k, t in enumerate(in_t)]
    unit += [f"s[{nin + k}] == sizeof({t})" for k, t in enumerate(out_t)]
    body = [f"        {line}" for line in lines]
    text = ["__attribute__((optimize(\"no-tree-vectorize\")))",
            f"static void {name}_strided(int64_t n, char *const *p, const int64_t *s)", "{",
            "    for (int64_t i = 0; i < n; i++) {"]
    text += [f"        const {t} i{k} = *(const {t} *)(p[{k}] + i * s[{k}]);"
             for k, t in enumerate(in_t)]
    text += body + [f"        *({t} *)(p[{nin + k}] + i * s[{nin + k}]) = ({t})({r});"
                    for k, (t, r) in enumerate(zip(out_t, results))]
    text += ["    }", "}", "",
             f"static void {name}_inner(int64_t n, char *const *p, const int64_t *s)", "{",
             f"    if (!({' && '.join(unit)})) {{", f"        {name}_strided(n, p, s);",
             "        return;", "    }"]
    text += [f"    const {t} i{k} = *(const {t} *)p[{k}];" if scalars[k]
             else f"    const {t} *a{k} = (const {t} *)p[{k}];" for k, t in enumerate(in_t)]
    text += [f"    {t} *o{k} = ({t} *)p[{nin + k}];" for k, t in enumerate(out_t)]
    loop = ["    for (int64_t i = 0; i < n; i++) {"]
    loop += [f"        const {t} i{k} = a{k}[i];" for k, t in enumerate(in_t) if not scalars[k]]
    loop += body + [f"        o{k}[i] = ({t})({r});"
                    for k, (t, r) in enumerate(zip(out_t, results))]
    loop += ["    }"]
    # large arrays: split across cores when built with OpenMP (config.openmp); small ones
    # never enter the OpenMP runtime (even a false `if` clause costs a futex call)
    text += ["#ifdef _OPENMP", "    if (n >= SG_OMP_MIN_ELEMENTS) {",
             "        #pragma omp parallel for simd schedule(static)"]
    text += ["    " + line for line in loop] + ["        return;", "    }", "#endif"]
    # ivdep: an output is a fresh buffer or exactly an input's (in place), so no step reads
    # what another wrote; without it gcc gives up on loops of many operands, whose
    # pairwise overlap checks exceed its limit (an LSTM cell's 7 left tanh scalar)
    text += ["    #pragma GCC ivdep"] + loop + ["}", ""]
    return "\n".join(text)


def _node_function(name, label, in_dtypes, nout, ndim, destroyed):
    nin = len(in_dtypes)
    nop, dims = nin + nout, max(ndim, 1)
    text = [f"static int {name}(sg_ctx *ctx, const sg_array *in, sg_array *out)", "{",
            f"    int64_t shape[{dims}];", f"    char *data[{nop}];",
            f"    int64_t strides[{nop * dims}];",
            f"    if (ctx->broadcast(ctx, {c_string(label)}, {nin}, in, {ndim}, shape))",
            "        return -1;"]
    if destroyed:
        sizes = ", ".join(f"sizeof({c_type(d)})" for d in in_dtypes)
        text.append(f"    const int64_t itemsizes[{nin}] = {{{sizes}}};")
    for k in range(nout):
        alloc = f"ctx->alloc(ctx, {k}, {ndim}, shape, &out[{k}])"
        i = destroyed.get(k)
        if i is None:
            text += [f"    if ({alloc})", "        return -1;"]
            continue
        # take over input i when it has the output's shape and nothing else reads it
        text += ["    {", "        int rc = 1;",
                 f"        if (sg_same_shape(&in[{i}], shape, {ndim}) && "
                 f"ctx->can_overwrite({nin}, in, itemsizes, {i}))",
                 f"            rc = ctx->alias(ctx, {k}, {i}, &out[{k}]);",
                 f"        if (rc < 0 || (rc > 0 && {alloc}))", "            return -1;", "    }"]
    text += [f"    sg_operands({nin}, in, {nout}, out, {ndim}, data, strides);",
             f"    ctx->iterate({nop}, {ndim}, shape, data, strides, {name}_inner);",
             "    return 0;", "}", ""]
    return "\n".join(text)
