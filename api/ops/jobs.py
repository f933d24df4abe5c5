"""Heavy jobs in a child process with a wall-clock and a memory budget: budgets, not luck.

Reading, validating and importing an uploaded layer costs time and memory that grow with the file;
in the server process that froze every request and kept the memory. :func:`run_async` (for the
event loop) and :func:`run` (for a thread or a command) run one module-level function in a fresh
*spawned* process (it inherits no engine, lock or GDAL state: open the engine there; GDAL loads
before SpatiaLite as :func:`store.db.make_engine` does it), whose address space is capped with
``RLIMIT_AS``. A job over ``timeout_s`` is killed; one over ``memory_mb`` fails (MemoryError, or
dies) — both answer :class:`JobLimitExceeded` (``limit_exceeded``, HTTP 413) naming the limit and
its setting. A cancelled wait (a client gone, the server stopping) kills the child at once, and the
child dies with its parent. Domain errors raised in the child are raised again in the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import multiprocessing
import os
import resource
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol, TypeVar

from geo.errors import WeiwangError

T = TypeVar("T")
#: Jobs run at a lower CPU priority than the server, whose requests stay interactive.
JOB_NICENESS = 10
_PR_SET_PDEATHSIG = 1


class _JobSettings(Protocol):
    job_timeout_s: float
    job_memory_mb: int


@dataclass(frozen=True)
class Budget:
    """Wall-clock seconds and address-space megabytes one job may use."""

    timeout_s: float
    memory_mb: int

    @classmethod
    def of(cls, settings: _JobSettings) -> Budget:
        """The budget of :class:`api.settings.Settings` (``WEIWANG_JOB_TIMEOUT_S``, ``…_MEMORY_MB``)."""
        return cls(float(settings.job_timeout_s), int(settings.job_memory_mb))


class JobLimitExceeded(WeiwangError):
    """A job ran over its time or memory budget and was stopped."""

    code = "limit_exceeded"


class JobFailed(RuntimeError):
    """A job raised something other than a domain error (a bug: the child's traceback is the message)."""


def _die_with_parent(parent: int) -> None:
    """End this process when its parent dies (a killed server leaves no job): Linux's parent-death
    signal, a check that the parent did not die while this process was starting (before the
    signal was asked for), and a watchdog thread in case the signal is unavailable."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="weiwang-job-watchdog", daemon=True).start()


def _out_of_memory(err: BaseException) -> bool:
    return getattr(err, "errno", None) == errno.ENOMEM or "failed to map segment" in str(err)


def _child(
    conn: Connection, parent: int, memory_mb: int, fn: Callable[..., Any], args: tuple, kwargs: dict
) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; Ctrl-C reaches the group
    os.nice(JOB_NICENESS)
    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    message: tuple
    try:
        message = ("ok", fn(*args, **kwargs))
    except WeiwangError as err:
        message = ("error", type(err), err.zh, err.en, err.field, err.detail)
    except MemoryError:
        message = ("memory",)
    except (ImportError, OSError) as err:
        # A library that cannot be mapped, or ENOMEM from the kernel: the address space is full.
        message = ("memory",) if _out_of_memory(err) else ("failed", traceback.format_exc())
    except BaseException:  # reported to the parent, which raises JobFailed
        message = ("failed", traceback.format_exc())
    try:
        conn.send(message)
    except MemoryError:
        conn.send(("memory",))
    conn.close()


def _timeout_error(budget: Budget, field: str | None) -> JobLimitExceeded:
    t = f"{budget.timeout_s:g}"
    return JobLimitExceeded(
        f"处理超时：超过 {t} 秒的时限（WEIWANG_JOB_TIMEOUT_S），已终止",
        f"the job exceeded its time limit of {t} s (WEIWANG_JOB_TIMEOUT_S) and was stopped",
        field=field,
        detail={"limit": "job_timeout_s", "value": budget.timeout_s},
    )


def _memory_error(budget: Budget, field: str | None, *, certain: bool) -> JobLimitExceeded:
    m = budget.memory_mb
    zh = f"超过内存上限 {m} MB（WEIWANG_JOB_MEMORY_MB），已终止"
    en = f"the job exceeded its memory limit of {m} MB (WEIWANG_JOB_MEMORY_MB) and was stopped"
    if not certain:
        zh = f"处理异常终止（可能超过内存上限 {m} MB，WEIWANG_JOB_MEMORY_MB）"
        en = f"the job died (probably over its memory limit of {m} MB, WEIWANG_JOB_MEMORY_MB)"
    return JobLimitExceeded(zh, en, field=field, detail={"limit": "job_memory_mb", "value": m})


class _Job:
    """One started child and the read end of its pipe."""

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, budget: Budget) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.budget = budget
        self.conn, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(
            target=_child,
            args=(send, os.getpid(), budget.memory_mb, fn, args, kwargs),
            name="weiwang-job",
            daemon=True,
        )
        self.proc.start()
        send.close()  # the child holds the only write end: its death makes the pipe readable (EOF)

    def outcome(self, field: str | None) -> Any:
        """The result once the pipe is readable; raises what the child raised, or the limit."""
        try:
            message = self.conn.recv()
        except EOFError:
            self.proc.join(5)
            raise _memory_error(self.budget, field, certain=False) from None
        finally:
            self.conn.close()
        self.proc.join(5)
        kind = message[0]
        if kind == "ok":
            return message[1]
        if kind == "error":
            cls, zh, en, err_field, detail = message[1:]
            err = cls.__new__(cls)
            WeiwangError.__init__(err, zh, en, field=err_field, detail=detail)
            raise err
        if kind == "memory":
            raise _memory_error(self.budget, field, certain=True)
        raise JobFailed(message[1])

    def kill(self) -> None:
        """Stop the child now (no-op when it has finished) and reap it."""
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        if not self.conn.closed:
            self.conn.close()


def run(fn: Callable[..., T], *args: Any, budget: Budget, field: str | None = None, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a child process under ``budget`` (blocking; for threads and commands)."""
    job = _Job(fn, args, kwargs, budget)
    try:
        if not job.conn.poll(budget.timeout_s):
            raise _timeout_error(budget, field)
        return job.outcome(field)  # type: ignore[no-any-return]
    finally:
        job.kill()


async def run_async(
    fn: Callable[..., T], *args: Any, budget: Budget, field: str | None = None, **kwargs: Any
) -> T:
    """:func:`run` without blocking the event loop; cancelling the await kills the child."""
    loop = asyncio.get_running_loop()
    # Started here, not in a pool thread: the child's death signal follows the thread that started
    # it, and a spawn start is a vfork + exec (a few milliseconds).
    job = _Job(fn, args, kwargs, budget)
    ready: asyncio.Future[None] = loop.create_future()
    fd = job.conn.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        try:
            await asyncio.wait_for(ready, budget.timeout_s)
        except TimeoutError:
            raise _timeout_error(budget, field) from None
        finally:
            loop.remove_reader(fd)
        return await loop.run_in_executor(None, job.outcome, field)  # type: ignore[no-any-return]
    finally:
        job.kill()
