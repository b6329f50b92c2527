"""C code for ``IfElse`` (symgraph/ifelse.py): each output a view of the chosen input.

The VM runs only the branch the condition picks (the schedule's jumps); the
other branch's inputs arrive absent (a zeroed ``sg_array``), and are never read.
"""
from symgraph.ifelse import IfElse
from symgraph.link.c.registry import register_c_generator
from symgraph.link.c.scalar_c import c_type


@register_c_generator(IfElse)
def ifelse_c_function(node, name):
    """The C source of an IfElse node's function.

    >>> import symgraph.tensor as T
    >>> from symgraph.ifelse import ifelse
    >>> out = ifelse(T.bscalar('c'), T.dvector('a'), T.dvector('b'))
    >>> "ctx->view" in ifelse_c_function(out.owner, "sg_fn_0")
    True
    """
    cond_t = c_type(node.inputs[0].type.dtype)
    if cond_t is None:
        return None
    n = node.op.n_outs
    text = [f"static int {name}(sg_ctx *ctx, const sg_array *in, sg_array *out)", "{",
            f"    const int first = *(const {cond_t} *)in[0].data ? 1 : {1 + n};",
            f"    for (int k = 0; k < {n}; k++) {{",
            "        const sg_array *a = &in[first + k];",
            "        if (!a->shape && a->ndim == 0 && !a->data)",
            '            return ctx->fail(ctx, SG_ERR_RUNTIME, "ifelse: the chosen branch '
            'was not computed");',
            "        if (ctx->view(ctx, k, first + k, a->data, a->ndim, a->shape, a->strides, "
            "&out[k]))",
            "            return -1;", "    }", "    return 0;", "}", ""]
    return "\n".join(text)
