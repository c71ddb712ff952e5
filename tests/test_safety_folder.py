"""Trace folders are checked, not trusted: every command, skiprof.load and sql open them through the same checks."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import reseal, run_cli

COMMANDS = [["report", "--format", "json"], ["advise", "--format", "json"], ["critical", "--format", "json"],
            ["fusion", "--format", "json"], ["whatif", "--launch-scale", "0.5", "--format", "json"],
            ["sql", "select sum(dur) from kernels"]]


@pytest.fixture(scope="module")
def original(linked_folder: Path) -> Path:
    return linked_folder


@pytest.fixture
def copy(original: Path, tmp_path: Path) -> Path:
    out = tmp_path / "A"
    shutil.copytree(original, out)
    return out


def _refused_everywhere(folder: Path, needle: str) -> None:
    """Every command refuses ``folder`` in one line naming ``needle``, with exit code 2."""
    for cmd in COMMANDS:
        r = run_cli(cmd[0], str(folder), *cmd[1:])
        assert r.returncode == 2, (cmd, r.returncode, r.stdout[:200], r.stderr)
        line = r.stderr.strip()
        assert len(line.splitlines()) == 1 and needle in line and "internal" not in line, (cmd, line)


def _rewrite(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path)


def test_a_table_copied_over_another_is_refused(copy: Path) -> None:
    shutil.copy(copy / "ops.parquet", copy / "kernels.parquet")
    _refused_everywhere(copy, "kernels.parquet")
    reseal(copy)
    _refused_everywhere(copy, "column")


@pytest.mark.parametrize("how", ["drop", "nulls", "strings"])
def test_a_damaged_dur_column_is_refused(copy: Path, how: str) -> None:
    t = pq.read_table(copy / "kernels.parquet")
    i = t.column_names.index("dur")
    if how == "drop":
        t = t.remove_column(i)
    elif how == "nulls":
        t = t.set_column(i, "dur", pa.nulls(t.num_rows, pa.int64()))
    else:
        t = t.set_column(i, "dur", pa.array([str(v) for v in t["dur"].to_pylist()]))
    _rewrite(copy / "kernels.parquet", t)
    _refused_everywhere(copy, "footer")  # the footer meta.json recorded is gone
    reseal(copy)  # as if the one who changed it had updated meta.json too: the column checks still refuse it
    _refused_everywhere(copy, "'dur'")
    r = run_cli("export", str(copy), "-o", str(copy.parent / "x.json"))
    assert r.returncode == 2 and "'dur'" in r.stderr


def test_a_fifo_in_place_of_a_table_never_hangs(copy: Path) -> None:
    (copy / "kernels.parquet").unlink()
    os.mkfifo(copy / "kernels.parquet")
    _refused_everywhere(copy, "not a regular file")
    (copy / "meta.json").unlink()
    os.mkfifo(copy / "meta.json")
    r = run_cli("report", str(copy))
    assert r.returncode == 2 and "not a regular file" in r.stderr


@pytest.mark.parametrize("ranks", [[], [0, 0], [-1]])
def test_meta_json_ranks_are_validated(copy: Path, ranks: list[int]) -> None:
    meta = json.loads((copy / "meta.json").read_text())
    meta["ranks"] = ranks
    (copy / "meta.json").write_text(json.dumps(meta))
    _refused_everywhere(copy, "ranks")


def test_a_flipped_byte_is_an_error_never_a_changed_figure(copy: Path, original: Path) -> None:
    """Page checksums: any byte flipped in kernels.parquet's pages either leaves the figures as they were
    or is refused in one line; never a different TKLQT at exit 0."""
    def figures(text: str, folder: Path) -> dict:
        return json.loads(text.replace(str(folder), "FOLDER"))

    want = figures(run_cli("report", str(original), "--format", "json").stdout, original)
    data = (original / "kernels.parquet").read_bytes()
    footer = int.from_bytes(data[-8:-4], "little") + 8
    for pos in range(4, len(data) - footer, 17):
        flipped = bytearray(data)
        flipped[pos] ^= 0x55
        (copy / "kernels.parquet").write_bytes(bytes(flipped))
        r = run_cli("report", str(copy), "--format", "json")
        if r.returncode == 0:
            assert figures(r.stdout, copy) == want, pos
        else:
            assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (pos, r.stderr)


def test_sql_is_read_only_and_checks_like_every_command(copy: Path) -> None:
    meta = (copy / "meta.json").read_bytes()
    for q in [f"copy (select 1) to '{copy / 'meta.json'}'", f"select * from read_csv('{copy / 'meta.json'}')",
              "set enable_external_access = true", f"attach '{copy / 'x.db'}'", f"export database '{copy / 'exp'}'"]:
        r = run_cli("sql", str(copy), q)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (q, r.stderr)
    assert (copy / "meta.json").read_bytes() == meta
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in copy.iterdir() if p.suffix in (".json", ".parquet"))
    (copy / "regions.parquet").unlink()
    r = run_cli("sql", str(copy), "select count(*) from regions")
    assert r.returncode == 2 and "missing" in r.stderr
    (copy / "kernels.parquet").write_bytes(b"PAR1 not really")
    r = run_cli("sql", str(copy), "select count(*) from kernels")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_rows_of_another_rank_in_a_partition_are_refused(tmp_path: Path) -> None:
    from kineto import linking_trace, write_trace

    src = tmp_path / "ranks"
    src.mkdir()
    for rank in (0, 1):
        write_trace(src / f"rank{rank}.json", linking_trace(), distributedInfo={"rank": rank, "world_size": 2})
    assert run_cli("import", str(src), "-o", str(tmp_path / "run"), "--no-report").returncode == 0
    part = tmp_path / "run" / "rank=1" / "kernels.parquet"
    t = pq.read_table(part)
    _rewrite(part, t.set_column(0, "rank", pa.array([0] * t.num_rows, pa.int32())))
    reseal(tmp_path / "run")
    r = run_cli("report", str(tmp_path / "run"), "--rank", "1", "--format", "json")
    assert r.returncode == 2 and "another rank than 1" in r.stderr, r.stderr
