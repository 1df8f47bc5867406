"""The quality gates on the real marts of a built warehouse: every shared dataset, exported as the publication
side exports it (one Parquet file per mart), passes every check of its suite."""

from __future__ import annotations

from pathlib import Path

import duckdb

from expectations import DATASETS, GateContext, validate_all
from gridlake.settings import Settings


def test_the_built_marts_pass_their_gates(built: duckdb.DuckDBPyConnection, settings: Settings, district,
                                          tmp_path: Path) -> None:
    candidates, rows = {}, {}
    for name in DATASETS:
        path = tmp_path / "candidates" / name / "part-0.parquet"
        path.parent.mkdir(parents=True)
        built.execute(f"copy (select * from marts.{name}) to '{path}' (format parquet)")
        candidates[name] = [path]
        rows[name] = built.execute(f"select count(*) from marts.{name}").fetchall()[0][0]
    # the platforms' clock is the district's now: the data reach up to it, none beyond
    now = district.clock.now()
    gate = GateContext(now=now, newest_raw_at=now, previous_rows=rows, settings=settings)

    results = validate_all(candidates, gate, results_dir=tmp_path / "results", run_id="built")

    assert list(results) == list(DATASETS)
    failures = {name: [(c.check, c.reason, c.sample[:2]) for c in result.failed] for name, result in results.items()}
    assert not any(failures.values()), failures
    for name, result in results.items():
        assert rows[name] > 0, name
        assert result.statistics["skipped"] == 0 and result.statistics["evaluated"] >= 10, (name, result.statistics)
    assert (tmp_path / "results" / "built" / "index.html").is_file()
