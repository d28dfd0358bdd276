"""One measurement of the monitoring benchmark, in a fresh process (run by bench_monitoring).

    python _monitoring_worker.py SYSTEM MODE --out RESULT.json [--ref R] [--cur C]
        [--profile P] [--warm-ref R] [--warm-cur C] [--window-rows N]

SYSTEM is ``closedloop``, ``evidently`` or ``floor`` (the interpreter is the system's own:
Evidently's runs in its venv); MODE is ``e2e`` (read both Parquet files, fit, score),
``build`` (read the reference, store a profile), ``profile`` (read the current file, score
it against a stored profile) or ``stream`` (score a large file window by window against a
profile). The system's modules are imported, then the same call is made once on the small
warm-up files (lazy imports, first-call caches), and only then does the timer start: it
covers reading the Parquet files through to having every column's result. The result goes
to ``--out`` as JSON: seconds, the reading part, per-column scores; or ``not_available`` when
the system lacks the feature (``NotImplementedError``), or ``error``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from _monitoring_data import CATEGORICAL, NUMERIC, Score, scores_to_json

MODULES = {
    "closedloop": "_monitoring_closedloop",
    "evidently": "_monitoring_evidently",
    "floor": "_monitoring_floor",
}
MODES = ("e2e", "build", "profile", "stream")


def _read(path: Path | None) -> Any:
    import pandas as pd

    if path is None:
        raise ValueError("a Parquet path is missing (--ref / --cur)")
    return pd.read_parquet(path)


def _call(module: Any, args: argparse.Namespace, ref: Path | None, cur: Path | None) -> Any:
    """One call of ``args.mode`` on the given files; ``(read_seconds, result)``."""
    started = time.perf_counter()
    if args.mode == "e2e":
        ref_df, cur_df = _read(ref), _read(cur)
        read = time.perf_counter() - started
        return read, module.end_to_end(ref_df, cur_df, NUMERIC, CATEGORICAL)
    if args.mode == "build":
        ref_df = _read(ref)
        read = time.perf_counter() - started
        return read, module.build_profile(ref_df, NUMERIC, CATEGORICAL, args.profile)
    if args.mode == "profile":
        cur_df = _read(cur)
        read = time.perf_counter() - started
        return read, module.score_profile(args.profile, cur_df)
    return 0.0, module.stream_windows(args.profile, cur, args.window_rows)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    module = importlib.import_module(MODULES[args.system])
    prepare = getattr(module, "prepare", None)
    if prepare is not None:
        prepare()
    if args.mode in ("e2e", "profile") and args.warm_cur is not None:
        _call(module, args, args.warm_ref, args.warm_cur)
    # the garbage of the imports and the warm-up is collected before the timer, for every
    # system alike: a full collection inside the timed call would only measure the imports
    gc.collect()
    started = time.perf_counter()
    read, result = _call(module, args, args.ref, args.cur)
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {"seconds": seconds, "read_seconds": read}
    if args.mode in ("e2e", "profile"):
        out["scores"] = scores_to_json(result)
    elif args.mode == "stream":
        windows: list[dict[str, Score]] = result
        out["windows"] = len(windows)
        out["scores"] = scores_to_json(windows[-1]) if windows else {}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("system", choices=sorted(MODULES))
    p.add_argument("mode", choices=MODES)
    p.add_argument("--out", type=Path, required=True)
    for name in ("ref", "cur", "profile", "warm-ref", "warm-cur"):
        p.add_argument(f"--{name}", type=Path)
    p.add_argument("--window-rows", type=int, default=100_000)
    args = p.parse_args(argv)
    try:
        out = measure(args)
    except NotImplementedError as e:
        out = {"not_available": str(e) or "not implemented"}
    except Exception as e:
        traceback.print_exc()
        out = {"error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
    out["self_peak_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["modules"] = {
        name: str(getattr(sys.modules[name], "__file__", ""))
        for name in ("closedloop", "evidently")
        if name in sys.modules
    }
    args.out.write_text(json.dumps(out))
    return 1 if "error" in out else 0


if __name__ == "__main__":
    sys.exit(main())
