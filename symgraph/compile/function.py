"""``function``: compile a graph into a callable with shared state.

The maker (``FunctionMaker``) applies givens, gathers shared variables and
their updates, builds a FunctionGraph, optimizes it with the mode's rewrites,
guards outputs that would alias inputs or state, and links it.  ``Function``
converts arguments, runs the linked program and applies the updates, all at
once, after every output is computed.
"""
import time
import warnings

from symgraph.compile.io import In, Out
from symgraph.compile.mode import get_mode
from symgraph.compile.ops import deep_copy_op
from symgraph.compile.sharedvalue import SharedVariable
from symgraph.graph.basic import Constant, Variable, format_trace
from symgraph.graph.fgraph import FunctionGraph
from symgraph.graph.replace import clone_replace
from symgraph.graph.traversal import ancestors, graph_inputs


class UnusedInputError(ValueError):
    """An input of ``function`` is not used to compute any output or update."""


def function(inputs, outputs=None, mode=None, updates=None, givens=None,
             no_default_updates=False, accept_inplace=False, name=None, rebuild_strict=True,
             allow_input_downcast=None, profile=None, on_unused_input=None, trust_input=False):
    """Compile ``outputs`` as a function of ``inputs``.

    ``profile``: True, a name or a ``ProfileStats`` (default ``config.profile``) times the
    calls, nodes and rewrites into ``f.profile`` (see compile/profiling.py).
    ``accept_inplace``: allow a graph that already contains in-place ops (the rewrites
    add them where the DestroyHandler proves it safe; inputs declared
    ``In(x, mutable=True)`` may then be overwritten).

    >>> import symgraph.tensor as T
    >>> x = T.dvector('x')
    >>> f = function([x], (x ** 2).sum())
    >>> float(f([1.0, 2.0]))
    5.0
    """
    if not isinstance(inputs, (list, tuple)):
        raise TypeError("function: inputs must be a list of variables (or In instances)")
    from symgraph.config import config

    profile = config.profile if profile is None else profile
    start = time.perf_counter()
    maker = FunctionMaker(inputs, outputs, get_mode(mode), updates, givens, no_default_updates,
                          allow_input_downcast, on_unused_input or "raise", name, accept_inplace)
    fn = maker.create(profile=profile or None, start=start)
    fn.trust_input = trust_input
    return fn


def _as_in(i, allow_downcast):
    spec = i if isinstance(i, In) else In(i)
    if spec.allow_downcast is None:
        spec.allow_downcast = allow_downcast
    if isinstance(spec.variable, SharedVariable):
        raise TypeError(f"function: shared variable {spec.variable} cannot be an explicit input; "
                        f"use givens or drop it from the inputs")
    if isinstance(spec.variable, Constant):
        raise TypeError(f"function: constant {spec.variable} cannot be an explicit input")
    return spec


def _normalize_updates(updates):
    if updates is None:
        return []
    if isinstance(updates, dict):
        items = list(updates.items())
    else:
        items = [tuple(pair) for pair in updates]
    from symgraph.tensor.type import TensorType
    from symgraph.tensor.var import as_tensor_variable

    result, seen = [], set()
    for var, value in items:
        if not isinstance(var, SharedVariable):
            raise TypeError(f"updates: {var} is not a shared variable; only shared variables can "
                            f"be updated")
        if var in seen:
            raise ValueError(f"updates: {var} is updated twice")
        seen.add(var)
        if not isinstance(value, Variable) or isinstance(var.type, TensorType):
            value = as_tensor_variable(value)
        if value.type != var.type:
            if not isinstance(var.type, TensorType):  # e.g. a random generator's state
                raise TypeError(f"updates: the update of {var} ({var.type}) has type "
                                f"{value.type}; they must match")
            if value.dtype != var.type.dtype or value.ndim != var.type.ndim:
                raise TypeError(
                    f"updates: the update of {var} ({var.type}) has type {value.type}; they must "
                    f"match (cast the value, e.g. with .astype('{var.type.dtype}')); update "
                    f"built at {format_trace(value.tag.get('trace'))}")
            converted = var.type.convert_variable(value)
            if converted is None:
                raise TypeError(f"updates: {value.type} is not compatible with {var.type}")
            value = converted
        result.append((var, value))
    return result


def _view_root(var):
    """The variable whose storage ``var`` may share (following view and destroy maps)."""
    while var.owner is not None:
        node = var.owner
        sources = node.op.view_map.get(var.index) or node.op.destroy_map.get(var.index)
        if not sources:
            return var
        var = node.inputs[sources[0]]
    return var


