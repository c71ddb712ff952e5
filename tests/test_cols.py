"""String columns read dictionary-encoded (by the Parquet reader) give the same Codes as strings encoded here:
the same value in every row, whatever the chunks, their dictionaries (duplicated, unused or
differently ordered entries) and the nulls."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import skiprof
from conftest import reseal, run_cli
from kineto import kernel, op, runtime, write_trace
from skiprof._schema import TABLES, VIEW_READS
from skiprof.analyzers._cols import from_arrow

values = st.one_of(st.none(), st.sampled_from(["aten::mm", "aten::add", "k<a > b>", "", "é"]))


@st.composite
def dictionary_chunk(draw: st.DrawFn) -> pa.DictionaryArray:
    """One chunk: rows as indices into a dictionary that may repeat values and hold unused ones."""
    words = draw(st.lists(st.sampled_from(["aten::mm", "aten::add", "k<a > b>", "", "é"]), min_size=1, max_size=6))
    rows = draw(st.lists(st.one_of(st.none(), st.integers(0, len(words) - 1)), max_size=20))
    return pa.DictionaryArray.from_arrays(pa.array(rows, pa.int32()), pa.array(words, pa.string()))


@given(st.lists(dictionary_chunk(), max_size=4))
@settings(max_examples=200, deadline=None)
def test_dictionary_codes_equal_encoded_strings(chunks: list[pa.DictionaryArray]) -> None:
    dict_type = pa.dictionary(pa.int32(), pa.string())
    as_dict = pa.table({"s": pa.chunked_array(chunks, dict_type)})
    as_str = pa.table({"s": pa.chunked_array([c.cast(pa.string()) for c in chunks], pa.string())})
    got, want = from_arrow(as_dict)["s"], from_arrow(as_str)["s"]
    assert got.tolist() == want.tolist() == as_str["s"].to_pylist()
    assert len(set(got.values)) == len(got.values) and None not in got.values  # distinct values, nulls as -1
    assert got.codes.dtype == np.int64


def _events(offset: int) -> list[dict]:
    ev = []
    for i in range(6):
        t = offset + i * 100
        ev += [op(f"aten::op{i % 3}", t, 50), runtime("cudaLaunchKernel", t + 5, 5, offset + i),
               kernel(f"k{(i + offset) % 4}", t + 20, 10, offset + i)]
    return ev


@pytest.mark.parametrize("reader", ["ParquetReader", "ParquetFile"])
def test_a_view_reads_every_table_as_the_strings_it_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    """Two ranks from two files (one dictionary each), one written before a column existed: every
    view table read dictionary-encoded equals the same table read as strings, row by row (through pyarrow's
    reader class, and through ParquetFile where a pyarrow has no such class)."""
    if reader == "ParquetFile":
        from skiprof import _arrow

        monkeypatch.setattr(_arrow, "parquet_reader", lambda: None)
    run, src = tmp_path / "run", tmp_path / "ranks"
    src.mkdir()
    for rank in (0, 1):
        write_trace(src / f"rank{rank}.json", _events(1000 * rank), distributedInfo={"backend": "nccl", "rank": rank, "world_size": 2})
    res = run_cli("import", str(src), "-o", str(run), "--no-report")
    assert res.returncode == 0, res.stderr
    # Rank 1's kernels table as an older version wrote it: without its op_name column
    part = run / "rank=1" / "kernels.parquet"
    old = pq.read_table(part)
    pq.write_table(old.drop_columns(["op_name"]), part)
    reseal(run)
    t = skiprof.load(run)
    for name in ("ops", "launches", "kernels", "regions", "metrics", "memory"):
        assert name in TABLES
        stored = from_arrow(t.table(name, VIEW_READS[name], dictionary=True))
        plain = from_arrow(t.table(name, VIEW_READS[name]))
        assert stored.data.keys() == plain.data.keys()
        for col, v in plain.data.items():
            w = stored[col]
            assert (w.tolist() == v.tolist()) if hasattr(v, "tolist") and not isinstance(v, np.ndarray) else np.array_equal(w, v), (name, col)
    assert None in from_arrow(t.table("kernels", None, dictionary=True))["op_name"].tolist()  # rank 1's rows



def _sample_table() -> pa.Table:
    return pa.table({"rank": pa.array([0, 0, 1], pa.int32()), "ts": pa.array([3, 1, 2], pa.int64()),
                     "name": pa.array(["aten::mm", None, "k<a > b>"], pa.string())})


def test_tables_are_written_as_pyarrow_parquet_writes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """write_parquet through pyarrow's writer class gives the bytes of pq.write_table with the same options,
    and the fallback (a pyarrow without that class) writes the same file."""
    from skiprof import _arrow

    table = _sample_table()
    _arrow.write_parquet(tmp_path / "direct.parquet", table)
    pq.write_table(table, tmp_path / "public.parquet", row_group_size=_arrow.ROW_GROUP_ROWS, **_arrow.PARQUET_OPTIONS)
    monkeypatch.setattr(_arrow, "parquet_writer", lambda: None)
    _arrow.write_parquet(tmp_path / "fallback.parquet", table)
    direct = (tmp_path / "direct.parquet").read_bytes()
    assert direct == (tmp_path / "public.parquet").read_bytes() == (tmp_path / "fallback.parquet").read_bytes()
    assert pq.read_table(tmp_path / "direct.parquet").equals(table)


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails after the file was opened (a full disk, say) raises that error, and the file is gone."""
    import errno

    from skiprof import _arrow

    real = _arrow.parquet_writer()
    assert real is not None

    class FullDisk(real):  # type: ignore[misc, valid-type]
        def write_table(self, table: pa.Table, row_group_size: int | None = None) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_arrow, "parquet_writer", lambda: FullDisk)
    path = tmp_path / "t.parquet"
    with pytest.raises(OSError, match="No space"):
        _arrow.write_parquet(path, _sample_table())
    assert not path.exists()
