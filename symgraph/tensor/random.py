"""Random numbers: a generator type, random-variable ops and ``RandomStreams``.

A stream's state is a ``numpy.random.Generator`` held by a shared variable.
A random op takes ``(rng, size, *params)`` and returns ``(new_rng, sample)``:
it draws from a *copy* of ``rng``, so its input is never changed (no
``destroy_map``; two equal nodes give equal values, so merging them is
right), and the shared variable's ``default_update`` is the op's ``new_rng``,
so every call of a compiled function advances the stream.  Random ops are
never constant-folded (``no_constant_folding``) and have no C code: both
linkers run the same ``perform``, so ``py`` and ``cvm`` give the same values.

Gradients: as in Theano, a sample has no gradient with respect to its
parameters (asking for one raises ``NullTypeGradError``); for a
reparameterised normal, draw ``z = normal(size)`` and write ``avg + std * z``.

The module-level functions (``uniform(rng, size, low, high)``, ...) follow
Theano's ``raw_random``: they take a generator variable and return
``(new_rng, sample)``.  ``RandomStreams`` (Theano's ``shared_randomstreams``)
makes and updates the generators for you.

>>> import symgraph as sg
>>> srng = RandomStreams(seed=7)
>>> u = srng.uniform((2,))
>>> f = sg.function([], u)
>>> bool((f() != f()).all())            # each call advances the stream
True
>>> g = sg.function([], RandomStreams(seed=7).uniform((2,)))
>>> srng.seed(7); bool((f() == g()).all())    # the same seed, the same numbers
True
"""
import copy
import pickle

import numpy as np

from symgraph.compile.sharedvalue import SharedVariable, shared, shared_constructor
from symgraph.config import config
from symgraph.graph.basic import Apply, Constant, Op, Type, Variable
from symgraph.tensor.basic import (as_shape_tuple_variable, broadcast_shape, cast,
                                   get_scalar_constant_entries, shape_tuple_entries)
from symgraph.tensor.elemwise import broadcast_static_shape
from symgraph.tensor.shape import specify_shape
from symgraph.tensor.type import (CONTINUOUS_DTYPES, FLOAT_DTYPES, INT_DTYPES, TensorType,
                                  upcast)
from symgraph.tensor.var import TensorConstant, as_tensor_variable


# -- the generator type ----------------------------------------------------------------
class RandomGeneratorType(Type):
    """The type of a ``numpy.random.Generator`` (a random stream's state).

    >>> import numpy as np
    >>> random_generator_type.is_valid_value(np.random.default_rng(0))
    True
    """

    def filter(self, value, strict=False, allow_downcast=None):
        if isinstance(value, np.random.Generator):
            return value
        hint = (" (a legacy RandomState: use numpy.random.default_rng(seed))"
                if isinstance(value, np.random.RandomState) else "")
        raise TypeError(f"expected a numpy.random.Generator, got {type(value).__name__}{hint}")

    def values_eq(self, a, b):
        # states hold ints and, for some bit generators, arrays: compare their bytes
        return pickle.dumps(a.bit_generator.state) == pickle.dumps(b.bit_generator.state)

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))

    def __str__(self):
        return "RandomGenerator"

    __repr__ = __str__


class RandomGeneratorVariable(Variable):
    """A symbolic random generator (the state of a stream)."""


class RandomGeneratorConstant(Constant):
    """A fixed generator: every call draws the same numbers from it."""


class RandomGeneratorSharedVariable(SharedVariable):
    """A shared random generator; ``get_value``/``set_value`` copy unless ``borrow``.

    >>> import numpy as np
    >>> rng = shared(np.random.default_rng(0))
    >>> float(rng.get_value().random()) == float(np.random.default_rng(0).random())
    True
    """

    def set_value(self, value, borrow=False):
        value = self.type.filter(value)
        super().set_value(value if borrow else copy.deepcopy(value), borrow=True)


RandomGeneratorType.variable_type = RandomGeneratorVariable
RandomGeneratorType.constant_type = RandomGeneratorConstant
random_generator_type = RandomGeneratorType()


@shared_constructor
def _shared_generator(value, name, strict, allow_downcast, borrow):
    if not isinstance(value, np.random.Generator):
        return None
    value = value if borrow else copy.deepcopy(value)
    return RandomGeneratorSharedVariable(random_generator_type, value, name=name, strict=strict,
                                         allow_downcast=allow_downcast)


