"""The cvm linker and the C VM: graphs mixing C and ``perform`` steps against 'py'.

Every graph runs under 'py' (the reference), 'cvm', 'cvm_nogc' and a cvm with
no C at all (only perform callbacks: the VM machinery alone), on fresh random
inputs; then the VM's own duties: storage handed out, recycled or freed, shared
updates, input checks under trust_input, errors with node details.
"""
import os
import sys
import tracemalloc

import numpy as np
import pytest

import symgraph as sg
import symgraph.tensor as T
from symgraph.link.c.linker import CVMLinker
from symgraph.tensor.elemwise import Elemwise

LINKERS = ["cvm", "cvm_nogc", "cvm_perform_only"]


def _mode(linker):
    if linker == "cvm_perform_only":
        from symgraph.link import register_linker

        register_linker("cvm_perform_only", CVMLinker(use_c=False))
    return sg.Mode(linker=linker)


def _assert_close(got, want, tol=None):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    if want.dtype.kind == "f":
        tol = tol or (1e-5 if want.dtype == np.float32 else 1e-12)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def _compare(inputs, outputs, values, linker, tol=None, **kwargs):
    want = sg.function(inputs, outputs, mode=sg.Mode(linker="py"), **kwargs)(*values)
    f = sg.function(inputs, outputs, mode=_mode(linker), **kwargs)
    for _ in range(2):  # the second call runs over recycled (nogc) or fresh storage
        got = f(*values)
        for g, w in zip(got if isinstance(got, list) else [got],
                        want if isinstance(want, list) else [want]):
            _assert_close(g, w, tol)
    return f


def _graph_elementwise_chain(rng):
    x, y = T.matrix("x"), T.matrix("y")
    out = T.tanh(x * y + 2) - T.exp(-x) / (1 + y ** 2)
    return [x, y], [out, T.switch(out > 0, out, 0.5 * x)], \
        [rng.normal(size=(4, 5)), rng.normal(size=(4, 5))]


def _graph_dot_callback(rng):
    W, x, b = T.matrix("W"), T.vector("x"), T.vector("b")
    h = T.sigmoid(T.dot(W, x) + b)
    return [W, x, b], [h, T.dot(h, W)], \
        [rng.normal(size=(3, 6)), rng.normal(size=6), rng.normal(size=3)]


def _graph_reductions(rng):
    x = T.tensor(dtype="float32", shape=(None, None), name="x")
    centered = x - T.mean(x, axis=0)
    return [x], [(centered ** 2).sum(axis=1), T.max(x, axis=0) * 2, T.exp(x).sum()], \
        [rng.normal(size=(5, 7)).astype("float32")]


def _graph_broadcast_dimshuffle(rng):
    m, v = T.matrix("m"), T.vector("v")
    return [m, v], [m * v + v.dimshuffle(0, "x").T, (m.T + 1).T], \
        [rng.normal(size=(3, 4)), rng.normal(size=4)]


def _graph_gradient(rng):
    X, y, w = T.matrix("X"), T.vector("y"), T.vector("w")
    p = T.sigmoid(T.dot(X, w))
    cost = -(y * T.log(p) + (1 - y) * T.log(1 - p)).mean()
    return [X, y, w], [cost, sg.grad(cost, w)], \
        [rng.normal(size=(8, 3)), (rng.random(8) > 0.5).astype("float64"), rng.normal(size=3)]


