"""Theano's ``sandbox`` import paths (``sandbox.rng_mrg.MRG_RandomStreams``)."""
