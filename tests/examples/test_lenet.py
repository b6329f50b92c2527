"""The LeNet example learns the synthetic shapes task (chance: 25%)."""
import importlib.util
import os

import numpy as np
import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "examples", "lenet.py")


def _load():
    spec = importlib.util.spec_from_file_location("lenet_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_lenet_learns_the_shapes():
    lenet = _load()
    rng = np.random.default_rng(0)
    train, test = lenet.synthetic_shapes(1600, rng=rng), lenet.synthetic_shapes(400, rng=rng)
    lines = []
    accuracy = lenet.train_and_evaluate(train, test, epochs=4, log=lines.append)
    assert len(lines) == 4
    assert accuracy > 0.9, lines
