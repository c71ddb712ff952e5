"""``skiprof import``: turn Kineto traces written by any torch.profiler into a trace folder."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .._folder import META, check_output, commit_folder, staging_folder
from .._schema import SCHEMA_VERSION
from .._summary import IngestSummary, summarize
from ..ingest import trace_files
from ._base import Progress, build_meta, ingest_files

__all__ = ["run_import", "default_import_output"]


def default_import_output(first: Path) -> Path:
    """``skiprof-<trace stem>`` in the current folder."""
    name = first.name
    for suffix in (".gz", ".json", ".pt.trace"):
        name = name.removesuffix(suffix)
    return Path(f"skiprof-{name or 'trace'}")


def run_import(inputs: list[Path], output: Path | None, *, force: bool,
               progress: Progress | None = None, workers: int = 1) -> IngestSummary:
    """Ingest ``inputs`` (files, or folders of per-rank files) into one trace folder."""
    files = trace_files(inputs)
    out = output or default_import_output(inputs[0])
    check_output(out, force)
    staging = staging_folder(out)
    try:
        ranks, fields = ingest_files(files, staging, progress=progress, workers=workers)
        meta = {"schema_version": SCHEMA_VERSION, **build_meta(ranks, fields, files, torch_version=None)}
        (staging / META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
        commit_folder(staging, out, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summarize(str(out), meta)