class FunctionMaker:
    def __init__(self, inputs, outputs, mode, updates, givens, no_default_updates,
                 allow_input_downcast, on_unused_input, name, accept_inplace=False):
        self.mode, self.name = mode, name
        self.inputs = [_as_in(i, allow_input_downcast) for i in inputs]
        self.return_list = isinstance(outputs, (list, tuple))
        outs = [] if outputs is None else (list(outputs) if self.return_list else [outputs])
        self.outputs = [o if isinstance(o, Out) else Out(o) for o in outs]
        from symgraph.tensor.var import as_tensor_variable

        for o in self.outputs:
            if not isinstance(o.variable, Variable):
                o.variable = as_tensor_variable(o.variable)
        updates = _normalize_updates(updates)
        output_vars = [o.variable for o in self.outputs]
        updates += self._default_updates(output_vars + [v for _, v in updates], updates,
                                         no_default_updates)
        output_vars, update_values = self._apply_givens(givens, output_vars,
                                                        [v for _, v in updates])
        self.updates = [(var, val) for (var, _), val in zip(updates, update_values)]
        self._check_unused(on_unused_input, output_vars + update_values)
        explicit = [i.variable for i in self.inputs]
        everything = output_vars + update_values
        self.shared = [v for v in graph_inputs(everything)
                       if isinstance(v, SharedVariable) and v not in explicit]
        for var, _ in self.updates:
            if var not in self.shared:
                self.shared.append(var)
        self._check_missing(explicit, everything)
        self.fgraph = FunctionGraph(explicit + self.shared, everything, clone=True)
        self.original_outputs = output_vars
        self._attach_destroy_handler(accept_inplace)

    def _attach_destroy_handler(self, accept_inplace):
        """In-place ops may overwrite only intermediates and inputs declared mutable."""
        from symgraph.graph.destroyhandler import DestroyHandler

        fg = self.fgraph
        if not accept_inplace and any(node.op.destroy_map for node in fg.apply_nodes):
            raise TypeError("function: the graph contains in-place operations; pass "
                            "accept_inplace=True to compile it anyway (the rewrites add "
                            "in-place ops where it is safe)")
        mutable = [fg.inputs[k] for k, spec in enumerate(self.inputs) if spec.mutable]
        # A shared variable whose value the call replaces may be overwritten in place (a
        # weight update as Gemm{inplace}): the DestroyHandler orders every other reader of
        # the old value first, and the new value is stored after the call, as Theano does.
        n_explicit = len(self.inputs)
        for var, value in self.updates:
            if value is not var:
                mutable.append(fg.inputs[n_explicit + self.shared.index(var)])
        fg.attach_feature(DestroyHandler(mutable))
        fg.validate()

    def _default_updates(self, roots, updates, no_default_updates):
        if no_default_updates is True:
            return []
        skip = set(no_default_updates or []) | {var for var, _ in updates}
        extra = []
        for v in ancestors(roots):
            if isinstance(v, SharedVariable) and v.default_update is not None and v not in skip:
                skip.add(v)
                extra.append((v, v.default_update))
        return extra

    @staticmethod
    def _apply_givens(givens, outputs, update_values):
        if not givens:
            return outputs, update_values
        pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
        from symgraph.tensor.var import as_tensor_variable

        pairs = [(old, as_tensor_variable(new) if not isinstance(new, Variable) else new)
                 for old, new in pairs]
        for old, new in pairs:
            if not isinstance(old, Variable):
                raise TypeError(f"givens: keys must be variables, got {old!r}")
        replaced = clone_replace(outputs + update_values, pairs)
        return replaced[:len(outputs)], replaced[len(outputs):]

    def _check_unused(self, policy, roots):
        used = set(ancestors(roots))
        for spec in self.inputs:
            if spec.variable not in used:
                message = (f"function: input {spec.variable} (#{self.inputs.index(spec)}) is not "
                           f"used to compute any output; pass on_unused_input='ignore' to allow it")
                if policy == "raise":
                    raise UnusedInputError(message)
                if policy == "warn":
                    warnings.warn(message, stacklevel=4)

    def _check_missing(self, explicit, roots):
        known = set(explicit) | set(self.shared)
        for v in graph_inputs(roots):
            if v.owner is None and not isinstance(v, Constant) and v not in known:
                from symgraph.graph.fgraph import MissingInputError

                raise MissingInputError(
                    f"function: the outputs depend on {v} (type {v.type}, created at "
                    f"{format_trace(v.tag.get('trace'))}), which is not among the inputs")

    def _guard_outputs(self):
        """Copy outputs (and update values) that would alias inputs, state or each other."""
        fg = self.fgraph
        n_out = len(self.outputs)
        graph_inputs_set = set(fg.inputs)
        update_roots = [_view_root(u) for u in fg.outputs[n_out:]]
        own_cell = [fg.inputs[len(self.inputs) + self.shared.index(var)] for var, _ in self.updates]
        for i, var in enumerate(list(fg.outputs)):
            if i < n_out and self.outputs[i].borrow:
                continue
            root = _view_root(var)
            if i >= n_out and root is own_cell[i - n_out]:
                continue  # ``W: W``, or W's new value written into W's own buffer
            aliases = root in graph_inputs_set or isinstance(root, Constant)
            # after merging, two outputs (or an output and an update) may share one array,
            # directly or through views: each must get its own
            aliases = aliases or any(root is _view_root(o) for o in fg.outputs[:i])
            if i < n_out:
                aliases = aliases or any(root is r for r in update_roots)
            if aliases:
                fg.change_input("output", i, deep_copy_op(var), reason="output_guard")

    def create(self, profile=None, start=None):
        """Optimize, guard the outputs and link; ``profile``: True, a name, or a
        ``ProfileStats`` to time this function's calls into (see compile/profiling.py)."""
        start = time.perf_counter() if start is None else start
        self.mode.optimize(self.fgraph)
        self._guard_outputs()
        from symgraph.link import linker_for

        linker = self.mode.linker
        program = (linker if hasattr(linker, "make") else linker_for(linker)).make(self)
        if not profile:
            return Function(self, program)
        from symgraph.compile.profiling import ProfiledFunction

        return ProfiledFunction(self, program, profile, time.perf_counter() - start)


