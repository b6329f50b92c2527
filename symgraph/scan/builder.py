"""``scan()``: Theano's loop builder, producing a Scan op from a Python step function.

The step function ``fn`` is called once, symbolically, with one placeholder per
sequence tap, one per recurrent-output tap, and the non-sequences themselves.  What
it returns (outputs, updates of shared variables, an ``until`` condition) becomes
the Scan's inner graph; variables it uses without being given them (shared
variables, or any other outer variable) become extra non-sequence inputs.
"""
from symgraph.compile.sharedvalue import SharedVariable
from symgraph.graph.basic import Constant, Variable, format_trace
from symgraph.graph.traversal import ancestors
from symgraph.scan.info import ScanInfo
from symgraph.scan.op import Scan
from symgraph.scan.utils import clone_with
from symgraph.tensor.type import INT_DTYPES, TensorType


class until:
    """The stopping condition of a do-while scan: ``fn`` returns ``until(cond)`` beside
    its outputs, and the loop stops after the first step where ``cond`` is true.

    >>> import symgraph as sg, symgraph.tensor as T
    >>> x = T.dscalar('x')
    >>> values, _ = sg.scan(lambda v: (v * 2, until(v * 2 > 50)), outputs_info=x, n_steps=100)
    >>> sg.function([x], values)(1.0).tolist()
    [2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    """

    def __init__(self, condition):
        from symgraph.tensor.var import as_tensor_variable

        self.condition = as_tensor_variable(condition)
        if self.condition.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar, got {self.condition.type}")


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient=-1, go_backwards=False, mode=None, name=None, strict=False,
         return_list=False):
    """Loop ``fn`` over ``sequences``; return ``(outputs, updates)`` as Theano does.

    ``fn`` receives, in order: a slice of each sequence per tap (``dict(input=x,
    taps=[-2, 0, 3])`` gives ``x[t-2], x[t], x[t+3]``; plain sequences have tap 0),
    the previous values of each recurrent output per tap (``dict(initial=h0,
    taps=[-1, -3])``; a plain ``h0`` means taps ``[-1]``; ``None`` for an output that
    is not fed back), then the ``non_sequences``.  It returns its outputs, optionally a
    dict of updates of shared variables and an ``until(condition)``, in that order.
    Each output is the stack of its per-step values (initial values excluded); the
    updates map each updated shared variable to its value after the last step, for
    ``function(..., updates=updates)``.

    >>> import numpy as np, symgraph as sg, symgraph.tensor as T
    >>> x = T.dvector('x')
    >>> running, _ = sg.scan(lambda v, acc: acc + v, sequences=x,
    ...                      outputs_info=T.constant(np.float64(0)))
    >>> sg.function([x], running)([1.0, 2.0, 3.0]).tolist()
    [1.0, 3.0, 6.0]
    """
    built = build_scan(fn, sequences, outputs_info, non_sequences, n_steps,
                       truncate_gradient, go_backwards, mode, name, strict)
    outputs = built.outputs
    if len(outputs) == 1 and not return_list:
        outputs = outputs[0]
    elif not outputs and not return_list:
        outputs = None
    return outputs, built.updates


class BuiltScan:
    """What ``build_scan`` made: the Scan ``node``, the user-facing ``outputs`` (in
    ``fn``'s order, initial rows dropped) and the ``updates`` dict."""

    def __init__(self, node, outputs, updates):
        self.node, self.outputs, self.updates = node, outputs, updates


