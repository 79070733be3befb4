"""Shared helpers of the benchmarks: data set, arguments, statistics, results.

Every benchmark measures our code and a named peer in the same run and prints
the ratio; absolute times on a shared 2-core machine mean little.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
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


# --- PostgreSQL + PostGIS (issue #4 benchmarks) ---------------------------------------------------------------

#: Settings of the benchmarks' throwaway cluster (both sides of every comparison use the same server). Beyond the
#: test helper's fsync=off / synchronous_commit=off: memory for the 1M city, no JIT (a 30-100 ms compile on some
#: tile queries, for every client alike), big checkpoints during the bulk loads.
PG_SETTINGS = {"shared_buffers": "2GB", "effective_cache_size": "8GB", "work_mem": "64MB",
               "maintenance_work_mem": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min",
               "random_page_cost": "1.1", "jit": "off"}
#: Environment variable through which run_all.py hands its cluster (base URL, no database) to the benchmarks.
PG_ENV = "GISPORTAL_BENCH_PG"


class PgServer:
    """A PostgreSQL server for the benchmarks: base URL ``postgresql://postgres@127.0.0.1:PORT``."""

    def __init__(self, base_url: str, cluster: Any = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.cluster = cluster  # a tests/pgcluster.PgCluster this process owns, or None

    def url(self, db: str) -> str:
        return f"{self.base_url}/{db}"

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def execute(self, sql: str, db: str = "postgres") -> list[tuple]:
        """One statement in autocommit mode; its rows (if any)."""
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def exists(self, db: str) -> bool:
        return bool(self.execute(f"SELECT 1 FROM pg_database WHERE datname = '{db}'"))

    def create(self, db: str, postgis: bool = True) -> str:
        """A new empty database (dropped first if it exists), with PostGIS; its URL."""
        self.drop(db)
        self.execute(f'CREATE DATABASE "{db}"')
        if postgis:
            self.execute("CREATE EXTENSION postgis", db)
        return self.url(db)

    def drop(self, db: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    def size_mb(self, db: str) -> float:
        return round(self.execute(f"SELECT pg_database_size('{db}')")[0][0] / 2**20, 1)

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.destroy()
            self.cluster = None


def start_cluster() -> PgServer:
    """A throwaway PostgreSQL 15 + PostGIS cluster (``tests/support/pgcluster.py``) with :data:`PG_SETTINGS`."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.pgcluster import PgCluster

    cluster = PgCluster()
    server = PgServer(f"postgresql://postgres@127.0.0.1:{cluster.port}", cluster)
    try:
        for key, value in PG_SETTINGS.items():
            server.execute(f"ALTER SYSTEM SET {key} = '{value}'")
        cluster.stop()
        cluster.start()
    except BaseException:
        server.close()
        raise
    return server


@contextlib.contextmanager
def postgres() -> Iterator[PgServer]:
    """The server named by ``$GISPORTAL_BENCH_PG`` (run_all.py's), else a cluster of our own, removed at the end."""
    base = os.environ.get(PG_ENV)
    server = PgServer(base) if base else start_cluster()
    try:
        yield server
    finally:
        server.close()


def city_db(n_parcels: int) -> str:
    return f"city_p{n_parcels}"


def postgis_instance_dir(n_parcels: int) -> Path:
    """GISPORTAL_DATA_DIR of the PostGIS instance (secret key, signing keys; the data is in the database)."""
    return data_dir(n_parcels) / "postgis-instance"


def postgis_env(n_parcels: int, url: str) -> dict[str, str]:
    """Environment of a gisportal process on the PostGIS city."""
    env = bench_env(postgis_instance_dir(n_parcels))
    env["GISPORTAL_DATABASE_URL"] = url
    env.pop("GISPORTAL_STORAGE", None)
    return env


def import_city(server: PgServer, n_parcels: int, db: str) -> dict[str, Any]:
    """``gisportal import-all benchmarks/.data/p<N>`` into a new database ``db``, timed (wall clock, process
    start included), then ``VACUUM ANALYZE`` (timed apart: not part of the import)."""
    ensure_data(n_parcels)
    url = server.create(db)
    postgis_instance_dir(n_parcels).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run([str(VENV_BIN / "gisportal"), "import-all", str(data_dir(n_parcels))],
                          env=postgis_env(n_parcels, url), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"gisportal import-all failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    started = time.perf_counter()
    server.execute("VACUUM ANALYZE", db)
    return {"import_all_s": round(elapsed, 2), "report": json.loads(done.stdout.strip().splitlines()[-1]),
            "vacuum_analyze_s": round(time.perf_counter() - started, 2), "database_mb": server.size_mb(db)}


def ensure_city(server: PgServer, n_parcels: int) -> tuple[str, dict[str, Any] | None]:
    """URL of the PostGIS city (database ``city_p<N>``), loaded with ``gisportal import-all`` unless it is
    there already (bench_import.py loads it first in a run_all.py run); the import's figures when it was made."""
    db = city_db(n_parcels)
    if server.exists(db):
        return server.url(db), None
    print(f"loading the {n_parcels:_}-parcel city into PostGIS (gisportal import-all) ...", flush=True)
    loading = f"{db}_loading"
    info = import_city(server, n_parcels, loading)
    server.execute(f'ALTER DATABASE "{loading}" RENAME TO "{db}"')
    print(f"loaded in {info['import_all_s']} s", flush=True)
    return server.url(db), info


# --- servers and load ------------------------------------------------------------------------------------------

WRK = "/usr/bin/wrk"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(proc: subprocess.Popen, url: str, timeout: float) -> float:
    """Seconds until ``url`` answers (any status); raises if the server dies or times out."""
    import urllib.error
    import urllib.request

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return time.perf_counter() - started
        except urllib.error.HTTPError:
            return time.perf_counter() - started
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start_server(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A server in its own process group (stdout, e.g. an access log, discarded; stderr to ``log``)."""
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"), start_new_session=True)


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a server's whole process group: SIGTERM, then SIGKILL after 15 s."""
    import signal

    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


#: A path every gisportal server answers once it is ready (the list of plans: the store is open).
READY_PATH = "/api/v1/plans"


@dataclass
class Gisportal:
    """A ``gisportal serve`` process on a loopback port (see :func:`start_gisportal`)."""

    port: int
    proc: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait(self, path: str = READY_PATH, timeout: float = 900) -> float:
        """Seconds until ``path`` answers (any status); raises if the server dies or times out."""
        return wait_for_http(self.proc, self.base + path, timeout)

    def stop(self) -> None:
        stop_server(self.proc)


def start_gisportal(env: dict[str, str], log: Path, workers: int = 2) -> Gisportal:
    """``gisportal serve --workers N`` (gunicorn) on a free loopback port with ``env``, stderr to ``log``; started,
    not waited for (several servers start at once): :meth:`Gisportal.wait`, then :meth:`Gisportal.stop`."""
    port = free_port()
    return Gisportal(port, start_server([str(VENV_BIN / "gisportal"), "serve", "--port", str(port), "--workers",
                                         str(workers)], env, log))


def sample_tiles(url: str, per_zoom: int, zooms: tuple[int, ...] = (14, 15, 16),
                 seed: int = SEED) -> list[tuple[str, int, int, int]]:
    """(layer, z, x, y) of distinct tiles under parcels sampled with a fixed seed: ``per_zoom`` tiles per layer and
    zoom, for each layer at the zooms among ``zooms`` it is drawn at (``gisportal.zoning.tiles.LAYER_ZOOMS``)."""
    import numpy as np
    import psycopg
    from pyproj import Transformer

    from gisportal.zoning.tiles import LAYER_ZOOMS, lonlat_to_tile

    with psycopg.connect(url) as conn:
        srid = int(conn.execute("SELECT value FROM gp_meta WHERE key = 'crs'").fetchone()[0].split(":")[1])
        lo, hi = conn.execute("SELECT min(id), max(id) FROM gp_parcels").fetchone()
        rng = np.random.default_rng(seed)
        ids = sorted(set(rng.integers(lo, hi + 1, size=per_zoom * 20).tolist()))
        xy = conn.execute("SELECT ST_X(p), ST_Y(p) FROM gp_parcels, ST_PointOnSurface(geom) p "
                          "WHERE id = ANY(%s) ORDER BY id", (ids,)).fetchall()
    lon, lat = Transformer.from_crs(f"EPSG:{srid}", "EPSG:4326", always_xy=True).transform(
        [p[0] for p in xy], [p[1] for p in xy])
    order = rng.permutation(len(xy))
    tiles = []
    for layer, (low, high) in LAYER_ZOOMS.items():
        for z in zooms:
            if not low <= z <= high:
                continue
            seen: dict[tuple[int, int], None] = {}
            for i in order:
                seen.setdefault(lonlat_to_tile(lon[i], lat[i], z), None)
                if len(seen) == per_zoom:
                    break
            tiles += [(layer, z, x, y) for x, y in seen]
    return tiles


def psycopg_sql(sql: str) -> str:
    """A SQLAlchemy ``text()`` statement (``:name`` parameters) in psycopg's ``%(name)s`` style, as SQLAlchemy
    sends it."""
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import psycopg as pg_dialect

    return str(sa.text(sql).compile(dialect=pg_dialect.dialect()))
