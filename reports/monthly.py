"""月度分析报告: the month before the issue date - high-frequency areas and matters against the previous month and
the same month a year before, repeat hotspots and the long-standing problem ledger, seasonal patterns, grid-case
closed-loop performance, transfer times between units, the enterprises at high risk, and the month's rankings."""

from __future__ import annotations

from typing import Any

from reports import charts, labels
from reports.context import Context
from reports.model import ChartBlock, Column, NoteBlock, Section, TableBlock

__all__ = ["DATASETS", "sections"]

DATASETS = ["hotspots_monthly", "hotline_requests", "problem_ledger", "seasonal_patterns", "grid_case_lifecycle",
            "hotline_kpi_monthly", "enterprise_profile"]
_WEEKDAYS = ["", "周一", "周二", "周三", "周四", "周五", "周六", "周日"]
_ENTRY_RULES = {"repeat_hotspot": "屡治屡返", "channels": "多渠道持续反映", "both": "两项均满足"}
_CHANNELS = {"hotline": "热线", "grid": "网格", "enforcement": "执法", "sensor": "感知设备"}
_COMPARE = [Column("previous_month_orders", "上月", "int"), Column("change_vs_previous_month", "环比", "delta"),
            Column("previous_year_orders", "去年同月", "int"), Column("change_vs_previous_year", "同比", "delta")]
_COMPARE_NOTE = "“—”表示对比月份的数据不完整，无法比较。"


def sections(ctx: Context) -> list[Section]:
    return [
        ctx.section("areas", "一、高频区域", ["hotspots_monthly", "hotline_requests"], lambda: _areas(ctx)),
        ctx.section("matters", "二、高频事项", ["hotspots_monthly"], lambda: _matters(ctx)),
        ctx.section("repeat", "三、屡治屡返点位与老大难问题台账", ["hotspots_monthly", "problem_ledger"],
                    lambda: _repeat(ctx)),
        ctx.section("seasonal", "四、季节性与周期性规律", ["seasonal_patterns"], lambda: _seasonal(ctx)),
        ctx.section("grid", "五、网格案件闭环情况", ["grid_case_lifecycle"], lambda: _grid(ctx)),
        ctx.section("transfer", "六、跨部门流转耗时", ["hotline_kpi_monthly", "hotline_requests"],
                    lambda: _transfer(ctx)),
        ctx.section("enterprises", "七、高风险企业", ["enterprise_profile"], lambda: _enterprises(ctx)),
        ctx.section("ranking", "八、本月“三率”排名", ["hotline_kpi_monthly"], lambda: _ranking(ctx)),
    ]


def _month(ctx: Context) -> dict[str, Any]:
    return {"month": ctx.period.start}


def _coverage(ctx: Context, dataset: str) -> list[Any]:
    rows = ctx.query(f"select max(days_observed) as days, bool_and(is_period_complete) as complete from {dataset} "
                     "where period_month = $month", _month(ctx))
    if rows and rows[0]["days"] is not None and not rows[0]["complete"]:
        return [NoteBlock(f"本月数据仅覆盖 {rows[0]['days']} 天，以下为已覆盖天数的统计。", "warning")]
    return []