def as_random_generator_variable(rng):
    """``rng`` as a generator variable (a ``numpy.random.Generator`` becomes a constant)."""
    if isinstance(rng, Variable):
        if not isinstance(rng.type, RandomGeneratorType):
            raise TypeError(f"{rng} of type {rng.type} is not a random generator")
        return rng
    return RandomGeneratorConstant(random_generator_type, rng)


# -- sizes -----------------------------------------------------------------------------
def _size_vector(size, ndim=None):
    """``size`` (None, an int, a tuple of ints/symbolic scalars, or an int vector such as
    ``x.shape``) as an int64 vector variable of static length."""
    if size is None:
        size = ()
    if isinstance(size, (int, np.integer)) or (isinstance(size, Variable)
                                               and getattr(size, "ndim", None) == 0):
        size = (size,)
    if isinstance(size, Variable) and not hasattr(size, "ndim"):
        raise TypeError(f"size must be a tuple of ints or an int vector, got {size.type}")
    vector = as_shape_tuple_variable(size)
    if vector.ndim != 1 or vector.dtype not in INT_DTYPES:
        raise TypeError(f"size must be a tuple of ints or an int vector, got {vector.type}")
    if vector.type.shape[0] is None:
        if ndim is None:
            raise ValueError("the length of size is not known statically: pass ndim")
        vector = specify_shape(vector, (ndim,))
    for s in get_scalar_constant_entries(vector, vector.type.shape[0]):
        if s is not None and s < 0:
            raise ValueError(f"size has a negative entry: {size}")
    return vector


def _dtype_name(dtype):
    return config.floatX if dtype == "floatX" else str(np.dtype(dtype))


def _check_ndim(out, ndim, what):
    if ndim is not None and out.ndim != ndim:
        raise ValueError(f"{what}: ndim={ndim}, but size and the parameters give a "
                         f"{out.ndim}-d sample")


def _is_weak(var):
    return isinstance(var, TensorConstant) and var.weak


def _float_dtype(dtype, params):
    """Theano's rule: at least floatX, upcast with the parameters' dtypes (a Python
    scalar takes the result's dtype instead of imposing its own)."""
    if dtype is not None:
        dtype = _dtype_name(dtype)
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"this distribution gives floats; dtype {dtype} is not one")
        return dtype
    strong = [p.dtype for p in params if not _is_weak(p)]
    return upcast(config.floatX, *strong)


# -- the ops ----------------------------------------------------------------------------
class RandomVariable(Op):
    """Base of the random ops: ``(rng, size, *params) -> (new_rng, sample)``.

    Subclasses give ``_draw(generator, size, params)`` (a NumPy sample), the sample's
    static shape and its symbolic shape.  ``size`` is a run-time tuple of ints.
    """

    no_constant_folding = True  # a draw is a different value on every call

    def _make(self, rng, size, params, static_shape):
        rng = as_random_generator_variable(rng)
        out = TensorType(self.dtype, static_shape).make_variable()
        return Apply(self, [rng, size] + list(params), [rng.type.make_variable(), out])

    def perform(self, node, inputs, output_storage):
        rng, size, *params = inputs
        new_rng = copy.deepcopy(rng)  # the input generator stays as it was
        sample = self._draw(new_rng, tuple(int(s) for s in size), params)
        output_storage[0][0] = new_rng
        output_storage[1][0] = np.asarray(sample, dtype=self.dtype)

    def connection_pattern(self, node):
        rest = [[False, True] for _ in node.inputs[1:]]
        return [[True, True]] + rest

    def L_op(self, inputs, outputs, output_grads):
        from symgraph.gradient import disconnected_type, grad_undefined

        why = ("A random sample has no gradient with respect to its parameters (as in "
               "Theano); for a reparameterised normal draw z = normal(size) and use "
               "avg + std * z.")
        return [disconnected_type(), disconnected_type()] + [
            grad_undefined(self, k, x, why) for k, x in enumerate(inputs[2:], start=2)]

    def R_op(self, inputs, eval_points):
        return [None, None]


