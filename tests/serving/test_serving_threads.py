"""``limit_native_threads``: a serving process runs its BLAS and OpenMP pools on one thread."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def test_every_loaded_pool_is_capped_in_a_fresh_process() -> None:
    code = textwrap.dedent(
        """
        import json
        import numpy, scipy.linalg, sklearn.linear_model  # load their native pools
        from threadpoolctl import threadpool_info
        from closedloop.serving._threads import limit_native_threads
        before = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
        capped = limit_native_threads()
        after = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
        print(json.dumps({"before": before, "after": after, "capped": capped}))
        """
    )
    env_free = {"PATH": "/usr/bin:/bin"}  # no OPENBLAS_NUM_THREADS / OMP_NUM_THREADS
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env_free
    )
    doc = json.loads(out.stdout)
    assert doc["after"]
    assert set(doc["after"].values()) == {1}
    more = [path for path, n in doc["before"].items() if n > 1]
    assert len(doc["capped"]) == len(more)
