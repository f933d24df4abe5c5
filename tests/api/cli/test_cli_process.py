"""The ``weiwang`` script as a real process on a SpatiaLite file.

In-process CLI tests cannot see what a fresh process loads first (the test session imported GDAL long
before): read commands open SpatiaLite without GDAL (``files=False``), and must still locate and
report through the machine-wide stored locator, whose module lives beside the GDAL readers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

WEIWANG = str(Path(sys.executable).parent / "weiwang")
POINT = ("--lon", "104.08", "--lat", "30.41")  # inside 三根松's 松林创业园B区微网格


def _run(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WEIWANG_LOCATOR_DIR": str(tmp_path / "locators")}
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    command = [WEIWANG, *args, "--url", url]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=180, cwd="/", env=env)


def test_read_commands_locate_and_report_as_fresh_processes(tmp_path: Path) -> None:
    seeded = _run(tmp_path, "db", "seed")  # from "/", so the sample folder is not found by luck
    assert seeded.returncode == 0, seeded.stderr[-2000:]

    located = _run(tmp_path, "locate", *POINT)
    assert located.returncode == 0, located.stderr[-2000:]
    answer = json.loads(located.stdout)
    assert answer["micro_code"] == "510116004001005003" and answer["version"]["state"] == "published"

    added = _run(tmp_path, "users", "add", "d1", "--role", "调度员", "--password-stdin", stdin="pw-123456\n")
    assert added.returncode == 0, added.stderr[-2000:]
    text = ("--category", "安全隐患", "--description", "井盖缺失")
    reported = _run(tmp_path, "report", "--as", "d1", *POINT, *text)
    assert reported.returncode == 0, reported.stderr[-2000:]
    incident = json.loads(reported.stdout)
    assert incident["grid"]["micro_code"] == "510116004001005003"