def _draw_uniform(g, size, low, high, dtype):
    sample = np.asarray(g.uniform(low, high, size), dtype=dtype)
    if dtype != "float64":  # rounding down to a narrower float may reach ``high``
        top = np.nextafter(np.asarray(high, dtype=dtype), np.asarray(low, dtype=dtype))
        sample = np.where(sample >= np.asarray(high, dtype=dtype), top, sample)
    return sample


def _draw_truncated_normal(g, size, avg, std, dtype):
    """Normal values within two standard deviations of ``avg`` (out-of-range ones are
    drawn again, in order, so the result depends only on the generator's state)."""
    shape = size if size else np.broadcast_shapes(np.shape(avg), np.shape(std))
    z = g.standard_normal(shape)
    outside = np.abs(z) > 2.0
    while outside.any():
        z[outside] = g.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2.0
    return avg + std * z


def _draw_integers(g, size, low, high, dtype):
    int_dtype = dtype if dtype in INT_DTYPES else "int64"
    return g.integers(low, high, size, dtype=int_dtype)


# name -> (parameter names, draw(generator, size or None, *params, dtype))
_ELEMENTWISE = {
    "uniform": (("low", "high"), _draw_uniform),
    "normal": (("avg", "std"), lambda g, size, avg, std, dtype: g.normal(avg, std, size)),
    "truncated_normal": (("avg", "std"), _draw_truncated_normal),
    "binomial": (("n", "p"), lambda g, size, n, p, dtype: g.binomial(n, p, size)),
    "integers": (("low", "high"), _draw_integers),
    "poisson": (("lam",), lambda g, size, lam, dtype: g.poisson(lam, size)),
}