def _areas(ctx: Context) -> list[Any]:
    communities = ctx.query("""
        select frequency_rank, street_code, community_code, orders, previous_month_orders, change_vs_previous_month,
            previous_year_orders, change_vs_previous_year
        from hotspots_monthly where hotspot_kind = 'high_frequency_community' and period_month = $month
        order by frequency_rank, community_code""", _month(ctx))
    grids = ctx.query("""
        select frequency_rank, street_code, community_code, grid_code, orders, previous_month_orders,
            change_vs_previous_month, previous_year_orders, change_vs_previous_year
        from hotspots_monthly where hotspot_kind = 'high_frequency_grid' and period_month = $month
        order by frequency_rank, grid_code limit 10""", _month(ctx))
    by_street = ctx.query("""
        select street_code, count(*) as orders from hotline_requests
        where received_at >= $start and received_at < $end and street_code is not null
        group by street_code""", {"start": ctx.period.starts_at, "end": ctx.period.ends_at})
    trend = ctx.orders_per_day(ctx.period.start, ctx.period.last_day)
    for row in communities + grids:
        row["street_name"] = labels.street(row["street_code"])
        row["community_name"] = labels.community(row["community_code"])
    return [
        *_coverage(ctx, "hotspots_monthly"),
        ChartBlock("monthly.trend", "本月每日受理量", charts.lines(
            trend, x="day", y="orders", series=None, x_title="日期", y_title="工单数"), ["hotline_requests"]),
        ChartBlock("monthly.streets_map", "各街道本月受理量", charts.street_tiles(
            {row["street_code"]: row["orders"] for row in by_street}, title="工单数", higher_is_better=False),
            ["hotline_requests"]),
        TableBlock("monthly.communities", "高频社区", [
            Column("frequency_rank", "排名", "int"), Column("street_name", "街道"),
            Column("community_name", "社区"), Column("orders", "本月工单", "int"), *_COMPARE],
            communities, ["hotspots_monthly"], note=_COMPARE_NOTE),
        TableBlock("monthly.grids", "高频单元网格（前十）", [
            Column("frequency_rank", "排名", "int"), Column("grid_code", "网格"), Column("community_name", "社区"),
            Column("orders", "本月工单", "int"), *_COMPARE], grids, ["hotspots_monthly"]),
    ]


def _matters(ctx: Context) -> list[Any]:
    rows = ctx.query("""
        select frequency_rank, service_code, service_name, service_group, orders, previous_month_orders,
            change_vs_previous_month, previous_year_orders, change_vs_previous_year
        from hotspots_monthly where hotspot_kind = 'high_frequency_service' and period_month = $month
        order by frequency_rank, service_code""", _month(ctx))
    for row in rows:
        row["group_name"] = labels.service_group(row["service_group"])
    blocks: list[Any] = [TableBlock("monthly.services", "高频事项", [
        Column("frequency_rank", "排名", "int"), Column("service_name", "事项"), Column("group_name", "类别"),
        Column("orders", "本月工单", "int"), *_COMPARE], rows, ["hotspots_monthly"], note=_COMPARE_NOTE)]
    if rows:
        blocks.insert(0, ChartBlock("monthly.services_chart", "高频事项（前十）", charts.bars(
            rows[:10], category="service_name", value="orders", value_title="本月工单"),
            ["hotspots_monthly"]))
    return blocks


