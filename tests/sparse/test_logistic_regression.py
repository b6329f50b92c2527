"""A sparse-input logistic regression on a synthetic bag-of-words problem: documents are
word counts over a Zipf-distributed vocabulary, labelled by a planted linear rule on
log(1 + count); the model reads minibatches of rows of a shared CSR matrix."""
import numpy as np
import scipy.sparse as sp

import symgraph as sg
import symgraph.tensor as T
from symgraph import sparse as S

VOCABULARY, TRAIN, TEST, BATCH = 500, 4000, 1000, 100
FASTEST = sg.Mode(linker="auto")  # the C VM where a compiler is found


def bag_of_words(rng, n_docs, word_weights):
    """(counts as CSR, scores): ~40 Zipf-distributed words a document, and the planted
    rule's score log1p(counts) @ word_weights (a label is a score above the median)."""
    frequency = 1.0 / (np.arange(VOCABULARY) + 10.0)
    frequency /= frequency.sum()
    lengths = rng.poisson(40, size=n_docs) + 1
    doc_of_word = np.repeat(np.arange(n_docs), lengths)
    words = rng.choice(VOCABULARY, size=lengths.sum(), p=frequency)
    counts = sp.csr_matrix((np.ones(len(words)), (doc_of_word, words)),
                           shape=(n_docs, VOCABULARY))
    counts.sum_duplicates()
    scores = np.log1p(counts.toarray()) @ word_weights
    return counts, scores


def test_logistic_regression_on_bag_of_words():
    rng = np.random.default_rng(20240607)
    word_weights = rng.normal(size=VOCABULARY) * (rng.random(VOCABULARY) < 0.2)
    counts, scores = bag_of_words(rng, TRAIN + TEST, word_weights)
    labels = (scores > np.median(scores[:TRAIN])).astype("float64")
    x_train = sg.shared(counts[:TRAIN], name="x_train")
    y_train = sg.shared(labels[:TRAIN], name="y_train")

    w = sg.shared(np.zeros(VOCABULARY), name="w")
    b = sg.shared(0.0, name="b")
    x = S.csr_matrix("x", dtype="float64")
    logits = S.dot(S.log1p(x), w) + b  # log1p keeps the pattern: the features stay sparse
    i, y = T.lscalar("i"), T.dvector("y")
    loss = T.mean(y * T.softplus(-logits) + (1 - y) * T.softplus(logits))
    gw, gb = sg.grad(loss, [w, b])
    rows = slice(i * BATCH, (i + 1) * BATCH)
    train = sg.function([i], loss, updates=[(w, w - 2.0 * gw), (b, b - 2.0 * gb)],
                        givens={x: x_train[rows], y: y_train[rows]}, mode=FASTEST)
    predict = sg.function([x], logits > 0, mode=FASTEST)

    first = np.mean([train(k) for k in range(TRAIN // BATCH)])
    for epoch in range(20):
        last = np.mean([train(k) for k in range(TRAIN // BATCH)])

    accuracy = np.mean(predict(counts[TRAIN:]) == labels[TRAIN:].astype(bool))
    assert last < first
    assert accuracy >= 0.90, f"held-out accuracy {accuracy:.3f}"
