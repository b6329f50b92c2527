"""DebugMode (mode name ``'DebugMode'``): a mode that checks the compiler on every call.

Each call runs both the unoptimized graph and the optimized one, node by node,
on the given inputs, and raises a ``DebugModeError`` naming the culprit when:

- ``BadOptimization``: a rewrite replaced a variable by one with a different
  value (every replacement made while optimizing is recorded and both sides are
  evaluated on the call's inputs), or the outputs differ beyond tolerance;
- ``BadDestroyMap``: an op changed an input it does not declare in
  ``destroy_map`` (each ``perform`` gets copies of its inputs, compared after);
- ``BadViewMap``: an op returned an output sharing memory with an input it does
  not declare in ``view_map`` (or ``destroy_map``);
- ``BadInferShape``: an op's ``infer_shape`` disagrees with the shape it computed;
- ``BadOutputType``: an op returned a value of another dtype or rank than its
  output's type;
- ``BadCImplementation``: a node's generated C code (run alone on the C VM, on
  the same input values) computes another value than its ``perform``
  (``check_c``, on by default where the C backend is available).

Tolerances are per dtype (``rtol``/``atol`` override them); integers and bools
must match exactly.  A reference value that is inf or nan may become finite
(stabilizing rewrites exist for that).  The outputs returned are ``perform``'s.

>>> import numpy as np, symgraph as sg, symgraph.tensor as T
>>> x = T.dvector('x')
>>> f = sg.function([x], T.log(1 + T.exp(x)), mode='DebugMode')
>>> np.round(f(np.array([0.0, 1000.0])), 4).tolist()
[0.6931, 1000.0]
"""
import numpy as np

from symgraph.compile.mode import Mode
from symgraph.graph.basic import Constant
from symgraph.graph.fgraph import Feature
from symgraph.graph.traversal import io_toposort
from symgraph.link.errors import raise_with_node_info

TOLERANCES = {"float16": (1e-2, 1e-3), "float32": (1e-4, 1e-5), "float64": (1e-6, 1e-9),
              "complex64": (1e-4, 1e-5), "complex128": (1e-6, 1e-9)}  # dtype: (rtol, atol)


class DebugModeError(AssertionError):
    """DebugMode found the compiler (a rewrite or an op) computing something wrong."""


class BadOptimization(DebugModeError):
    """A rewrite changed a value; ``rewrite`` names it (None: not found)."""

    def __init__(self, message, rewrite=None):
        super().__init__(message)
        self.rewrite = rewrite


class BadDestroyMap(DebugModeError):
    """An op overwrote an input it does not declare destroying."""


class BadViewMap(DebugModeError):
    """An op returned an alias of an input it does not declare viewing."""


class BadInferShape(DebugModeError):
    """An op's infer_shape disagrees with the shape its perform computed."""


class BadOutputType(DebugModeError):
    """An op's perform returned a value its output type does not allow."""


class BadCImplementation(DebugModeError):
    """A node's C code computes another value than its ``perform``."""


class DebugMode(Mode):
    """Rewrites like ``optimizer`` (FAST_RUN's by default), then checks every call.

    >>> mode = DebugMode(rtol=1e-3)
    >>> mode.excluding('fusion').rtol
    0.001
    """

    def __init__(self, optimizer="fast_run", rtol=None, atol=None, check_infer_shape=True,
                 check_c=True):
        super().__init__(linker=DebugLinker(self), optimizer=optimizer)
        self.rtol, self.atol = rtol, atol
        self.check_infer_shape = check_infer_shape
        self.check_c = check_c

    def optimize(self, fgraph):
        """Keep an unoptimized copy and the list of replacements, then optimize."""
        fgraph.debug_reference = fgraph.clone()
        recorder = _ReplacementRecorder()
        fgraph.attach_feature(recorder)
        try:
            return super().optimize(fgraph)
        finally:
            fgraph.remove_feature(recorder)
            fgraph.debug_replacements = recorder.replacements

    def _with_query(self, method, tags):
        if self.query is None:
            raise TypeError(f"{self!r}: including/excluding need a query optimizer")
        return DebugMode(getattr(self.query, method)(*tags), self.rtol, self.atol,
                         self.check_infer_shape, self.check_c)

    def tolerance(self, dtype):
        rtol, atol = TOLERANCES.get(str(dtype), (0.0, 0.0))
        return (rtol if self.rtol is None else self.rtol,
                atol if self.atol is None else self.atol)

    def __repr__(self):
        return f"DebugMode(optimizer={self.optimizer!r})"


