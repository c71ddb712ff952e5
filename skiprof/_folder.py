"""The trace folder: write it atomically, open it again.

Layout (docs/trace-format.md): ``meta.json`` plus one Parquet file per table.
A single-rank trace keeps ``TABLE.parquet`` at the top; several ranks use
hive partitions ``rank=N/TABLE.parquet``. Writes go to a hidden sibling
folder that is renamed into place only when complete, so a crash or Ctrl-C
never leaves a half-written trace behind.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._cores import usable_cores
from ._errors import OutputError, TraceFolderError
from ._integrity import check_columns, footers, regular_file, verify_footer
from ._meta import Meta, decode_meta, encode_meta
from ._outputs import folder_output, replace_folder
from ._schema import READABLE_VERSIONS, SCHEMA_VERSION, TABLES, arrow_schema

__all__ = ["Trace", "load", "building", "write_meta", "write_rank", "TableWriter", "staging_folder", "commit_folder", "check_output",
           "window_folders", "WINDOW_PREFIX"]

META = "meta.json"
#: Windows of ``skiprof trace --every/--on-signal`` are folders ``window=K`` of one run folder.
WINDOW_PREFIX = "window="


def check_output(out: Path, force: bool, inputs: Iterable[Path] = ()) -> None:
    """Refuse early an output folder that exists without ``force``, that skiprof may not replace even
    with it (a device, a foreign folder, a mount point), or that overlaps an input (skiprof._outputs)."""
    folder_output(out, force, inputs)


def staging_folder(out: Path) -> Path:
    """A fresh hidden folder beside ``out`` to build the result in."""
    import tempfile  # here, not at import: every command loads this module, few write a folder

    out.parent.mkdir(parents=True, exist_ok=True)
    # The PID in the name tells a later run whether the writer is gone (capture._output.orphaned_captures).
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".partial", dir=out.parent))


def commit_folder(staging: Path, out: Path, force: bool, inputs: Iterable[Path] = ()) -> None:
    """Move a finished staging folder to ``out``; the old ``out`` goes only once the new one is in place,
    and only where the rules of skiprof._outputs allow (checked again: the path may have changed meanwhile)."""
    try:
        folder_output(out, force, inputs)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_folder(staging, out)


class TableWriter:
    """Writes a rank's tables to Parquet in background threads, each as soon as it is handed over.

    Encoding and compressing run without the interpreter lock, so a table is written on another
    core while the next one is still being built (the ops table of the 10x trace, say, while the
    launches and kernels are linked). Use as a context manager; ``wait`` raises the first error.
    """

    def __init__(self, folder: Path, partitioned: bool) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.folder, self.partitioned = folder, partitioned
        self.written: set[str] = set()
        self._futures: list[Any] = []
        self._pool = ThreadPoolExecutor(usable_cores())

    def target(self, rank: int) -> Path:
        """The folder a rank's files go to (made if missing)."""
        path = self.folder / f"rank={rank}" if self.partitioned else self.folder
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write(self, rank: int, name: str, table: Any) -> None:
        """Start writing ``name``.parquet."""
        self._futures.append(self._pool.submit(_write_table, self.target(rank) / f"{name}.parquet", table))
        self.written.add(name)

    def wait(self) -> None:
        for done in self._futures:
            done.result()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _write_table(path: Path, table: Any) -> None:
    from ._arrow import write_parquet

    write_parquet(path, table)


def write_rank(folder: Path, rt: Any, partitioned: bool, writer: TableWriter | None = None) -> None:
    """Write one rank's tables: top-level files, or its ``rank=N/`` partition when there are several
    ranks. With ``writer``, tables it already started are not written again, and all are waited for."""
    with TableWriter(folder, partitioned) if writer is None else contextlib.nullcontext(writer) as w:
        # Largest first, so that the threads finish together.
        for name in sorted(rt.tables, key=lambda n: -rt.tables[n].nbytes):
            if name not in w.written:
                w.write(rt.rank, name, rt.tables[name])
        w.wait()