def build_scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
               truncate_gradient=-1, go_backwards=False, mode=None, name=None, strict=False,
               fresh_non_seqs=False):
    """``scan`` without the return-value conventions: a ``BuiltScan``.

    ``fresh_non_seqs``: give ``fn`` a new placeholder per non-sequence (not the outer
    variable itself, Theano's convention), each its own inner input even when the same
    outer variable is passed twice (the gradient and R-op scans need one inner input
    per forward input).
    """
    seqs = _normalize_sequences(sequences)
    outs_given = outputs_info is not None
    outs = _normalize_outputs_info(outputs_info)
    outer_non_seqs = [_as_variable(v) for v in _as_list(non_sequences)]
    non_seqs = outer_non_seqs
    if fresh_non_seqs:
        non_seqs = [v.type.make_variable(name=v.name) for v in outer_non_seqs]
    steps = _SequenceSlices(seqs, n_steps, go_backwards)
    state_specs = [o for o in outs if o is not None]
    state_phs = [[_placeholder(s.row_type, s.initial, k) for k in s.taps] for s in state_specs]
    args = list(steps.placeholders) + [v for phs in state_phs for v in phs]
    outputs, updates, cond = _parse_step_result(fn(*(args + non_seqs)))
    if outs_given and len(outputs) != len(outs):
        raise ValueError(f"scan: fn returned {len(outputs)} outputs but outputs_info has "
                         f"{len(outs)} entries; use None in outputs_info for outputs that "
                         f"are not fed back")
    if not outs_given:
        outs = [None] * len(outputs)
    state_idx = [i for i, s in enumerate(outs) if s is not None]
    nit_idx = [i for i, s in enumerate(outs) if s is None]
    exprs = _StepGraph([outputs[i] for i in state_idx], [outputs[i] for i in nit_idx],
                       updates, cond)
    exprs.add_default_updates()
    exprs.reconcile_state_types(state_specs, state_phs)
    placeholders = list(steps.placeholders) + [v for phs in state_phs for v in phs]
    if fresh_non_seqs:  # fn saw placeholders already
        free = _FreeVariables(exprs, placeholders + non_seqs, [], strict)
        if free.non_seqs:
            raise ValueError(f"scan: fn uses outer variables {free.non_seqs} it was not given")
        free.non_seqs, non_seq_phs, replace = outer_non_seqs, non_seqs, {}
    else:  # fn saw the outer variables: each gets an inner input
        free = _FreeVariables(exprs, placeholders, non_seqs, strict)
        non_seq_phs = [v.type.make_variable(name=v.name) for v in free.non_seqs]
        replace = dict(zip(free.non_seqs, non_seq_phs))
    info = ScanInfo(n_seqs=len(steps.placeholders),
                    state_taps=tuple(tuple(s.taps) for s in state_specs),
                    n_nit_sot=len(nit_idx), n_shared_outs=len(free.updated),
                    n_non_seqs=len(free.non_seqs), as_while=cond is not None,
                    truncate_gradient=int(truncate_gradient))
    op = _make_op(exprs, info, placeholders, free.updated, non_seq_phs, replace, mode, name)
    node = op.make_node(steps.n_steps, *steps.outer_sequences(),
                        *[s.outer_initial for s in state_specs], *free.updated,
                        *free.non_seqs)
    return _user_view(node, info, outs, state_idx, nit_idx, free.updated, name)


def _make_op(exprs, info, placeholders, updated, non_seq_phs, replace, mode, name):
    """The Scan op: the step graph with each outer variable it uses (updated shared
    variables, non-sequences: ``replace``) replaced by an inner input of its own."""
    shared_phs = [v.type.make_variable(name=v.name) for v in updated]
    replace = dict(replace)
    replace.update(zip(updated, shared_phs))
    inner_outputs = exprs.inner_outputs(updated, replace)
    return Scan(placeholders + shared_phs + non_seq_phs, inner_outputs, info, mode=mode,
                name=name)


def _user_view(node, info, outs, state_idx, nit_idx, updated, name):
    buffers, stacks, finals = info.split_outer_outputs(node.outputs)
    by_position = {}
    for i, buf, lag in zip(state_idx, buffers, info.state_lags):
        by_position[i] = buf[lag:]
    for i, stack in zip(nit_idx, stacks):
        by_position[i] = stack
    outputs = [by_position[i] for i in range(len(outs))]
    if name:
        for k, v in enumerate(outputs):
            v.name = f"{name}[{k}]"
    return BuiltScan(node, outputs, dict(zip(updated, finals)))


