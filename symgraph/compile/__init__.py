"""Compiling graphs into callables: function, shared variables, modes."""
from symgraph.compile.function import Function, function
from symgraph.compile.io import In, Out
from symgraph.compile.mode import Mode, get_mode
from symgraph.compile.sharedvalue import SharedVariable, shared
