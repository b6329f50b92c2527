"""Signal processing ops (Theano's ``theano.tensor.signal``): pooling.

>>> from symgraph.tensor.signal import pool
>>> callable(pool.pool_2d)
True
"""
from symgraph.tensor.signal import pool  # noqa: F401
