"""``skiprof.region`` and ``skiprof.step``: the markers workloads put in their code.

A region is a torch ``record_function`` named ``skiprof:<name>`` (what the
Kineto trace keeps) plus an NVTX range in the ``skiprof`` domain (what Nsight
tools see). Both cost a few hundred nanoseconds when nothing records them.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["region", "step", "KNOWN_REGIONS", "PREFIX"]

PREFIX = "skiprof:"
F = TypeVar("F", bound=Callable[..., Any])

#: Region names the analyzers understand; any other name is kept as a user region.
KNOWN_REGIONS: dict[str, str] = {
    "preprocess": "input preparation: decode, resize, normalize, tokenize, batch",
    "load": "reading inputs or weights from disk or network",
    "h2d": "host-to-device copies",
    "d2h": "device-to-host copies",
    "compute": "model forward/backward work",
    "postprocess": "output handling: decode tokens, argmax, serialize",
    "comm": "collective communication",
    "optimizer": "optimizer step",
    "prefill": "LLM prompt processing",
    "decode": "LLM token generation",
}

_nvtx: Any = None
_nvtx_checked = False


def _nvtx_module() -> Any:
    global _nvtx, _nvtx_checked
    if not _nvtx_checked:
        _nvtx_checked = True
        try:
            import nvtx  # type: ignore[import-untyped]

            _nvtx = nvtx
        except Exception:  # nvtx is optional at run time: no range, no failure
            _nvtx = None
    return _nvtx


class region:
    """Mark a named phase of the workload, as a context manager or a decorator."""

    __slots__ = ("_nv", "_rf", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._rf: Any = None
        self._nv: Any = None

    def __enter__(self) -> region:
        from torch.autograd.profiler import record_function

        self._rf = record_function(PREFIX + self.name)
        self._rf.__enter__()
        nv = _nvtx_module()
        if nv is not None:
            self._nv = nv.start_range(message=self.name, domain="skiprof")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._nv is not None:
            _nvtx_module().end_range(self._nv)
            self._nv = None
        if self._rf is not None:
            self._rf.__exit__(None, None, None)
            self._rf = None

    def __call__(self, fn: F) -> F:
        name = self.name

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with region(name):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def step() -> None:
    """End the current step and start the next one (call it at the end of each iteration).

    Under ``skiprof trace`` this advances the profiler, which records
    ``ProfilerStep#N`` ranges and drives ``--steps``; otherwise it does nothing.
    """
    from ._session import active_session
    from ._windows import active_recorder

    recorder = active_recorder()
    if recorder is not None:  # windows open and close at steps (capture/_windows.py)
        recorder.on_step()
        return
    session = active_session()
    if session is not None:
        session.step()