def _graph_integers(rng):
    i = T.tensor(dtype="int32", shape=(None,), name="i")
    j = T.tensor(dtype="int64", shape=(None,), name="j")
    return [i, j], [(i * 3 + j) // 2 % 5, T.maximum(i, j) - abs(i)], \
        [rng.integers(-100, 100, 9).astype("int32"), rng.integers(-100, 100, 9)]


def _graph_output_is_input(rng):
    x = T.vector("x")
    return [x], [x, x * 2, x * 2], [rng.normal(size=5)]


GRAPHS = [_graph_elementwise_chain, _graph_dot_callback, _graph_reductions,
          _graph_broadcast_dimshuffle, _graph_gradient, _graph_integers, _graph_output_is_input]


@pytest.mark.parametrize("linker", LINKERS)
@pytest.mark.parametrize("graph", GRAPHS, ids=lambda g: g.__name__[7:])
def test_graph_matches_py(graph, linker, rng):
    inputs, outputs, values = graph(rng)
    f = _compare(inputs, outputs, values, linker)
    if linker == "cvm_perform_only":
        assert f.fn.n_c_steps == 0
    elif graph is not _graph_output_is_input:
        assert f.fn.n_c_steps >= 1


@pytest.mark.parametrize("linker", ["cvm", "cvm_nogc"])
def test_shared_updates_train_like_py(linker, rng):
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    results = []
    for name in ("py", linker):
        w = sg.shared(np.zeros(3), name="w")
        xs, ys = T.matrix("X"), T.vector("y")
        cost = ((T.dot(xs, w) - ys) ** 2).mean()
        step = sg.function([xs, ys], cost, updates=[(w, w - 0.1 * sg.grad(cost, w))],
                           mode=_mode(name))
        costs = [step(X, y) for _ in range(5)]
        results.append((np.array(costs), w.get_value()))
    _assert_close(results[1][0], results[0][0])
    _assert_close(results[1][1], results[0][1])
    assert results[1][0][-1] < results[1][0][0]


def test_function_without_explicit_inputs(rng):
    state = sg.shared(rng.normal(size=4), name="state")
    start = state.get_value()
    f = sg.function([], state * 2, updates=[(state, state + 1)], mode=_mode("cvm"))
    _assert_close(f(), start * 2)
    _assert_close(f(), (start + 1) * 2)
    _assert_close(state.get_value(), start + 2)


# -- storage: handed out, recycled, freed ------------------------------------------

def test_outputs_are_fresh_arrays_each_call(rng):
    x = T.vector("x")
    f = sg.function([x], T.exp(x) + 1, mode=_mode("cvm"))
    v = rng.normal(size=6)
    first = f(v)
    first[:] = -7
    _assert_close(f(v), np.exp(v) + 1)
    assert first[0] == -7


def test_nogc_recycles_only_buffers_nobody_holds(rng):
    x = T.vector("x")
    f = sg.function([x], [T.exp(x) * 2], mode=_mode("cvm_nogc"))
    v = rng.normal(size=64)
    held = f(v)[0]
    again = f(v)[0]
    assert again.ctypes.data != held.ctypes.data  # the user holds the first: no reuse
    _assert_close(held, np.exp(v) * 2)
    address = again.ctypes.data
    del again
    recycled = f(v + 1)[0]
    assert recycled.ctypes.data == address
    _assert_close(recycled, np.exp(v + 1) * 2)
    _assert_close(held, np.exp(v) * 2)


def test_gc_pools_small_intermediates_but_never_what_callers_hold(rng):
    x = T.vector("x")
    f = sg.function([x], [T.exp(x) * 2, T.sqrt(T.exp(x * 3) + 1)], mode=_mode("cvm"))
    calls = [rng.normal(size=n) for n in (64, 64, 64, 100_000, 64)]  # one too big to pool
    results = [f(v) for v in calls]
    for v, (a, b) in zip(calls, results):  # earlier results untouched by later calls
        _assert_close(a, np.exp(v) * 2)
        _assert_close(b, np.sqrt(np.exp(v * 3) + 1))
    arrays = [a for pair in results for a in pair]
    assert not any(np.shares_memory(p, q) for i, p in enumerate(arrays) for q in arrays[i + 1:])


def test_nogc_moves_view_objects_nobody_holds(rng):
    x = T.matrix("x")
    f = sg.function([sg.In(x, borrow=True)], sg.Out(x[1:, ::2].T, borrow=True),
                    mode=_mode("cvm_nogc"))
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(5, 6))
    held = f(a)  # the user holds this view: the next call must make a new one
    _assert_close(held, a[1:, ::2].T)
    second = f(b)
    assert second is not held
    _assert_close(held, a[1:, ::2].T)
    _assert_close(second, b[1:, ::2].T)
    inner = sg.function([x], T.exp(x[1:, ::2]).sum(), mode=_mode("cvm_nogc"))
    for value in (a, a, b, b):  # same base: the view inside is moved, not remade
        np.testing.assert_allclose(inner(value), np.exp(value[1:, ::2]).sum(), rtol=1e-12)


