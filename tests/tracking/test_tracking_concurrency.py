"""Several processes logging into one SQLite workspace at once lose nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import closedloop

_WRITER = """
import sys, time
from pathlib import Path
import closedloop
from closedloop.config import load_settings

root, name, go, sync = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4] == "sync"
settings = load_settings({"workspace": root, "metric_buffer_size": 50})
client = closedloop.Client(settings=settings)
run = client.start_run("stress", name=name, synchronous=sync)
while not go.exists():  # start all writers together
    time.sleep(0.005)
for i in range(5000):
    run.log_metric("value", float(i))
run.end()
client.close()
print(run.id)
"""


@pytest.mark.parametrize("mode", ["buffered", "sync"])
def test_four_processes_5000_metrics_each(tmp_path: Path, mode: str) -> None:
    closedloop.init(tmp_path).close()
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path), f"w{n}", str(go), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    go.touch()
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
    run_ids = [out.split()[-1] for out, _ in results]
    with closedloop.Client(tmp_path) as client:
        for run_id in run_ids:
            history = client.runs.history(run_id, "value")
            assert [m.value for m in history] == [float(i) for i in range(5000)]
            assert client.runs.get(run_id).status.value == "FINISHED"
