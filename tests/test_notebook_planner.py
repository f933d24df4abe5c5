"""The planner's notebook runs offline to the end: every connection but loopback is refused in its
kernel, nothing it shows loads from another host, and a finding never stops it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "planner_overview.ipynb"

#: Loaded by the kernel's Python at start-up (PYTHONPATH): refuse any socket to a non-loopback host.
_NO_NETWORK = """
import socket

_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")):
        raise OSError(f"network blocked in this test: {address!r}")
    return _connect(self, address)


socket.socket.connect = _loopback_only
"""


@pytest.fixture
def executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    (tmp_path / "sitecustomize.py").write_text(_NO_NETWORK, encoding="utf-8")
    root = str(NOTEBOOK.parents[1])
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{root}")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": root}}).execute()
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"], ensure_ascii=False)


@pytest.mark.skipif(sys.platform != "linux", reason="the network guard is tested on Linux")
def test_notebook_runs_offline_through_split_merge_diff_impact(executed: nbformat.NotebookNode) -> None:
    out = _text(executed)
    assert "error" not in [o.get("output_type") for c in executed.cells for o in c.get("outputs", [])]
    assert "微网格 510116004001001001 分为 2 块" in out
    assert "refused:" in out and "不相邻" in out  # the refused merge is shown, not raised
    assert "'added': 3, 'removed': 3, 'changed': 0" in out  # split 1→2, merge 2→1
    assert re.search(r"\d+ of 104 micro-grids outside 30–100 households", out)
    assert "image/png" in out  # the maps are images, drawn here
    assert not re.search(r"(src|href)=\\\\?[\"']https?://", out)  # nothing from a CDN
