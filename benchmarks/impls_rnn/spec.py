"""What every implementation of the RNN benchmark computes, and on which data.

The Theano paper's recurrent benchmark (the RNNLM comparison): a language model
trained by backpropagation through time, batch size 1, one SGD update per sequence.

- Inputs are word ids; the one-hot input times the input weights is the row lookup
  ``E[x_t]`` (E: V x H for the Elman layer, V x 4H for the LSTM's four gates).
- Elman layer: ``h_t = tanh(E[x_t] + b + h_{t-1} @ W)``, ``h_0 = 0``.
- LSTM layer: ``z_t = E[x_t] + b + h_{t-1} @ W`` cut into the gates i, f, o (sigmoid)
  and g (tanh); ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``, ``h_0 = c_0 = 0``.
- Output: a softmax over the V words, ``p_t = softmax(h_t @ U + c)``; the loss is the
  mean over the T steps of ``-log p_t[y_t]``, where ``y_t = x_{t+1}`` (the next word).
- Full BPTT over the T steps, then one float32 SGD update of every parameter.

The step functions below are the hand-written NumPy implementation, and the reference
every other implementation is checked against.

>>> params = init_params("elman", vocab=30, hidden=8)
>>> [name for name, _ in zip(PARAM_NAMES, params)]
['E', 'W', 'b', 'U', 'c']
>>> X, Y = make_data(vocab=30, seq_len=5, n_sequences=4)
>>> X.shape, X.dtype.name, bool((X[1:, 0] == Y[:-1, -1]).all())
((4, 5), 'int32', True)
>>> first = numpy_step("elman", params, X[0], Y[0], LEARNING_RATE)
>>> second = numpy_step("elman", params, X[0], Y[0], LEARNING_RATE)
>>> bool(second < first)
True
"""
import numpy as np

MODELS = ("elman", "lstm")
HIDDEN_SIZES = (50, 100, 200, 500)
VOCAB = 1000
SEQ_LEN = 20
LEARNING_RATE = 0.1
N_SEQUENCES = 100  # the data set the timed loops cycle through
PARAM_NAMES = ("E", "W", "b", "U", "c")
GATES = {"elman": 1, "lstm": 4}  # blocks of H columns in E, W and b

_f32 = np.float32


def make_data(vocab=VOCAB, seq_len=SEQ_LEN, n_sequences=N_SEQUENCES, seed=0):
    """``(X, Y)``: int32 ``(n_sequences, seq_len)`` word ids cut from one random stream of
    uniform ids, and the next word of each (``Y[k, t]`` follows ``X[k, t]``)."""
    rng = np.random.default_rng(seed)
    stream = rng.integers(0, vocab, n_sequences * seq_len + 1).astype(np.int32)
    X = stream[:-1].reshape(n_sequences, seq_len).copy()
    Y = stream[1:].reshape(n_sequences, seq_len).copy()
    return X, Y


def init_params(model, vocab=VOCAB, hidden=50, seed=1):
    """Float32 ``[E, W, b, U, c]`` (see PARAM_NAMES): Glorot-uniform matrices and small random
    biases (non-zero, so that the checks see every term of the update)."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    rng = np.random.default_rng(seed)
    width = GATES[model] * hidden

    def glorot(n_in, n_out):
        bound = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-bound, bound, (n_in, n_out)).astype(_f32)

    return [glorot(vocab, width), glorot(hidden, width),
            rng.uniform(-0.1, 0.1, width).astype(_f32), glorot(hidden, vocab),
            rng.uniform(-0.1, 0.1, vocab).astype(_f32)]


def numpy_step(model, params, x, y, lr=LEARNING_RATE):
    """One BPTT + SGD step on the sequence ``(x, y)``; updates ``params`` in place and
    returns the mean NLL before the step.  Every gradient uses the weights from before
    the step."""
    E, W, b, U, c = params
    run = _elman if model == "elman" else _lstm
    inputs = E[x]
    inputs += b
    states, backward = run(inputs, W)
    h = states[1:]
    loss, d_logits = _softmax_nll(h @ U + c, y)
    d_h = d_logits @ U.T
    d_z = backward(d_h)
    lr = E.dtype.type(lr)
    W -= lr * (states[:-1].T @ d_z)
    b -= lr * d_z.sum(axis=0)
    U -= lr * (h.T @ d_logits)
    c -= lr * d_logits.sum(axis=0)
    np.add.at(E, x, -lr * d_z)  # rows of repeated words add up
    return loss


def _softmax_nll(logits, y):
    """Mean NLL of the rows' softmax, and its gradient with respect to the logits."""
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = -np.log(logits[rows, y]).mean()
    logits[rows, y] -= 1.0
    logits *= logits.dtype.type(1.0 / len(y))
    return loss, logits


def _elman(inputs, W):
    """Forward pass: ``states`` (T + 1 rows, h_0 first) and the backward pass as a closure
    from d loss / d h_t to d loss / d z_t (the pre-activations)."""
    n_steps, hidden = inputs.shape
    states = np.zeros((n_steps + 1, hidden), inputs.dtype)
    for t in range(n_steps):
        np.tanh(inputs[t] + states[t] @ W, out=states[t + 1])

    def backward(d_h):
        d_z = np.empty_like(d_h)
        carry = np.zeros(hidden, d_h.dtype)
        for t in range(n_steps - 1, -1, -1):
            h = states[t + 1]
            d_z[t] = (d_h[t] + carry) * (1.0 - h * h)
            carry = W @ d_z[t]
        return d_z

    return states, backward


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _lstm(inputs, W):
    """As ``_elman``, for the LSTM; gates are the column blocks i, f, o, g of z."""
    n_steps, width = inputs.shape
    H = width // 4
    dtype = inputs.dtype
    states = np.zeros((n_steps + 1, H), dtype)
    cells = np.zeros((n_steps + 1, H), dtype)
    gates = np.empty((n_steps, width), dtype)  # activated i, f, o, g
    tanh_c = np.empty((n_steps, H), dtype)
    for t in range(n_steps):
        z = inputs[t] + states[t] @ W
        gates[t, :3 * H] = _sigmoid(z[:3 * H])
        gates[t, 3 * H:] = np.tanh(z[3 * H:])
        i, f, o, g = gates[t, :H], gates[t, H:2 * H], gates[t, 2 * H:3 * H], gates[t, 3 * H:]
        cells[t + 1] = f * cells[t] + i * g
        tanh_c[t] = np.tanh(cells[t + 1])
        states[t + 1] = o * tanh_c[t]

    def backward(d_h):
        d_z = np.empty((n_steps, width), dtype)
        carry_h, carry_c = np.zeros(H, dtype), np.zeros(H, dtype)
        for t in range(n_steps - 1, -1, -1):
            i, f, o, g = gates[t, :H], gates[t, H:2 * H], gates[t, 2 * H:3 * H], gates[t, 3 * H:]
            dh = d_h[t] + carry_h
            dc = carry_c + dh * o * (1.0 - tanh_c[t] * tanh_c[t])
            d_z[t, :H] = dc * g * i * (1.0 - i)
            d_z[t, H:2 * H] = dc * cells[t] * f * (1.0 - f)
            d_z[t, 2 * H:3 * H] = dh * tanh_c[t] * o * (1.0 - o)
            d_z[t, 3 * H:] = dc * i * (1.0 - g * g)
            carry_c = dc * f
            carry_h = W @ d_z[t]
        return d_z

    return states, backward
