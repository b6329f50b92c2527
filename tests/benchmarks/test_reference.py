"""The C reference step against the NumPy step (benchmarks/reference/)."""
import numpy as np
import pytest

pytest.importorskip("cffi")
pytest.importorskip("scipy")

from benchmarks.mlp_spec import init_params, numpy_step  # noqa: E402
from benchmarks.reference import CReferenceMLP  # noqa: E402
from benchmarks.reference.blas import blas_address  # noqa: E402


def _data(rng, n, width=784, classes=10):
    X = rng.standard_normal((n, width), dtype=np.float32)
    Y = rng.integers(0, classes, n).astype(np.int32)
    return X, Y


def _assert_params_close(got, expected, start):
    for (W, b), (W_ref, b_ref), (W0, b0) in zip(got, expected, start):
        # Compare the updates, which are small next to the weights.
        for new, ref, old in ((W, W_ref, W0), (b, b_ref, b0)):
            change, change_ref = new.astype(np.float64) - old, ref.astype(np.float64) - old
            scale = np.abs(change_ref).max()
            assert scale > 0
            np.testing.assert_allclose(change, change_ref, rtol=0, atol=2e-4 * scale)


@pytest.mark.parametrize("batch", [1, 7])  # sgemv + sger, and sgemm with beta = 1
@pytest.mark.parametrize("sizes", [(784, 10), (784, 32, 24, 10)])
def test_one_c_step_matches_numpy_step(sizes, batch):
    rng = np.random.default_rng(batch * 100 + len(sizes))
    start = init_params(sizes, seed=int(rng.integers(1 << 30)))
    x, y = _data(rng, batch)
    model = CReferenceMLP(start, batch, lr=0.01)
    loss = model.step(x, y)
    expected = [(W.copy(), b.copy()) for W, b in start]
    loss_ref = numpy_step(expected, x, y, 0.01)
    assert loss == pytest.approx(float(loss_ref), rel=1e-5)
    _assert_params_close(model.params, expected, start)


@pytest.mark.parametrize("batch", [1, 5])
def test_train_loop_runs_consecutive_minibatches_and_wraps(batch):
    rng = np.random.default_rng(7 + batch)
    sizes = (784, 16, 10)
    start = init_params(sizes, seed=3)
    X, Y = _data(rng, 4 * batch)
    model = CReferenceMLP(start, batch, lr=0.05)
    model.train(X, Y, first=2, n_steps=5)  # minibatches 2, 3, 0, 1, 2
    expected = [(W.copy(), b.copy()) for W, b in start]
    for k in (2, 3, 0, 1, 2):
        numpy_step(expected, X[k * batch:(k + 1) * batch], Y[k * batch:(k + 1) * batch], 0.05)
    _assert_params_close(model.params, expected, start)


def test_training_lowers_the_loss():
    rng = np.random.default_rng(11)
    X, Y = _data(rng, 40)
    model = CReferenceMLP(init_params((784, 20, 10), seed=5), batch=10, lr=0.05)
    before = model.step(X[:10], Y[:10])
    model.train(X, Y, 0, 200)
    assert model.step(X[:10], Y[:10]) < before * 0.5


def test_rejects_wrong_inputs():
    model = CReferenceMLP(init_params((784, 10)), batch=2)
    x = np.zeros((2, 784), np.float32)
    with pytest.raises(TypeError):
        model.step(x.astype(np.float64), np.array([0, 1], np.int32))
    with pytest.raises(ValueError):
        model.step(x, np.array([0, 10], np.int32))
    with pytest.raises(ValueError):
        model.train(np.zeros((3, 784), np.float32), np.zeros(3, np.int32), 0, 1)


def test_blas_addresses_are_distinct_functions():
    addresses = {name: blas_address(name) for name in ("sgemm", "sgemv", "sger")}
    assert all(a > 0 for a in addresses.values())
    assert len(set(addresses.values())) == 3
