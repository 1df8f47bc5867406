"""Run the gates: every candidate dataset's suite, by Great Expectations, on the candidate Parquet files in place.

The candidates are views of one in-memory DuckDB database (``create view <dataset> as select * from
read_parquet([...])``): what is validated is exactly the files that would be published, and nothing is loaded
into Python but counts and a sample of at most five failing rows per check. GX's SQL execution engine reaches
that database through SQLAlchemy (duckdb-engine) by its name; a checkpoint runs one validation definition per
dataset. Each dataset's result is written as JSON and as a self-contained HTML page, with an index of the run.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from expectations import _duckdb_shim
from expectations.builders import BEIJING, ident, literal
from expectations.personal import mask
from expectations.report import write_index, write_page
from expectations.spec import Check, CheckResult, GateContext, GateResult
from expectations.suites import DATASETS, SUITES

__all__ = ["SAMPLE_ROWS", "validate_all"]

log = logging.getLogger(__name__)

SAMPLE_ROWS = 5
_RESULT_FORMAT = {"result_format": "BASIC"}


def validate_all(candidates: Mapping[str, Sequence[Path]], context: GateContext, *, results_dir: Path,
                 run_id: str) -> dict[str, GateResult]:
    """Validate each candidate dataset (its Parquet files) with its suite; results under ``results_dir/run_id``.

    A cross-dataset rule reads the candidate of the dataset it depends on; when that one is not among the
    candidates the rule is skipped and its result says so. Datasets are validated in ``DATASETS`` order.
    """
    unknown = sorted(set(candidates) - set(DATASETS))
    if unknown:
        raise ValueError(f"no quality gate for dataset(s) {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    for name, files in candidates.items():
        if not files:
            raise ValueError(f"candidate {name}: no Parquet files given")
        missing = [str(path) for path in files if not Path(path).is_file()]
        if missing:
            raise FileNotFoundError(f"candidate {name}: no such file(s): {', '.join(missing)}")
    names = [name for name in DATASETS if name in candidates]
    run_dir = Path(results_dir) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)

    with _candidate_views({name: candidates[name] for name in names}) as views:
        suites = {name: SUITES[name](context, views.columns(name)) for name in names}
        outcomes = _run_checkpoint(views.url, suites, run_id=run_id)
        results: dict[str, GateResult] = {}
        for name in names:
            checks = tuple(
                _check_result(check, outcomes[name].get(check.name), candidates=names, views=views, dataset=name)
                for check in suites[name]
            )
            results[name] = _write(name, checks, run_id=run_id, run_dir=run_dir, context=context,
                                   files=candidates[name], row_count=views.row_count(name))
    write_index(run_dir / "index.html", run_id=run_id, results=[_summary(results[name]) for name in names],
                context=context)
    return results


class _Views:
    """The candidates' views in a named in-memory DuckDB database, on a connection kept open for the run."""

    def __init__(self, url: str, connection: Any) -> None:
        self.url = url
        self._connection = connection

    def _query(self, sql: str) -> tuple[list[str], list[tuple]]:
        import sqlalchemy as sa

        result = self._connection.execute(sa.text(sql))
        return list(result.keys()), [tuple(row) for row in result.fetchall()]

    def columns(self, name: str) -> dict[str, str]:
        _, found = self._query(
            f"select column_name, data_type from information_schema.columns where table_name = {literal(name)} "
            "order by ordinal_position"
        )
        return {column: kind for column, kind in found}

    def row_count(self, name: str) -> int:
        return int(self._query(f"select count(*) from {ident(name)}")[1][0][0])

    def sample(self, sql: str, dataset: str) -> list[dict]:
        # the same SQL the check ran, on the same view; braces escaped for GX come back to one
        columns, found = self._query(f"select * from ({sql.format(batch=ident(dataset))}) as failing "
                                     f"limit {SAMPLE_ROWS}")
        return [{column: mask(_jsonable(value)) for column, value in zip(columns, row)} for row in found]


@contextmanager
def _candidate_views(candidates: Mapping[str, Sequence[Path]]) -> Iterator[_Views]:
    import sqlalchemy as sa

    # A named in-memory database is shared by every connection of this process that names it: GX's engine
    # sees the views this one creates. It lives as long as one connection to it is open.
    url = f"duckdb:///:memory:gate_{uuid.uuid4().hex}"
    engine = sa.create_engine(url, poolclass=sa.pool.StaticPool)
    connection = engine.connect()
    try:
        for name, files in candidates.items():
            paths = ", ".join(literal(str(Path(path).resolve())) for path in files)
            connection.execute(sa.text(f"create view {ident(name)} as select * from read_parquet([{paths}])"))
        connection.commit()
        yield _Views(url, connection)
    finally:
        connection.close()
        engine.dispose()