# -- arguments ------------------------------------------------------------------
def _as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _as_variable(x):
    from symgraph.tensor.var import as_tensor_variable

    return x if isinstance(x, Variable) else as_tensor_variable(x)


def _normalize_sequences(sequences):
    seqs = []
    for s in _as_list(sequences):
        if isinstance(s, dict):
            if "input" not in s:
                raise ValueError(f"scan: a sequence dict needs an 'input' entry, got {s}")
            taps = s.get("taps")
            taps = [0] if taps is None else [int(k) for k in _as_list(taps)]
            seqs.append((_as_variable(s["input"]), taps))
        else:
            seqs.append((_as_variable(s), [0]))
    for x, taps in seqs:
        if x.ndim < 1:
            raise ValueError(f"scan: sequence {x} is a scalar; sequences are iterated over "
                             f"their first dimension")
        if not taps:
            raise ValueError(f"scan: sequence {x} has no taps")
    return seqs


class _StateSpec:
    """A recurrent output: its taps and initial value as the Scan op wants them."""

    def __init__(self, initial, taps):
        self.initial, self.taps = initial, taps
        if any(k >= 0 for k in taps):
            raise ValueError(f"scan: taps of a recurrent output must be negative (only past "
                             f"values can be fed back), got {taps}")
        lag = -min(taps)
        if taps == [-1]:  # Theano's convention: the initial value is one step's value
            from symgraph.tensor.basic import expand_dims

            self.row_type = initial.type
            self.outer_initial = expand_dims(initial, 0)
        else:
            if initial.ndim < 1:
                raise ValueError(f"scan: taps {taps} need an initial value with {lag} rows, "
                                 f"got the scalar {initial}")
            self.row_type = TensorType(initial.dtype, initial.type.shape[1:])
            self.outer_initial = initial[:lag]


def _normalize_outputs_info(outputs_info):
    specs = []
    for o in _as_list(outputs_info):
        if o is None:
            specs.append(None)
            continue
        if isinstance(o, dict):
            if o.get("return_steps") is not None:
                raise ValueError("scan: return_steps is not supported; slice the output")
            initial, taps = o.get("initial"), o.get("taps")
            if initial is None:
                if taps:
                    raise ValueError(f"scan: an output with taps {taps} needs an initial value")
                specs.append(None)
                continue
            taps = [-1] if taps is None else [int(k) for k in _as_list(taps)]
            if not taps:
                specs.append(None)
                continue
            specs.append(_StateSpec(_as_variable(initial), taps))
        else:
            specs.append(_StateSpec(_as_variable(o), [-1]))
    return specs


def _placeholder(ttype, initial, tap):
    name = getattr(initial, "name", None)
    return ttype.make_variable(name=f"{name}[t{tap}]" if name else None)


class _SequenceSlices:
    """The inner placeholders and outer (sliced, possibly reversed) sequences.

    With taps ``K``, step t reads ``x[c + k]`` for each k, where the current index
    ``c = t - min(min(K), 0)``: the sequence must cover tap 0 too, as in Theano, so
    ``len(x) - (max(max(K), 0) - min(min(K), 0))`` steps are possible.
    """

    def __init__(self, seqs, n_steps, go_backwards):
        from symgraph.tensor import math
        from symgraph.tensor.basic import cast
        from symgraph.tensor.shape import shape_i
        from symgraph.tensor.var import as_tensor_variable

        self.placeholders, self._slices = [], []
        for x, taps in seqs:
            lo, hi = min(min(taps), 0), max(max(taps), 0)
            for k in taps:
                start, stop = k - lo, (None if k == hi else k - hi)
                piece = x[start:stop] if (start, stop) != (0, None) else x
                if go_backwards:
                    piece = piece[::-1]
                self._slices.append(piece)
                name = f"{x.name}[t{k:+d}]" if x.name else None
                self.placeholders.append(TensorType(x.dtype, x.type.shape[1:]).make_variable(name))
        self._given_steps = n_steps
        if n_steps is not None:
            n_steps = as_tensor_variable(n_steps)
            if n_steps.ndim != 0 or n_steps.dtype not in INT_DTYPES:
                raise TypeError(f"scan: n_steps must be an integer scalar, got {n_steps.type}")
            self.n_steps = cast(n_steps, "int64")
        elif self._slices:
            lengths = [shape_i(s, 0) for s in self._slices]
            total = lengths[0]
            for other in lengths[1:]:
                total = math.minimum(total, other)
            self.n_steps = total
        else:
            raise ValueError("scan: no information about the number of steps; give "
                             "sequences or n_steps")

    def outer_sequences(self):
        if self._given_steps is None and len(self._slices) == 1:
            return list(self._slices)  # its length is the number of steps
        return [s[:self.n_steps] for s in self._slices]


