"""C expressions for scalar ops, with NumPy's results for every dtype.

``ScalarOp.c_expr`` is one format string for all dtypes; C's rules differ
from NumPy's in places (integer promotion, bool arithmetic, NaN in max/min,
floor division, overflow in softplus), so this module picks, per op and per
dtype kind, an expression that computes what the op's ``perform`` computes.
Where no such expression is known it returns None and the node runs its
``perform`` through the VM instead: a missing entry costs speed, never
correctness.

The expressions read C variables of the inputs' own C types and yield a
value that is converted to the output's C type by the caller.
"""
from symgraph.scalar import basic as scal
from symgraph.tensor.type import upcast

C_TYPES = {
    "bool": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
    "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t",
    "uint64": "uint64_t", "float32": "float", "float64": "double",
}
_FLOAT_SUFFIX = {"float32": "f32", "float64": "f64"}


def c_type(dtype):
    """The C type of one element of ``dtype`` (None: no C support, e.g. float16)."""
    return C_TYPES.get(dtype)


def kind(dtype):
    """'b' (bool), 'i' (signed), 'u' (unsigned) or 'f' (float)."""
    return "b" if dtype == "bool" else dtype[0] if dtype[0] in "iu" else "f"


def convert(expr, source, target):
    """``expr`` (of dtype ``source``) converted as NumPy's ``astype`` would."""
    if source == target:
        return expr
    if target == "bool":
        return f"(({expr}) != 0)"
    return f"(({C_TYPES[target]})({expr}))"


def scalar_c_expression(op, in_dtypes, out_dtype, args):
    """A C expression computing ``op`` on the C variables ``args``, or None.

    >>> scalar_c_expression(scal.add, ["int8", "float32"], "float32", ["x0", "x1"])
    '((float)(((float)(x0)) + x1))'
    >>> scalar_c_expression(scal.maximum, ["float64", "float64"], "float64", ["a", "b"])
    'sg_max_f64(a, b)'
    """
    if out_dtype not in C_TYPES or any(d not in C_TYPES for d in in_dtypes):
        return None
    if isinstance(op, scal.Cast):
        return convert(args[0], in_dtypes[0], out_dtype)
    special = _SPECIAL.get(op.name)
    if special is not None:
        return special(op, args, list(in_dtypes), out_dtype)
    return _float_math(op, args, in_dtypes, out_dtype)


def _float_math(op, args, in_dtypes, out_dtype):
    """Ops computed in a float type, where C's math library matches NumPy."""
    if op.c_expr is None or op.nin == -1:
        return None
    compute = op.compute_dtype(*in_dtypes)
    if compute is None or kind(compute) != "f" or compute not in C_TYPES:
        return None
    return op.c_expr.format(*[convert(a, d, compute) for a, d in zip(args, in_dtypes)])


def _cast_all(args, in_dtypes, dtype):
    return [convert(a, d, dtype) for a, d in zip(args, in_dtypes)]


def _fold(symbol, bool_symbol):
    """add/mul over any number of inputs, left to right as ``reduce(np.add, xs)``:
    each partial result takes (and wraps to) the dtype NumPy gives that pair."""

    def expression(op, args, in_dtypes, out_dtype):
        acc, acc_dtype = args[0], in_dtypes[0]
        if len(args) == 1:
            return convert(acc, acc_dtype, out_dtype)
        for arg, dtype in zip(args[1:], in_dtypes[1:]):
            pair = upcast(acc_dtype, dtype)
            if pair not in C_TYPES:
                return None
            sym = bool_symbol if pair == "bool" else symbol
            a, b = convert(acc, acc_dtype, pair), convert(arg, dtype, pair)
            acc = f"(({C_TYPES[pair]})({a} {sym} {b}))"
            acc_dtype = pair
        return convert(acc, acc_dtype, out_dtype)

    return expression


def _arith(template, kinds="iuf"):
    """A binary/unary op computed in the output dtype, for the given kinds only."""

    def expression(op, args, in_dtypes, out_dtype):
        if kind(out_dtype) not in kinds:
            return None
        xs = _cast_all(args, in_dtypes, out_dtype)
        return f"(({C_TYPES[out_dtype]}){template.format(*xs)})"

    return expression


def _by_kind(float_fn, signed, unsigned, boolean=None):
    """Different C for float / signed / unsigned / bool outputs; inputs cast to the output dtype.

    ``float_fn`` names a sg_kernels.h helper (suffix added) or, with braces, is a
    template; the others are templates.
    """

    def expression(op, args, in_dtypes, out_dtype):
        xs = _cast_all(args, in_dtypes, out_dtype)
        k = kind(out_dtype)
        if k == "f":
            if float_fn is None or "{" in float_fn:
                return float_fn and float_fn.format(*xs)
            return f"sg_{float_fn}_{_FLOAT_SUFFIX[out_dtype]}({', '.join(xs)})"
        template = {"i": signed, "u": unsigned, "b": boolean}[k]
        return None if template is None else f"(({C_TYPES[out_dtype]}){template.format(*xs)})"

    return expression


