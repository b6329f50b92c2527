"""The compile cache: keys, atomic entries, corruption, concurrency, errors, and the CLI."""
import ctypes
import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from symgraph.link.c import cache, compiler

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))


def _fresh_source(value):
    """A module no cache has seen (the uuid makes its key new)."""
    return f"/* {uuid.uuid4()} */\nint sg_answer(void) {{ return {value}; }}\n"


def _call_answer(path):
    return ctypes.CDLL(path).sg_answer()


def test_key_covers_source_and_flags():
    src = _fresh_source(1)
    key = cache.cache_key(src, ("-O2",))
    assert key == cache.cache_key(src, ("-O2",))
    assert key != cache.cache_key(src + " ", ("-O2",))
    assert key != cache.cache_key(src, ("-O3",))
    assert key != cache.cache_key(src, ("-O2",), libs=("-lm",))


def test_build_then_hit(tmp_path):
    src = _fresh_source(41)
    first = cache.get_library(src, root=str(tmp_path), description="answer")
    assert first.built
    second = cache.get_library(src, root=str(tmp_path))
    assert not second.built and second.path == first.path
    assert _call_answer(second.path) == 41
    meta = json.load(open(os.path.join(first.directory, cache.ENTRY_FILE)))
    assert meta["key"] == first.key and meta["description"] == "answer"
    assert meta["compiler"] == compiler.compiler_version()


def test_compiledir_created_private(tmp_path):
    root = tmp_path / "new" / "cache"
    cache.compiledir(str(root))
    assert os.stat(root).st_mode & 0o777 == 0o700


def test_compiledir_writable_by_others_refused(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    os.chmod(root, 0o777)
    with pytest.raises(PermissionError, match="writable by other users"):
        cache.compiledir(str(root))


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "no_marker", "bad_marker"])
def test_damaged_entry_is_rebuilt_not_loaded(tmp_path, damage):
    src = _fresh_source(7)
    entry = cache.get_library(src, root=str(tmp_path))
    marker = os.path.join(entry.directory, cache.ENTRY_FILE)
    if damage == "truncate":
        size = os.path.getsize(entry.path)
        with open(entry.path, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "flip_byte":
        with open(entry.path, "r+b") as f:
            f.seek(100)
            byte = f.read(1)
            f.seek(100)
            f.write(bytes([byte[0] ^ 0xFF]))
    elif damage == "no_marker":  # a crash before the marker was written
        os.remove(marker)
    else:
        with open(marker, "w") as f:
            f.write("{not json")
    assert not cache._is_valid(entry.directory, entry.key)
    again = cache.get_library(src, root=str(tmp_path))
    assert again.built and again.path == entry.path
    assert cache._is_valid(again.directory, again.key)
    assert _call_answer(again.path) == 7


_WORKER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from symgraph.link.c import cache
    import ctypes
    entry = cache.get_library({source!r}, root={root!r})
    print(entry.built, entry.path, ctypes.CDLL(entry.path).sg_answer())
""")


def test_four_processes_compile_the_same_new_module(tmp_path):
    src = _fresh_source(1234)
    script = _WORKER.format(repo=REPO, source=src, root=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    for out, err, code in results:
        assert code == 0, err
    lines = [out.split() for out, _, _ in results]
    assert {line[1] for line in lines} == {lines[0][1]}  # one entry for all
    assert all(line[2] == "1234" for line in lines)
    assert sum(line[0] == "True" for line in lines) >= 1
    assert len(os.listdir(tmp_path / "cmodules")) == 1
    assert os.listdir(tmp_path / "tmp") == []  # no leftovers
    assert cache._is_valid(os.path.dirname(lines[0][1]), os.path.basename(
        os.path.dirname(lines[0][1])))


def test_compile_error_names_location_and_region(tmp_path):
    src = "int ok(void) { return 0; }\nint bad(void) { return undeclared_name; }\n"
    regions = [(1, 1, "op Fine"), (2, 2, "op Broken (node Broken(x), built at test.py:3)")]
    with pytest.raises(compiler.CompileError) as info:
        cache.get_library(src, root=str(tmp_path), regions=regions)
    err = info.value
    assert err.line == 2 and err.region.startswith("op Broken")
    assert "op Broken" in str(err) and "undeclared_name" in str(err)
    assert os.path.exists(err.source_path) and f"{err.source_path}:2" in str(err)
    assert os.listdir(tmp_path / "cmodules") == []


def test_cli_list_size_clear(tmp_path, capsys):
    cache.get_library(_fresh_source(3), root=str(tmp_path), description="cli entry")
    cache.get_library(_fresh_source(4), root=str(tmp_path), description="cli entry")

    def run(command):
        assert cache.main([command, "--dir", str(tmp_path)]) == 0
        return capsys.readouterr().out

    listing = run("list")
    assert listing.count("cli entry") == 2 and "ok" in listing
    assert "2 entries" in run("size")
    assert "removed 2 entries" in run("clear")
    assert "0 entries" in run("size")


def test_cli_runs_as_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "symgraph.link.c.cache", "size", "--dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, check=True)
    assert "0 entries" in result.stdout


def test_stale_build_directories_are_removed(tmp_path):
    cache.compiledir(str(tmp_path))
    stale = tmp_path / "tmp" / "dead-build"
    stale.mkdir()
    (stale / "module.c").write_text("half written")
    old = os.stat(stale).st_mtime - 2 * cache.STALE_TMP_S
    os.utime(stale, (old, old))
    fresh = tmp_path / "tmp" / "live-build"
    fresh.mkdir()
    cache.get_library(_fresh_source(5), root=str(tmp_path))
    assert not stale.exists() and fresh.exists()
