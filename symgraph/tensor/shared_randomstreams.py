"""Theano's import path for ``RandomStreams`` (defined in symgraph/tensor/random.py).

>>> from symgraph.tensor.shared_randomstreams import RandomStreams
>>> RandomStreams(seed=1).uniform((2, 3)).ndim
2
"""
from symgraph.tensor.random import RandomStreams

__all__ = ["RandomStreams"]