def window_folders(root: Path) -> list[tuple[int, Path]]:
    """The complete windows under ``root``, oldest first (hidden staging folders are not windows)."""
    found = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    for p in entries:
        if p.name.startswith(WINDOW_PREFIX) and p.is_dir() and (p / "meta.json").is_file():
            try:
                found.append((int(p.name[len(WINDOW_PREFIX):]), p))
            except ValueError:
                continue
    return sorted(found)


@contextmanager
def building(out: Path, force: bool, inputs: Iterable[Path] = ()) -> Iterator[Path]:
    """Yield a staging folder beside ``out``; on success it becomes ``out``, on any failure it goes away.

    ``out`` is checked first (check_output, against ``inputs`` too). Filesystem errors (no such parent,
    permissions, a full disk) become one OutputError line.
    """
    check_output(out, force, inputs)
    try:
        staging = staging_folder(out)
    except OSError as exc:
        raise OutputError(out, exc) from None
    try:
        yield staging
        commit_folder(staging, out, force, inputs)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(out, exc) from None
    except BaseException as exc:
        if not getattr(exc, "keep_staging", False):  # a capture that could not be rescued keeps its folder
            shutil.rmtree(staging, ignore_errors=True)
        raise


def write_meta(folder: Path, meta: Meta) -> Meta:
    """Write meta.json with the current schema version; returns what was written."""
    import msgspec

    meta = msgspec.structs.replace(meta, schema_version=SCHEMA_VERSION, files=footers(folder))
    (folder / META).write_bytes(encode_meta(meta))
    return meta