class ElementwiseRandomVariable(RandomVariable):
    """A distribution whose parameters broadcast against each other (and ``size``).

    An empty ``size`` means the shape of the broadcast parameters, as in NumPy and
    Theano; otherwise the sample has shape ``size``.
    """

    __props__ = ("dist", "dtype")

    def __init__(self, dist, dtype):
        if dist not in _ELEMENTWISE:
            raise ValueError(f"unknown distribution {dist!r}")
        self.dist, self.dtype = dist, _dtype_name(dtype)

    def make_node(self, rng, size, *params):
        names = _ELEMENTWISE[self.dist][0]
        if len(params) != len(names):
            raise TypeError(f"{self.dist} takes {len(names)} parameters {names}")
        params = [as_tensor_variable(p) for p in params]
        for name, p in zip(names, params):
            if p.dtype not in INT_DTYPES + CONTINUOUS_DTYPES + ("bool",):
                raise TypeError(f"{self.dist}: {name} must be numeric, got {p.type}")
        n = size.type.shape[0]
        param_shape = broadcast_static_shape([p.type.shape for p in params], self.dist)
        if n == 0:
            static = param_shape
        else:
            if len(param_shape) > n:
                raise ValueError(f"{self.dist}: size has {n} dimensions, fewer than the "
                                 f"parameters' {len(param_shape)}")
            static = tuple(get_scalar_constant_entries(size, n))
        return self._make(rng, size, params, static)

    def _draw(self, generator, size, params):
        return _ELEMENTWISE[self.dist][1](generator, size or None, *params, self.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        size, params = node.inputs[1], node.inputs[2:]
        n = size.type.shape[0]
        if n:
            return [None, shape_tuple_entries(size, n)]
        return [None, _broadcast_param_shapes(params, input_shapes[2:], node.outputs[1].ndim)]


def _broadcast_param_shapes(params, shapes, ndim):
    one = as_tensor_variable(np.int64(1))
    padded = [(one,) * (ndim - p.ndim) + tuple(s) for p, s in zip(params, shapes)]
    static = [(1,) * (ndim - p.ndim) + p.type.shape for p in params]
    return broadcast_shape(padded, static) if ndim else ()


class ChoiceRandomVariable(RandomVariable):
    """Draws of shape ``size`` from ``a`` (a 1-d array, or ``range(a)`` for an int),
    with or without replacement, uniformly or with probabilities ``p``."""

    __props__ = ("replace", "has_p", "dtype")

    def __init__(self, replace, has_p, dtype):
        self.replace, self.has_p, self.dtype = bool(replace), bool(has_p), _dtype_name(dtype)

    def make_node(self, rng, size, a, p=None):
        a = as_tensor_variable(a)
        if a.ndim > 1 or (a.ndim == 0 and a.dtype not in INT_DTYPES):
            raise TypeError(f"choice: a must be an int or a 1-d array, got {a.type}")
        params = [a]
        if self.has_p:
            p = as_tensor_variable(p)
            if p.ndim != 1 or p.dtype not in FLOAT_DTYPES:
                raise TypeError(f"choice: p must be a float vector, got {p.type}")
            params.append(p)
        n = size.type.shape[0]
        static = tuple(get_scalar_constant_entries(size, n))
        return self._make(rng, size, params, static)

    def _draw(self, generator, size, params):
        a, p = params[0], (params[1] if self.has_p else None)
        a = int(a) if np.ndim(a) == 0 else a
        return generator.choice(a, size=size, replace=self.replace, p=p)

    def infer_shape(self, fgraph, node, input_shapes):
        size = node.inputs[1]
        return [None, shape_tuple_entries(size, size.type.shape[0])]


class PermutationRandomVariable(RandomVariable):
    """Permutations of ``range(n)``, one per entry of ``size``: shape ``size + (n,)``."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = _dtype_name(dtype)

    def make_node(self, rng, size, n):
        n = as_tensor_variable(n)
        if n.ndim != 0 or n.dtype not in INT_DTYPES:
            raise TypeError(f"permutation: n must be an int scalar, got {n.type}")
        k = size.type.shape[0]
        static = tuple(get_scalar_constant_entries(size, k)) + tuple(
            get_scalar_constant_entries(as_shape_tuple_variable((n,)), 1))
        return self._make(rng, size, [n], static)

    def _draw(self, generator, size, params):
        n = int(params[0])
        if not size:
            return generator.permutation(n)
        rows = np.broadcast_to(np.arange(n), size + (n,))
        return generator.permuted(rows, axis=-1)

    def infer_shape(self, fgraph, node, input_shapes):
        size, n = node.inputs[1], node.inputs[2]
        return [None, shape_tuple_entries(size, size.type.shape[0]) + (n,)]


class MultinomialRandomVariable(RandomVariable):
    """Counts of ``n`` draws among ``pvals.shape[-1]`` outcomes: shape ``size + (k,)``, or,
    for an empty ``size``, the broadcast of ``n`` and ``pvals[..., 0]`` plus ``(k,)``."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = _dtype_name(dtype)

    def make_node(self, rng, size, n, pvals):
        n, pvals = as_tensor_variable(n), as_tensor_variable(pvals)
        if n.dtype not in INT_DTYPES:
            raise TypeError(f"multinomial: n must be integers, got {n.type}")
        if pvals.ndim < 1 or pvals.dtype not in FLOAT_DTYPES:
            raise TypeError(f"multinomial: pvals must be a float array, got {pvals.type}")
        k = size.type.shape[0]
        if k:
            static = tuple(get_scalar_constant_entries(size, k))
        else:
            static = broadcast_static_shape([n.type.shape, pvals.type.shape[:-1]], "multinomial")
        static += pvals.type.shape[-1:]
        return self._make(rng, size, [n, pvals], static)

    def _draw(self, generator, size, params):
        n, pvals = params
        return generator.multinomial(n, np.asarray(pvals, dtype="float64"), size or None)

    def infer_shape(self, fgraph, node, input_shapes):
        size, n, pvals = node.inputs[1:]
        k = size.type.shape[0]
        last = (input_shapes[3][-1],)
        if k:
            return [None, shape_tuple_entries(size, k) + last]
        lead = _broadcast_param_shapes(
            [n, pvals[..., 0]], [input_shapes[2], input_shapes[3][:-1]], node.outputs[1].ndim - 1)
        return [None, tuple(lead) + last]


class ChoiceRowsRandomVariable(RandomVariable):
    """Per row of the matrix ``p``, ``size[0]`` column indices drawn with the row's
    probabilities, distinct unless ``replace`` (``MRG_RandomStreams.choice``): shape
    ``(p.shape[0], size[0])``."""

    __props__ = ("replace", "dtype")

    def __init__(self, replace, dtype):
        self.replace, self.dtype = bool(replace), _dtype_name(dtype)

    def make_node(self, rng, size, p):
        p = as_tensor_variable(p)
        if p.ndim != 2 or p.dtype not in FLOAT_DTYPES:
            raise TypeError(f"choice: p must be a float matrix, got {p.type}")
        if size.type.shape[0] != 1:
            raise TypeError("choice: size must be one number (the draws per row)")
        static = (p.type.shape[0],) + tuple(get_scalar_constant_entries(size, 1))
        return self._make(rng, size, [p], static)

    def _draw(self, generator, size, params):
        p = np.asarray(params[0], dtype="float64")
        rows = [generator.choice(p.shape[1], size=size[0], replace=self.replace,
                                 p=row / row.sum()) for row in p]
        return np.array(rows, dtype=self.dtype).reshape(p.shape[0], size[0])

    def infer_shape(self, fgraph, node, input_shapes):
        return [None, (input_shapes[2][0], node.inputs[1][0])]


# -- raw functions: (rng, size, params...) -> (new_rng, sample) ------------------------
def _elementwise(dist, rng, size, params, ndim, dtype):
    size = _size_vector(size, ndim)
    new_rng, sample = ElementwiseRandomVariable(dist, dtype)(rng, size, *params)
    _check_ndim(sample, ndim, dist)
    return new_rng, sample


def uniform(rng, size=None, low=0.0, high=1.0, ndim=None, dtype=None):
    """Uniform draws on ``[low, high)``; dtype at least floatX.  Returns (new_rng, sample).

    >>> import numpy as np, symgraph as sg
    >>> new_rng, u = uniform(sg.shared(np.random.default_rng(0)), (3,), 2.0, 3.0)
    >>> bool(((u.eval() >= 2) & (u.eval() < 3)).all())
    True
    """
    low, high = as_tensor_variable(low), as_tensor_variable(high)
    return _elementwise("uniform", rng, size, [low, high], ndim, _float_dtype(dtype, [low, high]))


def normal(rng, size=None, avg=0.0, std=1.0, ndim=None, dtype=None, truncate=False):
    """Normal draws of mean ``avg`` and standard deviation ``std`` (within two standard
    deviations if ``truncate``).  Returns (new_rng, sample).

    >>> import numpy as np, symgraph as sg
    >>> _, z = normal(sg.shared(np.random.default_rng(0)), (2, 3), avg=5.0)
    >>> z.eval().shape
    (2, 3)
    """
    avg, std = as_tensor_variable(avg), as_tensor_variable(std)
    dist = "truncated_normal" if truncate else "normal"
    return _elementwise(dist, rng, size, [avg, std], ndim, _float_dtype(dtype, [avg, std]))


def binomial(rng, size=None, n=1, p=0.5, ndim=None, dtype="int64"):
    """Numbers of successes in ``n`` trials of probability ``p``.  Returns (new_rng, sample).

    >>> import numpy as np, symgraph as sg
    >>> _, b = binomial(sg.shared(np.random.default_rng(0)), (4,), n=1, p=1.0)
    >>> b.eval().tolist()
    [1, 1, 1, 1]
    """
    return _elementwise("binomial", rng, size, [n, p], ndim, dtype)


def integers(rng, size=None, low=0, high=2, ndim=None, dtype="int64"):
    """Integers in ``[low, high)`` (NumPy's ``Generator.integers``).  Returns (new_rng, sample).

    >>> import numpy as np, symgraph as sg
    >>> _, k = integers(sg.shared(np.random.default_rng(0)), (5,), 3, 4)
    >>> k.eval().tolist()
    [3, 3, 3, 3, 3]
    """
    return _elementwise("integers", rng, size, [low, high], ndim, dtype)


def random_integers(rng, size=None, low=0, high=1, ndim=None, dtype="int64"):
    """Integers in ``[low, high]``, both ends included (Theano's ``random_integers``).

    >>> import numpy as np, symgraph as sg
    >>> _, k = random_integers(sg.shared(np.random.default_rng(0)), (200,), 0, 1)
    >>> sorted(set(k.eval().tolist()))
    [0, 1]
    """
    return integers(rng, size, low, as_tensor_variable(high) + 1, ndim, dtype)


def poisson(rng, size=None, lam=1.0, ndim=None, dtype="int64"):
    """Poisson draws of mean ``lam``.  Returns (new_rng, sample).

    >>> import numpy as np, symgraph as sg
    >>> _, k = poisson(sg.shared(np.random.default_rng(0)), (3,), lam=0.0)
    >>> k.eval().tolist()
    [0, 0, 0]
    """
    return _elementwise("poisson", rng, size, [lam], ndim, dtype)


def choice(rng, size=None, a=2, replace=True, p=None, ndim=None, dtype="int64"):
    """Draws of shape ``size`` from ``a`` (a 1-d array, or ``range(a)`` for an int).
    ``dtype`` applies to draws from ``range(a)``; draws from an array keep its dtype.
    Returns (new_rng, sample).

    >>> import numpy as np, symgraph as sg
    >>> _, c = choice(sg.shared(np.random.default_rng(0)), (4,), a=4, replace=False)
    >>> sorted(c.eval().tolist())
    [0, 1, 2, 3]
    """
    a = as_tensor_variable(a)
    size = _size_vector(size, ndim)
    dtype = dtype if a.ndim == 0 else a.dtype
    op = ChoiceRandomVariable(replace, p is not None, dtype)
    new_rng, sample = op(rng, size, a, p) if p is not None else op(rng, size, a)
    _check_ndim(sample, ndim, "choice")
    return new_rng, sample


def permutation(rng, size=None, n=1, ndim=None, dtype="int64"):
    """Permutations of ``range(n)``, one per entry of ``size`` (shape ``size + (n,)``).
    Returns (new_rng, sample).

    >>> import numpy as np, symgraph as sg
    >>> _, perm = permutation(sg.shared(np.random.default_rng(0)), (2,), n=3)
    >>> [sorted(row) for row in perm.eval().tolist()]
    [[0, 1, 2], [0, 1, 2]]
    """
    size = _size_vector(size, ndim)
    new_rng, sample = PermutationRandomVariable(dtype)(rng, size, n)
    _check_ndim(sample, None if ndim is None else ndim + 1, "permutation")
    return new_rng, sample


def multinomial(rng, size=None, n=1, pvals=(0.5, 0.5), ndim=None, dtype="int64"):
    """Counts of ``n`` draws among ``len(pvals)`` outcomes (shape ``size + (k,)``).
    Returns (new_rng, sample).

    >>> import numpy as np, symgraph as sg
    >>> _, m = multinomial(sg.shared(np.random.default_rng(0)), (2,), n=5, pvals=[0.0, 1.0])
    >>> m.eval().tolist()
    [[0, 5], [0, 5]]
    """
    size = _size_vector(size, ndim)
    pvals = as_tensor_variable(pvals)
    if pvals.dtype not in FLOAT_DTYPES:
        pvals = cast(pvals, "float64")
    new_rng, sample = MultinomialRandomVariable(dtype)(rng, size, n, pvals)
    _check_ndim(sample, None if ndim is None else ndim + 1, "multinomial")
    return new_rng, sample


def choice_rows(rng, n_draws, p, replace=False, dtype="int64"):
    """Per row of the probability matrix ``p``, ``n_draws`` column indices (distinct
    unless ``replace``).
    Returns (new_rng, sample of shape ``(p.shape[0], n_draws)``).

    >>> import numpy as np, symgraph as sg
    >>> _, c = choice_rows(sg.shared(np.random.default_rng(0)), 2, [[0.5, 0.5, 0.0]])
    >>> sorted(c.eval()[0].tolist())
    [0, 1]
    """
    size = _size_vector((n_draws,))
    return ChoiceRowsRandomVariable(replace, dtype)(rng, size, p)


# -- streams ----------------------------------------------------------------------------
class RandomStreams:
    """Theano's ``shared_randomstreams.RandomStreams``: every draw gets its own generator,
    held by a shared variable and spawned from ``seed``; the shared variable's
    ``default_update`` advances it at every call of a function that uses the draw.

    The generators are ``numpy.random.PCG64`` streams spawned by
    ``numpy.random.SeedSequence(seed)`` in the order the draws are made, so the same
    seed and the same sequence of calls give the same numbers.  ``seed(s)`` gives
    every existing stream the state a fresh ``RandomStreams(s)`` would give it.

    >>> import symgraph as sg
    >>> srng = RandomStreams(seed=3)
    >>> x = srng.normal((1000,), avg=2.0)
    >>> f = sg.function([], x.mean())
    >>> 1.8 < float(f()) < 2.2
    True
    """

    def __init__(self, seed=None):
        self.default_instance_seed = seed
        self.state_updates = []  # (shared generator, its new value) per draw
        self._seeds = np.random.SeedSequence(seed)

    def _next_generator(self):
        (child,) = self._seeds.spawn(1)
        return np.random.Generator(np.random.PCG64(child))

    def seed(self, seed=None):
        """Re-seed every stream (with the constructor's seed when ``seed`` is None)."""
        seed = self.default_instance_seed if seed is None else seed
        self._seeds = np.random.SeedSequence(seed)
        for rng, _ in self.state_updates:
            rng.set_value(self._next_generator(), borrow=True)

    def updates(self):
        """The ``(shared generator, new generator)`` pairs, for ``function(updates=...)``."""
        return list(self.state_updates)

    def gen(self, draw, *args, **kwargs):
        """``draw(rng, *args, **kwargs)`` (a raw function such as ``uniform``) applied to a
        new shared generator; its sample records ``.rng`` and ``.update``."""
        rng = shared(self._next_generator(), borrow=True)
        rng.tag.is_rng = True
        new_rng, sample = draw(rng, *args, **kwargs)
        rng.default_update = new_rng
        sample.rng, sample.update = rng, (rng, new_rng)
        self.state_updates.append((rng, new_rng))
        return sample

    def __getitem__(self, sample):
        """The generator behind ``sample`` (not a copy)."""
        return sample.rng.get_value(borrow=True)

    def __setitem__(self, sample, generator):
        sample.rng.set_value(generator, borrow=True)

    def uniform(self, size=None, low=0.0, high=1.0, ndim=None, dtype=None):
        """Uniform on ``[low, high)`` (see the module function ``uniform``)."""
        return self.gen(uniform, size, low, high, ndim=ndim, dtype=dtype)

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None):
        """Normal of mean ``avg``, standard deviation ``std``."""
        return self.gen(normal, size, avg, std, ndim=ndim, dtype=dtype)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", prob=None):
        """Successes in ``n`` trials of probability ``p`` (``prob``: Theano's old name)."""
        p = p if prob is None else prob
        return self.gen(binomial, size, n, p, ndim=ndim, dtype=dtype)

    def integers(self, size=None, low=0, high=2, ndim=None, dtype="int64"):
        """Integers in ``[low, high)``."""
        return self.gen(integers, size, low, high, ndim=ndim, dtype=dtype)

    def random_integers(self, size=None, low=0, high=1, ndim=None, dtype="int64"):
        """Integers in ``[low, high]`` (both ends included, as Theano)."""
        return self.gen(random_integers, size, low, high, ndim=ndim, dtype=dtype)

    def poisson(self, size=None, lam=1.0, ndim=None, dtype="int64"):
        """Poisson of mean ``lam``."""
        return self.gen(poisson, size, lam, ndim=ndim, dtype=dtype)

    def choice(self, size=None, a=2, replace=True, p=None, ndim=None, dtype="int64"):
        """Draws from ``a`` (an array, or ``range(a)``)."""
        return self.gen(choice, size, a, replace, p, ndim=ndim, dtype=dtype)

    def permutation(self, size=None, n=1, ndim=None, dtype="int64"):
        """Permutations of ``range(n)``, shape ``size + (n,)``."""
        return self.gen(permutation, size, n, ndim=ndim, dtype=dtype)

    def multinomial(self, size=None, n=1, pvals=(0.5, 0.5), ndim=None, dtype="int64"):
        """Counts of ``n`` draws among ``len(pvals)`` outcomes, shape ``size + (k,)``."""
        return self.gen(multinomial, size, n, pvals, ndim=ndim, dtype=dtype)

    def shuffle_row_elements(self, input):
        """``input`` with the entries of every row (last axis) shuffled; the permutation
        used is the result's ``.permutation``."""
        from symgraph.tensor.basic import arange, reshape

        input = as_tensor_variable(input)
        lead = [input.shape[d] for d in range(input.ndim - 1)]
        perm = self.permutation(size=tuple(lead), n=input.shape[-1], ndim=input.ndim - 1)
        index = []
        for d, length in enumerate(lead):  # broadcasting index grids for the leading axes
            grid_shape = [1] * input.ndim
            grid_shape[d] = length
            index.append(reshape(arange(length), tuple(grid_shape)))
        shuffled = input[tuple(index) + (perm,)]
        shuffled.permutation = perm
        return shuffled