# -- what fn returned -------------------------------------------------------------
def _is_outputs(x):
    if isinstance(x, Variable):
        return True
    return isinstance(x, (list, tuple)) and all(isinstance(v, Variable) for v in x)


def _is_updates(x):
    if isinstance(x, dict):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], SharedVariable)
        for p in x)


def _parse_step_result(result):
    """``(outputs, updates, condition)`` from what ``fn`` returned: its outputs (a variable
    or a list of them), then optionally a dict of updates, then optionally an ``until``;
    Theano's forms, plus the outputs given flat (``return h, y, until(c)``)."""
    if isinstance(result, until):
        return [], [], result.condition
    if _is_outputs(result):
        return _as_list(result), [], None
    if _is_updates(result):
        return [], _update_pairs(result), None
    if not isinstance(result, (list, tuple)):
        _cannot_parse(result)
    parts = list(result)
    cond = parts.pop().condition if parts and isinstance(parts[-1], until) else None
    updates = []
    if parts and _is_updates(parts[-1]) and not isinstance(parts[-1], Variable):
        updates = _update_pairs(parts.pop())
    if any(_is_updates(p) and not _is_outputs(p) for p in parts):
        raise ValueError("scan: fn must return its outputs first, then the updates, then "
                         "until(condition)")
    if len(parts) == 1 and _is_outputs(parts[0]):
        return _as_list(parts[0]), updates, cond
    if all(isinstance(p, Variable) for p in parts):
        return parts, updates, cond
    _cannot_parse(result)


def _cannot_parse(result):
    raise ValueError(f"scan: cannot parse what fn returned: {result!r}; return outputs "
                     f"(symbolic variables), then a dict of updates, then until(condition), "
                     f"each optional, in that order")


def _update_pairs(updates):
    items = list(updates.items()) if isinstance(updates, dict) else [tuple(p) for p in updates]
    pairs, seen = [], set()
    for var, value in items:
        if not isinstance(var, SharedVariable):
            raise TypeError(f"scan: fn returned an update for {var}, which is not a shared "
                            f"variable")
        if var in seen:
            raise ValueError(f"scan: fn updates {var} twice")
        seen.add(var)
        value = value if isinstance(value, Variable) else _as_variable(value)
        pairs.append((var, value))
    return pairs


