"""Theano 0.8's ``tensor.signal.downsample`` (since renamed ``pool``): ``max_pool_2d``.

>>> import numpy as np, symgraph.tensor as T
>>> max_pool_2d(T.as_tensor(np.arange(4.0).reshape(2, 2)), (2, 2), True).eval().tolist()
[[3.0]]
"""
from symgraph.tensor.signal.pool import pool_2d


def max_pool_2d(input, ds, ignore_border=None, st=None, padding=(0, 0), mode="max"):
    """``pool_2d(input, ds, ignore_border, st, padding, mode)`` under its old name and
    argument names (``ignore_border`` defaults as in ``pool_2d``)."""
    return pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st, pad=padding,
                   mode=mode)
