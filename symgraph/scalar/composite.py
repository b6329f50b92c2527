"""``Composite``: a small DAG of scalar ops acting as one scalar op (what fusion builds).

A Composite has ``nin`` inputs and a list of *statements* ``(scalar_op, refs)``:
ref ``j < nin`` is input ``j``, ref ``nin + k`` is the result of statement
``k``.  Its ``outputs`` are refs too, so one Composite may have several
outputs (``Elemwise`` then has several).  Dtypes follow from the input dtypes
exactly as they would through the separate ``Elemwise`` nodes it replaces.

It serves every backend from one description:

- ``impl``: the arrays evaluated in one pass by a ``ScalarProgram``
  (``symgraph/scalar/program.py``: reused temporaries, ufunc ``out=``, blocks
  that stay in cache for large arrays);
- ``describe(in_dtypes)``: named, typed statements (``i0, i1, ...`` for inputs,
  ``t0, t1, ...`` for results) with each scalar op, from which the C and CUDA
  backends write one loop; ``c_lines`` renders them with a backend's expression
  writer;
- ``grad``: the chain rule through the statements, each using its scalar op's
  own gradient on the inputs' tensors (the gradient of the equivalent
  ``Elemwise`` graph, before any summing over broadcast dimensions, which
  ``Elemwise`` does once for the whole Composite).

>>> import numpy as np
>>> from symgraph.scalar import basic as scal
>>> c = Composite(2, [(scal.add, (0, 1)), (scal.tanh, (2,))], [3])
>>> str(c)
'Composite{tanh(add(i0, i1))}'
>>> c.output_dtype("float32", "float32")
'float32'
>>> c.impl(np.array([0.0, 1.0]), np.array(1.0)).round(4).tolist()
[0.7616, 0.964]
"""
import functools

from symgraph.scalar.basic import ScalarOp
from symgraph.scalar.program import ScalarProgram

_MAX_NAME = 200  # longer expressions are cut in the op's name


class Composite(ScalarOp):
    """Statements over ``nin`` inputs (see the module docstring), with ``outputs``."""

    # weak (Python-scalar) constants among the inputs already have the dtype the
    # separate nodes gave them: a Composite never re-promotes them
    dtype_inputs = ()

    def __init__(self, nin, statements, outputs):
        statements = [(op, tuple(int(r) for r in refs)) for op, refs in statements]
        outputs = tuple(int(r) for r in outputs)
        _check(nin, statements, outputs)
        self.statements, self.outputs = _prune(nin, statements, outputs)
        self.nout = len(self.outputs)
        self._key = (nin, tuple(self.statements), self.outputs)
        self._dtypes, self._programs = {}, {}
        super().__init__(_name(nin, self.statements, self.outputs), nin, self.impl,
                         out_rule=None, grad=None)

    def __eq__(self, other):
        return type(self) is type(other) and self._key == other._key

    def __hash__(self):
        return hash((Composite, self._key))

    # -- dtypes ----------------------------------------------------------------------
    def value_dtypes(self, *dtypes):
        """The dtype of every ref (inputs, then statements) for inputs of ``dtypes``."""
        dtypes = tuple(str(d) for d in dtypes)
        known = self._dtypes.get(dtypes)
        if known is None:
            known = list(dtypes)
            for op, refs in self.statements:
                known.append(str(op.output_dtype(*[known[r] for r in refs])))
            self._dtypes[dtypes] = known
        return known

    def output_dtypes(self, *dtypes):
        """One dtype per output."""
        known = self.value_dtypes(*dtypes)
        return [known[r] for r in self.outputs]

    def output_dtype(self, *dtypes):
        if self.nout != 1:
            raise TypeError(f"{self} has {self.nout} outputs: use output_dtypes")
        return self.output_dtypes(*dtypes)[0]

    def compute_dtype(self, *dtypes):
        return None  # each statement casts its own inputs

    # -- evaluation ------------------------------------------------------------------
    def program(self, in_dtypes):
        """The compiled ScalarProgram for inputs of ``in_dtypes`` (cached)."""
        in_dtypes = tuple(str(d) for d in in_dtypes)
        program = self._programs.get(in_dtypes)
        if program is None:
            program = self._programs[in_dtypes] = ScalarProgram(
                self.nin, self.statements, self.outputs, in_dtypes)
        return program

    def impl(self, *arrays):
        """The outputs on ``arrays`` (broadcast together): one array, or a list of them."""
        results = self.program([a.dtype for a in arrays]).run(arrays)
        return results[0] if self.nout == 1 else results

    # -- description for code generators -------------------------------------------
    def describe(self, in_dtypes):
        """``(inputs, statements, outputs)``: inputs ``[(name, dtype)]``, statements
        ``[(name, dtype, scalar_op, [argument names], [argument dtypes])]`` in order,
        and the output names.

        >>> from symgraph.scalar import basic as scal
        >>> Composite(1, [(scal.exp, (0,))], [1]).describe(["float32"])[1]
        [('t0', 'float32', exp, ['i0'], ['float32'])]
        """
        dtypes = self.value_dtypes(*in_dtypes)
        names = [f"i{j}" for j in range(self.nin)] + [f"t{k}" for k in
                                                      range(len(self.statements))]
        statements = [(names[self.nin + k], dtypes[self.nin + k], op,
                       [names[r] for r in refs], [dtypes[r] for r in refs])
                      for k, (op, refs) in enumerate(self.statements)]
        inputs = list(zip(names[:self.nin], dtypes[:self.nin]))
        return inputs, statements, [names[r] for r in self.outputs]

    def c_lines(self, in_dtypes, expression, c_type):
        """C declarations computing every statement, or None if one has no expression.

        ``expression(op, arg_dtypes, out_dtype, arg_names)`` is the backend's C
        expression for one scalar op (None if it has none); ``c_type(dtype)`` its C
        type.  Inputs are read from C variables ``i0, i1, ...``; the outputs are the
        variables named by ``describe(in_dtypes)[2]``.

        >>> from symgraph.scalar import basic as scal
        >>> c = Composite(2, [(scal.mul, (0, 1)), (scal.exp, (2,))], [3])
        >>> write = lambda op, dts, dt, args: op.c_expr.format(*args)
        >>> c.c_lines(["float64"] * 2, write, lambda d: "double")
        ['const double t0 = (i0 * i1);', 'const double t1 = exp(t0);']
        """
        lines = []
        for name, dtype, op, args, arg_dtypes in self.describe(in_dtypes)[1]:
            expr = expression(op, arg_dtypes, dtype, args)
            if expr is None or c_type(dtype) is None:
                return None
            lines.append(f"const {c_type(dtype)} {name} = {expr};")
        return lines

    # -- gradient --------------------------------------------------------------------
    def expand(self, inputs):
        """The outputs as a graph of separate ``Elemwise`` nodes on tensor ``inputs``.

        >>> import symgraph.tensor as T
        >>> from symgraph.scalar import basic as scal
        >>> x = T.dvector('x')
        >>> c = Composite(1, [(scal.exp, (0,)), (scal.neg, (1,))], [2])
        >>> str(c.expand([x])[0].owner.op)
        'Elemwise{neg}'
        """
        return [self._values(inputs)[r] for r in self.outputs]

    def _values(self, inputs):
        from symgraph.tensor.elemwise import Elemwise

        values = list(inputs)
        for op, refs in self.statements:
            values.append(Elemwise(op)(*[values[r] for r in refs]))
        return values

    def grad(self, inputs, output, gz):
        """The gradient of a single-output Composite (``ScalarOp.grad``'s contract)."""
        return self.grad_outputs(inputs, [gz])

    def grad_outputs(self, inputs, output_grads):
        """Gradients w.r.t. each input given one gradient (or None) per output:
        reverse accumulation through the statements with each op's own ``grad``."""
        values = self._values(inputs)
        adjoint = {}
        for r, g in zip(self.outputs, output_grads):
            if g is not None:
                adjoint.setdefault(r, []).append(g)
        for k in reversed(range(len(self.statements))):
            ref = self.nin + k
            if ref not in adjoint:
                continue
            op, refs = self.statements[k]
            gz = _sum(adjoint.pop(ref))
            for r, g in zip(refs, op.grad([values[r] for r in refs], values[ref], gz)):
                if g is not None:
                    adjoint.setdefault(r, []).append(g)
        return [_sum(adjoint[j]) if j in adjoint else None for j in range(self.nin)]