@dataclass
class Trace:
    """A loaded trace folder: one pandas DataFrame per table, plus ``meta``.

    Tables are read lazily on first access, so opening a folder to look at
    one table does not pay for the others.
    """

    path: Path
    meta: Meta
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Set by ``load(path, rank=R)``: only that rank's partition is read (a worker's view of a big dataset).
    only_rank: int | None = None
    #: Tables being read in the background (``prefetch``), by (name, columns, dictionary).
    _pending: dict[tuple[str, tuple[str, ...] | None, bool], Future[Any]] = field(default_factory=dict, repr=False)

    def prefetch(self, wanted: Mapping[str, Sequence[str] | None], *, dictionary: bool = False) -> None:
        """Start reading these tables (name -> columns; None: all) in a background thread; ``table``
        hands each over when asked for the same columns (and ``dictionary``). Reading Parquet releases
        the GIL, so a report reads its tables while Python imports numpy and the analyzers."""
        import threading

        from ._arrow import parquet_reader

        parquet_reader()  # pyarrow imported here: the thread should only read, with the GIL released

        jobs = []
        for name, cols in wanted.items():
            key = (name, tuple(cols) if cols else None, dictionary)
            if name in TABLES and key not in self._pending and f"arrow:{name}" not in self._cache:
                self._pending[key] = Future()
                jobs.append((key, self._pending[key]))
        ranks = self.ranks

        def read_all() -> None:
            for (name, cols, _), future in jobs:
                try:
                    future.set_result(_read_table(self.path, name, list(cols) if cols else None, ranks, dictionary,
                                                  self.meta.files))
                except BaseException as exc:  # raised where the table is asked for, as a direct read raises it
                    future.set_exception(exc)

        threading.Thread(target=read_all, name="skiprof-prefetch", daemon=True).start()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a worker process, say) without the reads still in flight: a thread does not
        pickle, and the copy reads any such table again when asked."""
        return {**self.__dict__, "_pending": {}}

    def table(self, name: str, columns: Sequence[str] | None = None, *, dictionary: bool = False) -> Any:
        """One table as Arrow, all ranks together (only ``columns``, when given). ``dictionary``: its
        string columns come back dictionary-encoded by the reader (read once by a view, never cached:
        ``frame()`` and the notebook get plain strings)."""
        if name not in TABLES:
            raise TraceFolderError(f"{self.path}: no table named {name!r} (have {', '.join(TABLES)})")
        columns = list(columns) if columns else None
        pending = self._pending.pop((name, tuple(columns) if columns else None, dictionary), None)
        if pending is not None:  # read in the background: wait for it (its error, if any, is raised here)
            tbl = pending.result()
            if not columns and not dictionary:
                self._cache[f"arrow:{name}"] = tbl
            return tbl
        key = f"arrow:{name}"
        if key in self._cache:
            full = self._cache[key]
            return full.select(columns) if columns else full
        if columns or dictionary:
            return _read_table(self.path, name, columns, self.ranks, dictionary, self.meta.files)
        self._cache[key] = _read_table(self.path, name, None, self.ranks, files=self.meta.files)
        return self._cache[key]

    def frame(self, name: str) -> Any:
        """One table as a pandas DataFrame, all ranks together."""
        key = f"pandas:{name}"
        if key not in self._cache:
            self._cache[key] = self.table(name).to_pandas()
        return self._cache[key]

    @property
    def ops(self) -> Any:
        return self.frame("ops")

    @property
    def launches(self) -> Any:
        return self.frame("launches")

    @property
    def kernels(self) -> Any:
        return self.frame("kernels")

    @property
    def regions(self) -> Any:
        return self.frame("regions")

    @property
    def counters(self) -> Any:
        return self.frame("counters")

    @property
    def metrics(self) -> Any:
        return self.frame("metrics")

    @property
    def memory(self) -> Any:
        return self.frame("memory")

    @property
    def ranks(self) -> list[int]:
        return [self.only_rank] if self.only_rank is not None else list(self.meta.ranks)


def _read_file(path: Path, name: str, columns: list[str] | None, dictionary: bool = False,
               checked: tuple[Path, Mapping[str, str]] | None = None) -> Any:
    """One Parquet file as the current schema (``dictionary``: string columns dictionary-encoded):
    columns an older version lacks come back as nulls."""
    import pyarrow as pa

    from ._arrow import read_parquet

    schema = _schema_of(name, dictionary)
    want = columns or schema.names
    strings = [c for c in want if pa.types.is_dictionary(schema.field(c).type)]
    regular_file(path)
    if checked is not None:  # (the folder, meta.json's files): the footer the Parquet reader will parse
        verify_footer(path, *checked)
    try:
        tbl = read_parquet(path, want, strings)
    except (pa.ArrowException, OSError, ValueError) as exc:  # truncated, overwritten, not Parquet, a bad checksum,
        # a name that is no longer UTF-8: damaged
        raise TraceFolderError(f"{path}: not a readable Parquet table ({(str(exc).splitlines() or [type(exc).__name__])[0]})") from None
    check_columns(path, name, tbl, want, schema)
    have = set(tbl.column_names)
    for c in want:
        if c not in have:
            tbl = tbl.append_column(schema.field(c), pa.nulls(tbl.num_rows, schema.field(c).type))
    return tbl.select(want)


def _schema_of(name: str, dictionary: bool) -> Any:
    """The table's Arrow schema; with ``dictionary``, its string columns as dictionaries."""
    import pyarrow as pa

    from ._arrow import dictionary_type

    schema = arrow_schema(name)
    if not dictionary:
        return schema
    return pa.schema([pa.field(f.name, dictionary_type()) if pa.types.is_string(f.type) else f for f in schema])


