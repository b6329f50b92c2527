"""symgraph's RNN: the recurrence written with ``sg.scan``, differentiated with ``sg.grad``
(backpropagation through time as a second scan), SGD updates on shared weights.

The graph is what a Theano user writes: the step function of the layer inside the
scan, the softmax over all steps after it, ``grad`` of the mean NLL with respect to
every parameter (the input matrix included: its gradient is the scatter of the rows
that were looked up).  How fast it runs is up to symgraph's rewrites and backends.

Variants:

- ``trust_input``: the default mode (default linker), called once per sequence with
  ``f.trust_input = True``;
- ``n_calls``: the data set and a sequence index in shared variables, a function of no
  inputs whose program ``f.fn(n_calls=N)`` trains N sequences in one call (the VM loops
  over the calls and applies the updates itself).

>>> from benchmarks.impls_rnn import RNNProblem
>>> problem = RNNProblem("elman", hidden=8, vocab=30, seq_len=5, n_sequences=3)
>>> runner = make("symgraph", "trust_input", problem)
>>> runner.run(1)
>>> problem.update_error(runner.get_params(), problem.reference_update()) < 1e-4
True
"""
import numpy as np

from benchmarks.impls import Runner, Unavailable, cycling_loop
from benchmarks.impls_rnn.numpy_rnn import sequences
from benchmarks.impls_rnn.spec import PARAM_NAMES

VARIANTS = {"symgraph": ["trust_input", "n_calls"]}


def _elman_hidden(E, W, b, x):
    import symgraph as sg
    import symgraph.tensor as T

    def step(e_t, h_prev):
        return T.tanh(e_t + T.dot(h_prev, W) + b)

    h0 = T.zeros((W.get_value(borrow=True).shape[0],), dtype="float32")
    hidden, _ = sg.scan(step, sequences=E[x], outputs_info=h0)
    return hidden


def _lstm_hidden(E, W, b, x):
    import symgraph as sg
    import symgraph.tensor as T

    H = W.get_value(borrow=True).shape[0]

    def step(e_t, h_prev, c_prev):
        z = e_t + T.dot(h_prev, W) + b
        i, f, o = T.sigmoid(z[:H]), T.sigmoid(z[H:2 * H]), T.sigmoid(z[2 * H:3 * H])
        c = f * c_prev + i * T.tanh(z[3 * H:])
        return o * T.tanh(c), c

    zeros = T.zeros((H,), dtype="float32")
    (hidden, _), _ = sg.scan(step, sequences=E[x], outputs_info=[zeros, zeros])
    return hidden


def build_training_graph(model, params, x, y, lr):
    """``(mean NLL, updates)`` of one BPTT + SGD step on the word ids ``x`` with next words
    ``y``; ``params`` are the shared ``[E, W, b, U, c]``."""
    import symgraph as sg
    import symgraph.tensor as T

    E, W, b, U, c = params
    hidden = (_elman_hidden if model == "elman" else _lstm_hidden)(E, W, b, x)
    p = T.nnet.softmax(T.dot(hidden, U) + c)
    nll = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    step = np.float32(lr)
    return nll, [(v, v - step * g) for v, g in zip(params, sg.grad(nll, params))]


def _shared_params(problem):
    import symgraph as sg

    return [sg.shared(value, name=name) for name, value in
            zip(PARAM_NAMES, problem.fresh_params())]


def _getter(params):
    return lambda: [v.get_value(borrow=True) for v in params]


def make_per_call(problem):
    """The training function of ``(x, y)``, called once per sequence from Python."""
    import symgraph as sg
    import symgraph.tensor as T

    params = _shared_params(problem)
    x, y = T.ivector("x"), T.ivector("y")
    nll, updates = build_training_graph(problem.model, params, x, y, problem.lr)
    f = sg.function([x, y], nll, updates=updates)
    f.trust_input = True
    return Runner(cycling_loop(f, sequences(problem)), _getter(params))


def build_shared_data_function(problem, params):
    """``(function, index)``: a function of no inputs, with the data set and the shared
    sequence ``index`` in shared variables; each call trains on the next sequence (the
    setting of ``f.fn(n_calls=N)``)."""
    import symgraph as sg

    data_x = sg.shared(problem.X, name="X", borrow=True)
    data_y = sg.shared(problem.Y, name="Y", borrow=True)
    index = sg.shared(np.array(0, dtype=np.int64), name="sequence")
    nll, updates = build_training_graph(problem.model, params, data_x[index], data_y[index],
                                        problem.lr)
    updates.append((index, (index + 1) % problem.n_sequences))
    return sg.function([], nll, updates=updates), index


def make_n_calls(problem):
    """Many sequences per call with ``f.fn(n_calls=N)``, when the linker's program has it."""
    params = _shared_params(problem)
    f, index = build_shared_data_function(problem, params)
    program = f.fn
    try:
        program(n_calls=1)
    except TypeError:
        raise Unavailable("this linker's program takes no n_calls argument") from None
    # The probe above trained one step; start over so that the check sees a fresh model.
    for v, start in zip(params, problem.params):
        v.set_value(start.copy())
    index.set_value(np.array(0, dtype=np.int64))
    return Runner(lambda n_steps: program(n_calls=n_steps), _getter(params), per_call=False)


def make(impl, variant, problem):
    """A runner for one symgraph variant (see the module's docstring)."""
    if impl != "symgraph" or variant not in VARIANTS["symgraph"]:
        raise Unavailable(f"no variant {impl}/{variant}")
    if variant == "n_calls":
        return make_n_calls(problem)
    return make_per_call(problem)
