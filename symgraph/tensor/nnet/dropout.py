"""Dropout: the inverted form, scaled at training time so that inference is the identity.

The random mask comes from a random stream object with Theano's ``RandomStreams``
interface: ``srng.binomial(size=..., p=..., dtype=...)`` (``n`` left at its default
of 1, so that ``MRG_RandomStreams``, whose ``binomial`` has no ``n``, works too).
"""
from symgraph.tensor.basic import cast
from symgraph.tensor.type import DISCRETE_DTYPES, upgrade_to_float
from symgraph.tensor.var import as_tensor_variable, constant


def dropout(x, p=0.5, srng=None, training=True, rescale=True, shared_axes=()):
    """Zero each entry of ``x`` with probability ``p`` and divide the rest by ``1 - p``
    (inverted dropout, as Lasagne's ``DropoutLayer``), so that the expected value is ``x``
    and the graph for inference (``training=False``) is ``x`` itself.

    p: the drop probability, a Python number in [0, 1) or a symbolic scalar (e.g. a
    shared variable, to anneal it).  srng: the random stream (``RandomStreams(seed)``);
    each call draws a fresh mask when the stream's updates are applied.  rescale: divide
    by ``1 - p`` (False: plain dropout, scale at inference yourself).  shared_axes: axes
    along which one mask value is shared (e.g. ``(2, 3)`` drops whole feature maps of
    NCHW input: "spatial dropout").

    >>> import symgraph.tensor as T
    >>> x = T.as_tensor([1.0, 2.0])
    >>> dropout(x, 0.5, srng=None, training=False) is x
    True
    """
    x = as_tensor_variable(x)
    if x.dtype in DISCRETE_DTYPES:
        x = cast(x, upgrade_to_float(x.dtype))
    if isinstance(p, (int, float)):
        if not 0 <= p < 1:
            raise ValueError(f"dropout: p must be in [0, 1), got {p}")
        if p == 0:
            return x
    if not training:
        return x
    if srng is None:
        raise TypeError("dropout(training=True) needs a random stream srng with a "
                        "binomial(size=, p=, dtype=) method, e.g. RandomStreams(seed)")
    shared_axes = {a % x.ndim for a in shared_axes}
    retain = constant(1 - p, dtype=x.dtype) if isinstance(p, (int, float)) else 1 - p
    mask_shape = tuple(1 if a in shared_axes else x.shape[a] for a in range(x.ndim))
    mask = srng.binomial(size=mask_shape, p=retain, dtype=x.dtype)
    if rescale:
        x = x / retain
    return x * mask
