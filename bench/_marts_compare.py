"""bench/marts.py's check: each side's marts row for row against dbt's, on the mart's key, so that the timings
compare the same computation. Doubles agree within 1e-9 relative (a sum of doubles may end in another bit when
summed in another order), and a column the models round from such a sum (mean_transfer_hours: round(avg(...), 6))
within one unit of its last place (the other bit can fall on either side of a half); everything else exactly,
nulls included."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["compare"]

_TOLERANCE = 1e-9
_ROUNDED = {"mean_transfer_hours": 6}  # the columns the models round from an average of doubles, and to what
_SAMPLE = 3


def _columns(connection: object, relation: str) -> dict[str, str]:
    return {name: kind for name, kind, *_ in connection.execute(f"describe {relation}").fetchall()}


def _differences(connection: object, dbt: str, side: str, key: str) -> list[str]:
    """What differs between the relations `dbt` and `side` (empty when they hold the same rows)."""
    expected, got = _columns(connection, dbt), _columns(connection, side)
    if set(expected) != set(got):
        return [f"columns: missing {sorted(set(expected) - set(got))}, extra {sorted(set(got) - set(expected))}"]
    problems = []
    for relation in (dbt, side):
        duplicated = connection.execute(
            f"select count(*) from (select {key} from {relation} group by {key} having count(*) > 1)").fetchone()[0]
        if duplicated:
            problems.append(f"{relation}: {duplicated} keys ({key}) held by more than one row")
    if problems:
        return problems
    checks = []
    for name, kind in expected.items():
        a, b = f"d.{name}", f"s.{name}"
        if name in _ROUNDED:
            same = f"({a} is not distinct from {b} or coalesce(abs({a} - {b}) <= 1.000001e-{_ROUNDED[name]}, false))"
        elif kind.startswith(("DOUBLE", "FLOAT", "DECIMAL", "REAL")):
            same = (f"({a} is not distinct from {b} or coalesce(abs({a} - {b}) <= {_TOLERANCE}"
                    f" * greatest(1, abs({a}), abs({b})), false))")
        else:
            same = f"{a} is not distinct from {b}"
        checks.append((name, f"not ({same})"))
    only = connection.execute(
        f"select count(*) filter (where s.{key} is null), count(*) filter (where d.{key} is null), "
        f"min(d.{key}) filter (where s.{key} is null), min(s.{key}) filter (where d.{key} is null) "
        f"from {dbt} as d full outer join {side} as s on s.{key} = d.{key}").fetchone()
    if only[0]:
        problems.append(f"{only[0]} rows of dbt's missing here, e.g. {only[2]}")
    if only[1]:
        problems.append(f"{only[1]} rows here that dbt does not have, e.g. {only[3]}")
    joined = f"{dbt} as d inner join {side} as s on s.{key} = d.{key}"
    counts = connection.execute(
        "select " + ", ".join(f"count(*) filter (where {check})" for _, check in checks) + f" from {joined}"
    ).fetchone()
    for (name, check), count in zip(checks, counts, strict=True):
        if count:
            sample = connection.execute(
                f"select d.{key}, d.{name}, s.{name} from {joined} where {check} order by 1 limit {_SAMPLE}"
            ).fetchall()
            problems.append(f"{count} rows differ in {name}, e.g. " + "; ".join(
                f"{row[0]}: dbt {row[1]!r}, here {row[2]!r}" for row in sample))
    return problems


def compare(warehouse: Path, hand: Path, pandas_dir: Path, marts: Iterable[str],
            keys: dict[str, str]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """dbt's row count per mart, and per side ("duckdb", "pandas") what differs from dbt's marts, mart by mart
    (a side without differences is left out). pandas' marts are the Parquet files it wrote."""
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"attach '{warehouse}' as dbt (read_only)")
    connection.execute(f"attach '{hand}' as hand (read_only)")
    rows: dict[str, int] = {}
    differences: dict[str, list[str]] = {}
    for mart in marts:
        dbt = f"dbt.marts.{mart}"
        rows[mart] = connection.execute(f"select count(*) from {dbt}").fetchone()[0]
        sides = {"duckdb": f"hand.main.{mart}"}
        written = pandas_dir / f"{mart}.parquet"
        if written.exists():
            connection.execute(f"create view pandas_{mart} as select * from read_parquet('{written}')")
            sides["pandas"] = f"pandas_{mart}"
        for side, relation in sides.items():
            for problem in _differences(connection, dbt, relation, keys[mart]):
                differences.setdefault(side, []).append(f"{mart}: {problem}")
    connection.close()
    return rows, differences