def _repeat(ctx: Context) -> list[Any]:
    hotspots = ctx.query("""
        select street_code, community_code, service_group, hotspot_orders, returned_orders, first_qualified_at
        from hotspots_monthly where hotspot_kind = 'repeat_hotspot' and period_month = $month
        order by hotspot_orders desc, community_code, service_group""", _month(ctx))
    ledger = ctx.query("""
        select street_code, community_code, service_group, entry_rule, hotspot_months, channel_streak_months,
            array_to_string(channels, ',') as channels, orders, grid_cases, enforcement_cases, exceedances,
            open_events, period_month
        from problem_ledger where is_ledger_entry
        order by open_events desc, orders desc, community_code, service_group""")
    evaluated = ctx.query("select max(period_month) as month from problem_ledger")[0]["month"]
    for row in hotspots + ledger:
        row["street_name"] = labels.street(row["street_code"])
        row["community_name"] = labels.community(row["community_code"])
        row["group_name"] = labels.service_group(row["service_group"])
    for row in ledger:
        row["rule_name"] = _ENTRY_RULES.get(row["entry_rule"], row["entry_rule"])
        row["channel_names"] = "、".join(_CHANNELS.get(item, item) for item in (row["channels"] or "").split(",")
                                        if item)
    as_of = f"{evaluated:%Y年%m月}" if evaluated else "—"
    return [
        TableBlock("monthly.repeat_hotspots", "本月屡治屡返点位", [
            Column("street_name", "街道"), Column("community_name", "社区"), Column("group_name", "诉求类别"),
            Column("hotspot_orders", "30日内工单", "int"), Column("returned_orders", "办结后复发", "int"),
            Column("first_qualified_at", "形成时间", "datetime")], hotspots, ["hotspots_monthly"],
            empty="本月无屡治屡返点位。"),
        TableBlock("monthly.ledger", f"老大难问题台账（评估至{as_of}）", [
            Column("street_name", "街道"), Column("community_name", "社区"), Column("group_name", "诉求类别"),
            Column("rule_name", "列入依据"), Column("hotspot_months", "屡治屡返月数", "int"),
            Column("channel_streak_months", "多渠道连续月数", "int"), Column("channel_names", "反映渠道"),
            Column("orders", "热线工单", "int"), Column("grid_cases", "网格案件", "int"),
            Column("enforcement_cases", "执法案件", "int"), Column("exceedances", "设备超标", "int"),
            Column("open_events", "未办结", "int")], ledger, ["problem_ledger"],
            note="列入条件：近6个月中3个月以上为屡治屡返点位，或连续3个月有2个以上渠道反映。台账为最新评估结果。",
            empty="台账暂无条目。"),
    ]


def _seasonal(ctx: Context) -> list[Any]:
    # the peak hour and weekday: the bucket with the largest share, the earliest of those that tie for it
    groups = ctx.query("""
        select
            service_group, any_value(service_group_name) as group_name, any_value(group_orders) as group_orders,
            first(bucket order by share_of_orders desc, bucket) filter (where pattern = 'hour_of_day') as peak_hour,
            first(bucket order by share_of_orders desc, bucket) filter (where pattern = 'day_of_week') as peak_weekday,
            any_value(months_observed) as months_observed,
            any_value(complete_years_observed) as complete_years_observed,
            any_value(is_seasonal) as is_seasonal,
            any_value(array_to_string(seasonal_months, ',')) as seasonal_months
        from seasonal_patterns group by service_group
        having any_value(group_orders) > 0
        order by group_orders desc, service_group""")
    for row in groups:
        row["peak_hour_text"] = f"{row['peak_hour']}时" if row["peak_hour"] is not None else None
        row["peak_weekday_text"] = _WEEKDAYS[row["peak_weekday"]] if row["peak_weekday"] else None
        if row["is_seasonal"] is None:
            row["seasonal_text"] = f"数据不足，无法判定（已观测{row['months_observed']}个月，需两个完整年度）"
        elif row["is_seasonal"]:
            row["seasonal_text"] = "季节性：" + "、".join(f"{m}月" for m in row["seasonal_months"].split(","))
        else:
            row["seasonal_text"] = "无明显季节性"
    hours = ctx.query("""
        select service_group_name as group_name, bucket as hour, share_of_orders
        from seasonal_patterns where pattern = 'hour_of_day' and group_orders > 0
        order by service_group, bucket""")
    blocks: list[Any] = [TableBlock("monthly.seasonal", "各类诉求的时段与季节特征", [
        Column("group_name", "类别"), Column("group_orders", "工单总数", "int"), Column("peak_hour_text", "高峰时段"),
        Column("peak_weekday_text", "高峰日"), Column("seasonal_text", "季节性")], groups, ["seasonal_patterns"],
        note="季节性：某月工单量超过该类年均月量1.5倍，且连续两个完整年度出现。")]
    if hours:
        blocks.append(ChartBlock("monthly.hours_chart", "各类诉求按小时分布（占该类工单比例）", charts.heatmap(
            hours, x="hour", y="group_name", value="share_of_orders", x_title="时",
            value_title="占比"), ["seasonal_patterns"]))
    return blocks