def test_inputs_are_not_modified_and_not_retained(rng):
    x, y = T.matrix("x"), T.vector("y")
    f = sg.function([x, y], [T.dot(x, y) + 1, x * y], mode=_mode("cvm"))
    vx, vy = rng.normal(size=(3, 4)), rng.normal(size=4)
    before = vx.copy(), vy.copy()
    counts = sys.getrefcount(vx), sys.getrefcount(vy)
    for _ in range(100):
        f(vx, vy)
    assert (sys.getrefcount(vx), sys.getrefcount(vy)) == counts
    np.testing.assert_array_equal(vx, before[0])
    np.testing.assert_array_equal(vy, before[1])


def test_many_calls_leave_memory_flat(rng):
    x = T.vector("x")
    f = sg.function([x], [T.sum(T.exp(x) * 2), x + 1], mode=_mode("cvm"))
    v = rng.normal(size=100)
    for _ in range(200):
        f(v)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(5000):
            f(v)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024


# -- inputs under trust_input ------------------------------------------------------

def test_trusted_inputs_of_the_wrong_kind_raise_not_crash(rng):
    x = T.tensor(dtype="float32", shape=(None,), name="x")
    f = sg.function([x], x * 2, mode=_mode("cvm"))
    f.trust_input = True
    with pytest.raises(TypeError, match="float32"):
        f(rng.normal(size=3))  # float64
    with pytest.raises(TypeError, match="ndarray"):
        f([1.0, 2.0])
    with pytest.raises(TypeError, match="1 dimensions"):
        f(np.ones((2, 2), "float32"))
    v = rng.normal(size=3).astype("float32")
    _assert_close(f(v), v * 2)  # still usable after the errors


def test_trusted_byteswapped_and_strided_inputs(rng):
    x = T.vector("x")
    f = sg.function([x], T.exp(x) - x, mode=_mode("cvm"))
    f.trust_input = True
    v = rng.normal(size=10)
    swapped = v.astype(">f8")
    _assert_close(f(swapped), np.exp(v) - v)
    _assert_close(f(v[::3]), np.exp(v[::3]) - v[::3])


# -- errors --------------------------------------------------------------------------

def test_error_in_a_perform_callback_names_the_node(rng):
    a, b = T.matrix("a"), T.matrix("b")
    product = T.dot(a, b)
    f = sg.function([a, b], T.tanh(product), mode=_mode("cvm"))
    with pytest.raises(ValueError) as info:
        f(rng.normal(size=(3, 4)), rng.normal(size=(5, 6)))
    message = str(info.value)
    assert "(3, 4)" in message and "(5, 6)" in message and "test_linker.py" in message
    node = info.value.node  # the Dot, or what the rewrites made of it (BlasDot)
    assert "Dot" in type(node.op).__name__ and [v.name for v in node.inputs] == ["a", "b"]
    _assert_close(f(np.eye(2), np.eye(2)), np.tanh(np.eye(2)))  # the VM recovered


def test_error_in_c_code_names_the_node(rng):
    x, y = T.vector("x"), T.vector("y")
    total = x + y
    f = sg.function([x, y], T.exp(total), mode=_mode("cvm"))
    with pytest.raises(ValueError, match="cannot be broadcast") as info:
        f(rng.normal(size=3), rng.normal(size=2))
    node = info.value.node
    assert isinstance(node.op, Elemwise) and [v.name for v in node.inputs] == ["x", "y"]
    assert f.fn.n_c_steps == 1  # the error came from C (add and exp fused, or not)
    assert "Inputs shapes: [(3,), (2,)]" in str(info.value) and "test_linker.py" in str(
        info.value)


def test_compile_error_names_the_op(monkeypatch):
    from symgraph.link.c import compiler, registry
    from symgraph.tensor.elemwise import Elemwise

    def broken(node, name):
        return f"static int {name}(sg_ctx *ctx, const sg_array *in, sg_array *out)\n" \
               f"{{ return not_declared_{np.random.randint(1 << 30)}; }}\n"

    monkeypatch.setitem(registry._GENERATORS, Elemwise, broken)
    x = T.vector("x")
    with pytest.raises(compiler.CompileError) as info:
        sg.function([x], T.exp(x), mode=_mode("cvm"))
    assert "Elemwise{exp}" in str(info.value) and "test_linker.py" in str(info.value)
    assert "not_declared_" in str(info.value)


# -- random graphs: cvm against py -------------------------------------------------

_UNARY = [T.exp, T.tanh, T.sigmoid, abs, lambda e: -e, lambda e: e ** 2,
          lambda e: T.sqrt(abs(e)), lambda e: T.log1p(abs(e)), lambda e: T.cast(e, "float32")]
_BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, T.maximum,
           lambda a, b: a / (abs(b) + 1), lambda a, b: T.switch(a > b, a, b)]
_SHAPES = {0: (), 1: (5,), 2: (4, 5)}
_REDUCE = [lambda e, a: T.sum(e, axis=a), lambda e, a: T.max(e, axis=a),
           lambda e, a: T.min(e, axis=a), lambda e, a: T.mean(e, axis=a),
           lambda e, a: T.prod(T.tanh(e), axis=a)]
_VIEWS = [T.transpose, lambda e: e[::-1], lambda e: T.nnet.softmax(e),
          lambda e: T.reshape(T.flatten(e), e.shape), lambda e: T.concatenate([e[:, 1:], e[:, :1]], axis=1)]  # a roll


def _random_graph(rng, pool):
    """Grow one expression from ``pool`` ((variable, runtime shape) pairs) by random ops."""
    expr, shape = pool[rng.integers(len(pool))]
    for _ in range(rng.integers(2, 6)):
        choice = rng.random()
        if choice < 0.35:
            expr = _UNARY[rng.integers(len(_UNARY))](expr)
        elif choice < 0.8:
            other, other_shape = pool[rng.integers(len(pool))]
            try:
                shape = np.broadcast_shapes(shape, other_shape)
            except ValueError:
                continue
            expr = _BINARY[rng.integers(len(_BINARY))](expr, other)
        elif choice < 0.9 and len(shape) >= 1:
            axis = int(rng.integers(len(shape)))
            reduce = _REDUCE[rng.integers(len(_REDUCE))]
            expr, shape = reduce(expr, axis), shape[:axis] + shape[axis + 1:]
        elif len(shape) == 2 and rng.random() < 0.5:  # views, softmax, reversed rows
            view = _VIEWS[rng.integers(len(_VIEWS))]
            expr, shape = view(expr), (shape[::-1] if view is T.transpose else shape)
        elif len(shape) == 2:  # dot and slicing
            expr = T.tanh(T.dot(expr, T.transpose(expr)))
            if rng.random() < 0.5:
                expr, shape = expr[:, :1], (shape[0], 1)
            else:
                expr, shape = T.sum(expr, axis=0), (shape[0],)
        expr = T.tanh(expr) if rng.random() < 0.3 else expr  # keep values moderate
    return expr


@pytest.mark.parametrize("seed", range(8))  # 8 x 40 = 320 random graphs per run
def test_random_graphs_match_py(seed):
    from symgraph.link.c import compiler

    rng = np.random.default_rng(1000 + seed)
    inputs = [T.tensor(dtype=d, shape=(None,) * n, name=f"in{k}")
              for k, (d, n) in enumerate([("float64", 2), ("float64", 1), ("float32", 2),
                                          ("float64", 0), ("int32", 1)])]
    pool = [(v, _SHAPES[v.ndim]) for v in inputs]
    outputs = [_random_graph(rng, pool) for _ in range(40)]
    values = [(rng.normal(size=_SHAPES[v.ndim]) * 2).astype(v.dtype) if v.dtype != "int32"
              else rng.integers(-5, 5, _SHAPES[v.ndim]).astype("int32") for v in inputs]
    with compiler.using_flags(compiler.QUICK_FLAGS):
        # float32 values flow into float64 results: float32 tolerance throughout
        f = _compare(inputs, outputs, values, "cvm", tol=1e-5, on_unused_input="ignore")
    assert f.fn.n_c_steps > 40


def test_profiling_times_every_step(rng):
    x, W = T.dvector("x"), T.dmatrix("W")
    f = sg.function([x, W], T.tanh(T.dot(W, x)).sum(), profile=True, mode=_mode("cvm"))
    xv, Wv = rng.normal(size=30), rng.normal(size=(20, 30))
    for _ in range(3):
        np.testing.assert_allclose(f(xv, Wv), np.tanh(Wv @ xv).sum())
    rows = f.profile.node_rows()
    assert f.fn.n_c_steps >= 1 and len(rows) == f.fn.n_steps == len(f.fn.nodes)
    assert all(row.calls == 3 and row.seconds > 0 for row in rows)
    with pytest.raises(ValueError, match="one entry per node"):
        f.fn.vm.time_nodes([0.0], [0])


