"""回访周报: the return visits of the week before the issue date - visits made and their outcomes, resolution and
satisfaction by unit, the unsatisfied orders grouped by reason and matter, and the units whose satisfaction fell
against the week before.

The platform records no reason for an unsatisfied visit; the report reads one from the order's own record, the
first that holds of: not resolved (the visit says so), resolved after the deadline, first contact late, sent back
by a unit (退单), else resolved and on time yet unsatisfied.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from reports import charts, labels
from reports.context import Context
from reports.model import ChartBlock, Column, Section, TableBlock

__all__ = ["DATASETS", "REASONS", "sections"]

DATASETS = ["hotline_requests"]
REASONS = ["诉求未解决", "办理超期", "响应不及时", "多次转派", "已解决仍不满意"]
_REASON_SQL = f"""case
    when not is_visit_resolved then '{REASONS[0]}'
    when is_overdue or not is_resolved_in_time then '{REASONS[1]}'
    when is_late_response then '{REASONS[2]}'
    when return_count > 0 then '{REASONS[3]}'
    else '{REASONS[4]}' end"""


def sections(ctx: Context) -> list[Section]:
    return [
        ctx.section("visits", "一、本周回访情况", DATASETS, lambda: _visits(ctx)),
        ctx.section("units", "二、各单位解决率与满意率", DATASETS, lambda: _units(ctx)),
        ctx.section("unsatisfied", "三、不满意诉求分析", DATASETS, lambda: _unsatisfied(ctx)),
        ctx.section("falling", "四、满意率下降的单位", DATASETS, lambda: _falling(ctx)),
    ]


def _week(ctx: Context) -> dict[str, Any]:
    return {"start": ctx.period.starts_at, "end": ctx.period.ends_at}


def _visits(ctx: Context) -> list[Any]:
    overview = ctx.query("""
        select
            count(*) as visits,
            count(*) filter (where is_visit_answered) as answered,
            count(*) filter (where return_visit_satisfaction = 'satisfied') as satisfied,
            count(*) filter (where return_visit_satisfaction = 'basically_satisfied') as basically_satisfied,
            count(*) filter (where return_visit_satisfaction = 'unsatisfied') as unsatisfied,
            count(*) filter (where return_visit_satisfaction = 'unreachable') as unreachable,
            count(*) filter (where is_visit_resolved) as resolved
        from hotline_requests where return_visited_at >= $start and return_visited_at < $end""", _week(ctx))
    daily = ctx.query("""
        select strftime(cast(return_visited_at as date), '%m-%d') as day, return_visit_satisfaction as outcome,
            count(*) as visits
        from hotline_requests where return_visited_at >= $start and return_visited_at < $end
        group by all order by day, outcome""", _week(ctx))
    order = list(labels.SATISFACTION)
    for row in daily:
        row["stack_order"] = order.index(row["outcome"]) if row["outcome"] in order else len(order)
        row["outcome"] = labels.SATISFACTION.get(row["outcome"], row["outcome"])
    blocks: list[Any] = [TableBlock("weekly.overview", "本周回访", [
        Column("visits", "回访工单", "int"), Column("answered", "接通", "int"), Column("resolved", "表示已解决", "int"),
        Column("satisfied", "满意", "int"), Column("basically_satisfied", "基本满意", "int"),
        Column("unsatisfied", "不满意", "int"), Column("unreachable", "未联系上", "int")],
        overview, DATASETS, cards=True)]
    if daily:
        blocks.append(ChartBlock("weekly.daily_chart", "每日回访结果", charts.stacked_bars(
            daily, x="day", y="visits", stack="outcome", x_title="日期", y_title="回访工单",
            order=list(labels.SATISFACTION.values())), DATASETS))
    return blocks


_UNIT_RATES = """
    select
        final_unit_type as unit_type, final_unit_code as unit_code,
        arg_max(final_unit_name, return_visited_at) as unit_name,
        count(*) as visits_answered,
        count(*) filter (where is_visit_resolved) as visits_resolved,
        count(*) filter (where is_visit_resolved) / count(*) as resolution_rate,
        (count(*) filter (where is_visit_satisfied)
            + $weight * count(*) filter (where is_visit_basically_satisfied)) / count(*) as satisfaction_rate
    from hotline_requests
    where return_visited_at >= $start and return_visited_at < $end
        and is_counted_in_rates and is_visit_answered and final_unit_type in ('street', 'department')
    group by all"""


def _units(ctx: Context) -> list[Any]:
    rows = ctx.query(_UNIT_RATES + " order by unit_type desc, satisfaction_rate desc, resolution_rate desc, unit_code",
                     {**_week(ctx), "weight": ctx.settings.kpi.basically_satisfied})
    columns = [Column("unit_name", "单位"), Column("visits_answered", "接通回访", "int"),
               Column("visits_resolved", "表示已解决", "int"), Column("resolution_rate", "解决率", "rate"),
               Column("satisfaction_rate", "满意率", "rate")]
    streets = [row for row in rows if row["unit_type"] == "street"]
    note = f"按本周完成回访的工单统计（计入考核的工单，未联系上的不计）；{ctx.satisfaction_rule}。"
    return [
        TableBlock("weekly.units_streets", "街道", columns, streets, DATASETS, note=note),
        ChartBlock("weekly.units_map", "各街道本周满意率", charts.street_tiles(
            {row["unit_code"]: row["satisfaction_rate"] for row in streets}, title="满意率", percent=True),
            DATASETS),
        TableBlock("weekly.units_departments", "部门", columns,
                   [row for row in rows if row["unit_type"] == "department"], DATASETS),
    ]


def _unsatisfied(ctx: Context) -> list[Any]:
    base = f"""
        select {_REASON_SQL} as reason, service_group, service_code, service_name, received_at
        from hotline_requests
        where return_visited_at >= $start and return_visited_at < $end
            and return_visit_satisfaction = 'unsatisfied'"""
    reasons = ctx.query(f"""
        select reason, count(*) as orders, count(*) / sum(count(*)) over () as share
        from ({base}) group by reason order by orders desc, reason""", _week(ctx))
    by_group = ctx.query(f"""
        select reason, service_group, count(*) as orders
        from ({base}) group by all order by orders desc, reason, service_group nulls last""", _week(ctx))
    # a matter's name: the one its latest order carries (as the daily bulletin names matters)
    by_service = ctx.query(f"""
        select service_code, arg_max(service_name, received_at) as service_name, count(*) as orders,
            string_agg(distinct reason, '、' order by reason) as reasons
        from ({base}) group by service_code order by orders desc, service_code limit 10""", _week(ctx))
    for row in by_group:
        row["group_name"] = labels.service_group(row["service_group"])
    blocks: list[Any] = [TableBlock("weekly.reasons", "不满意原因", [
        Column("reason", "原因"), Column("orders", "工单数", "int"), Column("share", "占比", "rate")],
        reasons, DATASETS, empty="本周无不满意回访。",
        note="原因按工单记录判定，依次取：诉求未解决、办理超期、响应不及时、多次转派（有退单），其余为已解决仍不满意。")]
    if reasons:
        blocks.append(ChartBlock("weekly.reasons_chart", "不满意原因分布", charts.bars(
            reasons, category="reason", value="orders", value_title="工单数",
            color="#d64545"), DATASETS))
    blocks += [
        TableBlock("weekly.reasons_groups", "按原因与诉求类别", [
            Column("reason", "原因"), Column("group_name", "诉求类别"), Column("orders", "工单数", "int")],
            by_group, DATASETS, empty="本周无不满意回访。"),
        TableBlock("weekly.reasons_services", "不满意较多的事项", [
            Column("service_name", "事项"), Column("orders", "工单数", "int"), Column("reasons", "涉及原因")],
            by_service, DATASETS, empty="本周无不满意回访。"),
    ]
    return blocks


def _falling(ctx: Context) -> list[Any]:
    previous = {"start": ctx.period.starts_at - timedelta(days=7), "end": ctx.period.starts_at}
    weight = ctx.settings.kpi.basically_satisfied
    rows = ctx.query(f"""
        with this_week as ({_UNIT_RATES}),
        last_week as ({_UNIT_RATES.replace("$start", "$previous_start").replace("$end", "$previous_end")})
        select
            this_week.unit_type, this_week.unit_code, this_week.unit_name,
            last_week.satisfaction_rate as previous_rate, this_week.satisfaction_rate,
            this_week.satisfaction_rate - last_week.satisfaction_rate as change,
            last_week.visits_answered as previous_answered, this_week.visits_answered
        from this_week
        inner join last_week using (unit_type, unit_code)
        where this_week.satisfaction_rate < last_week.satisfaction_rate
        order by change, this_week.unit_type desc, this_week.unit_code""",
        {**_week(ctx), "previous_start": previous["start"], "previous_end": previous["end"], "weight": weight})
    for row in rows:
        row["unit_type_name"] = labels.unit_type(row["unit_type"])
    return [TableBlock("weekly.falling", "满意率较上周下降的单位", [
        Column("unit_type_name", "类型"), Column("unit_name", "单位"), Column("previous_rate", "上周满意率", "rate"),
        Column("satisfaction_rate", "本周满意率", "rate"), Column("change", "变化", "rate_delta"),
        Column("previous_answered", "上周接通", "int"), Column("visits_answered", "本周接通", "int")],
        rows, DATASETS, empty="本周无满意率较上周下降的单位（或上周无可比较的回访）。")]
