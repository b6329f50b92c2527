"""Neural-network ops (Theano's ``theano.tensor.nnet``)."""
from symgraph.tensor.math import relu, sigmoid, softplus