# -- the call paths: run(), n_calls, updates applied by the VM, trust_input -----------------
@pytest.mark.parametrize("linker", ["py", "cvm", "cvm_nogc"])
def test_n_calls_runs_a_training_loop_and_returns_the_last_outputs(linker, rng):
    w0 = rng.normal(size=3)
    w = sg.shared(w0.copy(), name="w")
    x = sg.shared(rng.normal(size=(8, 3)), name="x")
    cost = (T.dot(x, w) ** 2).mean()
    f = sg.function([], [cost, w * 1], updates=[(w, w - 0.1 * sg.grad(cost, w))],
                    mode=sg.Mode(linker=linker))
    last_cost, last_w = f.fn(n_calls=5)
    want = w0.copy()
    xv = x.get_value()
    for _ in range(5):
        want_cost, want_w = np.mean((xv @ want) ** 2), want.copy()
        want = want - 0.1 * 2 * xv.T @ (xv @ want) / len(xv)
    np.testing.assert_allclose(last_cost, want_cost)
    np.testing.assert_allclose(last_w, want_w)
    np.testing.assert_allclose(w.get_value(), want)


@pytest.mark.parametrize("linker", ["cvm", "cvm_nogc"])
def test_run_takes_the_whole_call_in_c_and_falls_back_for_conversion(linker, rng):
    x = T.dvector("x")
    counter = sg.shared(np.int64(0), name="n")
    f = sg.function([x], x * 2, updates=[(counter, counter + 1)], mode=sg.Mode(linker=linker))
    v = rng.normal(size=3)
    assert f.fn.run(v) is not NotImplemented
    assert f.fn.run([1.0, 2.0]) is NotImplemented  # a list needs the Python filter
    assert f.fn.run(v.astype("float32")) is NotImplemented
    assert counter.get_value() == 1  # run() applied the update; the refusals ran nothing
    np.testing.assert_allclose(f(v), 2 * v)
    assert f([1.0, 2.0]).tolist() == [2.0, 4.0]
    assert counter.get_value() == 3


def test_a_static_shape_is_checked_on_the_c_path(rng):
    x = T.tensor("float64", (3,), name="x")
    f = sg.function([x], x + 1, mode=sg.Mode(linker="cvm"))
    with pytest.raises(ValueError, match="dimension 0 must have size 3"):
        f(np.zeros(4))


def test_trust_input_never_lets_c_read_the_wrong_dtype(rng):
    x = T.dvector("x")
    f = sg.function([x], T.exp(x), mode=sg.Mode(linker="cvm"))
    f.trust_input = True
    assert f.fn.trust_input == 1
    np.testing.assert_allclose(f(np.zeros(2)), [1.0, 1.0])
    # a float32 array would be misread by float64 C: the call takes the checked path
    with pytest.raises(TypeError):
        f(np.zeros(2, dtype="float32"))


def _resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
@pytest.mark.parametrize("linker", ["cvm", "cvm_nogc"])
def test_a_million_calls_leave_resident_memory_flat(linker, rng):
    x = T.vector("x")
    counter = sg.shared(np.int64(0))
    f = sg.function([x], [T.exp(x).sum(), x * 2], updates=[(counter, counter + 1)],
                    mode=_mode(linker))
    v = rng.normal(size=10).astype(x.dtype)
    for _ in range(100_000):  # warm up: allocator pools, caches
        f(v)
    before = _resident_bytes()
    for _ in range(1_000_000):
        f(v)
    grown = _resident_bytes() - before
    assert counter.get_value() == 1_100_000
    assert grown < 2 * 1024 * 1024, f"resident memory grew by {grown / 1024:.0f} KiB"


def test_steps_on_large_arrays_release_the_gil(rng):
    import threading

    x = T.dvector("x")
    f = sg.function([x], T.exp(x) * 2 + 1, mode=_mode("cvm"))
    f(np.zeros(10))
    assert f.fn.gil_releases == 0  # small: not worth a hand-off
    big = rng.normal(size=200_000)
    results = [None] * 4

    def work(k):  # several threads in one VM-free section each; results stay right
        g = sg.function([x], T.exp(x) * 2 + 1, mode=_mode("cvm"))
        results[k] = (g(big), g.fn.gil_releases)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for value, releases in results:
        np.testing.assert_allclose(value, np.exp(big) * 2 + 1)
        assert releases >= 1
