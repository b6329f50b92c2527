"""Symbolic loops: the Scan op, Theano's ``scan()`` builder, ``until``.

>>> import numpy as np, symgraph as sg, symgraph.tensor as T
>>> x = T.dvector('x')
>>> squares, _ = sg.scan(lambda v: v ** 2, sequences=x)
>>> sg.function([x], squares)([1.0, 2.0, 3.0]).tolist()
[1.0, 4.0, 9.0]
"""
from symgraph.scan.builder import build_scan, scan, until
from symgraph.scan.info import ScanInfo
from symgraph.scan.op import Scan
from symgraph.scan import rewriting  # noqa: F401  (registers the scan rewrites)

# ``symgraph/__init__.py`` binds ``symgraph.scan`` to the function (Theano's ``theano.scan``),
# which hides this package's attributes; the function carries them so that
# ``symgraph.scan.until`` (and ``.Scan``, ``.ScanInfo``) still resolve.
scan.until, scan.Scan, scan.ScanInfo, scan.build_scan = until, Scan, ScanInfo, build_scan

__all__ = ["Scan", "ScanInfo", "build_scan", "scan", "until"]
