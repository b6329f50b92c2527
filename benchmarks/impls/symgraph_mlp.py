"""symgraph's MLP: the same model built as a graph, differentiated and compiled.

Variants (each reported only when the backend that gives it exists here):

- ``py``: the Python VM (``Mode(linker='py')``), called normally;
- ``trust_input``: the default mode, with ``f.trust_input = True`` (no input checks);
- ``cvm``, ``cvm_nogc``: the C VM linkers of those names;
- ``n_calls``: data in shared variables, ``f.fn(n_calls=N)`` runs N steps in one call
  (Theano's VM interface: the loop runs inside the VM, in C for the C VM).

>>> from benchmarks.impls import Problem
>>> from benchmarks.mlp_spec import init_params, make_data
>>> X, Y = make_data(20)
>>> problem = Problem((784, 10), 10, init_params((784, 10)), X, Y, 0.01, 1)
>>> runner = make("symgraph", "py", problem)
>>> runner.run(2)
"""
import numpy as np

from benchmarks.impls import Runner, Unavailable, cycling_loop
from benchmarks.mlp_spec import minibatches

VARIANTS = {"symgraph": ["py", "trust_input", "cvm", "cvm_nogc", "n_calls"]}
_LINKER_OF = {"py": "py", "cvm": "cvm", "cvm_nogc": "cvm_nogc"}


def softmax_source():
    """``'T.nnet.softmax'`` when symgraph has it, else ``'exp/sum'`` (written out here)."""
    import symgraph.tensor as T

    return "T.nnet.softmax" if hasattr(T.nnet, "softmax") else "exp/sum"


def _softmax(z):
    import symgraph.tensor as T

    if hasattr(T.nnet, "softmax"):
        return T.nnet.softmax(z)
    shifted = z - z.max(axis=1, keepdims=True)
    e = T.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def build_training_graph(params, x, y, lr):
    """``(nll, updates)`` for SGD on the MLP; ``params`` are symgraph shared ``(W, b)`` pairs."""
    import symgraph as sg
    import symgraph.tensor as T

    h = x
    for k, (W, b) in enumerate(params):
        h = T.dot(h, W) + b
        if k + 1 < len(params):
            h = T.tanh(h)
    p = _softmax(h)
    nll = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    flat = [v for pair in params for v in pair]
    grads = sg.grad(nll, flat)
    step = np.float32(lr)
    return nll, [(v, v - step * g) for v, g in zip(flat, grads)]


def _shared_params(problem):
    import symgraph as sg

    return [(sg.shared(W.copy(), name=f"W{k}"), sg.shared(b.copy(), name=f"b{k}"))
            for k, (W, b) in enumerate(problem.params)]


def _getter(shared_params):
    return lambda: [(W.get_value(borrow=True), b.get_value(borrow=True))
                    for W, b in shared_params]


def _mode_for(variant):
    import symgraph as sg

    if variant == "trust_input":
        return None  # the default mode: whatever sg.function picks by default
    return sg.Mode(linker=_LINKER_OF[variant])


def make_per_call(variant, problem):
    """A training function of ``(x, y)`` called once per minibatch from Python."""
    import symgraph as sg
    import symgraph.tensor as T

    params = _shared_params(problem)
    x, y = T.fmatrix("x"), T.ivector("y")
    nll, updates = build_training_graph(params, x, y, problem.lr)
    try:
        f = sg.function([x, y], nll, updates=updates, mode=_mode_for(variant))
    except ValueError as exc:
        if "linker" in str(exc):
            raise Unavailable(f"symgraph has no '{variant}' linker yet") from None
        raise
    f.trust_input = variant == "trust_input"
    run = cycling_loop(f, minibatches(problem.X, problem.Y, problem.batch))
    return Runner(run, _getter(params))


def build_shared_data_function(problem, params):
    """A function of no inputs: data and a minibatch index live in shared variables, and
    each call trains on the next minibatch (the setting of ``f.fn(n_calls=N)``)."""
    import symgraph as sg

    data_x = sg.shared(problem.X, name="X", borrow=True)
    data_y = sg.shared(problem.Y, name="Y", borrow=True)
    index = sg.shared(np.array(0, dtype=np.int64), name="minibatch")
    start = index * problem.batch
    x = data_x[start:start + problem.batch]
    y = data_y[start:start + problem.batch]
    nll, updates = build_training_graph(params, x, y, problem.lr)
    updates.append((index, (index + 1) % problem.n_batches))
    return sg.function([], nll, updates=updates)


def make_n_calls(problem):
    """Many steps per call with ``f.fn(n_calls=N)``, when symgraph's VM supports it."""
    params = _shared_params(problem)
    f = build_shared_data_function(problem, params)
    try:
        f.fn(n_calls=1)
    except TypeError:
        raise Unavailable("symgraph's VM takes no n_calls argument here") from None
    # The probe above trained one step; start over so that checks see a fresh model.
    for (W, b), (W0, b0) in zip(params, problem.params):
        W.set_value(W0)
        b.set_value(b0)
    f = build_shared_data_function(problem, params)

    def run(n_steps):
        f.fn(n_calls=n_steps)

    return Runner(run, _getter(params), per_call=False)


def make(impl, variant, problem):
    """A runner for one symgraph variant (see the module's docstring)."""
    if impl != "symgraph" or variant not in VARIANTS["symgraph"]:
        raise Unavailable(f"no variant {impl}/{variant}")
    if variant == "n_calls":
        return make_n_calls(problem)
    return make_per_call(variant, problem)
