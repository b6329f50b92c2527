"""Configuration: the SYMGRAPH_FLAGS environment variable, change_flags, validation."""
import os
import subprocess
import sys

import pytest

import symgraph as sg
from symgraph.config import Config, config


def _run_with_flags(flags, code):
    env = dict(os.environ, SYMGRAPH_FLAGS=flags, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=60)


def test_environment_variable_sets_flags():
    done = _run_with_flags(
        " floatX=float32, mode=FAST_COMPILE ,profile=yes,constant_folding_max_size=17,",
        "import symgraph as sg, symgraph.tensor as T\n"
        "c = sg.config\n"
        "print(c.floatX, c.mode, c.profile, c.constant_folding_max_size, T.scalar().dtype)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["float32", "FAST_COMPILE", "True", "17", "float32"]


@pytest.mark.parametrize("flags, error", [
    ("no_such_flag=1", "no flag 'no_such_flag'"),
    ("floatX=float128", "must be one of"),
    ("profile=perhaps", "not a boolean"),
    ("floatX", "not name=value"),
])
def test_bad_environment_variable_is_a_clear_error(flags, error):
    done = _run_with_flags(flags, "import symgraph")
    assert done.returncode != 0
    assert error in done.stderr


def test_change_flags_restores_values():
    before = (config.floatX, config.mode, config.profile)
    with sg.change_flags(floatX="float32", profile="true") as c:
        assert c is config
        assert config.floatX == "float32" and config.profile is True
        with config.change_flags(floatX="float16"):
            assert config.floatX == "float16"
        assert config.floatX == "float32"
    assert (config.floatX, config.mode, config.profile) == before


def test_change_flags_restores_after_an_exception():
    before = config.floatX
    with pytest.raises(RuntimeError):
        with config.change_flags(floatX="float32"):
            raise RuntimeError("inside")
    assert config.floatX == before
    # a bad value part way through still restores the flags already set
    with pytest.raises(ValueError):
        with config.change_flags(floatX="float32", on_opt_error="explode"):
            pass
    assert config.floatX == before


def test_change_flags_as_a_decorator():
    before = config.floatX

    @config.change_flags(floatX="float16")
    def inside():
        return config.floatX

    assert inside() == "float16" and inside() == "float16"
    assert config.floatX == before


def test_bad_names_and_values_raise():
    with pytest.raises(AttributeError, match="no flag 'flotX'"):
        config.flotX
    with pytest.raises(AttributeError, match="no flag 'flotX'"):
        config.flotX = "float32"
    with pytest.raises(AttributeError):
        with config.change_flags(flotX="float32"):
            pass
    with pytest.raises(ValueError, match="must be one of"):
        config.floatX = "float8"
    with pytest.raises(ValueError, match="not a boolean"):
        config.profile = "sometimes"
    with pytest.raises(ValueError):
        config.constant_folding_max_size = "big"


def test_assignment_parses_and_sticks():
    old = config.profile
    try:
        config.profile = "off"
        assert config.profile is False
        config.profile = "1"
        assert config.profile is True
    finally:
        config.profile = old


def test_a_fresh_config_reads_the_environment(monkeypatch):
    monkeypatch.setenv("SYMGRAPH_FLAGS", "floatX=float16,openmp=false")
    fresh = Config()
    assert fresh.floatX == "float16" and fresh.openmp is False
    assert config.floatX != "float16"  # the global one is untouched
    assert "floatX" in dir(fresh)
