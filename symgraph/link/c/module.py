"""Generated modules: the C source of a graph's node functions, built and loaded.

One module per compiled function (one gcc run), holding one C function per
distinct (op, input types, output types) among its nodes.  The source
starts with the runtime headers pasted in (so the cache key covers them and
the kept ``module.c`` compiles on its own) and ends with an export table
read by the VM extension after it dlopens the library.  The source holds nothing that varies
between runs (no ids, names or source lines), so the same graph hits the
cache in a new process.
"""
import functools
import os
import re

from symgraph.link.c import cache, compiler
from symgraph.link.c.registry import c_function_for

CSRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                    os.pardir, "csrc")

_EXPORTS = """
int sg_abi_version(void) { return SG_ABI_VERSION; }
int sg_n_functions(void) { return (int)(sizeof sg_table / sizeof sg_table[0]); }
void *sg_function(int i) { return i >= 0 && i < sg_n_functions() ? (void *)sg_table[i] : 0; }
"""


def csrc_path(name):
    """The path of a file in the C runtime sources (csrc/)."""
    return os.path.normpath(os.path.join(CSRC, name))


@functools.lru_cache(maxsize=None)
def csrc_text(name):
    """A csrc/ file with its local ``#include "..."`` lines replaced by the files' text."""
    with open(csrc_path(name)) as f:
        text = f.read()
    return re.sub(r'^#include "([\w.]+)"$', lambda m: csrc_text(m.group(1)), text,
                  flags=re.MULTILINE)


class ModuleSource:
    """Accumulates node functions; remembers which lines each one occupies."""

    def __init__(self):
        self.parts = [csrc_text("sg_abi.h"), csrc_text("sg_kernels.h")]
        self.regions = [(1, self._lines(), "the C runtime headers (csrc/)")]
        self.names = []
        self.uses_blas = False  # some node function calls ctx->blas
        self._by_signature = {}

    def _lines(self):
        return sum(part.count("\n") for part in self.parts)

    def add(self, node):
        """The table index of ``node``'s C function (shared by equal nodes), or None."""
        signature = (node.op, tuple(v.type for v in node.inputs),
                     tuple(v.type for v in node.outputs))
        try:
            if signature in self._by_signature:
                return self._by_signature[signature]
        except TypeError:  # an op whose props are not hashable: no sharing
            signature = None
        name = f"sg_fn_{len(self.names)}"
        code = c_function_for(node, name)
        if code is None:
            return None
        first = self._lines() + 1
        header = f"/* {_comment_safe(str(node.op))}: " \
                 f"{', '.join(_comment_safe(str(v.type)) for v in node.inputs)} */\n"
        self.parts.append(header + code)
        self.uses_blas = self.uses_blas or "ctx->blas" in code
        self.regions.append((first, self._lines(), _describe(node)))
        self.names.append(name)
        if signature is not None:
            self._by_signature[signature] = len(self.names) - 1
        return len(self.names) - 1

    def text(self):
        table = ", ".join(self.names) or "0"
        return "".join(self.parts) + \
            f"\nstatic const sg_node_fn sg_table[] = {{{table}}};\n" + _EXPORTS


def _comment_safe(text):
    return text.replace("*/", "* /")


def _describe(node):
    from symgraph.graph.basic import format_trace

    trace = None
    for out in node.outputs:
        trace = out.tag.get("trace")
        if trace:
            break
    return f"op {node.op} (node {node}, built at {format_trace(trace)})"


class LoadedModule:
    """A loaded generated module: its path and the addresses of its node functions."""

    def __init__(self, path, addresses):
        self.path, self.addresses = path, addresses


_LOADED = {}


def load_module(path):
    """dlopen a generated module (once per process) and read its function table.

    The VM extension does the dlopen: loading through cffi would cost its
    import and a C-declaration parse (100 ms per process) for two symbol lookups.
    """
    loaded = _LOADED.get(path)
    if loaded is None:
        from symgraph.link.c.runtime import cvm

        # OpenMP threads that spin after a loop (libgomp's default) take the cores from
        # the BLAS threads of the next step: at 2 threads a 3-layer MLP step ran 3x
        # slower.  Read once, when libgomp loads with the first module; the user's
        # own setting wins.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        loaded = _LOADED[path] = LoadedModule(path, cvm().load_library(path))
    return loaded


def build_module(source):
    """Compile (or find in the cache) and load the module of a ModuleSource."""
    if source.uses_blas:
        from symgraph.link.c.runtime import ensure_blas

        ensure_blas()  # before any VM is built on this module
    labels = sorted({label.split(" (node")[0] for _, _, label in source.regions[1:]})
    entry = cache.get_library(source.text(), flags=compiler.module_flags(),
                              libs=compiler.module_libs(),
                              description=", ".join(labels)[:200], regions=source.regions)
    return load_module(entry.path)
