"""The gates on small hand-made candidates: the good ones pass every check, each broken one fails exactly the
checks its fault breaks, with the reason in Chinese and a masked sample of the failing rows."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from expectations import DATASETS, GateContext, GateResult, validate_all
from gridlake.settings import Settings
from tests.expectations.candidates import AS_OF, NOW, hotline_requests, kpis, write

Tables = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("gates-home"))


def good(settings: Settings) -> Tables:
    requests = hotline_requests()
    daily, monthly = kpis(requests, settings)
    return {"hotline_requests": requests, "hotline_kpi_daily": daily, "hotline_kpi_monthly": monthly}


def context(settings: Settings, tables: Tables) -> GateContext:
    return GateContext(now=NOW, newest_raw_at=AS_OF, previous_rows={name: len(rows) for name, rows in tables.items()},
                       settings=settings)


def run(path: Path, tables: Tables, gate: GateContext) -> dict[str, GateResult]:
    candidates = {name: write(path / "candidates" / f"{name}.parquet", rows) for name, rows in tables.items()}
    return validate_all(candidates, gate, results_dir=path / "results", run_id="run-1")


def row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    (found,) = [r for r in rows if all(r[key] == value for key, value in match.items())]
    return found


def test_good_candidates_pass_every_check(tmp_path: Path, settings: Settings) -> None:
    tables = good(settings)
    results = run(tmp_path, tables, context(settings, tables))

    assert list(results) == ["hotline_requests", "hotline_kpi_daily", "hotline_kpi_monthly"]
    for result in results.values():
        assert result.success, [(c.check, c.reason) for c in result.failed]
        assert result.statistics["unsuccessful"] == 0 and result.statistics["skipped"] == 0
        assert result.statistics["evaluated"] == len(result.checks) > 15
        names = {check.check for check in result.checks}
        assert {"key_unique", "row_count_band", "freshness:data_as_of", "no_phone_numbers", "no_id_numbers",
                "no_person_names"} <= names
    assert {"orders_counted_once", "no_missing_day", "rank_sequence", "rate_consistent:satisfaction_rate"} <= {
        check.check for check in results["hotline_kpi_daily"].checks}
    assert "consistent_with_daily" in {check.check for check in results["hotline_kpi_monthly"].checks}

    # machine-readable and Data Docs per dataset and run, and the run's index
    daily = results["hotline_kpi_daily"]
    assert daily.json_path == tmp_path / "results" / "run-1" / "hotline_kpi_daily.json"
    document = json.loads(daily.json_path.read_text(encoding="utf-8"))
    assert document["success"] is True and document["row_count"] == len(tables["hotline_kpi_daily"])
    assert len(document["checks"]) == len(daily.checks)
    index = (tmp_path / "results" / "run-1" / "index.html").read_text(encoding="utf-8")
    for result in results.values():
        assert f'href="{result.html_path.name}"' in index
        page = result.html_path.read_text(encoding="utf-8")
        assert "通过" in page and result.dataset in page
        assert not re.search(r"(src|href)=\"(https?:)?//", page + index), "the pages must render offline"


def _duplicate_order(tables: Tables, gate: GateContext) -> tuple[Tables, GateContext]:
    tables["hotline_requests"].append(dict(tables["hotline_requests"][0]))
    return tables, gate


def _rate_above_one(tables: Tables, gate: GateContext) -> tuple[Tables, GateContext]:
    row(tables["hotline_kpi_daily"], unit_code="110101001", kpi_date=date(2026, 11, 4))["response_rate"] = 1.5
    return tables, gate


def _rate_off_its_counts(tables: Tables, gate: GateContext) -> tuple[Tables, GateContext]:
    # the department has no answered visit: no composite, so only the rate itself is wrong
    row(tables["hotline_kpi_daily"], unit_code="D01", kpi_date=date(2026, 11, 4))["response_rate"] = 0.5
    return tables, gate


def _text(value: str) -> Callable[[Tables, GateContext], tuple[Tables, GateContext]]:
    def mutate(tables: Tables, gate: GateContext) -> tuple[Tables, GateContext]:
        tables["hotline_requests"][1]["final_unit_name"] = value
        return tables, gate

    return mutate


def _future_update(tables: Tables, gate: GateContext) -> tuple[Tables, GateContext]:
    tables["hotline_requests"][2]["updated_at"] = NOW + timedelta(days=1)
    return tables, gate


def _row_count_out_of_band(tables: Tables, gate: GateContext) -> tuple[Tables, GateContext]:
    return tables, replace(gate, previous_rows={**gate.previous_rows, "hotline_requests": 100})


def _stale(tables: Tables, gate: GateContext) -> tuple[Tables, GateContext]:
    return tables, replace(gate, newest_raw_at=AS_OF + timedelta(days=5))


def _day_missing(tables: Tables, gate: GateContext) -> tuple[Tables, GateContext]:
    # a day on which the street has no answered visit yet, so is not ranked: only the run of days breaks
    tables["hotline_kpi_daily"].remove(row(tables["hotline_kpi_daily"], unit_code="110101001",
                                           kpi_date=date(2026, 11, 3)))
    return tables, replace(gate, previous_rows={})


def _order_counted_twice(tables: Tables, gate: GateContext) -> tuple[Tables, GateContext]:
    row(tables["hotline_kpi_daily"], unit_code="110101002", kpi_date=date(2026, 11, 4))["orders"] += 1
    return tables, gate


BROKEN = {
    # fault: (how, datasets validated, the dataset that fails, exactly the checks that fail, its reason)
    "duplicate key": (_duplicate_order, ["hotline_requests"], "hotline_requests", {"key_unique"},
                      "主键重复：2 行 (request_id)"),
    "rate above 1": (_rate_above_one, ["hotline_kpi_daily"], "hotline_kpi_daily",
                     # the composite was computed from the true rate: it no longer matches either
                     {"rate_between:response_rate", "rate_consistent:response_rate",
                      "rate_consistent:composite_score"}, "响应率 response_rate 超出 0.0..1.0：1 行"),
    "rate inconsistent with its counts": (_rate_off_its_counts, ["hotline_kpi_daily"], "hotline_kpi_daily",
                                          {"rate_consistent:response_rate"}, "响应率与其分子分母不符：1 行"),
    "phone number": (_text("东华门街道办事处 联系人13812345678"), ["hotline_requests"], "hotline_requests",
                     {"no_phone_numbers"}, "含有手机号码（个人信息）：1 处"),
    "id number": (_text("身份证110101199003071234"), ["hotline_requests"], "hotline_requests",
                  {"no_id_numbers"}, "含有身份证号码（个人信息）：1 处"),
    "person's name": (_text("张伟"), ["hotline_requests"], "hotline_requests", {"no_person_names"},
                      "含有人名（个人信息）：1 处"),
    "future time": (_future_update, ["hotline_requests"], "hotline_requests", {"no_future:updated_at"},
                    "updated_at 晚于当前时间 2026-11-05 13:00:00：1 行"),
    "row count out of band": (_row_count_out_of_band, ["hotline_requests"], "hotline_requests",
                              {"row_count_band"}, "行数 6 超出上一版本 100 行的 ±50%（50–150）"),
    "stale data": (_stale, ["hotline_requests"], "hotline_requests", {"freshness:data_as_of"},
                   "数据不够新：data_as_of 最新为 2026-11-05 12:00:00，应不早于 2026-11-08 12:00:00"
                   "（最新原始数据 2026-11-10 12:00:00 减 2 天）"),
    "day missing": (_day_missing, ["hotline_kpi_daily"], "hotline_kpi_daily", {"no_missing_day"},
                    "有单位缺少日期（月累计应逐日连续）：1 个单位·月"),
    "order counted twice": (_order_counted_twice, ["hotline_requests", "hotline_kpi_daily"], "hotline_kpi_daily",
                            {"orders_counted_once"},
                            "工单计数与 hotline_requests 不符（重复计入或漏计）：1 个单位·期间"),
}


@pytest.mark.parametrize("fault", list(BROKEN))
def test_a_broken_candidate_fails_exactly_its_check(fault: str, tmp_path: Path, settings: Settings) -> None:
    mutate, validated, failing, expected, reason = BROKEN[fault]
    tables = good(settings)
    tables, gate = mutate({name: tables[name] for name in validated}, context(settings, tables))

    results = run(tmp_path, tables, gate)

    for name, result in results.items():
        assert result.success is (name != failing), (name, [(c.check, c.reason) for c in result.failed])
    result = results[failing]
    assert {check.check for check in result.failed} == expected
    assert reason in {check.reason for check in result.failed}
    assert result.statistics["unsuccessful"] == len(expected)
    document = json.loads(result.json_path.read_text(encoding="utf-8"))
    assert document["success"] is False
    assert {c["check"] for c in document["checks"] if not c["success"]} == expected
    for check in result.failed:
        if check.expectation not in ("expect_table_row_count_to_be_between", "expect_column_max_to_be_between"):
            assert 1 <= len(check.sample) <= 5 and check.unexpected_count, check


def test_samples_are_masked_everywhere(tmp_path: Path, settings: Settings) -> None:
    tables = good(settings)
    tables["hotline_requests"][0]["final_unit_name"] = "联系人13812345678"
    tables["hotline_requests"][1]["final_unit_name"] = "110101199003071234"
    tables["hotline_requests"][3]["final_unit_name"] = "欧阳娜"
    results = run(tmp_path, {"hotline_requests": tables["hotline_requests"]}, context(settings, tables))

    failed = {check.check: check for check in results["hotline_requests"].failed}
    assert set(failed) == {"no_phone_numbers", "no_id_numbers", "no_person_names"}
    assert failed["no_phone_numbers"].sample == [
        {"request_id": "2026110190000001", "column_name": "final_unit_name", "value": "联系人138****5678"}]
    assert failed["no_id_numbers"].sample[0]["value"] == "110101***********4"
    assert failed["no_person_names"].sample[0]["value"] == "欧阳*"
    written = "".join(path.read_text(encoding="utf-8") for path in (tmp_path / "results").rglob("*.*"))
    for secret in ("13812345678", "110101199003071234", "欧阳娜"):
        assert secret not in written


def test_a_rule_on_a_dataset_not_among_the_candidates_is_skipped(tmp_path: Path, settings: Settings) -> None:
    tables = good(settings)
    results = run(tmp_path, {"hotline_kpi_monthly": tables["hotline_kpi_monthly"]}, context(settings, tables))

    monthly = results["hotline_kpi_monthly"]
    assert monthly.success
    skipped = {check.check: check for check in monthly.checks if check.reason.startswith("跳过")}
    assert set(skipped) == {"orders_counted_once", "consistent_with_daily"}
    assert skipped["consistent_with_daily"].observed == {"skipped": "依赖的数据集 hotline_kpi_daily 不在本次候选中"}
    assert monthly.statistics["skipped"] == 2


def test_first_publication_and_no_raw_time_skip_row_count_and_freshness(tmp_path: Path, settings: Settings) -> None:
    tables = good(settings)
    gate = GateContext(now=NOW, newest_raw_at=None, previous_rows={}, settings=settings)
    result = run(tmp_path, {"hotline_requests": tables["hotline_requests"]}, gate)["hotline_requests"]

    skipped = {check.check: check.observed["skipped"] for check in result.checks if check.reason.startswith("跳过")}
    assert skipped == {"row_count_band": "首次发布，没有上一版本可比",
                       "freshness:data_as_of": "本次运行未提供最新原始数据时间"}
    assert result.success


def test_a_check_that_cannot_run_fails_alone(tmp_path: Path, settings: Settings) -> None:
    tables = good(settings)
    for order in tables["hotline_requests"]:
        del order["transfer_hours"]
    result = run(tmp_path, {"hotline_requests": tables["hotline_requests"]},
                 context(settings, tables))["hotline_requests"]

    assert {check.check for check in result.failed} == {"not_negative:transfer_hours"}
    assert result.failed[0].reason.startswith("检查无法执行")


def test_every_dataset_has_a_suite_in_dependency_order() -> None:
    assert list(DATASETS) == [
        "hotline_requests", "hotline_kpi_daily", "hotline_kpi_monthly", "grid_case_lifecycle", "iot_domain_daily",
        "enterprise_profile", "hotspots_monthly", "seasonal_patterns", "city_events", "problem_ledger",
        "responsibility_chain"]
    seen: set[str] = set()
    for name, spec in DATASETS.items():
        assert spec.name == name and set(spec.depends_on) <= seen, name
        seen.add(name)


def test_unknown_or_missing_candidates_are_refused(tmp_path: Path, settings: Settings) -> None:
    gate = GateContext(now=NOW, newest_raw_at=None, previous_rows={}, settings=settings)
    with pytest.raises(ValueError, match="no quality gate for dataset"):
        validate_all({"nope": [tmp_path / "x.parquet"]}, gate, results_dir=tmp_path, run_id="r")
    with pytest.raises(FileNotFoundError, match="hotline_requests"):
        validate_all({"hotline_requests": [tmp_path / "x.parquet"]}, gate, results_dir=tmp_path, run_id="r")