def _compare(op, args, in_dtypes, out_dtype):
    dtypes = set(in_dtypes)
    if "uint64" in dtypes and dtypes & {"int8", "int16", "int32", "int64"}:
        return None  # NumPy compares these exactly; a float64 detour would not
    common = upcast(*in_dtypes)
    if common not in C_TYPES:
        return None
    return op.c_expr.format(*_cast_all(args, in_dtypes, common))


def _float_predicate(op, args, in_dtypes, out_dtype):
    """isnan/isinf: never true of an integer."""
    if kind(in_dtypes[0]) != "f":
        return "0"
    return op.c_expr.format(args[0])


def _switch(op, args, in_dtypes, out_dtype):
    cond, a, b = args
    a, b = convert(a, in_dtypes[1], out_dtype), convert(b, in_dtypes[2], out_dtype)
    return f"(({cond}) ? {a} : {b})"


def _float_only(template):
    def expression(op, args, in_dtypes, out_dtype):
        if kind(out_dtype) != "f":
            return None
        xs = _cast_all(args, in_dtypes, out_dtype)
        return template.format(*xs, s=_FLOAT_SUFFIX[out_dtype])

    return expression


def _integral_identity(op, args, in_dtypes, out_dtype):
    """floor/ceil/trunc/round: the identity on integers, the C function on floats."""
    if kind(out_dtype) != "f":
        return convert(args[0], in_dtypes[0], out_dtype)
    return op.c_expr.format(convert(args[0], in_dtypes[0], out_dtype))


def _invert(op, args, in_dtypes, out_dtype):
    k = kind(out_dtype)
    if k == "f":
        return None
    x = convert(args[0], in_dtypes[0], out_dtype)
    return f"(!{x})" if k == "b" else f"(({C_TYPES[out_dtype]})(~{x}))"


def _clip(op, args, in_dtypes, out_dtype):
    """minimum(maximum(x, lo), hi), as np.clip (so lo > hi gives hi)."""
    x, lo, hi = _cast_all(args, in_dtypes, out_dtype)
    k = kind(out_dtype)
    if k == "f":
        s = _FLOAT_SUFFIX[out_dtype]
        return f"sg_min_{s}(sg_max_{s}({x}, {lo}), {hi})"
    if k == "b":
        return None
    low = f"({x} > {lo} ? {x} : {lo})"
    return f"(({C_TYPES[out_dtype]})({low} < {hi} ? {low} : {hi}))"


def _relu(op, args, in_dtypes, out_dtype):
    """maximum(x, 0): NaN stays NaN."""
    x = convert(args[0], in_dtypes[0], out_dtype)
    k = kind(out_dtype)
    if k == "f":
        return f"(({x} > 0 || {x} != {x}) ? {x} : 0)"
    return x if k in "ub" else f"({x} > 0 ? {x} : 0)"


def _softplus(op, args, in_dtypes, out_dtype):
    compute = op.compute_dtype(*in_dtypes)
    if compute not in _FLOAT_SUFFIX:
        return None
    return f"sg_softplus_{_FLOAT_SUFFIX[compute]}({convert(args[0], in_dtypes[0], compute)})"


_SPECIAL = {
    "add": _fold("+", "|"),
    "mul": _fold("*", "&"),
    "sub": _arith("({0} - {1})"),
    "neg": _arith("(-{0})"),
    "sqr": _arith("({0} * {0})"),
    "identity": lambda op, args, d, out: convert(args[0], d[0], out),
    "abs": _by_kind("fabs({0})", "({0} < 0 ? -{0} : {0})", "({0})", "({0})"),
    "sgn": _by_kind("sign", "(({0} > 0) - ({0} < 0))", "({0} > 0)"),
    "maximum": _by_kind("max", "({0} > {1} ? {0} : {1})", "({0} > {1} ? {0} : {1})",
                        "({0} | {1})"),
    "minimum": _by_kind("min", "({0} < {1} ? {0} : {1})", "({0} < {1} ? {0} : {1})",
                        "({0} & {1})"),
    "int_div": _by_kind("floordiv", "sg_floordiv_i64({0}, {1})", "sg_floordiv_u64({0}, {1})"),
    "mod": _by_kind("mod", "sg_mod_i64({0}, {1})", "sg_mod_u64({0}, {1})"),
    "pow": _float_only("pow({0}, {1})"),
    "and_": _arith("({0} & {1})", "iub"),
    "or_": _arith("({0} | {1})", "iub"),
    "xor": _arith("({0} ^ {1})", "iub"),
    "invert": _invert,
    "eq": _compare, "neq": _compare, "lt": _compare, "le": _compare, "gt": _compare,
    "ge": _compare,
    "isnan": _float_predicate, "isinf": _float_predicate,
    "switch": _switch,
    "clip": _clip,
    "relu": _relu,
    "softplus": _softplus,
    "floor": _integral_identity, "ceil": _integral_identity, "trunc": _integral_identity,
    "round_half_to_even": _integral_identity,
}
