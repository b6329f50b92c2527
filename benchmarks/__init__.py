"""Benchmarks of symgraph against its peers (``python benchmarks/run_mlp.py``)."""
