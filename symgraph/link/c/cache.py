"""The compile cache: content-addressed shared libraries in ``config.compiledir``.

An entry is a directory ``<compiledir>/cmodules/<key>/`` holding the C source,
the library and ``entry.json``; the key is a hash of the source, the flags,
the compiler's version, the Python/NumPy ABI and the platform.  Entries are
built in a private temporary directory and renamed into place, so a reader
sees a complete entry or none; ``entry.json`` holds the library's size and
SHA-256, and an entry whose library does not match (truncated, corrupt,
half-deleted) is moved aside and rebuilt, never loaded.  A per-key lock file
keeps many processes that want the same new module from all compiling it;
when the lock cannot be had in time, a process builds anyway and the rename
decides (the loser's copy is dropped).

From the shell::

    python -m symgraph.link.c.cache list|size|clear
"""
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time

from symgraph.link.c import compiler

ENTRY_FILE = "entry.json"
LIBRARY_FILE = "module.so"
SOURCE_FILE = "module.c"
LOCK_TIMEOUT_S = 300.0
STALE_TMP_S = 3600.0  # a build directory this old belongs to a process that died


class CacheEntry:
    """A validated entry: ``path`` of the library, ``key``, ``built`` (by this call)."""

    def __init__(self, directory, key, built):
        self.directory, self.key, self.built = directory, key, built
        self.path = os.path.join(directory, LIBRARY_FILE)

    def __repr__(self):
        return f"CacheEntry({self.key[:12]}..., built={self.built})"


def compiledir(root=None):
    """The cache root (created with mode 0700); refuses one others may write to.

    >>> import os, tempfile
    >>> d = compiledir(os.path.join(tempfile.mkdtemp(), "cache"))
    >>> oct(os.stat(d).st_mode & 0o777)
    '0o700'
    """
    if root is None:
        from symgraph.config import config

        root = config.compiledir
    root = os.path.abspath(os.path.expanduser(root))
    if not os.path.isdir(root):
        os.makedirs(root, mode=0o700, exist_ok=True)
        os.chmod(root, 0o700)
    mode = os.stat(root).st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(f"compiledir {root} is writable by other users: code loaded from "
                              f"it could be replaced; chmod 700 it or set config.compiledir")
    for sub in ("cmodules", "tmp", "locks", "failed"):
        os.makedirs(os.path.join(root, sub), mode=0o700, exist_ok=True)
    return root


def cache_key(source, flags, libs=()):
    """The hash naming a module: source, flags, compiler, Python/NumPy ABI, platform."""
    identity = {"source": hashlib.sha256(source.encode()).hexdigest(), "flags": list(flags),
                "libs": list(libs), "compiler": compiler.compiler_version(),
                **compiler.platform_tag()}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:40]


def get_library(source, flags=compiler.MODULE_FLAGS, libs=compiler.MODULE_LIBS,
                description="", regions=(), root=None):
    """The library built from ``source``: from the cache, or compiled into it.

    ``description`` is stored with the entry (``list`` shows it); ``regions``
    maps source lines to the ops that generated them for compile errors.

    >>> import tempfile
    >>> src = "int sg_answer(void) { return 42; }"
    >>> entry = get_library(src, description="doctest", root=tempfile.mkdtemp())
    >>> entry.built, os.path.basename(entry.path)
    (True, 'module.so')
    """
    root = compiledir(root)
    key = cache_key(source, flags, libs)
    directory = os.path.join(root, "cmodules", key)
    if _is_valid(directory, key):
        return CacheEntry(directory, key, built=False)
    with _KeyLock(root, key):
        if _is_valid(directory, key):  # another process built it while we waited
            return CacheEntry(directory, key, built=False)
        if os.path.exists(directory):
            _discard(root, directory)
        _build(root, key, directory, source, flags, libs, description, regions)
    if not _is_valid(directory, key):
        raise RuntimeError(f"compile cache: entry {directory} is not valid right after building "
                           f"it (is something else writing to {root}?)")
    return CacheEntry(directory, key, built=True)


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_valid(directory, key):
    """Complete and intact: entry.json written (last) and the library matching it."""
    try:
        with open(os.path.join(directory, ENTRY_FILE)) as f:
            meta = json.load(f)
        library = os.path.join(directory, LIBRARY_FILE)
        return (meta.get("key") == key and os.path.getsize(library) == meta.get("size")
                and _sha256_file(library) == meta.get("sha256"))
    except (OSError, ValueError, AttributeError):
        return False


