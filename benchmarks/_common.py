"""Shared helpers of the benchmarks: data set, arguments, statistics, results.

Every benchmark measures our code and a named peer in the same run and prints
the ratio; absolute times on a shared 2-core machine mean little.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_ROOT = BENCH_DIR / ".data"
VENV_BIN = Path(sys.executable).parent
DEFAULT_PARCELS = 1_000_000
SEED = 2026


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--parcels", type=int, default=DEFAULT_PARCELS,
                   help=f"size of the demo city (default {DEFAULT_PARCELS:_})")
    p.add_argument("--json", type=Path, default=None, help="write this benchmark's results to this file")
    return p


def data_dir(n_parcels: int) -> Path:
    """Directory holding the demo store of ``n_parcels`` parcels (built on first use)."""
    return DATA_ROOT / f"p{n_parcels}"


def ensure_data(n_parcels: int) -> Path:
    """Build ``benchmarks/.data/p<N>/gisportal.gpkg`` with ``gisportal demo`` unless it exists; its path."""
    directory = data_dir(n_parcels)
    store = directory / "gisportal.gpkg"
    if store.exists():
        return store
    directory.mkdir(parents=True, exist_ok=True)
    print(f"building the demo city ({n_parcels:_} parcels) into {directory} ...", flush=True)
    started = time.perf_counter()
    subprocess.run([str(VENV_BIN / "gisportal"), "demo", "--parcels", str(n_parcels), "--seed", str(SEED)],
                   check=True, env=bench_env(directory))
    print(f"built in {time.perf_counter() - started:.1f} s", flush=True)
    return store


def bench_env(directory: Path) -> dict[str, str]:
    """Environment of a subprocess using the store in ``directory``."""
    env = dict(os.environ)
    env["GISPORTAL_DATA_DIR"] = str(directory)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    load = os.getloadavg()
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "loadavg_at_start": [round(v, 2) for v in load]}


def vm_status(pid: int | str = "self") -> dict[str, int]:
    """VmHWM / VmRSS / RssAnon / RssFile of a process, in kB (``/proc/<pid>/status``)."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
            out[key] = int(value.split()[0])
    return out


def pss_kb(pid: int) -> int | None:
    """Proportional set size of a process in kB (shared pages split between sharers)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return None


def write_results(path: Path | None, results: dict[str, Any]) -> None:
    """Write ``results`` as JSON to ``path`` (when given)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"
