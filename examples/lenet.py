"""A LeNet-style network (two conv + max-pool layers, two dense layers) trained with SGD.

    python examples/lenet.py                       # synthetic shapes, a few seconds
    python examples/lenet.py --fashion-mnist DIR   # the IDX files of Fashion-MNIST
                                                   # (Debian: /usr/share/datasets/fashion-mnist)

The synthetic task: 20x20 images holding one of four noisy shapes (horizontal
bar, vertical bar, cross, diagonal) at a random place: local patterns a
linear model on pixels cannot separate, and a small convnet learns in a few
epochs.  Prints the loss per epoch and the held-out accuracy.
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import symgraph as sg  # noqa: E402
import symgraph.tensor as T  # noqa: E402
from symgraph.tensor.nnet import conv2d  # noqa: E402
from symgraph.tensor.signal.pool import pool_2d  # noqa: E402


def synthetic_shapes(n, size=20, rng=None):
    """``n`` noisy ``size`` x ``size`` images of four shape classes, and their labels.

    >>> x, y = synthetic_shapes(8, rng=np.random.default_rng(0))
    >>> x.shape, sorted(set(y.tolist())) <= [0, 1, 2, 3]
    ((8, 1, 20, 20), True)
    """
    rng = rng or np.random.default_rng(0)
    images = rng.normal(0.0, 0.3, size=(n, 1, size, size)).astype("float32")
    labels = rng.integers(0, 4, size=n).astype("int32")
    for image, label in zip(images[:, 0], labels):
        r, c = rng.integers(3, size - 9, size=2)
        if label == 0:
            image[r + 3, c:c + 7] += 1.0
        elif label == 1:
            image[r:r + 7, c + 3] += 1.0
        elif label == 2:
            image[r + 3, c:c + 7] += 1.0
            image[r:r + 7, c + 3] += 1.0
        else:
            image[np.arange(7) + r, np.arange(7) + c] += 1.0
    return images, labels


def fashion_mnist(directory, kind):
    """Images (n, 1, 28, 28) scaled to [0, 1] and labels of Fashion-MNIST's ``kind``
    ('train' or 't10k') from its IDX files in ``directory``."""
    def read(name, offset):
        with gzip.open(os.path.join(directory, name), "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

    images = read(f"{kind}-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)
    labels = read(f"{kind}-labels-idx1-ubyte.gz", 8)
    return (images / np.float32(255)).astype("float32"), labels.astype("int32")


def build(image_shape, n_classes, filters=(8, 16), hidden=64, lr=0.05, seed=0):
    """``(train, predict, params)``: SGD step ``train(x, y) -> loss`` and ``predict(x)``."""
    rng = np.random.default_rng(seed)
    channels, height, width = image_shape

    def weights(shape, fan_in):
        return sg.shared((rng.normal(size=shape) / np.sqrt(fan_in)).astype("float32"))

    w1 = weights((filters[0], channels, 3, 3), channels * 9)
    w2 = weights((filters[1], filters[0], 3, 3), filters[0] * 9)
    b1 = sg.shared(np.zeros(filters[0], "float32"))
    b2 = sg.shared(np.zeros(filters[1], "float32"))
    side_h, side_w = (height - 2) // 2, (width - 2) // 2
    side_h, side_w = (side_h - 2) // 2, (side_w - 2) // 2
    n_flat = filters[1] * side_h * side_w
    w3, b3 = weights((n_flat, hidden), n_flat), sg.shared(np.zeros(hidden, "float32"))
    w4, b4 = weights((hidden, n_classes), hidden), sg.shared(np.zeros(n_classes, "float32"))
    params = [w1, b1, w2, b2, w3, b3, w4, b4]

    x, y = T.tensor4("x", dtype="float32"), T.ivector("y")
    h = T.relu(pool_2d(conv2d(x, w1) + b1.dimshuffle("x", 0, "x", "x"), (2, 2),
                       ignore_border=True))
    h = T.relu(pool_2d(conv2d(h, w2) + b2.dimshuffle("x", 0, "x", "x"), (2, 2),
                       ignore_border=True))
    h = T.relu(T.dot(h.flatten(2), w3) + b3)
    p = T.nnet.softmax(T.dot(h, w4) + b4)
    loss = T.nnet.categorical_crossentropy(p, y).mean()
    step = np.float32(lr)
    updates = [(v, v - step * g) for v, g in zip(params, sg.grad(loss, params))]
    train = sg.function([x, y], loss, updates=updates)
    predict = sg.function([x], T.argmax(p, axis=1))
    return train, predict, params


def train_and_evaluate(train_data, test_data, epochs=4, batch=32, lr=0.05, log=print):
    """Train on ``train_data`` ((x, y) arrays); the held-out accuracy on ``test_data``."""
    (x_train, y_train), (x_test, y_test) = train_data, test_data
    train, predict, _ = build(x_train.shape[1:], int(y_train.max()) + 1, lr=lr)
    rng = np.random.default_rng(1)
    for epoch in range(epochs):
        started, order, losses = time.perf_counter(), rng.permutation(len(x_train)), []
        for k in range(0, len(order) - batch + 1, batch):
            rows = order[k:k + batch]
            losses.append(float(train(x_train[rows], y_train[rows])))
        log(f"epoch {epoch + 1}: loss {np.mean(losses):.4f} "
            f"({time.perf_counter() - started:.1f} s)")
    predictions = np.concatenate([predict(x_test[k:k + 256])
                                  for k in range(0, len(x_test), 256)])
    return float(np.mean(predictions == y_test))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion-mnist", metavar="DIR", help="train on Fashion-MNIST")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    if args.fashion_mnist:
        data = fashion_mnist(args.fashion_mnist, "train"), fashion_mnist(args.fashion_mnist,
                                                                         "t10k")
        epochs = args.epochs or 2
    else:
        rng = np.random.default_rng(0)
        data = synthetic_shapes(2000, rng=rng), synthetic_shapes(500, rng=rng)
        epochs = args.epochs or 4
    accuracy = train_and_evaluate(*data, epochs=epochs)
    print(f"held-out accuracy: {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