class _ReplacementRecorder(Feature):
    """Records ``(old, new, rewrite name)`` for every replacement, forgetting the ones
    undone by a rollback."""

    def __init__(self):
        self.replacements = []

    def on_change_input(self, fgraph, node, i, old, new, reason):
        if reason == "revert":
            for k in range(len(self.replacements) - 1, -1, -1):
                if self.replacements[k][0] is new and self.replacements[k][1] is old:
                    del self.replacements[k]
                    break
            return
        if not any(o is old and n is new for o, n, _ in self.replacements[-4:]):
            self.replacements.append((old, new, reason))


class DebugLinker:
    """Links a graph optimized by a DebugMode into a checking program."""

    def __init__(self, mode):
        self.mode = mode

    def make(self, maker):
        return _DebugProgram(maker, self.mode)


class _DebugProgram:
    def __init__(self, maker, mode):
        self.maker, self.mode = maker, mode
        self.fgraph = maker.fgraph
        self.input_cells = [[None] for _ in maker.inputs]
        self.output_cells = [[None] for _ in self.fgraph.outputs]
        self._c_checkers = None  # node -> its C code alone, compiled at the first call

    def __call__(self):
        fg, reference = self.fgraph, self.fgraph.debug_reference
        values = [cell[0] for cell in self.input_cells]
        values += [var.container.storage[0] for var in self.maker.shared]
        got = self._run(fg, values)
        with np.errstate(all="ignore"):  # the unoptimized graph may overflow where the
            expected = self._run(reference, values)  # optimized one is stable
            self._check_replacements(dict(zip(fg.inputs, values)), got)
        if self.mode.check_c:
            self._check_c(got)
        for k, (out, ref_out) in enumerate(zip(fg.outputs, reference.outputs)):
            problem = self._differs(got[out], expected[ref_out], out)
            if problem:
                raise BadOptimization(
                    f"DebugMode: output {k} of the optimized graph (computed by "
                    f"{_producer(out)}) differs from the unoptimized graph's ({problem}), "
                    f"and no single rewrite was found to differ")
            self.output_cells[k][0] = got[out]
        n_out = len(self.maker.outputs)
        for (var, _), cell in zip(self.maker.updates, self.output_cells[n_out:]):
            var.container.storage[0] = cell[0]

    def _run(self, fgraph, values):
        known = dict(zip(fgraph.inputs, values))
        for node in fgraph.toposort():
            run_node(node, known, fgraph, self.mode.check_infer_shape)
        return known

    def _check_replacements(self, inputs, known):
        """Evaluate both sides of every replacement; raise at the first that differs."""
        evaluator = _Evaluator(dict(inputs), dict(known))
        for old, new, reason in self.fgraph.debug_replacements:
            try:
                a, b = evaluator.value(old), evaluator.value(new)
            except _Unavailable:
                continue
            problem = self._differs(b, a, old)
            if problem:
                raise BadOptimization(
                    f"DebugMode: rewrite {reason!r} replaced {old} (computed by "
                    f"{_producer(old)}) by {new} (computed by {_producer(new)}), and their "
                    f"values differ: {problem}", rewrite=reason)

    def _check_c(self, known):
        """Run each node that has C code alone on the C VM; compare with ``perform``."""
        if self._c_checkers is None:
            self._c_checkers = _c_checkers(self.fgraph)
        for node, f in self._c_checkers:
            inputs = [_copy(known[v]) for v in node.inputs if not isinstance(v, Constant)]
            got = f(*inputs)
            for k, (out, value) in enumerate(zip(node.outputs, got)):
                problem = self._differs(value, known[out], out)
                if problem:
                    shapes = ", ".join(f"{np.shape(known[v])} {getattr(known[v], 'dtype', '')}"
                                       for v in node.inputs if not isinstance(v, Constant))
                    raise BadCImplementation(
                        f"DebugMode: the C code of {node.op} gives output {k} = {problem} "
                        f"(perform's value is the reference); inputs: {shapes}; node: {node}")

    def _differs(self, value, reference, var):
        """A description of how ``value`` differs from ``reference`` (None if it does not)."""
        from symgraph.tensor.type import TensorType

        if not isinstance(var.type, TensorType):  # e.g. a random generator: its type knows
            try:
                if var.type.values_eq(value, reference):
                    return None
                return f"{value!r} instead of {reference!r}"
            except Exception:
                pass  # no usable comparison: compare as arrays
        value, reference = np.asarray(value), np.asarray(reference)
        if value.shape != reference.shape or value.dtype != reference.dtype:
            return (f"shape {value.shape} dtype {value.dtype} instead of shape "
                    f"{reference.shape} dtype {reference.dtype}")
        if value.dtype.kind not in "fc":
            if not np.array_equal(value, reference):
                return f"{value!r} instead of {reference!r}"
            return None
        rtol, atol = self.mode.tolerance(value.dtype)
        stabilized = ~np.isfinite(reference) & np.isfinite(value)
        close = np.isclose(value, reference, rtol=rtol, atol=atol, equal_nan=True) | stabilized
        if close.all():
            return None
        worst = np.unravel_index(np.argmax(~close), close.shape) if close.ndim else ()
        return (f"{value[worst]!r} instead of {reference[worst]!r} at index {worst} "
                f"(rtol {rtol}, atol {atol})")