def _read_table(folder: Path, name: str, columns: list[str] | None = None, ranks: list[int] | None = None,
                dictionary: bool = False, files: Mapping[str, str] | None = None) -> Any:
    """One table of a folder: its top-level file, or the partitions of ``ranks`` (default: every
    ``rank=N/`` present), as one Arrow table of the current schema (``dictionary``: string columns
    dictionary-encoded, one dictionary per file)."""
    import pyarrow as pa

    from ._schema import ADDED_IN

    single = folder / f"{name}.parquet"
    if single.exists():
        return _read_file(single, name, columns, dictionary, (folder, files or {}))
    if ranks is not None:  # meta.json's ranks: a partition it does not list is not part of the dataset
        listed = [folder / f"rank={r}" / f"{name}.parquet" for r in sorted(ranks)]
        parts = [p for p in listed if p.exists()]
        if parts and len(parts) < len(listed) and name not in ADDED_IN:
            lost = next(p for p in listed if not p.exists())
            raise TraceFolderError(f"{folder}: {lost.relative_to(folder)} is missing, though meta.json lists that rank")
    else:
        parts = sorted(folder.glob(f"rank=*/{name}.parquet"), key=lambda p: int(p.parent.name.split("=")[1]))
    schema = _schema_of(name, dictionary)
    if not parts:
        if name in ADDED_IN:  # a folder written before the table existed
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        raise TraceFolderError(f"{folder}: table {name!r} is missing ({name}.parquet)")
    if columns:
        schema = pa.schema([schema.field(c) for c in columns])
    tables = [_read_file(p, name, columns, dictionary, (folder, files or {})) for p in parts]
    for part, tbl in zip(parts, tables):
        _check_partition_rank(part, tbl)
    return pa.concat_tables(tables).cast(schema)


def _check_partition_rank(part: Path, tbl: Any) -> None:
    """A ``rank=N/`` table's rows all say rank N (where the rank column was read): rows of another rank would be
    counted twice, or under the wrong rank."""
    import numpy as np

    from ._arrow import to_numpy

    if "rank" not in tbl.column_names or not tbl.num_rows:
        return
    want = int(part.parent.name.split("=")[1])
    col = tbl.column("rank")
    wrong = sum(int(np.count_nonzero(to_numpy(chunk, writable=False) != want)) for chunk in col.chunks)
    if wrong:
        raise TraceFolderError(f"{part}: {wrong:,} rows say another rank than {want}, the partition they sit in")


def load(path: str | os.PathLike[str], rank: int | None = None) -> Trace:
    """Open a trace folder written by ``skiprof trace`` or ``skiprof import`` (only ``rank``'s
    partition of a multi-rank folder, when given: memory for one rank, not all of them)."""
    folder = Path(path)
    meta_path = folder / META
    if not folder.is_dir():
        raise TraceFolderError(f"{folder}: not a trace folder (no such directory)")
    if not meta_path.exists():
        raise TraceFolderError(f"{folder}: not a trace folder (no {META})")
    regular_file(meta_path)
    import msgspec

    try:
        meta = decode_meta(meta_path.read_bytes())
    except OSError as exc:
        raise TraceFolderError(f"{meta_path}: unreadable ({exc.strerror})") from None
    except msgspec.ValidationError as exc:
        version = _version_of(meta_path)
        if version is not None and version not in READABLE_VERSIONS:
            raise TraceFolderError(_unsupported(folder, version)) from None
        raise TraceFolderError(f"{meta_path}: malformed ({exc})") from None
    except msgspec.DecodeError as exc:
        raise TraceFolderError(f"{meta_path}: not valid JSON ({exc})") from None
    if meta.schema_version not in READABLE_VERSIONS:
        raise TraceFolderError(_unsupported(folder, meta.schema_version))
    if meta.layout == "single" and len(meta.ranks) != 1:
        raise TraceFolderError(f"{meta_path}: lists {len(meta.ranks)} ranks for a single-rank layout")
    if rank is not None and rank not in meta.ranks:
        raise TraceFolderError(f"{folder}: no rank {rank} (ranks: {', '.join(map(str, meta.ranks))})")
    return Trace(folder, meta, only_rank=rank if rank is not None and len(meta.ranks) > 1 else None)


def _unsupported(folder: Path, version: object) -> str:
    return f"{folder}: schema version {version} is not supported by this skiprof (expects {SCHEMA_VERSION})"


def _version_of(path: Path) -> object:
    import msgspec

    try:
        raw = msgspec.json.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    return raw.get("schema_version") if isinstance(raw, dict) else None
