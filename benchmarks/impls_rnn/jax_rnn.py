"""JAX peers: the recurrence as ``lax.scan``, ``jax.grad`` through it, and the whole
BPTT + SGD step under ``jax.jit`` (``jax``, one call per sequence); and a jitted
``lax.fori_loop`` over many sequences per call, data kept on the device (``jax_loop``).

Parameters are donated to each call, so XLA may update them in place.

>>> from benchmarks.impls_rnn import RNNProblem
>>> problem = RNNProblem("lstm", hidden=8, vocab=30, seq_len=5, n_sequences=3)
>>> make("jax", "scan_jit", problem).run(1)  # doctest: +SKIP
"""
from benchmarks.impls import Runner, Unavailable, cycling_loop

VARIANTS = {"jax": ["scan_jit"], "jax_loop": ["fori_loop"]}


def _import_jax():
    try:
        import jax
    except ImportError:
        raise Unavailable("JAX is not installed (pip install jax jaxlib)") from None
    return jax


def _hidden_fn(jax, model):
    """``hidden(inputs, W)``: the states h_1..h_T of the layer, by ``lax.scan``."""
    import jax.numpy as jnp
    from jax import lax

    def elman(h, z_in, W):
        h = jnp.tanh(z_in + h @ W)
        return h, h

    def lstm(carry, z_in, W):
        h, c = carry
        z = z_in + h @ W
        H = h.shape[0]
        i, f, o = jnp.split(jax.nn.sigmoid(z[:3 * H]), 3)
        c = f * c + i * jnp.tanh(z[3 * H:])
        h = o * jnp.tanh(c)
        return (h, c), h

    def hidden(inputs, W):
        H = W.shape[0]
        zeros = jnp.zeros(H, inputs.dtype)
        if model == "elman":
            _, states = lax.scan(lambda h, z: elman(h, z, W), zeros, inputs)
        else:
            _, states = lax.scan(lambda hc, z: lstm(hc, z, W), (zeros, zeros), inputs)
        return states

    return hidden


def _sgd_step(jax, model, lr):
    hidden_of = _hidden_fn(jax, model)

    def loss(params, x, y):
        E, W, b, U, c = params
        log_p = jax.nn.log_softmax(hidden_of(E[x] + b, W) @ U + c, axis=1)
        return -log_p[jax.numpy.arange(x.shape[0]), y].mean()

    def step(params, x, y):
        grads = jax.grad(loss)(params, x, y)
        return [p - lr * g for p, g in zip(params, grads)]

    return step


def make(impl, variant, problem):
    """A runner for ``jax.jit`` per sequence, or for a jitted ``fori_loop`` of many."""
    if variant not in VARIANTS.get(impl, ()):
        raise Unavailable(f"no variant {impl}/{variant}")
    jax = _import_jax()
    import numpy as np

    step = _sgd_step(jax, problem.model, np.float32(problem.lr))
    state = {"params": jax.device_put(problem.fresh_params())}

    def get_params():
        return [np.asarray(p) for p in state["params"]]

    def sync():
        jax.block_until_ready(state["params"])

    if impl == "jax":
        jitted = jax.jit(step, donate_argnums=0)
        data = [jax.device_put(pair) for pair in zip(problem.X, problem.Y)]

        def one(x, y):
            state["params"] = jitted(state["params"], x, y)

        return Runner(cycling_loop(one, data), get_params, sync)
    return _loop_runner(jax, step, problem, state, get_params, sync)


def _loop_runner(jax, step, problem, state, get_params, sync):
    from jax import lax

    n_sequences = problem.n_sequences
    X, Y = jax.device_put((problem.X, problem.Y))

    def train(params, X, Y, first, n_steps):
        def body(i, params):
            k = (first + i) % n_sequences
            return step(params, X[k], Y[k])

        return lax.fori_loop(0, n_steps, body, params)

    jitted = jax.jit(train, donate_argnums=0)
    cursor = {"next": 0}

    def run(n_steps):
        state["params"] = jitted(state["params"], X, Y, cursor["next"], n_steps)
        cursor["next"] = (cursor["next"] + n_steps) % n_sequences

    return Runner(run, get_params, sync, per_call=False)