def _c_checkers(fgraph):
    """(node, its C code alone as a function of its non-constant inputs) per node with C."""
    from symgraph.compile.function import function
    from symgraph.compile.io import In
    from symgraph.link.c.compiler import c_backend_available

    if not c_backend_available():
        return []
    import symgraph.link.c.generators  # noqa: F401  (registers the C generators)
    from symgraph.link.c.linker import _all_tensors
    from symgraph.link.c.registry import c_function_for

    checkers = []
    for node in fgraph.toposort():
        if not _all_tensors(node) or c_function_for(node, "sg_check") is None:
            continue
        destroyed = {i for ins in node.op.destroy_map.values() for i in ins}
        inputs = [v if isinstance(v, Constant) else v.type() for v in node.inputs]
        alone = node.clone_with_new_inputs(inputs)
        specs = [In(v, mutable=i in destroyed) for i, v in enumerate(inputs)
                 if not isinstance(v, Constant)]
        f = function(specs, list(alone.outputs), mode=Mode(linker="cvm", optimizer=None),
                     accept_inplace=True, on_unused_input="ignore")
        checkers.append((node, f))
    return checkers


def _producer(var):
    return "a graph input" if var.owner is None else str(var.owner.op)


# -- running one node with checks ----------------------------------------------------------
def run_node(node, known, fgraph, check_infer_shape=True):
    """Run ``node.op.perform`` on copies of its inputs from ``known`` (a dict variable ->
    value), check what it did, and store its outputs in ``known``."""
    inputs = [v.data if isinstance(v, Constant) else known[v] for v in node.inputs]
    copies = [_copy(x) for x in inputs]
    cells = [[None] for _ in node.outputs]
    try:
        node.op.perform(node, copies, cells)
    except Exception as exc:
        raise_with_node_info(exc, node, inputs)
    _check_destroyed(node, inputs, copies)
    _check_views(node, copies, cells)
    _check_types(node, cells)
    for out, cell in zip(node.outputs, cells):
        known[out] = cell[0]
    if check_infer_shape:
        _check_infer_shape(node, inputs, known, fgraph)


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    try:
        return bool(a == b)
    except Exception:
        return True  # values that cannot be compared cannot be checked


