"""The job runner: a job over its time or memory budget is killed and answered with the limit's name;
a domain error raised in the child reaches the caller intact; a result comes back as it was."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from api.ops import jobs
from dispatch.errors import InvalidInput
from tests.loops import run_loop

BUDGET = jobs.Budget(timeout_s=20, memory_mb=1024)


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def _sleep_forever(pid_file: str) -> None:
    with open(pid_file, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(3600)


def _allocate(mb: int) -> int:
    blocks = [bytearray(2**20) for _ in range(mb)]
    return len(blocks)


def _refuse() -> None:
    raise InvalidInput("第 3 个要素无效", "feature 3 is invalid", field="features[3]", detail={"index": 3})


def _bug() -> None:
    raise KeyError("oops")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_result_comes_back_from_another_process() -> None:
    pid, value = jobs.run(_pid_and_square, 12, budget=BUDGET)
    assert value == 144 and pid != os.getpid()


@pytest.mark.parametrize("runner", ["run", "run_async"])
def test_over_the_time_limit_the_child_is_killed(runner: str, tmp_path) -> None:
    pid_file = tmp_path / "pid"
    budget = jobs.Budget(timeout_s=2, memory_mb=1024)
    t0 = time.monotonic()
    with pytest.raises(jobs.JobLimitExceeded) as err:
        if runner == "run":
            jobs.run(_sleep_forever, str(pid_file), budget=budget, field="file")
        else:
            run_loop(jobs.run_async(_sleep_forever, str(pid_file), budget=budget, field="file"))
    assert time.monotonic() - t0 < 8
    assert err.value.code == "limit_exceeded" and err.value.field == "file"
    assert err.value.detail == {"limit": "job_timeout_s", "value": 2}
    assert "WEIWANG_JOB_TIMEOUT_S" in err.value.zh and "2 秒" in err.value.zh
    assert not _alive(int(pid_file.read_text()))


def test_over_the_memory_limit_the_job_is_refused() -> None:
    assert jobs.run(_allocate, 50, budget=BUDGET) == 50  # the same job fits a larger budget
    with pytest.raises(jobs.JobLimitExceeded) as err:
        jobs.run(_allocate, 2000, budget=BUDGET, field="file")
    assert err.value.detail == {"limit": "job_memory_mb", "value": 1024}
    assert "1024 MB" in err.value.zh and "WEIWANG_JOB_MEMORY_MB" in err.value.en


def test_a_domain_error_in_the_child_reaches_the_caller() -> None:
    with pytest.raises(InvalidInput) as err:
        run_loop(jobs.run_async(_refuse, budget=BUDGET))
    assert (err.value.zh, err.value.en, err.value.field) == (
        "第 3 个要素无效",
        "feature 3 is invalid",
        "features[3]",
    )
    assert err.value.detail == {"index": 3} and err.value.code == "invalid_input"


def test_a_bug_in_the_child_is_not_a_domain_error() -> None:
    with pytest.raises(jobs.JobFailed, match="KeyError: 'oops'"):
        jobs.run(_bug, budget=BUDGET)


def test_cancelling_the_wait_kills_the_child(tmp_path) -> None:
    pid_file = tmp_path / "pid"

    async def main() -> None:
        task = asyncio.create_task(jobs.run_async(_sleep_forever, str(pid_file), budget=BUDGET))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if pid_file.exists() and pid_file.read_text():
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run_loop(main())
    assert not _alive(int(pid_file.read_text()))


def test_the_job_dies_with_its_parent(tmp_path) -> None:
    """A server killed outright (kill -9) leaves no job running."""
    import subprocess
    import sys

    pid_file = tmp_path / "pid"
    repo = Path(__file__).resolve().parents[3]
    script = (
        "import os, threading, time\n"
        "from api.ops import jobs\n"
        "from tests.api.ops.test_jobs import _sleep_forever\n"
        "b = jobs.Budget(timeout_s=3600, memory_mb=1024)\n"
        f"threading.Thread(target=jobs.run, args=(_sleep_forever, {str(pid_file)!r}), kwargs={{'budget': b}},"
        " daemon=True).start()\n"
        f"while not os.path.exists({str(pid_file)!r}) or not open({str(pid_file)!r}).read():\n"
        "    time.sleep(0.05)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(repo)}
    subprocess.run([sys.executable, "-c", script], cwd=repo, env=env, timeout=120)
    job = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(job) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(job)


def test_a_library_that_cannot_be_mapped_counts_as_over_memory() -> None:
    """Under RLIMIT_AS a shared library may fail to load (GDAL does below ~400 MB), not raise MemoryError."""
    import errno

    assert jobs._out_of_memory(ImportError("libgdal.so: failed to map segment from shared object"))
    assert jobs._out_of_memory(OSError(errno.ENOMEM, "Cannot allocate memory"))
    assert not jobs._out_of_memory(OSError(errno.ENOENT, "No such file or directory"))
