"""End to end: shared parameters, gradients and ``updates`` train small classifiers by SGD
to high held-out accuracy on problems generated here."""
import numpy as np

import symgraph as sg
import symgraph.tensor as T


def _gaussian_blobs(rng, n_per_class, centers, spread):
    points = [rng.normal(c, spread, size=(n_per_class, 2)) for c in centers]
    labels = [np.full(n_per_class, k) for k in range(len(centers))]
    order = rng.permutation(n_per_class * len(centers))
    return np.concatenate(points)[order], np.concatenate(labels)[order]


def _concentric_rings(rng, n_per_class, radii, noise):
    """Points on rings of the given radii (one class each): no line separates them."""
    angles = rng.uniform(0, 2 * np.pi, size=(len(radii), n_per_class))
    points, labels = [], []
    for k, radius in enumerate(radii):
        r = radius + rng.normal(0, noise, n_per_class)
        points.append(np.stack([r * np.cos(angles[k]), r * np.sin(angles[k])], axis=1))
        labels.append(np.full(n_per_class, k))
    order = rng.permutation(n_per_class * len(radii))
    return np.concatenate(points)[order], np.concatenate(labels)[order]


def _split(x, y, n_train):
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def _sgd_updates(cost, params, learning_rate):
    grads = sg.grad(cost, params)
    return [(p, p - learning_rate * g) for p, g in zip(params, grads)]


def _train(train_fn, x, y, epochs, batch_size, rng):
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            losses.append(float(train_fn(x[batch], y[batch])))
    return losses


def test_logistic_regression_learns_three_gaussian_blobs(rng):
    data, labels = _gaussian_blobs(rng, 150, centers=[(-2, 0), (2, 0), (0, 3)], spread=0.6)
    (x_train, y_train), (x_test, y_test) = _split(data, labels, 300)

    x, y = T.dmatrix("x"), T.lvector("y")
    W = sg.shared(np.zeros((2, 3)), name="W")
    b = sg.shared(np.zeros(3), name="b")
    p_y = T.nnet.softmax(T.dot(x, W) + b)
    cost = T.nnet.categorical_crossentropy(p_y, y).mean()
    train = sg.function([x, y], cost, updates=_sgd_updates(cost, [W, b], 0.5))
    predict = sg.function([x], T.argmax(p_y, axis=1))

    losses = _train(train, x_train, y_train, epochs=20, batch_size=50, rng=rng)

    assert losses[-1] < 0.5 * losses[0]
    accuracy = np.mean(predict(x_test) == y_test)
    assert accuracy > 0.95, accuracy
    assert W.get_value().shape == (2, 3) and np.abs(W.get_value()).sum() > 0


def test_mlp_learns_concentric_rings(rng):
    data, labels = _concentric_rings(rng, 300, radii=[1.0, 2.5], noise=0.15)
    (x_train, y_train), (x_test, y_test) = _split(data, labels, 400)

    x, y = T.dmatrix("x"), T.lvector("y")
    n_hidden = 16
    W1 = sg.shared(rng.normal(0, 1.0, (2, n_hidden)), name="W1")
    b1 = sg.shared(np.zeros(n_hidden), name="b1")
    W2 = sg.shared(rng.normal(0, 1.0 / np.sqrt(n_hidden), (n_hidden, 2)), name="W2")
    b2 = sg.shared(np.zeros(2), name="b2")
    hidden = T.tanh(T.dot(x, W1) + b1)
    p_y = T.nnet.softmax(T.dot(hidden, W2) + b2)
    cost = T.nnet.categorical_crossentropy(p_y, y).mean()
    params = [W1, b1, W2, b2]
    train = sg.function([x, y], cost, updates=_sgd_updates(cost, params, 0.3))
    predict = sg.function([x], T.argmax(p_y, axis=1))

    # a linear model cannot beat chance by much on rings, so the hidden layer must learn
    losses = _train(train, x_train, y_train, epochs=60, batch_size=40, rng=rng)

    assert losses[-1] < 0.3 * losses[0]
    accuracy = np.mean(predict(x_test) == y_test)
    assert accuracy > 0.95, accuracy


def test_linear_model_fails_on_rings_so_the_mlp_test_means_something(rng):
    data, labels = _concentric_rings(rng, 300, radii=[1.0, 2.5], noise=0.15)
    (x_train, y_train), (x_test, y_test) = _split(data, labels, 400)
    x, y = T.dmatrix("x"), T.lvector("y")
    W = sg.shared(np.zeros((2, 2)), name="W")
    b = sg.shared(np.zeros(2), name="b")
    p_y = T.nnet.softmax(T.dot(x, W) + b)
    cost = T.nnet.categorical_crossentropy(p_y, y).mean()
    train = sg.function([x, y], cost, updates=_sgd_updates(cost, [W, b], 0.3))
    _train(train, x_train, y_train, epochs=20, batch_size=40, rng=rng)
    accuracy = np.mean(sg.function([x], T.argmax(p_y, axis=1))(x_test) == y_test)
    assert accuracy < 0.8, accuracy


def test_binary_logistic_regression_with_sigmoid_cross_entropy_in_float32(rng):
    data, labels = _gaussian_blobs(rng, 150, centers=[(-1.5, -1.5), (1.5, 1.5)], spread=0.7)
    data = data.astype("float32")
    (x_train, y_train), (x_test, y_test) = _split(data, labels.astype("float32"), 200)

    x, y = T.fmatrix("x"), T.fvector("y")
    w = sg.shared(np.zeros(2, dtype="float32"), name="w")
    b = sg.shared(np.float32(0.0), name="b")
    logits = T.dot(x, w) + b
    cost = T.nnet.sigmoid_binary_crossentropy(logits, y).mean()
    train = sg.function([x, y], cost, updates=_sgd_updates(cost, [w, b], 0.5))
    predict = sg.function([x], T.nnet.sigmoid(logits) > 0.5)

    _train(train, x_train, y_train, epochs=15, batch_size=25, rng=rng)

    assert w.get_value().dtype == np.float32
    accuracy = np.mean(predict(x_test) == (y_test > 0.5))
    assert accuracy > 0.95, accuracy