class Function:
    """A compiled function.  Call it with the inputs, positionally or by name."""

    profile = None  # a ProfileStats when compiled with profile=True (compile/profiling.py)

    def __init__(self, maker, program):
        self.maker = maker
        self.fn = program
        self._run = getattr(program, "run", None)  # the whole call in C, when it can be
        self.name = maker.name
        self.input_cells = program.input_cells
        self.output_cells = program.output_cells
        self._n_out = len(maker.outputs)
        self._update_containers = [var.container.storage for var, _ in maker.updates]
        self.trust_input = False
        self._by_name = {spec.name: k for k, spec in enumerate(maker.inputs) if spec.name}
        self._types = [spec.variable.type for spec in maker.inputs]
        state = [id(c) for c in self.input_cells] + [id(s) for s in self._update_containers]
        state += [id(v.container.storage) for v in maker.shared]
        self._scratch_cells = [c for c in self.output_cells if id(c) not in set(state)]

    @property
    def trust_input(self):
        """True: inputs are taken as given, without checks or conversion (faster)."""
        return self._trust_input

    @trust_input.setter
    def trust_input(self, value):
        self._trust_input = bool(value)
        if hasattr(self.fn, "trust_input"):
            self.fn.trust_input = self._trust_input

    def __call__(self, *args, **kwargs):
        if self._run is not None and not kwargs:
            result = self._run(*args)
            if result is not NotImplemented:
                return result
        specs = self.maker.inputs
        if len(args) > len(specs):
            raise TypeError(f"{self._label()} takes {len(specs)} inputs, got {len(args)}")
        values = list(args) + [_MISSING] * (len(specs) - len(args))
        for key, value in kwargs.items():
            k = self._by_name.get(key)
            if k is None:
                raise TypeError(f"{self._label()} has no input named {key!r}")
            if values[k] is not _MISSING:
                raise TypeError(f"{self._label()} got input {key!r} twice")
            values[k] = value
        for k, (spec, value) in enumerate(zip(specs, values)):
            if value is _MISSING:
                if spec.value is None:
                    raise TypeError(f"{self._label()}: missing input {spec.name or k} "
                                    f"({spec.variable.type})")
                value = spec.value
            if not self.trust_input:
                try:
                    value = self._types[k].filter(value, strict=spec.strict,
                                                  allow_downcast=spec.allow_downcast)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"{self._label()}: bad input {k} "
                                    f"({spec.name or spec.variable}): {exc}") from None
            self.input_cells[k][0] = value
        try:
            self.fn()
        except Exception:
            for cell in self.input_cells:  # do not keep the caller's arrays alive
                cell[0] = None
            raise
        cells = self.output_cells  # the program has applied the updates
        outputs = [cells[i][0] for i in range(self._n_out)]
        for cell in self._scratch_cells:
            cell[0] = None
        for cell in self.input_cells:
            cell[0] = None
        if self.maker.return_list:
            return outputs
        return outputs[0] if outputs else None

    def _label(self):
        return f"function {self.name!r}" if self.name else "function"

    def __repr__(self):
        return f"<symgraph Function {self.name or ''} of {len(self.maker.inputs)} inputs>"


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()