def _discard(root, directory):
    """Move a broken entry out of sight (atomically), then delete it."""
    trash = tempfile.mkdtemp(prefix="trash-", dir=os.path.join(root, "tmp"))
    try:
        os.rename(directory, os.path.join(trash, "entry"))
    except OSError:
        pass  # someone else moved it already
    shutil.rmtree(trash, ignore_errors=True)


def _remove_stale_builds(root):
    """Delete build directories left by processes killed while compiling."""
    tmp = os.path.join(root, "tmp")
    now = time.time()
    for name in os.listdir(tmp):
        path = os.path.join(tmp, name)
        try:
            if now - os.stat(path).st_mtime > STALE_TMP_S:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _build(root, key, directory, source, flags, libs, description, regions):
    _remove_stale_builds(root)
    work = tempfile.mkdtemp(prefix=f"{key[:12]}-", dir=os.path.join(root, "tmp"))
    try:
        source_path = os.path.join(work, SOURCE_FILE)
        library = os.path.join(work, LIBRARY_FILE)
        with open(source_path, "w") as f:
            f.write(source)
        started = time.perf_counter()
        try:
            compiler.compile_shared(source_path, library, flags, libs, regions)
        except compiler.CompileError as exc:
            raise _keep_failed_source(root, key, source_path, exc) from None
        meta = {"key": key, "size": os.path.getsize(library), "sha256": _sha256_file(library),
                "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
                "description": description, "flags": list(flags), "created": time.time(),
                "compile_seconds": round(time.perf_counter() - started, 4),
                "compiler": compiler.compiler_version(), **compiler.platform_tag()}
        _write_durably(os.path.join(work, ENTRY_FILE), json.dumps(meta, indent=1))
        try:
            os.rename(work, directory)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            # another process's rename won; its entry is checked by the caller
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_durably(path, text):
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _keep_failed_source(root, key, source_path, exc):
    """Copy the source that failed where it survives, and point the error at it."""
    kept = os.path.join(root, "failed", f"{key}.c")
    shutil.copyfile(source_path, kept)
    message = str(exc).replace(source_path, kept)
    return compiler.CompileError(message, kept, exc.line, exc.region, exc.stderr)


class _KeyLock:
    """An exclusive lock on one key (``flock``), given up after LOCK_TIMEOUT_S."""

    def __init__(self, root, key):
        self.path = os.path.join(root, "locks", f"{key}.lock")
        self.fd = None

    def __enter__(self):
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return self  # no lock: the atomic rename still keeps entries whole
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(self.fd)
                    self.fd = None
                    return self
                time.sleep(0.01)
            except OSError:  # a filesystem without flock
                os.close(self.fd)
                self.fd = None
                return self

    def __exit__(self, *exc):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


# -- inspection: list / size / clear -------------------------------------------

def entries(root=None):
    """Metadata of every entry (dicts from entry.json, plus ``valid`` and ``bytes``)."""
    root = compiledir(root)
    base = os.path.join(root, "cmodules")
    found = []
    for key in sorted(os.listdir(base)):
        directory = os.path.join(base, key)
        try:
            with open(os.path.join(directory, ENTRY_FILE)) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            meta = {"key": key}
        meta["valid"] = _is_valid(directory, key)
        meta["bytes"] = _tree_size(directory)
        found.append(meta)
    return found


def _tree_size(path):
    total = 0
    for parent, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(parent, name))
            except OSError:
                pass
    return total


def total_size(root=None):
    """(number of entries, bytes used by the whole cache)."""
    root = compiledir(root)
    return len(os.listdir(os.path.join(root, "cmodules"))), _tree_size(root)


def clear(root=None):
    """Delete every entry, lock, failed source and temporary directory."""
    root = compiledir(root)
    for sub in ("cmodules", "tmp", "locks", "failed"):
        shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
    compiledir(root)


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m symgraph.link.c.cache",
                                     description="Inspect or clear symgraph's compile cache.")
    parser.add_argument("command", choices=("list", "size", "clear"))
    parser.add_argument("--dir", default=None, help="cache root (default: config.compiledir)")
    args = parser.parse_args(argv)
    root = compiledir(args.dir)
    if args.command == "list":
        for meta in entries(root):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(meta.get("created", 0)))
            state = "ok" if meta["valid"] else "BROKEN"
            print(f"{meta['key'][:16]}  {meta['bytes']:>9d} B  {when}  {state:6s}  "
                  f"{meta.get('description', '')}")
    elif args.command == "size":
        count, size = total_size(root)
        print(f"{root}: {count} entries, {size / 1e6:.2f} MB")
    else:
        count, size = total_size(root)
        clear(root)
        print(f"{root}: removed {count} entries ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