def _run_checkpoint(url: str, suites: Mapping[str, list[Check]], *, run_id: str) -> dict[str, dict[str, dict]]:
    """Each suite's checks run by GX; per dataset, each check's result as a JSON dict (by check name)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _duckdb_shim.install()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_sql(name="candidates", connection_string=url)
    _duckdb_shim.recover_after_errors(datasource.get_execution_engine().engine)
    definitions = []
    for name, checks in suites.items():
        expectations = [
            getattr(gx.expectations, check.expectation)(**check.kwargs, meta={"check": check.name})
            for check in checks if check.skipped is None
        ]
        if not expectations:
            continue
        batch = datasource.add_table_asset(name=name, table_name=name).add_batch_definition_whole_table("candidate")
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        definitions.append(context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}_candidate", data=batch, suite=suite)))
    outcomes: dict[str, dict[str, dict]] = {name: {} for name in suites}
    if not definitions:
        return outcomes
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=f"gate_{run_id}", validation_definitions=definitions, result_format=_RESULT_FORMAT))
    try:
        run = checkpoint.run()
        for suite_result in run.run_results.values():
            for result in suite_result.results:
                payload = result.to_json_dict()
                check = (payload.get("expectation_config") or {}).get("meta", {}).get("check")
                outcomes[suite_result.suite_name][check] = payload
    finally:
        datasource.get_execution_engine().close()
        datasource.get_engine().dispose()
    return outcomes


def _check_result(check: Check, outcome: dict | None, *, candidates: Sequence[str], views: _Views,
                  dataset: str) -> CheckResult:
    expectation = _snake(check.expectation)
    absent = [name for name in check.reads if name not in candidates]
    skipped = check.skipped or (f"依赖的数据集 {', '.join(absent)} 不在本次候选中" if absent else None)
    if skipped is not None:
        return CheckResult(check=check.name, expectation=expectation, column=check.column, reads=check.reads,
                           success=True, observed={"skipped": skipped}, unexpected_count=None, sample=[],
                           reason=f"跳过：{skipped}")
    error = "GX 未返回这项检查的结果" if outcome is None else _exception(outcome)
    outcome = outcome or {}
    result = outcome.get("result") or {}
    success = bool(outcome.get("success")) and error is None
    observed, unexpected = _observed(check, result)
    if error is not None:
        return CheckResult(check=check.name, expectation=expectation, column=check.column, reads=check.reads,
                           success=False, observed={"error": error}, unexpected_count=None, sample=[],
                           reason=f"检查无法执行：{error.splitlines()[0] if error else '未知错误'}")
    sample: list[dict] = []
    if not success and check.sample_sql:
        sample = views.sample(check.sample_sql, dataset)
    reason = check.title if success else check.failure.format(n=unexpected, observed=_shown(observed))
    return CheckResult(check=check.name, expectation=expectation, column=check.column, reads=check.reads,
                       success=success, observed=observed, unexpected_count=unexpected, sample=sample, reason=reason)


def _observed(check: Check, result: dict) -> tuple[Any, int | None]:
    if check.expectation == "UnexpectedRowsExpectation":
        count = int(result.get("observed_value") or 0)
        return {"unexpected_rows": count}, count
    if "observed_value" in result:
        return _jsonable(_from_gx(result["observed_value"])), None
    observed = {key: result[key] for key in ("element_count", "unexpected_count", "unexpected_percent",
                                             "missing_count") if key in result}
    unexpected = result.get("unexpected_count")
    return observed, int(unexpected) if unexpected is not None else None


def _shown(observed: Any) -> str:
    """An observed value as a reason shows it: a time in Beijing, to the second."""
    if isinstance(observed, str):
        try:
            moment = datetime.fromisoformat(observed)
        except ValueError:
            return observed
        return moment.strftime("%Y-%m-%d %H:%M:%S") if "T" in observed else observed
    return str(observed)


def _exception(outcome: dict) -> str | None:
    info = outcome.get("exception_info") or {}
    candidates = [info] if "raised_exception" in info else list(info.values())
    for entry in candidates:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message") or "未知错误")
    return None


def _from_gx(value: Any) -> Any:
    """GX's JSON gives instants as UTC ISO strings: shown in Beijing time, as every time in the reports."""
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(BEIJING).isoformat()
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(BEIJING).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, float) and value != value:
        return None
    return value


def _snake(class_name: str) -> str:
    if class_name == "UnexpectedRowsExpectation":
        return "unexpected_rows_expectation"
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in class_name).lstrip("_")


def _statistics(checks: Sequence[CheckResult]) -> dict:
    skipped = sum(1 for check in checks if isinstance(check.observed, dict) and "skipped" in check.observed)
    evaluated = len(checks) - skipped
    unsuccessful = sum(1 for check in checks if not check.success)
    return {"evaluated": evaluated, "successful": evaluated - unsuccessful, "unsuccessful": unsuccessful,
            "skipped": skipped, "success_percent": round(100 * (evaluated - unsuccessful) / evaluated, 1)
            if evaluated else None}


def _write(name: str, checks: tuple[CheckResult, ...], *, run_id: str, run_dir: Path, context: GateContext,
           files: Sequence[Path], row_count: int) -> GateResult:
    statistics = _statistics(checks)
    result = GateResult(dataset=name, run_id=run_id, success=statistics["unsuccessful"] == 0, checks=checks,
                        statistics=statistics, json_path=run_dir / f"{name}.json",
                        html_path=run_dir / f"{name}.html")
    document = {
        "dataset": name,
        "run_id": run_id,
        "success": result.success,
        "validated_at": datetime.now(BEIJING).isoformat(),
        "now": context.now.astimezone(BEIJING).isoformat(),
        "newest_raw_at": context.newest_raw_at.astimezone(BEIJING).isoformat() if context.newest_raw_at else None,
        "previous_rows": context.previous_rows.get(name),
        "row_count": row_count,
        "files": [str(path) for path in files],
        "statistics": statistics,
        "checks": [_check_dict(check) for check in checks],
    }
    _atomic_write(result.json_path, json.dumps(document, ensure_ascii=False, indent=2))
    write_page(result.html_path, document)
    return result


def _check_dict(check: CheckResult) -> dict:
    return {"check": check.check, "expectation": check.expectation, "column": check.column,
            "success": check.success, "observed": check.observed, "unexpected_count": check.unexpected_count,
            "sample": check.sample, "reason": check.reason}


def _summary(result: GateResult) -> dict:
    return {"dataset": result.dataset, "success": result.success, "statistics": result.statistics,
            "page": result.html_path.name, "json": result.json_path.name,
            "failed": [{"check": check.check, "reason": check.reason} for check in result.failed]}


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
