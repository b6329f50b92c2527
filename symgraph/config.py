"""Global configuration: ``symgraph.config.floatX`` and friends.

Values come from defaults, then the ``SYMGRAPH_FLAGS`` environment variable
(``SYMGRAPH_FLAGS="floatX=float32,mode=FAST_COMPILE"``), then assignment or
:func:`change_flags`.

>>> import symgraph
>>> with symgraph.config.change_flags(floatX="float32"):
...     symgraph.config.floatX
'float32'
"""
import contextlib
import os


def _default_compiledir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "symgraph")


def _parse_bool(text):
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


# name -> (default, parser, allowed values or None)
_FLAGS = {
    "floatX": ("float64", str, ("float64", "float32", "float16")),
    "mode": ("FAST_RUN", str, None),
    "linker": ("auto", str, None),
    "optimizer": ("fast_run", str, None),
    "device": ("cpu", str, None),
    "compiledir": (_default_compiledir(), str, None),
    "profile": (False, _parse_bool, None),
    "openmp": (True, _parse_bool, None),
    "blas": ("auto", str, ("auto", "numpy", "scipy")),
    "on_opt_error": ("warn", str, ("warn", "raise", "ignore")),
    "compute_test_value": ("off", str, ("off", "ignore", "warn", "raise")),
    "constant_folding_max_size": (1 << 20, int, None),
    "cast_policy": ("numpy+floatX", str, None),
}


class Config:
    """Attribute-style access to the flags in ``_FLAGS``."""

    def __init__(self):
        object.__setattr__(self, "_values", {k: v[0] for k, v in _FLAGS.items()})
        self._read_environment()

    def _read_environment(self):
        for item in os.environ.get("SYMGRAPH_FLAGS", "").split(","):
            if not item.strip():
                continue
            name, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"SYMGRAPH_FLAGS entry {item!r} is not name=value")
            setattr(self, name.strip(), value.strip())

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"symgraph.config has no flag {name!r}") from None

    def __setattr__(self, name, value):
        if name not in _FLAGS:
            raise AttributeError(f"symgraph.config has no flag {name!r}; known: {sorted(_FLAGS)}")
        _, parse, allowed = _FLAGS[name]
        value = parse(value)
        if allowed is not None and value not in allowed:
            raise ValueError(f"config.{name}={value!r}: must be one of {allowed}")
        self._values[name] = value

    @contextlib.contextmanager
    def change_flags(self, **flags):
        """Temporarily set flags; restores the old values on exit."""
        old = {name: getattr(self, name) for name in flags}
        try:
            for name, value in flags.items():
                setattr(self, name, value)
            yield self
        finally:
            for name, value in old.items():
                self._values[name] = value

    def __dir__(self):
        return sorted(_FLAGS)


config = Config()
change_flags = config.change_flags
