"""The rules the two hotline KPI marts share (kpis.md; macro hotline_unit_scores): codes, rates, ranks.

Each rate equals its numerator over its denominator as the marts' YAML defines them, and is null exactly when
the denominator is 0; the composite is 100 times the weighted mean of the three rates with the weights in force
(Settings.kpi), rounded to 6 places, and null when a rate is; the units of a kind ranked in a period are ranked
1..units_ranked without gaps, by composite descending.
"""

from __future__ import annotations

from expectations import reference
from expectations.builders import between, in_set, rows, select_keys
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["RATES", "kpi_checks", "orders_counted_once"]

# rate: (numerator, denominator, its Chinese name)
RATES = {
    "response_rate": ("responded_in_time", "orders_counted", "响应率"),
    "resolution_rate": ("visits_resolved", "visits_answered", "解决率"),
    "satisfaction_rate": ("visits_satisfied + {w} * visits_basically_satisfied", "visits_answered", "满意率"),
}
_TOLERANCE = 1e-9


def kpi_checks(spec: DatasetSpec, context: GateContext, *, period: str) -> list[Check]:
    weights = context.settings.kpi
    checks = [
        in_set(spec, "unit_type", ("street", "department"), list_name="单位类型 (street, department)",
               name="in_set:unit_type"),
        in_set(spec, "unit_code", reference.street_codes(), list_name="东城区 17 个街道",
               where="unit_type = 'street'"),
    ]
    for rate, (numerator, denominator, label) in RATES.items():
        numerator = numerator.format(w=float(weights.basically_satisfied))
        checks.append(between(spec, rate, min_value=0.0, max_value=1.0, name=f"rate_between:{rate}",
                              label=f"{label} {rate}"))
        checks.append(rows(
            f"rate_consistent:{rate}",
            f"select {select_keys(spec, rate)}, {numerator} as numerator, {denominator} as denominator "
            f"from {{batch}} where case when {denominator} = 0 then {rate} is not null "
            f"else {rate} is null or abs({rate} - cast({numerator} as double) / {denominator}) > {_TOLERANCE} end",
            title=f"{label} = {numerator} / {denominator}（分母为 0 时为空）",
            failure=f"{label}与其分子分母不符：{{n}} 行", column=rate,
        ))
    total = weights.response + weights.resolution + weights.satisfaction
    expected = (f"round(100 * ({weights.response} * response_rate + {weights.resolution} * resolution_rate + "
                f"{weights.satisfaction} * satisfaction_rate) / {total}, 6)")
    checks += [
        between(spec, "composite_score", min_value=0.0, max_value=100.0, label="综合得分 composite_score"),
        rows("rate_consistent:composite_score",
             f"select {select_keys(spec, 'composite_score')}, {expected} as expected from {{batch}} "
             f"where (composite_score is null) <> ({expected} is null) "
             f"or abs(composite_score - {expected}) > 1e-6",
             title=(f"综合得分 = 100 × ({weights.response} × 响应率 + {weights.resolution} × 解决率 + "
                    f"{weights.satisfaction} × 满意率) / {total:g}"),
             failure="综合得分与三率及权重不符：{n} 行", column="composite_score"),
        rows("counts_consistent",
             f"select {select_keys(spec, 'orders', 'orders_counted', 'responded_in_time', 'visits_answered')}, "
             "visits_resolved, visits_satisfied, visits_basically_satisfied from {batch} where not ("
             "orders >= orders_counted and orders_counted >= responded_in_time and orders_counted >= "
             "visits_answered and visits_answered >= visits_resolved and visits_answered >= "
             "visits_satisfied + visits_basically_satisfied and least(orders, orders_counted, responded_in_time, "
             "visits_answered, visits_resolved, visits_satisfied, visits_basically_satisfied) >= 0)",
             title="各计数自洽（计入数 ≤ 工单数，及时响应数 ≤ 计入数，回访数 ≤ 计入数 …）",
             failure="计数之间不自洽：{n} 行"),
        rows("rank_sequence",
             f"select {select_keys(spec, 'unit_type', period, 'composite_score', 'unit_rank', 'units_ranked')} "
             f"from (select *, count(composite_score) over (partition by unit_type, {period}) as scored, "
             f"row_number() over (partition by unit_type, {period}, unit_rank is null order by unit_rank) as place, "
             f"lag(composite_score) over (partition by unit_type, {period}, unit_rank is null order by unit_rank) "
             "as better from {batch}) as ranked where (unit_rank is null) <> (composite_score is null) "
             "or units_ranked <> scored or (unit_rank is not null and (unit_rank <> place or better < "
             "composite_score))",
             title=f"每个 {period} 同类单位的排名为 1..units_ranked，无缺号，按综合得分从高到低",
             failure="排名有缺号、重号或与综合得分不符：{n} 行", column="unit_rank"),
    ]
    return checks


def orders_counted_once(spec: DatasetSpec, *, period: str) -> Check:
    """Every due hotline order of the period counted once, by the unit that held it last (hotline_requests)."""
    if period == "kpi_date":
        expected = (
            "select days.kpi_date, requests.final_unit_type as unit_type, requests.final_unit_code as unit_code, "
            "count(*) as expected from (select distinct kpi_date, period_month from {batch}) as days "
            "join hotline_requests as requests on requests.period_month = days.period_month "
            "and requests.deadline_date <= days.kpi_date "
            "where requests.is_due and requests.final_unit_type in ('street', 'department') group by all"
        )
    else:
        expected = (
            "select requests.period_month, requests.final_unit_type as unit_type, requests.final_unit_code as "
            "unit_code, count(*) as expected from hotline_requests as requests "
            "where requests.is_due and requests.final_unit_type in ('street', 'department') group by all"
        )
    sql = (
        f"select coalesce(counted.unit_type, due.unit_type) as unit_type, "
        f"coalesce(counted.unit_code, due.unit_code) as unit_code, coalesce(counted.{period}, due.{period}) "
        f"as {period}, coalesce(counted.orders, 0) as orders, coalesce(due.expected, 0) as due_orders "
        f"from (select * from {{batch}}) as counted full outer join ({expected}) as due "
        f"on due.unit_type = counted.unit_type "
        f"and due.unit_code = counted.unit_code and due.{period} = counted.{period} "
        f"where coalesce(counted.orders, 0) <> coalesce(due.expected, 0) order by 1, 2, 3"
    )
    return rows("orders_counted_once", sql, reads=("hotline_requests",), column="orders",
                title="每张到期工单按最终承办单位计入且只计入一次（与 hotline_requests 核对）",
                failure="工单计数与 hotline_requests 不符（重复计入或漏计）：{n} 个单位·期间")
