"""Benchmark: gridlake's citymgmt ingestion against the limit of this stack - a bare ADBC read of the same tables
written straight to Parquet - in the same run, on the same served replica.

    uv run python bench/adbc.py --scale 1.0 --days 28

Generates a scratch dataset (`$GRIDLAKE_HOME/sim/bench-<scale>-<days>`, shared by bench/pipeline.py and
bench/adbc.py, reused with ``--reuse``), serves it, reads every citymgmt table once untimed (the server's caches
warm for both), then alternates, ``--rounds`` times: the bare read (``select *`` per table through ADBC, record
batches streamed into a zstd Parquet file each) and gridlake's first load of citymgmt into an empty lake (``gridlake
ingest citymgmt``'s code: the declared schema, the row rules and quarantine, the manifests), each in a process of
its own. Prints the best of each and their ratio as a table and a JSON line."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _scratch import add_dataset_options, scratch_dataset  # bench/ is the script's own folder
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
_BARE = "--bare"


def _bare(uri: str, out: str) -> None:
    """In the child: every citymgmt table through ADBC straight to Parquet; print rows and seconds as JSON."""
    import adbc_driver_postgresql.dbapi as pg_dbapi
    import pyarrow.parquet as pq

    from connectors.citymgmt import TABLES

    began = time.perf_counter()
    rows = 0
    with pg_dbapi.connect(uri) as connection:
        for name in TABLES:
            with connection.cursor() as cursor:
                cursor.execute(f"select * from {name}")
                reader = cursor.fetch_record_batch()
                with pq.ParquetWriter(Path(out) / f"{name}.parquet", reader.schema, compression="zstd") as writer:
                    for batch in reader:
                        writer.write_batch(batch)
                        rows += batch.num_rows
    print(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - began, 2)}))


def _child(args: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_options(parser)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from simulators.serve import Simulators
    from simulators.settings import SimSettings

    console = Console()
    dataset = scratch_dataset("bench", args, console)
    settings = SimSettings(hotline_port=0, enforcement_port=0, credit_port=0, citymgmt_port=0)
    bare, ours = [], []
    with Simulators(dataset, settings=settings) as sims:
        env = dict(os.environ, GRIDLAKE_PII_SALT=os.environ.get("GRIDLAKE_PII_SALT", "bench"))
        env.update(sims.environment())
        uri = sims.connections()["citymgmt_db"]
        with tempfile.TemporaryDirectory(prefix="bench-adbc-") as out:
            console.print("warming the server's caches (one bare read, untimed)")
            _child([__file__, _BARE, uri, out], env)
            for round_ in range(args.rounds):
                bare.append(_child([__file__, _BARE, uri, out], env))
                with tempfile.TemporaryDirectory(prefix="bench-lake-") as home:
                    ours.append(_child([str(HERE / "ingest.py"), "--one", "citymgmt"], {**env, "GRIDLAKE_HOME": home}))
                console.print(f"round {round_ + 1}: bare {bare[-1]['seconds']:.1f} s, "
                              f"gridlake {ours[-1]['seconds']:.1f} s")
    best_bare = min(run["seconds"] for run in bare)
    best_ours = min(run["seconds"] for run in ours)
    result = {"figure": "citymgmt_vs_bare_adbc", "scale": args.scale, "days": args.days, "rows": bare[0]["rows"],
              "rows_read": ours[0]["rows_read"], "bare_seconds": best_bare, "gridlake_seconds": best_ours,
              "ratio": round(best_ours / best_bare, 2), "gridlake_peak_rss_mib": max(r["peak_rss_mib"] for r in ours)}
    table = Table(title=f"citymgmt into Parquet, scale {args.scale:g}, {args.days} days (best of {args.rounds})")
    for column in ("read", "rows", "seconds", "rows/s"):
        table.add_column(column, justify="left" if column == "read" else "right")
    table.add_row("bare ADBC → Parquet", f"{result['rows']:,}", f"{best_bare:.1f}",
                  f"{result['rows'] / best_bare:,.0f}")
    table.add_row("gridlake ingest citymgmt", f"{result['rows_read']:,}", f"{best_ours:.1f}",
                  f"{result['rows_read'] / best_ours:,.0f}")
    console.print(table)
    console.print(f"ratio gridlake / bare: {result['ratio']:.2f} (target: at most 2)")
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == _BARE:
        _bare(sys.argv[2], sys.argv[3])
    else:
        main()