def _grid(ctx: Context) -> list[Any]:
    window = {"start": ctx.period.start, "end": ctx.period.end}
    streets = ctx.query("""
        select
            street_code,
            count(*) filter (where not is_voided) as cases,
            count(*) filter (where is_closed) as closed,
            count(*) filter (where is_closed_on_time) as closed_on_time,
            count(*) filter (where is_closed_on_time) / nullif(count(*) filter (where is_counted_in_on_time_rate), 0)
                as on_time_rate,
            count(*) filter (where is_returned and is_counted_in_return_rate)
                / nullif(count(*) filter (where is_counted_in_return_rate), 0) as return_rate,
            avg(closure_hours) filter (where is_counted_in_durations) as mean_closure_hours
        from grid_case_lifecycle
        where reported_date >= $start and reported_date < $end and street_code is not null
        group by street_code order by on_time_rate desc nulls last, street_code""", window)
    steps = ctx.query("""
        select
            avg(file_hours) as file_hours, avg(dispatch_hours) as dispatch_hours, avg(handle_hours) as handle_hours,
            avg(feedback_hours) as feedback_hours, avg(verify_close_hours) as verify_close_hours,
            avg(evaluate_hours) as evaluate_hours
        from grid_case_lifecycle
        where reported_date >= $start and reported_date < $end and is_counted_in_durations""", window)
    for row in streets:
        row["street_name"] = labels.street(row["street_code"])
    names = {"file_hours": "案卷建立", "dispatch_hours": "任务派遣", "handle_hours": "任务处理",
             "feedback_hours": "处理反馈", "verify_close_hours": "核实结案", "evaluate_hours": "综合评价"}
    step_rows = [{"step": label, "hours": steps[0][key]} for key, label in names.items()
                 if steps and steps[0][key] is not None]
    blocks: list[Any] = [
        TableBlock("monthly.grid_streets", "各街道网格案件闭环", [
            Column("street_name", "街道"), Column("cases", "立案", "int"), Column("closed", "结案", "int"),
            Column("closed_on_time", "按期结案", "int"), Column("on_time_rate", "按期结案率", "rate"),
            Column("return_rate", "返工率", "rate"), Column("mean_closure_hours", "平均结案时长（小时）", "hours")],
            streets, ["grid_case_lifecycle"],
            note="按本月上报的案件统计；按期结案率的分母为已结案或已超期的案件；返工率＝有退回环节的案件÷案件。"),
        TableBlock("monthly.grid_steps", "七步闭环各环节平均耗时（小时）",
                   [Column(key, label, "hours") for key, label in names.items()], steps, ["grid_case_lifecycle"],
                   cards=True),
    ]
    if step_rows:
        blocks.append(ChartBlock("monthly.grid_steps_chart", "各环节平均耗时", charts.bars(
            step_rows, category="step", value="hours", value_title="小时", decimals=1),
            ["grid_case_lifecycle"]))
    return blocks


def _transfer(ctx: Context) -> list[Any]:
    units = ctx.query("""
        select unit_type, unit_code, unit_name, orders, mean_transfer_hours, dispatches, returns
        from hotline_kpi_monthly where period_month = $month and orders > 0
        order by mean_transfer_hours desc nulls last, unit_type desc, unit_code""", _month(ctx))
    district = ctx.query("""
        select
            count(*) as orders,
            quantile_cont(transfer_hours, 0.5) as median_transfer_hours,
            quantile_cont(transfer_hours, 0.9) as p90_transfer_hours,
            count(*) filter (where dispatch_count > 1) as redispatched,
            count(*) filter (where return_count > 0) as returned
        from hotline_requests where period_month = $month and is_due""", _month(ctx))
    for row in units:
        row["unit_type_name"] = labels.unit_type(row["unit_type"])
    return [
        TableBlock("monthly.transfer_overview", "全区（本月已到期工单）", [
            Column("orders", "工单", "int"), Column("median_transfer_hours", "流转耗时中位数（小时）", "hours"),
            Column("p90_transfer_hours", "90%工单在（小时）内", "hours"),
            Column("redispatched", "多次派单", "int"), Column("returned", "有退单", "int")],
            district, ["hotline_requests"], cards=True),
        TableBlock("monthly.transfer_units", "各单位平均流转耗时", [
            Column("unit_type_name", "类型"), Column("unit_name", "单位"), Column("orders", "工单", "int"),
            Column("mean_transfer_hours", "平均流转耗时（小时）", "hours"), Column("dispatches", "派单次数", "int"),
            Column("returns", "退单次数", "int")], units, ["hotline_kpi_monthly"],
            note="流转耗时：受理至最终承办单位签收；退单计入退回的单位。"),
    ]