# -- the step graph -----------------------------------------------------------------
class _StepGraph:
    """The expressions fn built: new state values, per-step outputs, updates, condition."""

    def __init__(self, news, nits, updates, cond):
        self.news, self.nits, self.cond = news, nits, cond
        self.updates = [(var, _fit_update(var, value)) for var, value in updates]

    def add_default_updates(self):
        """Shared variables the step reads that have a ``default_update`` (random
        streams) are updated at every step, as ``function`` updates them at every call."""
        while True:
            updated = {var for var, _ in self.updates}
            found = [v for v in ancestors(self.all_exprs()) if isinstance(v, SharedVariable)
                     and v.default_update is not None and v not in updated]
            if not found:
                return
            self.updates += [(v, _fit_update(v, v.default_update)) for v in found]

    def all_exprs(self):
        out = self.news + self.nits + [v for _, v in self.updates]
        return out + ([self.cond] if self.cond is not None else [])

    def _rebuild(self, replace):
        exprs = clone_with(self.all_exprs(), replace)
        n, m = len(self.news), len(self.nits)
        self.news, self.nits = exprs[:n], exprs[n:n + m]
        ups = exprs[n + m:n + m + len(self.updates)]
        self.updates = [(var, v) for (var, _), v in zip(self.updates, ups)]
        if self.cond is not None:
            self.cond = exprs[-1]

    def reconcile_state_types(self, specs, placeholders):
        """Make each state's placeholders as general as the value fn computes for it (an
        initial value of static shape (3,) may feed a step that returns shape (?,))."""
        for _ in range(1 + max([v.ndim for v in self.news] + [0])):
            replace = {}
            for i, (spec, new) in enumerate(zip(specs, self.news)):
                ph_type = placeholders[i][0].type
                _check_state_type(spec, ph_type, new)
                if ph_type == new.type or ph_type.is_super(new.type):
                    continue
                general = TensorType(ph_type.dtype, tuple(
                    a if a == b else None for a, b in zip(ph_type.shape, new.type.shape)))
                fresh = [general.make_variable(name=v.name) for v in placeholders[i]]
                replace.update(zip(placeholders[i], fresh))
                placeholders[i][:] = fresh
            if not replace:
                return
            self._rebuild(replace)
        raise TypeError("scan: could not find stable types for the recurrent outputs")

    def inner_outputs(self, updated, replace):
        by_var = dict(self.updates)
        exprs = self.news + self.nits + [by_var[v] for v in updated]
        exprs += [self.cond] if self.cond is not None else []
        return clone_with(exprs, replace)


def _check_state_type(spec, ph_type, new):
    if not isinstance(new.type, TensorType) or new.dtype != ph_type.dtype \
            or new.ndim != ph_type.ndim:
        raise TypeError(
            f"scan: the initial value (outputs_info) of a recurrent output is {ph_type} per "
            f"step but fn returns {new.type} for it (built at "
            f"{format_trace(new.tag.get('trace'))}); they must have the same dtype and ndim: "
            f"cast the initial value or the result (e.g. .astype('{ph_type.dtype}'))")


def _fit_update(var, value):
    if not isinstance(var.type, TensorType):
        if value.type != var.type:
            raise TypeError(f"scan: the update of {var} ({var.type}) has type {value.type}")
        return value
    if value.dtype != var.type.dtype or value.ndim != var.type.ndim:
        raise TypeError(f"scan: the update of {var} ({var.type}) has type {value.type}; they "
                        f"must match (cast it, e.g. .astype('{var.type.dtype}'))")
    converted = var.type.convert_variable(value)
    if converted is None:
        raise TypeError(f"scan: the update of {var} ({var.type}) is {value.type}")
    return converted


class _FreeVariables:
    """The outer variables the step graph uses: ``updated`` shared variables (they become
    shared states) and ``non_seqs`` (explicit non-sequences, then the ones found)."""

    def __init__(self, exprs, placeholders, explicit, strict):
        self.updated = [var for var, _ in exprs.updates]
        updated = set(self.updated)
        own = set(placeholders)
        blockers = own | {v for v in explicit if not isinstance(v, Constant)}
        self.non_seqs = []
        for v in explicit:
            if not isinstance(v, Constant) and v not in updated and v not in self.non_seqs:
                self.non_seqs.append(v)
        known = set(self.non_seqs) | updated | own
        for v in ancestors(exprs.all_exprs(), blockers=blockers):
            if (v.owner is not None and v not in blockers) or v in known \
                    or isinstance(v, Constant):
                continue
            if strict:
                raise ValueError(f"scan(strict=True): fn uses {v} (type {v.type}, created at "
                                 f"{format_trace(v.tag.get('trace'))}), which is not among "
                                 f"the sequences, outputs_info or non_sequences")
            known.add(v)
            self.non_seqs.append(v)