def _check_destroyed(node, inputs, copies):
    destroyed = {i for in_indices in node.op.destroy_map.values() for i in in_indices}
    for k, (before, after) in enumerate(zip(inputs, copies)):
        if k not in destroyed and not _same(before, after):
            raise BadDestroyMap(
                f"DebugMode: {node.op} changed its input {k} ({node.inputs[k]}) although its "
                f"destroy_map {node.op.destroy_map} does not say so; node: {node}")


def _check_views(node, copies, cells):
    for o, cell in enumerate(cells):
        value = cell[0]
        if not isinstance(value, np.ndarray):
            continue
        allowed = set(node.op.view_map.get(o, ())) | set(node.op.destroy_map.get(o, ()))
        for k, x in enumerate(copies):
            if k not in allowed and isinstance(x, np.ndarray) and np.shares_memory(value, x):
                raise BadViewMap(
                    f"DebugMode: output {o} of {node.op} shares memory with its input {k} "
                    f"({node.inputs[k]}) but its view_map {node.op.view_map} does not say so; "
                    f"node: {node}")


def _check_types(node, cells):
    from symgraph.tensor.type import TensorType

    for out, cell in zip(node.outputs, cells):
        if not isinstance(out.type, TensorType):
            continue
        value = cell[0]
        wrong = not isinstance(value, np.ndarray) or str(value.dtype) != out.type.dtype \
            or value.ndim != out.type.ndim or any(
                s is not None and s != v for s, v in zip(out.type.shape, value.shape))
        if wrong:
            got = (f"{type(value).__name__} of dtype {getattr(value, 'dtype', None)} and shape "
                   f"{getattr(value, 'shape', None)}")
            raise BadOutputType(f"DebugMode: {node.op} returned a {got} for an output of type "
                                f"{out.type}; node: {node}")


def _check_infer_shape(node, inputs, known, fgraph):
    from symgraph.tensor.type import TensorType
    from symgraph.tensor.var import constant

    if not hasattr(node.op, "infer_shape"):
        return
    shapes = [tuple(constant(np.int64(s)) for s in np.shape(value))
              if isinstance(v.type, TensorType) else None for v, value in zip(node.inputs, inputs)]
    try:
        inferred = node.op.infer_shape(fgraph, node, shapes)
    except Exception:
        return  # no usable infer_shape: the shape feature falls back to the value's shape
    evaluator = _Evaluator({}, {v: value for v, value in zip(node.inputs, inputs)})
    for o, (out, entries) in enumerate(zip(node.outputs, inferred)):
        if entries is None or not isinstance(out.type, TensorType):
            continue
        try:
            sizes = tuple(int(e) if isinstance(e, (int, np.integer))
                          else int(evaluator.value(_as_var(e))) for e in entries)
        except _Unavailable:
            continue
        actual = np.shape(known[out])
        if sizes != actual:
            raise BadInferShape(f"DebugMode: {node.op}.infer_shape gives {sizes} for output "
                                f"{o}, but perform computed shape {actual}; node: {node}")


def _as_var(entry):
    from symgraph.tensor.var import as_tensor_variable

    return as_tensor_variable(entry)


class _Unavailable(Exception):
    """A value that cannot be computed from what is known (or a cyclic history)."""


class _Evaluator:
    """Values of arbitrary variables (a rewrite's old and new ones), computed on demand
    from known values, constants and the nodes' perform."""

    def __init__(self, inputs, known):
        self.known = dict(known)
        self.known.update(inputs)

    def value(self, var):
        if var in self.known:
            return self.known[var]
        try:
            order = io_toposort([v for v in self.known], [var])
        except ValueError:
            raise _Unavailable() from None
        for node in order:
            if all(o in self.known for o in node.outputs):
                continue
            for i in node.inputs:
                if i not in self.known:
                    if not isinstance(i, Constant):
                        raise _Unavailable()
                    self.known[i] = i.data
            cells = [[None] for _ in node.outputs]
            try:
                node.op.perform(node, [_copy(self.known[i]) for i in node.inputs], cells)
            except Exception:
                raise _Unavailable() from None
            for out, cell in zip(node.outputs, cells):
                self.known[out] = cell[0]
        if var not in self.known:
            if isinstance(var, Constant):
                return var.data
            raise _Unavailable()
        return self.known[var]
