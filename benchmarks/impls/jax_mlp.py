"""JAX peers: ``jax.jit`` of one SGD step (``jax``), and ``lax.fori_loop`` running many
steps per call over data kept on the device (``jax_loop``).

Parameters are donated to each call, so XLA may update them in place.

>>> from benchmarks.impls import Problem
>>> from benchmarks.mlp_spec import init_params, make_data
>>> X, Y = make_data(10)
>>> problem = Problem((784, 10), 10, init_params((784, 10)), X, Y, 0.01, 1)
>>> make("jax", "jit", problem).run(1)  # doctest: +SKIP
"""
from benchmarks.impls import Runner, Unavailable, cycling_loop
from benchmarks.mlp_spec import minibatches

VARIANTS = {"jax": ["jit"], "jax_loop": ["fori_loop"]}


def _import_jax():
    try:
        import jax
    except ImportError:
        raise Unavailable("JAX is not installed (pip install jax jaxlib)") from None
    return jax


def _sgd_step(jax, lr):
    import jax.numpy as jnp

    def loss(params, x, y):
        h = x
        for k, (W, b) in enumerate(params):
            h = h @ W + b
            if k + 1 < len(params):
                h = jnp.tanh(h)
        log_p = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))

    def step(params, x, y):
        grads = jax.grad(loss)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

    return step


def make(impl, variant, problem):
    """A runner for ``jax.jit`` per step, or for a jitted ``fori_loop`` of many steps."""
    if variant not in VARIANTS.get(impl, ()):
        raise Unavailable(f"no variant {impl}/{variant}")
    jax = _import_jax()
    import numpy as np

    step = _sgd_step(jax, np.float32(problem.lr))
    state = {"params": jax.device_put([(W, b) for W, b in problem.params])}

    def get_params():
        return [(np.asarray(W), np.asarray(b)) for W, b in state["params"]]

    def sync():
        jax.block_until_ready(state["params"])

    if impl == "jax":
        jitted = jax.jit(step, donate_argnums=0)
        batches = [jax.device_put(pair) for pair in minibatches(problem.X, problem.Y,
                                                                problem.batch)]

        def one(x, y):
            state["params"] = jitted(state["params"], x, y)

        return Runner(cycling_loop(one, batches), get_params, sync)
    return _loop_runner(jax, step, problem, state, get_params, sync)


def _loop_runner(jax, step, problem, state, get_params, sync):
    from jax import lax

    batch, n_batches = problem.batch, problem.n_batches
    X, Y = jax.device_put((problem.X, problem.Y))

    def train(params, X, Y, first, n_steps):
        def body(i, params):
            start = ((first + i) % n_batches) * batch
            x = lax.dynamic_slice_in_dim(X, start, batch)
            y = lax.dynamic_slice_in_dim(Y, start, batch)
            return step(params, x, y)

        return lax.fori_loop(0, n_steps, body, params)

    jitted = jax.jit(train, donate_argnums=0)
    cursor = {"next": 0}

    def run(n_steps):
        state["params"] = jitted(state["params"], X, Y, cursor["next"], n_steps)
        cursor["next"] = (cursor["next"] + n_steps) % n_batches

    return Runner(run, get_params, sync, per_call=False)
