"""``MRG_RandomStreams``: Theano's ``sandbox.rng_mrg`` interface on symgraph's streams.

A faithful equivalent of the interface, not an alias and not the same numbers:
the methods, argument names, orders and defaults are Theano's (``size`` first
and required for ``uniform``/``normal``; ``nstreams`` accepted and ignored;
``multinomial`` takes a 2-d ``pvals`` and no size; ``choice`` returns, per row
of ``p``, ``size`` indices), but the numbers come from NumPy's PCG64 streams
(see symgraph/tensor/random.py), not from the MRG31k3p generator, so a seed
gives other values than Theano gave.  The generator states live in shared
variables updated by ``default_update``, as in ``RandomStreams``.

>>> import symgraph as sg
>>> srng = MRG_RandomStreams(seed=234)
>>> f = sg.function([], srng.uniform((2, 2)))
>>> f().shape
(2, 2)
"""
import warnings

from symgraph.tensor import random
from symgraph.tensor.random import RandomStreams


def _check_kwargs(method, kwargs):
    target = kwargs.pop("target", "cpu")
    if target not in ("cpu", None):
        raise ValueError(f"MRG_RandomStreams.{method}: target {target!r} is not supported")
    if kwargs:
        raise TypeError(f"{method}() got unexpected keyword arguments {sorted(kwargs)}")


class MRG_RandomStreams(RandomStreams):
    """Theano's ``MRG_RandomStreams`` interface (see the module docstring).

    >>> import numpy as np, symgraph as sg
    >>> srng = MRG_RandomStreams(seed=1)
    >>> mask = srng.binomial((4,), p=1.0, dtype="float32")
    >>> sg.function([], mask)().tolist()
    [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, seed=12345):
        super().__init__(seed)

    def uniform(self, size, low=0.0, high=1.0, ndim=None, dtype=None, nstreams=None,
                **kwargs):
        """Uniform on ``[low, high)``; ``dtype`` at least floatX."""
        _check_kwargs("uniform", kwargs)
        return self.gen(random.uniform, size, low, high, ndim=ndim, dtype=dtype)

    def normal(self, size, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None,
               truncate=False, **kwargs):
        """Normal of mean ``avg`` and deviation ``std``; with ``truncate``, within two
        deviations of ``avg``."""
        _check_kwargs("normal", kwargs)
        return self.gen(random.normal, size, avg, std, ndim=ndim, dtype=dtype,
                        truncate=truncate)

    def truncated_normal(self, size, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None,
                         **kwargs):
        """``normal(..., truncate=True)``."""
        return self.normal(size, avg, std, ndim, dtype, nstreams, truncate=True, **kwargs)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", nstreams=None,
                 **kwargs):
        """Successes in ``n`` trials of probability ``p`` (any ``n``; Theano's needed 1)."""
        _check_kwargs("binomial", kwargs)
        return self.gen(random.binomial, size, n, p, ndim=ndim, dtype=dtype)

    def multinomial(self, size=None, n=1, pvals=None, ndim=None, dtype="int64",
                    nstreams=None, **kwargs):
        """Per row of ``pvals``, the counts of ``n`` draws among its columns."""
        _check_kwargs("multinomial", kwargs)
        if pvals is None:
            raise TypeError("You have to specify pvals")
        if size is not None or ndim is not None:
            raise ValueError("MRG_RandomStreams.multinomial takes no size or ndim: the "
                             "sample has the shape of pvals")
        return self.gen(random.multinomial, None, n, pvals, dtype=dtype)

    def choice(self, size=1, a=None, replace=True, p=None, ndim=None, dtype="int64",
               nstreams=None, **kwargs):
        """Per row of the probability matrix ``p``, ``size`` column indices (distinct
        unless ``replace``); shape ``(p.shape[0], size)``."""
        _check_kwargs("choice", kwargs)
        if a is not None:
            raise TypeError("MRG_RandomStreams.choice: a must be None; the values are "
                            "column indices of p")
        if p is None:
            raise TypeError("MRG_RandomStreams.choice: p must be given")
        if ndim is not None:
            raise ValueError("MRG_RandomStreams.choice: ndim is not used")
        return self.gen(random.choice_rows, size, p, replace=replace, dtype=dtype)

    def multinomial_wo_replacement(self, size=None, n=1, pvals=None, ndim=None,
                                   dtype="int64", nstreams=None, **kwargs):
        """Deprecated (as in Theano): ``choice(size=n, replace=False, p=pvals)``."""
        warnings.warn("MRG_RandomStreams.multinomial_wo_replacement() is deprecated; use "
                      "choice()", DeprecationWarning, stacklevel=2)
        if size is not None:
            raise ValueError("multinomial_wo_replacement takes no size")
        return self.choice(size=n, replace=False, p=pvals, ndim=ndim, dtype=dtype, **kwargs)


__all__ = ["MRG_RandomStreams"]
