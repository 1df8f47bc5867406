"""Benchmark: the whole pipeline end to end through Airflow - a full build, then daily increments - wall time and the
peak memory of the process running it.

    uv run python bench/pipeline.py --scale 1.0 --days 28               # the district's volume, four weeks
    uv run python bench/pipeline.py --scale 0.05 --days 14 --increments 2

Generates a scratch dataset (`$GRIDLAKE_HOME/sim/bench-<scale>-<days>`, shared by bench/pipeline.py and
bench/adbc.py, reused with ``--reuse``), serves it with ideal platforms (no latency, errors or rate limits: the
platforms' own pace is bench/ingest.py's subject), migrates a fresh Airflow metadata database, and runs the chain -
the five ingestion DAGs, ``transform`` (dbt) and ``publish`` (gates and publication) - with ``dag.test()`` in one
process, as the demo does: the full build into an empty lake. Then, ``--increments`` times, the platforms' clock
moves a day and the chain runs again: a daily increment. Per run: the wall time, each DAG's share, and the peak
resident memory (VmHWM) of the process and its children, sampled from /proc. Prints a table and a JSON line per run."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from _scratch import add_dataset_options, platform_settings, scratch_dataset  # bench/ is the script's own folder
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]


def _hwm_kib(pid: int) -> int:
    """The peak resident memory (VmHWM) of a process and, summed per process, the largest of its descendants'."""
    peak = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                peak = max(peak, _hwm_kib(int(child)))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return peak


def _run_chain(env: dict[str, str], dag_ids: tuple[str, ...]) -> dict:
    """The chain in one process (simulators.pipeline), its DAGs' states and wall times, and its peak memory."""
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "simulators.pipeline", *dag_ids], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _hwm_kib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    reader.start()
    dags, last = {}, began
    for line in process.stdout:
        if line.startswith("RUN "):
            run = json.loads(line.removeprefix("RUN "))
            now = time.perf_counter()
            dags[run["dag_id"]] = {"state": run["state"], "seconds": round(now - last, 1)}
            last = now
    process.wait()
    done.set()
    sampler.join()
    reader.join()
    seconds = time.perf_counter() - began
    failed = [dag for dag, run in dags.items() if run["state"] != "success"]
    if process.returncode != 0 or failed or set(dags) != set(dag_ids):
        raise RuntimeError(f"the chain did not succeed ({failed or 'exit ' + str(process.returncode)}): "
                           f"{''.join(errors)[-3000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(peak[0] / 1024), "dags": dags}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_options(parser)
    parser.add_argument("--increments", type=int, default=1, help="daily increments after the full build")
    args = parser.parse_args()

    from simulators.pipeline import CHAIN, airflow_environment, migrate
    from simulators.serve import Simulators

    console = Console()
    dataset = scratch_dataset("bench", args, console)
    if args.reuse and dataset.state_path.exists():
        dataset.state_path.unlink()  # the platforms' clock starts again at the generated end
    settings = platform_settings(ideal=True)
    work = dataset.root / "bench"
    shutil.rmtree(work, ignore_errors=True)
    results = []
    with Simulators(dataset, settings=settings) as sims:
        env = airflow_environment(work / "airflow", work / "gridlake", sims.environment())
        env["GRIDLAKE_PII_SALT"] = os.environ.get("GRIDLAKE_PII_SALT", "bench")
        migrate(env)
        for run in range(args.increments + 1):
            if run:
                sims.clock.advance(timedelta(days=1))
            kind = "full build" if run == 0 else f"daily increment {run}"
            console.print(f"{kind}: the chain through Airflow ...")
            result = {"run": kind, "scale": args.scale, "days": args.days + run, **_run_chain(env, CHAIN)}
            console.print(f"  {result['seconds']:.0f} s, peak {result['peak_rss_mib']:,} MiB")
            results.append(result)
    table = Table(title=f"The pipeline through Airflow: scale {args.scale:g}, {args.days} days, ideal platforms")
    for column in ("run", "seconds", "peak MiB", *(dag.removeprefix("ingest_") for dag in CHAIN)):
        table.add_column(column, justify="left" if column == "run" else "right")
    for result in results:
        table.add_row(result["run"], f"{result['seconds']:.1f}", f"{result['peak_rss_mib']:,}",
                      *(f"{result['dags'][dag]['seconds']:.1f}" for dag in CHAIN))
    console.print(table)
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
