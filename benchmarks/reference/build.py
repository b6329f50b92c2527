"""Compile ``mlp_step.c`` (and the RNN's ``rnn_step.c``) with cffi (API mode) into a cache
folder, once per source.

The cache key hashes the C source, the declarations, the flags, the compiler's
version line and the CPU model, so that an edited source, new flags or another
machine get a fresh build.  A build goes to a temporary folder and is renamed into
place, so two processes building at once never load a half-written module.
"""
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import tempfile

from benchmarks.machine import cpu_model

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "mlp_step.c")
DEFAULT_CACHE = os.path.join(os.path.dirname(HERE), "out", "reference_cache")
FLAGS = ["-O3", "-march=native", "-std=c99"]

CDEF = """
typedef void (*sgemm_fn)(char *, char *, int *, int *, int *, float *, float *, int *,
                         float *, int *, float *, float *, int *);
typedef void (*sgemv_fn)(char *, int *, int *, float *, float *, int *, float *, int *,
                         float *, float *, int *);
typedef void (*sger_fn)(int *, int *, float *, float *, int *, float *, int *, float *, int *);
#define MLP_MAX_LAYERS 8
typedef struct {
    int n_layers;
    int batch;
    int sizes[9];
    float *W[8];
    float *b[8];
    float *act[9];
    float *delta[9];
    float lr;
    sgemm_fn sgemm;
    sgemv_fn sgemv;
    sger_fn sger;
} mlp_t;
float mlp_step(mlp_t *m, const float *x, const int *y);
float mlp_train(mlp_t *m, const float *X, const int *Y, int n_examples, long first,
                long n_steps);
"""


def _compiler_line():
    try:
        out = subprocess.run(["cc", "--version"], capture_output=True, text=True, check=False)
        return out.stdout.splitlines()[0] if out.stdout else ""
    except OSError:
        return ""


def _cache_key(source, cdef, flags):
    parts = [source, cdef, " ".join(flags), _compiler_line(), cpu_model(), platform.machine(),
             platform.python_version()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _find_library(folder):
    for entry in os.listdir(folder):
        if entry.endswith((".so", ".pyd")):
            return os.path.join(folder, entry)
    return None


def _compile_into(final, name, source, cdef, flags):
    import cffi

    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix="build-", dir=parent)
    try:
        ffi = cffi.FFI()
        ffi.cdef(cdef)
        ffi.set_source(name, source, extra_compile_args=flags, libraries=["m"])
        built = ffi.compile(tmpdir=os.path.join(work, "tmp"), verbose=False)
        staging = os.path.join(work, "module")
        os.makedirs(staging)
        shutil.move(built, os.path.join(staging, os.path.basename(built)))
        try:
            os.rename(staging, final)
        except OSError:  # another process finished first: its build is as good
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_reference(cache_dir=None):
    """The compiled cffi module (with ``.ffi`` and ``.lib``) for ``mlp_step.c``.

    >>> module = build_reference()
    >>> callable(module.lib.mlp_train)
    True
    """
    return build_c_module(SOURCE, CDEF, "_mlp_reference", cache_dir)


def build_c_module(source_path, cdef, prefix, cache_dir=None, extra_flags=()):
    """The compiled cffi module of the C file ``source_path`` declaring ``cdef``; ``prefix``
    names the module (its cache key is appended); ``extra_flags`` go after ``FLAGS``."""
    with open(source_path) as f:
        source = f.read()
    flags = FLAGS + list(extra_flags)
    key = _cache_key(source, cdef, flags)
    name = f"{prefix}_{key}"
    final = os.path.join(cache_dir or DEFAULT_CACHE, key)
    library = _find_library(final) if os.path.isdir(final) else None
    if library is None:
        _compile_into(final, name, source, cdef, flags)
        library = _find_library(final)
    return _load(library, name)
