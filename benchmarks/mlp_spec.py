"""What every implementation of the MLP benchmark computes, and on which data.

The paper's Figure 1 (from the DeepLearningBenchmarks suite): float32 SGD with
learning rate 0.01 on a 10-class softmax + mean negative log-likelihood over
784-dim inputs, tanh hidden layers.  Every implementation starts from the same
parameters (``init_params``) and reads the same minibatches (``make_data``).

>>> ARCHITECTURES['b']
(784, 500, 10)
>>> X, Y = make_data(60)
>>> X.shape, X.dtype.name, Y[:12].tolist()
((60, 784), 'float32', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
"""
import os

import numpy as np

LEARNING_RATE = 0.01
BATCH_SIZES = (1, 10, 60)
ARCHITECTURES = {
    "a": (784, 10),
    "b": (784, 500, 10),
    "c": (784, 1000, 1000, 1000, 10),
}
# A multiple of every batch size, so that minibatches never wrap around.
N_EXAMPLES = 6000
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def arch_name(sizes):
    """``(784, 500, 10)`` -> ``'784-500-10'``."""
    return "-".join(str(n) for n in sizes)


def make_data(n_examples=N_EXAMPLES, seed=0):
    """Random normal float32 inputs and labels ``i % 10``, as the original suite used."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_examples, 784), dtype=np.float32)
    Y = (np.arange(n_examples) % 10).astype(np.int32)
    return X, Y


def fashion_mnist_available(folder=FASHION_MNIST_DIR):
    """True when the Debian package's Fashion-MNIST files are installed."""
    return os.path.isdir(folder) and any(n.startswith("train-images") for n in os.listdir(folder))


def load_fashion_mnist(n_examples=N_EXAMPLES, folder=FASHION_MNIST_DIR):
    """The first ``n_examples`` training images (scaled to [0, 1]) and labels, as float32/int32."""
    import gzip

    def read(prefix, offset):
        name = next(n for n in sorted(os.listdir(folder)) if n.startswith(prefix))
        path = os.path.join(folder, name)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    images = read("train-images", 16).reshape(-1, 784)[:n_examples]
    labels = read("train-labels", 8)[:n_examples]
    return (images.astype(np.float32) / 255.0), labels.astype(np.int32)


def init_params(sizes, seed=1):
    """Float32 ``(W, b)`` per layer: Glorot-uniform weights (as the suite's tanh MLP) and
    zero biases."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / (n_in + n_out))
        W = rng.uniform(-bound, bound, (n_in, n_out)).astype(np.float32)
        params.append((W, np.zeros(n_out, np.float32)))
    return params


def minibatches(X, Y, batch):
    """The data set cut into C-contiguous minibatches, so a timed loop only indexes a list."""
    return [(np.ascontiguousarray(X[i:i + batch]), np.ascontiguousarray(Y[i:i + batch]))
            for i in range(0, len(X) - batch + 1, batch)]


def numpy_step(params, x, y, lr=LEARNING_RATE):
    """One SGD step written out in NumPy; updates ``params`` in place, returns the mean NLL.

    Forward (x @ W + b, tanh), softmax + NLL, backward, then the update; each
    layer's input gradient uses the weights from before the step.

    >>> params = init_params((784, 10))
    >>> X, Y = make_data(10)
    >>> first = numpy_step(params, X, Y)
    >>> second = numpy_step(params, X, Y)
    >>> bool(second < first)
    True
    """
    activations = [x]
    for k, (W, b) in enumerate(params):
        z = activations[-1] @ W
        z += b
        activations.append(np.tanh(z, out=z) if k + 1 < len(params) else z)
    logits = activations.pop()
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = -np.log(logits[rows, y]).mean()
    delta = logits
    delta[rows, y] -= 1.0
    delta *= np.float32(1.0 / len(y))
    for k in range(len(params) - 1, -1, -1):
        W, b = params[k]
        a_in = activations[k]
        if k > 0:
            delta_in = delta @ W.T
            delta_in *= 1.0 - a_in * a_in
        W -= np.float32(lr) * (a_in.T @ delta)
        b -= np.float32(lr) * delta.sum(axis=0)
        if k > 0:
            delta = delta_in
    return loss
