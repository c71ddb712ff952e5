"""Where per-rank work runs: one process, a local pool of processes, or a Dask cluster.

``skiprof import`` and the cross-rank report hand each rank to a worker as ``fn(*args)``; the
worker reads and writes the shared trace folder itself, so only small results (statistics, a
rank's figures) travel back. Dask does placement, retries and memory limits on a cluster; skiprof
only says what to run.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ._errors import SkiprofError, UsageError

__all__ = ["Spread", "spread", "ENGINES"]

ENGINES = ("local", "dask")

Done = Callable[[int, int], None]  # (tasks done, tasks in all)


class Spread:
    """Runs ``fn(*args)`` for each task in worker processes of this machine (fork), in task order."""

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = max(1, jobs)

    def map(self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], done: Done | None = None) -> list[Any]:
        """Every task's result, in the order of ``tasks``; the first task to fail raises here."""
        if self.jobs == 1 or len(tasks) < 2:
            out = []
            for i, args in enumerate(tasks, 1):
                out.append(fn(*args))
                if done is not None:
                    done(i, len(tasks))
            return out
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        results: dict[int, Any] = {}
        with ProcessPoolExecutor(max_workers=min(self.jobs, len(tasks)), mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(fn, *args): i for i, args in enumerate(tasks)}
            for n, fut in enumerate(as_completed(futures), 1):
                try:
                    results[futures[fut]] = fut.result()  # one worker's error (one bad file) ends the run here
                except BrokenProcessPool:
                    for f in futures:
                        f.cancel()
                    raise SkiprofError(f"{tasks[futures[fut]][0]}: a worker process died (killed, or out of memory; "
                                       "try fewer --jobs)") from None
                if done is not None:
                    done(n, len(tasks))
        return [results[i] for i in range(len(tasks))]


class DaskSpread(Spread):
    """Runs each task on a Dask cluster: the one at ``scheduler``, or a local cluster of ``jobs``
    single-threaded worker processes."""

    def __init__(self, client: Any) -> None:
        super().__init__(1)
        self.client = client

    def map(self, fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], done: Done | None = None) -> list[Any]:
        """Run ``fn`` once per argument tuple as Dask tasks and return the results in task order, calling ``done`` as
        each finishes."""
        import uuid

        from distributed import KilledWorker, as_completed

        # pure=False and unique keys: a task reads files, so two equal argument lists are not one
        # result to share, and two runs on one long-lived cluster never collide.
        run = uuid.uuid4().hex[:8]
        futures = [self.client.submit(fn, *args, pure=False, key=f"skiprof-{fn.__name__}-{run}-{i}")
                   for i, args in enumerate(tasks)]
        try:
            for n, _ in enumerate(as_completed(futures), 1):
                if done is not None:
                    done(n, len(tasks))
            return self.client.gather(futures)  # re-raises the first task's error
        except KilledWorker as exc:  # Dask retried it on other workers; they died too
            i = next((k for k, f in enumerate(futures) if f.key == getattr(exc, "task", None)), None)
            what = tasks[i][0] if i is not None else "a task"
            raise SkiprofError(f"{what}: the Dask workers running it died (out of memory? raise their memory limit)") from None
        finally:
            self.client.cancel(futures)


#: A Dask scheduler address: [protocol://]host[:port], nothing else (no spaces, no path).
_ADDRESS = re.compile(r"(?:(?:tcp|tls|inproc|ucx|ws|wss)://)?[A-Za-z0-9_.\-\[\]:]+(?::\d{1,5})?")


@contextmanager
def spread(engine: str = "local", *, jobs: int = 1, scheduler: str | None = None,
           memory_limit: str | None = None) -> Iterator[Spread]:
    """The engine to run per-rank tasks on; a local Dask cluster lives as long as the context.

    ``scheduler`` (an address such as ``tcp://host:8786``) implies the Dask engine.
    """
    if scheduler is None and engine == "local":
        yield Spread(jobs)
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("the Dask engine needs the cluster extra: pip install 'skiprof[cluster]'") from None
    if scheduler is not None:
        import dask

        if not _ADDRESS.fullmatch(scheduler.strip()):
            raise UsageError(f"--scheduler {scheduler!r}: expected an address such as tcp://host:8786")
        try:
            # Dask's own connect timeout (DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT; 30 s by default).
            client = Client(scheduler, timeout=dask.config.get("distributed.comm.timeouts.connect"))
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield DaskSpread(client)
        return
    # Quiet, single-threaded workers: one rank per worker at a time, like the local pool.
    with LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True, dashboard_address=None,
                         memory_limit=memory_limit or "auto", silence_logs=40) as cluster, Client(cluster) as client:
        yield DaskSpread(client)