def _enterprises(ctx: Context) -> list[Any]:
    rows = ctx.query("""
        select uscc, enterprise_name, street_code, industry_code, credit_level, risk_rule,
            array_to_string(risk_rules_fired, ',') as rules, penalties_in_force, black_lists_in_force,
            enforcement_cases, enforcement_open_cases, reference_date
        from enterprise_profile where risk_level = 'high'
        order by black_lists_in_force desc, enforcement_cases desc, uscc""")
    for row in rows:
        row["street_name"] = labels.street(row["street_code"]) if row["street_code"] else "—"
        row["rule_names"] = "、".join(labels.RISK_RULES.get(rule, rule) for rule in (row["rules"] or "").split(",")
                                      if rule)
    day = rows[0]["reference_date"] if rows else None
    return [TableBlock("monthly.enterprises", "高风险企业" + (f"（截至{day:%Y年%m月%d日}）" if day else ""), [
        Column("enterprise_name", "企业"), Column("uscc", "统一社会信用代码"), Column("street_name", "街道"),
        Column("credit_level", "信用等级"), Column("rule_names", "风险依据"),
        Column("penalties_in_force", "有效处罚", "int"), Column("black_lists_in_force", "失信惩戒", "int"),
        Column("enforcement_cases", "执法案件", "int"), Column("enforcement_open_cases", "在办案件", "int")],
        rows, ["enterprise_profile"], empty="暂无高风险企业。",
        note="高风险：列入失信惩戒名单、信用等级D，或一年内多次被处罚款。")]


def _ranking(ctx: Context) -> list[Any]:
    rows = ctx.query("""
        select unit_type, unit_code, unit_name, orders, orders_counted, response_rate, resolution_rate,
            satisfaction_rate, composite_score, unit_rank, is_period_complete
        from hotline_kpi_monthly where period_month = $month
        order by unit_type desc, unit_rank nulls last, unit_code""", _month(ctx))
    columns = [Column("unit_rank", "排名", "int"), Column("unit_name", "单位"), Column("orders", "到期工单", "int"),
               Column("orders_counted", "计入考核", "int"), Column("response_rate", "响应率", "rate"),
               Column("resolution_rate", "解决率", "rate"), Column("satisfaction_rate", "满意率", "rate"),
               Column("composite_score", "综合得分", "score")]
    streets = [row for row in rows if row["unit_type"] == "street"]
    blocks: list[Any] = []
    if rows and not all(row["is_period_complete"] for row in rows):
        blocks.append(NoteBlock("本月尚未结束或数据未覆盖全月，排名为截至数据日期的结果。", "warning"))
    return blocks + [
        TableBlock("monthly.ranking_streets", "街道排名", columns, streets, ["hotline_kpi_monthly"],
                   note=f"{ctx.score_rule}；按本月到期的工单计。"),
        ChartBlock("monthly.ranking_map", "各街道综合得分", charts.street_tiles(
            {row["unit_code"]: row["composite_score"] for row in streets}, title="综合得分"),
            ["hotline_kpi_monthly"]),
        TableBlock("monthly.ranking_departments", "部门排名", columns,
                   [row for row in rows if row["unit_type"] == "department"], ["hotline_kpi_monthly"]),
    ]
