"""The PyTensor peer (Theano's successor): the Theano-style model compiled with its C VM
(``cvm``) and with its default backend (``numba`` in PyTensor 3), called with
``trust_input = True``, its fastest way to be called.

>>> from benchmarks.impls import Problem
>>> from benchmarks.mlp_spec import init_params, make_data
>>> X, Y = make_data(10)
>>> problem = Problem((784, 10), 10, init_params((784, 10)), X, Y, 0.01, 1)
>>> make("pytensor", "cvm", problem).run(1)  # doctest: +SKIP
"""
import warnings

import numpy as np

from benchmarks.impls import Runner, Unavailable, cycling_loop
from benchmarks.mlp_spec import minibatches

VARIANTS = {"pytensor": ["cvm", "numba"]}


def _import_pytensor():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its "could not link to a BLAS" warning
            import pytensor
    except ImportError:
        raise Unavailable("PyTensor is not installed (pip install pytensor)") from None
    pytensor.config.floatX = "float32"
    return pytensor


def blas_note():
    """How PyTensor's C code reaches BLAS here (its ``blas__ldflags``), for the notes."""
    pytensor = _import_pytensor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flags = pytensor.config.blas__ldflags
    return f"PyTensor blas__ldflags={flags!r}" + ("" if flags else
                                                  " (no BLAS linked: NumPy C-API fallback)")


def _mode(pytensor, variant):
    from pytensor.compile.mode import Mode, get_default_mode

    if variant == "cvm":
        return Mode(linker="cvm", optimizer="fast_run")
    mode = get_default_mode()
    linker = type(mode.linker).__name__.lower()
    if variant not in linker:
        raise Unavailable(f"PyTensor's default linker is {type(mode.linker).__name__}, "
                          f"not {variant}")
    return mode


def make(impl, variant, problem):
    """A runner for one PyTensor mode."""
    if variant not in VARIANTS.get(impl, ()):
        raise Unavailable(f"no variant {impl}/{variant}")
    pytensor = _import_pytensor()
    import pytensor.tensor as pt

    params = [(pytensor.shared(W.copy(), name=f"W{k}"), pytensor.shared(b.copy(), name=f"b{k}"))
              for k, (W, b) in enumerate(problem.params)]
    x, y = pt.matrix("x", dtype="float32"), pt.ivector("y")
    h = x
    for k, (W, b) in enumerate(params):
        h = pt.dot(h, W) + b
        if k + 1 < len(params):
            h = pt.tanh(h)
    p = pt.special.softmax(h, axis=-1)
    nll = -pt.mean(pt.log(p)[pt.arange(y.shape[0]), y])
    flat = [v for pair in params for v in pair]
    lr = np.float32(problem.lr)
    updates = [(v, v - lr * g) for v, g in zip(flat, pytensor.grad(nll, flat))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = pytensor.function([x, y], nll, updates=updates, mode=_mode(pytensor, variant))
    f.trust_input = True
    run = cycling_loop(f, minibatches(problem.X, problem.Y, problem.batch))
    getter = lambda: [(W.get_value(borrow=True), b.get_value(borrow=True))  # noqa: E731
                      for W, b in params]
    return Runner(run, getter)
