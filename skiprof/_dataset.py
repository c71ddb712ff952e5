"""Several ranks captured into one dataset: ``OUT/rank=R/`` per rank and one ``OUT/meta.json``.

Under torchrun every rank runs ``skiprof trace -o OUT`` with the same OUT. Each rank builds and
commits its own partition (a complete single-rank folder, with its own meta.json), then rewrites
the top-level meta.json from the partitions present, under a lock: the dataset can be opened as
soon as one rank is done, and holds every rank once the last one is.
"""
from __future__ import annotations

import os
from pathlib import Path

import msgspec

from ._folder import META
from ._meta import Meta, decode_meta, encode_meta

__all__ = ["world", "merge_partitions"]


def world() -> tuple[int, int] | None:
    """(rank, world size) from torchrun's environment (RANK, WORLD_SIZE), or None outside a distributed launch."""
    try:
        rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    except (KeyError, ValueError):
        return None
    return (rank, size) if size > 1 and 0 <= rank < size else None


def merge_partitions(out: Path, world_size: int) -> Meta:
    """Rewrite OUT/meta.json from the rank=R/meta.json of every partition present (atomic, locked)."""
    import fcntl

    with open(out / ".skiprof.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Only this world's ranks: a larger earlier run's leftovers (kept under -f) are not part of it.
        parts = sorted((p for p in out.glob("rank=*") if (p / META).is_file() and p.name[5:].isdigit()
                        and int(p.name[5:]) < world_size), key=lambda p: int(p.name.split("=")[1]))
        metas = [decode_meta((p / META).read_bytes()) for p in parts]
        first = metas[0]
        merged = msgspec.structs.replace(
            first, ranks=[m.ranks[0] for m in metas], layout="partitioned", world_size=world_size,
            stats={k: v for m in metas for k, v in m.stats.items()},
            process_names={k: v for m in metas for k, v in m.process_names.items()},
            sources=[f"{p.name}/{s}" for p, m in zip(parts, metas) for s in m.sources],
            files={f"{p.name}/{f}": crc for p, m in zip(parts, metas) for f, crc in m.files.items()},
            notes=[*first.notes] + ([] if len(metas) == world_size else
                                    [f"{len(metas)} of {world_size} ranks have finished writing"]),
        )
        tmp = out / f".{META}.partial"
        tmp.write_bytes(encode_meta(merged))
        tmp.replace(out / META)
        return merged