def _sum(terms):
    from symgraph.tensor.var import as_tensor_variable

    terms = [as_tensor_variable(t) for t in terms]
    return functools.reduce(lambda a, b: a + b, terms)


def _check(nin, statements, outputs):
    for k, (op, refs) in enumerate(statements):
        if not isinstance(op, ScalarOp) or getattr(op, "nout", 1) != 1:
            raise TypeError(f"Composite statement {k}: {op!r} is not a single-output scalar op")
        if op.nin not in (-1, len(refs)):
            raise TypeError(f"Composite statement {k}: {op} takes {op.nin} inputs, "
                            f"got {len(refs)}")
        if any(not 0 <= r < nin + k for r in refs):
            raise ValueError(f"Composite statement {k} refers to {refs}: only inputs "
                             f"and earlier statements (refs below {nin + k}) are allowed")
    if not outputs or any(not 0 <= r < nin + len(statements) for r in outputs):
        raise ValueError(f"Composite outputs {outputs} must be refs below "
                         f"{nin + len(statements)}")


def _prune(nin, statements, outputs):
    """Drop statements no output needs; renumber the rest."""
    needed = set(outputs)
    for k in reversed(range(len(statements))):
        if nin + k in needed:
            needed.update(statements[k][1])
    new_ref = {j: j for j in range(nin)}
    kept = []
    for k, (op, refs) in enumerate(statements):
        if nin + k in needed:
            new_ref[nin + k] = nin + len(kept)
            kept.append((op, tuple(new_ref[r] for r in refs)))
    return kept, tuple(new_ref[r] for r in outputs)


def _name(nin, statements, outputs):
    text = [f"i{j}" for j in range(nin)]
    for op, refs in statements:
        args = ", ".join(text[r] for r in refs)
        text.append(f"{op}({args})" if len(args) < _MAX_NAME else f"{op}(...)")
    body = ", ".join(text[r] for r in outputs)
    if len(body) > _MAX_NAME:
        body = body[:_MAX_NAME] + "..."
    return f"Composite{{{body}}}"
