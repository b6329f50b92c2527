"""The RNN benchmark's implementations: the NumPy step against finite differences, and
symgraph and the C reference against the NumPy step (benchmarks/impls_rnn/,
benchmarks/reference/rnn.py).  The PyTorch and JAX peers are checked by every run of
run_rnn.py; importing them here would cost seconds."""
import numpy as np
import pytest

from benchmarks.impls_rnn import RNNProblem, numpy_rnn, spec, symgraph_rnn


def _loss(model, params, x, y):
    """The mean NLL computed directly from the definition, in float64."""
    E, W, b, U, c = params
    H = W.shape[0]
    h, cell, states = np.zeros(H), np.zeros(H), []
    for t in range(len(x)):
        z = E[x[t]] + b + h @ W
        if model == "elman":
            h = np.tanh(z)
        else:
            i, f, o = (1 / (1 + np.exp(-z[k * H:(k + 1) * H])) for k in range(3))
            cell = f * cell + i * np.tanh(z[3 * H:])
            h = o * np.tanh(cell)
        states.append(h)
    logits = np.array(states) @ U + c
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(y)), y].mean()


@pytest.mark.parametrize("model", spec.MODELS)
def test_numpy_step_is_minus_the_gradient(model, rng):
    params = [p.astype(np.float64) for p in spec.init_params(model, vocab=11, hidden=4,
                                                               seed=int(rng.integers(1000)))]
    x = np.array([3, 7, 3, 1, 9], np.int32)  # a repeated word: its row's updates add up
    y = rng.integers(0, 11, 5).astype(np.int32)
    stepped = [p.copy() for p in params]
    spec.numpy_step(model, stepped, x, y, lr=1.0)  # with lr = 1 the update is -gradient
    eps = 1e-6
    for k, name in enumerate(spec.PARAM_NAMES):
        for _ in range(4):
            index = tuple(int(rng.integers(n)) for n in params[k].shape)
            if name == "E":
                index = (3,) + index[1:]
            up, down = [p.copy() for p in params], [p.copy() for p in params]
            up[k][index] += eps
            down[k][index] -= eps
            numeric = (_loss(model, up, x, y) - _loss(model, down, x, y)) / (2 * eps)
            assert params[k][index] - stepped[k][index] == pytest.approx(numeric, rel=1e-5,
                                                                         abs=1e-9), name


def test_data_targets_are_the_next_words():
    X, Y = spec.make_data(vocab=17, seq_len=4, n_sequences=5, seed=3)
    stream = np.concatenate([X.ravel(), Y[-1, -1:]])
    np.testing.assert_array_equal(Y.ravel(), stream[1:])
    assert X.dtype == np.int32 and X.min() >= 0 and X.max() < 17


@pytest.mark.parametrize("model", spec.MODELS)
@pytest.mark.parametrize("variant", ["trust_input", "n_calls"])
def test_symgraph_step_matches_numpy_step(model, variant):
    problem = RNNProblem(model, hidden=6, vocab=15, seq_len=5, n_sequences=3, seed=2)
    runner = symgraph_rnn.make("symgraph", variant, problem)
    runner.run(1)
    assert problem.update_error(runner.get_params(), problem.reference_update()) < 1e-4
    # Three more steps: the runner moves on through the data set and wraps around.
    expected = runner.get_params()
    expected = [p.copy() for p in expected]
    for k in (1, 2, 0):
        spec.numpy_step(model, expected, problem.X[k], problem.Y[k], problem.lr)
    runner.run(3)
    for got, want in zip(runner.get_params(), expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("model", spec.MODELS)
def test_c_reference_matches_numpy_over_several_sequences(model):
    pytest.importorskip("cffi")
    from benchmarks.reference.rnn import CReferenceRNN

    problem = RNNProblem(model, hidden=7, vocab=12, seq_len=6, n_sequences=3, seed=4)
    c_model = CReferenceRNN(model, problem.params, problem.seq_len, problem.lr)
    loss = c_model.step(problem.X[0], problem.Y[0])
    expected = problem.fresh_params()
    assert loss == pytest.approx(float(spec.numpy_step(model, expected, problem.X[0],
                                                       problem.Y[0], problem.lr)), rel=1e-5)
    assert problem.update_error(c_model.params, expected) < 1e-4
    c_model.train(problem.X, problem.Y, first=2, n_steps=4)  # sequences 2, 0, 1, 2
    for k in (2, 0, 1, 2):
        spec.numpy_step(model, expected, problem.X[k], problem.Y[k], problem.lr)
    for got, want in zip(c_model.params, expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_c_reference_rejects_wrong_inputs():
    pytest.importorskip("cffi")
    from benchmarks.reference.rnn import CReferenceRNN

    problem = RNNProblem("elman", hidden=4, vocab=10, seq_len=3, n_sequences=2)
    c_model = CReferenceRNN("elman", problem.params, 3)
    with pytest.raises(TypeError):
        c_model.step(problem.X[0].astype(np.int64), problem.Y[0])
    with pytest.raises(ValueError):
        c_model.step(np.array([0, 1, 10], np.int32), problem.Y[0])
    with pytest.raises(ValueError):
        c_model.step(problem.X[0][:2], problem.Y[0][:2])
    with pytest.raises(ValueError):
        CReferenceRNN("lstm", problem.params, 3)  # Elman-shaped parameters


def test_numpy_runner_trains_the_loss_down():
    problem = RNNProblem("elman", hidden=16, vocab=8, seq_len=10, n_sequences=1, seed=5)
    runner = numpy_rnn.make("numpy", "numpy", problem)
    x, y = problem.X[0], problem.Y[0]
    before = spec.numpy_step("elman", problem.fresh_params(), x, y)
    runner.run(60)
    after = spec.numpy_step("elman", [p.copy() for p in runner.get_params()], x, y)
    assert after < 0.5 * before
