"""``skiprof.load("trace.json.gz")``: a raw Kineto file (or a folder of per-rank files) imported
once into a cache, then reused.

The cache key is each file's resolved path, size, modification and change times, inode, and a hash
of its first and last 64 KiB, so an edited or replaced file is imported again. The cache lives in ``$SKIPROF_CACHE`` (default ``~/.cache/skiprof``).
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from ._folder import Trace, load

__all__ = ["load_kineto", "cache_dir"]


def cache_dir() -> Path:
    """Where imported raw traces are kept."""
    base = os.environ.get("SKIPROF_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "skiprof")
    return Path(base)


#: Bytes of each file's head and tail that go into its cache key.
_SAMPLE = 1 << 16


def _key(paths: list[Path]) -> str:
    """The cache key of a set of files: each one's path, size, times and inode, and a hash of its first and last
    64 KiB, so that a file replaced by another of the same size and modification time is imported again."""
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\1".encode())
        with open(p, "rb") as fh:
            h.update(fh.read(_SAMPLE))
            if st.st_size > 2 * _SAMPLE:
                fh.seek(-_SAMPLE, os.SEEK_END)
                h.update(fh.read(_SAMPLE))
    return h.hexdigest()[:24]


def load_kineto(path: Path, on_import: Callable[[Path], None] | None = None) -> Trace:
    """Open a Kineto trace file, or a folder of per-rank files, through the cache, importing it on first use
    (``on_import(folder)`` is called first then: a command says what the wait is for)."""
    from ._folder import building, write_meta
    from ._ingest_summary import summarize  # noqa: F401  - same flow as skiprof import
    from .ingest import trace_files
    from .ingest._pipeline import build_meta, ingest_files

    files = trace_files([path])
    folder = cache_dir() / f"{path.name.split('.')[0]}-{_key(files)}"
    if (folder / "meta.json").exists():
        return load(folder)
    if on_import is not None:
        on_import(folder)
    with building(folder, force=True) as staging:
        outcomes = ingest_files(files, staging, jobs=2 if len(files) > 1 else 1)
        write_meta(staging, build_meta(outcomes, files))
    return load(folder)
