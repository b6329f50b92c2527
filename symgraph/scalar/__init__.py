"""Scalar operations, the elements of every elementwise computation."""
from symgraph.scalar.basic import *  # noqa: F401,F403
