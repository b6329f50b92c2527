"""The graph IR: Type, Variable, Constant, Apply and Op.

A graph is a bipartite DAG: ``Apply`` nodes (one Op applied to input
Variables) produce output ``Variable``s.  Every Variable records, in
``tag.trace``, the user's source line that created it, so errors at compile or
run time can point back at user code.
"""
import itertools
import os
import sys
import sysconfig

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STDLIB_DIR = os.path.join(sysconfig.get_paths()["stdlib"], "")
_SITE_DIRS = tuple({os.path.join(sysconfig.get_paths()[k], "") for k in ("purelib", "platlib")})
_ids = itertools.count()


def _is_library_frame(filename):
    """symgraph itself, or the standard library (contextlib, functools, importlib, ...):
    frames that are never the user's line, even when symgraph is called through them."""
    if filename.startswith(_PACKAGE_DIR) or filename.startswith("<frozen "):
        return True
    return filename.startswith(_STDLIB_DIR) and not filename.startswith(_SITE_DIRS)


def user_trace():
    """The innermost stack frame outside symgraph, as ``(filename, lineno, function)``."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _is_library_frame(filename):
            return (filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


def format_trace(trace):
    if not trace:
        return "<unknown source line>"
    filename, lineno, func = trace
    return f'File "{filename}", line {lineno}, in {func}'


class Tag(dict):
    """A dict with attribute access (``var.tag.trace``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value


class Type:
    """What a value may be.  Subclasses implement ``filter`` and ``is_valid_value``."""

    variable_type = None  # the Variable subclass made by make_variable
    constant_type = None

    def filter(self, value, strict=False, allow_downcast=None):
        raise NotImplementedError

    def is_valid_value(self, value):
        try:
            self.filter(value, strict=True)
            return True
        except (TypeError, ValueError):
            return False

    def make_variable(self, name=None):
        return self.variable_type(self, None, name=name)

    def __call__(self, name=None):
        return self.make_variable(name)

    def is_super(self, other):
        """True if every value of ``other`` is a value of ``self``."""
        return self == other

    def convert_variable(self, var):
        """Return ``var`` re-typed to ``self`` if compatible, else None."""
        return var if var.type == self else None

    def values_eq(self, a, b):
        return a == b

    def values_eq_approx(self, a, b):
        return self.values_eq(a, b)


class Variable:
    """A typed value in a graph: a node output, a graph input, or a constant."""

    def __init__(self, type, owner=None, index=None, name=None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag = Tag()
        self.auto_name = f"v{next(_ids)}"
        trace = user_trace()
        if trace is not None:
            self.tag.trace = trace

    def __str__(self):
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = self.owner.op
            if len(self.owner.outputs) == 1:
                return f"{op}.out"
            return f"{op}.{self.index}"
        return f"<{self.type}>"

    def __repr__(self):
        return str(self)

    def clone(self, **kwargs):
        """A new, ownerless Variable of the same type, name and tag."""
        cp = type(self)(self.type, None, None, kwargs.get("name", self.name))
        cp.tag = Tag(self.tag)
        return cp

    def get_parents(self):
        return [self.owner] if self.owner is not None else []

    def eval(self, inputs_to_values=None):
        """Compile and evaluate this variable (debugging convenience).

        >>> import symgraph.tensor as T
        >>> x = T.dscalar('x')
        >>> float((x * 2).eval({x: 3.0}))
        6.0
        """
        from symgraph.compile.function import function

        inputs_to_values = inputs_to_values or {}
        inputs = list(inputs_to_values)
        key = (tuple(inputs),)
        cache = self.__dict__.setdefault("_eval_cache", {})
        if key not in cache:
            cache[key] = function(inputs, self, on_unused_input="ignore")
        return cache[key](*[inputs_to_values[i] for i in inputs])


class Constant(Variable):
    """A Variable with a fixed value known at graph-build time."""

    def __init__(self, type, data, name=None):
        super().__init__(type, None, None, name)
        self.data = type.filter(data)

    def signature(self):
        return (self.type, _hashable_data(self.data))

    def __str__(self):
        if self.name is not None:
            return self.name
        text = str(self.data)
        if len(text) > 20:
            text = text[:10] + "..." + text[-5:]
        return f"{type(self).__name__}{{{text}}}"

    def clone(self, **kwargs):
        cp = type(self)(self.type, self.data, kwargs.get("name", self.name))
        cp.tag = Tag(self.tag)
        return cp


def _hashable_data(data):
    tobytes = getattr(data, "tobytes", None)
    if tobytes is not None:
        return (getattr(data, "shape", ()), str(getattr(data, "dtype", "")), tobytes())
    return data


class Apply:
    """One application of ``op`` to ``inputs``, producing ``outputs``."""

    def __init__(self, op, inputs, outputs):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.tag = Tag()
        for i, out in enumerate(self.outputs):
            if out.owner is not None and (out.owner is not self or out.index != i):
                raise ValueError(f"output {out} of {op} already has an owner")
            out.owner = self
            out.index = i

    @property
    def out(self):
        """The default output."""
        do = getattr(self.op, "default_output", None)
        if do is None:
            if len(self.outputs) != 1:
                raise AttributeError(f"{self.op} has {len(self.outputs)} outputs; pick one")
            return self.outputs[0]
        return self.outputs[do]

    @property
    def nin(self):
        return len(self.inputs)

    @property
    def nout(self):
        return len(self.outputs)

    def get_parents(self):
        return list(self.inputs)

    def clone_with_new_inputs(self, inputs, strict=True):
        """A copy of this node applied to ``inputs`` (types rechecked unless strict)."""
        if strict:
            for old, new in zip(self.inputs, inputs):
                if old.type != new.type and not old.type.is_super(new.type):
                    raise TypeError(
                        f"cannot replace input {old} of type {old.type} by {new} of type {new.type}"
                    )
            outputs = [o.clone() for o in self.outputs]
            for o in outputs:
                o.owner = None
            return Apply(self.op, inputs, outputs)
        return self.op.make_node(*inputs)

    def __str__(self):
        return f"{self.op}({', '.join(str(i) for i in self.inputs)})"

    __repr__ = __str__


class Op:
    """The unit of computation.

    Subclasses define ``make_node`` (typing), ``perform`` (the NumPy
    reference), and optionally ``infer_shape``, ``grad``/``L_op``, ``R_op``.
    Ops compare equal when their class and ``__props__`` values match, which
    is what lets merging find duplicate computations.
    """

    __props__ = ()
    destroy_map = {}  # output index -> [input indices it overwrites]
    view_map = {}  # output index -> [input indices it aliases]
    default_output = None

    def make_node(self, *inputs):
        raise NotImplementedError

    def __call__(self, *inputs, **kwargs):
        node = self.make_node(*inputs, **kwargs)
        if self.default_output is not None:
            return node.outputs[self.default_output]
        if len(node.outputs) == 1:
            return node.outputs[0]
        return node.outputs

    def perform(self, node, inputs, output_storage):
        raise NotImplementedError(f"{type(self).__name__} has no perform")

    def L_op(self, inputs, outputs, output_grads):
        return self.grad(inputs, output_grads)

    def grad(self, inputs, output_grads):
        from symgraph.gradient import grad_not_implemented

        return [grad_not_implemented(self, i, x) for i, x in enumerate(inputs)]

    def R_op(self, inputs, eval_points):
        raise NotImplementedError(f"{self} has no R_op")

    def connection_pattern(self, node):
        return [[True] * len(node.outputs) for _ in node.inputs]

    def _props(self):
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other):
        return type(self) is type(other) and self._props() == other._props()

    def __hash__(self):
        return hash((type(self), self._props()))

    def __str__(self):
        if self.__props__:
            args = ", ".join(f"{getattr(self, p)}" for p in self.__props__)
            return f"{type(self).__name__}{{{args}}}"
        return type(self).__name__

    __repr__ = __str__


class LinearInFirstInput:
    """Mixin for ops that are linear in their first input, the others being parameters
    (a shape, counts, indices): the parameters get no gradient path, and the R-op is
    the op applied to the first input's tangent.  Put it before ``Op`` in the bases."""

    def connection_pattern(self, node):
        n_out = len(node.outputs)
        return [[True] * n_out] + [[False] * n_out for _ in node.inputs[1:]]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0], *inputs[1:])]
