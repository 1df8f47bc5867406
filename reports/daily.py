"""每日专报: the day before the issue date - orders by channel and matter, the month-to-date rates and ranks of
streets and departments with the change in rank, overdue and late orders by unit, new repeat hotspots, sensor
exceedances by domain, and the five matters that rose most."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from reports import charts, labels
from reports.context import Context
from reports.model import ChartBlock, Column, Section, TableBlock

__all__ = ["DATASETS", "sections"]

DATASETS = ["hotline_requests", "hotline_kpi_daily", "hotspots_monthly", "iot_domain_daily"]
TREND_DAYS = 14


def sections(ctx: Context) -> list[Section]:
    return [
        ctx.section("orders", "一、昨日诉求受理情况", ["hotline_requests"], lambda: _orders(ctx)),
        ctx.section("rates", "二、本月累计“三率”及排名", ["hotline_kpi_daily"], lambda: _rates(ctx)),
        ctx.section("overdue", "三、超期办理与响应超时", ["hotline_kpi_daily"], lambda: _overdue(ctx)),
        ctx.section("hotspots", "四、新增屡治屡返点位", ["hotspots_monthly"], lambda: _hotspots(ctx)),
        ctx.section("sensors", "五、感知设备超标情况", ["iot_domain_daily"], lambda: _sensors(ctx)),
        ctx.section("rising", "六、上升最快的五类事项", ["hotline_requests"], lambda: _rising(ctx)),
    ]


def _orders(ctx: Context) -> list[Any]:
    day = ctx.period.start
    before = day - timedelta(days=1)
    overview = ctx.query("""
        select
            count(*) filter (where cast(received_at as date) = $day) as received,
            count(*) filter (where cast(received_at as date) = $day) - count(*) filter (
                where cast(received_at as date) = $before) as received_change,
            count(*) filter (where cast(resolved_at as date) = $day) as resolved,
            count(*) filter (where cast(return_visited_at as date) = $day) as visited,
            count(*) filter (where cast(received_at as date) = $day and urgency in ('urgent', 'utility'))
                as urgent
        from hotline_requests""", {"day": day, "before": before})
    channels = ctx.query("""
        select channel, count(*) as orders, count(*) / sum(count(*)) over () as share
        from hotline_requests where cast(received_at as date) = ?
        group by channel order by orders desc, channel""", [day])
    for row in channels:
        row["channel_name"] = labels.CHANNELS.get(row["channel"], row["channel"] or "未知")
    groups = ctx.query("""
        select service_group, count(*) as orders
        from hotline_requests where cast(received_at as date) = ?
        group by service_group order by orders desc, service_group nulls last""", [day])
    for row in groups:
        row["group_name"] = labels.service_group(row["service_group"])
    services = ctx.query("""
        select service_code, arg_max(service_name, received_at) as service_name, count(*) as orders
        from hotline_requests where cast(received_at as date) = ?
        group by service_code order by orders desc, service_code limit 10""", [day])
    trend = ctx.orders_per_day(day - timedelta(days=TREND_DAYS - 1), day)
    blocks: list[Any] = [
        TableBlock("daily.overview", "昨日概况", [
            Column("received", "受理工单", "int"), Column("received_change", "较前一日", "delta"),
            Column("urgent", "其中紧急/公共事业", "int"), Column("resolved", "办结工单", "int"),
            Column("visited", "完成回访", "int")], overview, ["hotline_requests"], cards=True),
        ChartBlock("daily.trend", f"近{TREND_DAYS}日受理量趋势",
                   charts.lines(trend, x="day", y="orders", series=None, x_title="日期", y_title="工单数"),
                   ["hotline_requests"]),
        TableBlock("daily.channels", "按受理渠道", [
            Column("channel_name", "渠道"), Column("orders", "工单数", "int"), Column("share", "占比", "rate")],
            channels, ["hotline_requests"]),
        TableBlock("daily.groups", "按诉求类别", [
            Column("group_name", "类别"), Column("orders", "工单数", "int")], groups, ["hotline_requests"]),
    ]
    if groups:
        blocks.append(ChartBlock("daily.groups_chart", "各类别受理量", charts.bars(
            groups, category="group_name", value="orders", value_title="工单数"),
            ["hotline_requests"]))
    blocks.append(TableBlock("daily.services", "受理量前十的事项", [
        Column("service_name", "事项"), Column("service_code", "事项编码"), Column("orders", "工单数", "int")],
        services, ["hotline_requests"]))
    return blocks


_RATE_COLUMNS = [
    Column("unit_rank", "排名", "int"), Column("unit_name", "单位"), Column("orders_counted", "计入工单", "int"),
    Column("response_rate", "响应率", "rate"), Column("resolution_rate", "解决率", "rate"),
    Column("satisfaction_rate", "满意率", "rate"), Column("composite_score", "综合得分", "score")]


def _rates(ctx: Context) -> list[Any]:
    day = ctx.period.start
    rows = ctx.query("""
        select
            today.unit_type, today.unit_code, today.unit_name, today.orders_counted, today.response_rate,
            today.resolution_rate, today.satisfaction_rate, today.composite_score, today.unit_rank,
            today.units_ranked, before.unit_rank as previous_rank,
            before.unit_rank - today.unit_rank as rank_change
        from hotline_kpi_daily as today
        left join hotline_kpi_daily as before
            on before.unit_type = today.unit_type and before.unit_code = today.unit_code
            and before.kpi_date = today.kpi_date - 1 and before.period_month = today.period_month
        where today.kpi_date = ?
        order by today.unit_type desc, today.unit_rank nulls last, today.unit_code""", [day])
    columns = [*_RATE_COLUMNS, Column("rank_change", "排名变化", "rank_change")]
    note = (f"排名按综合得分从高到低（{ctx.score_rule}）；排名变化与前一日比较"
            + ("（本月首日，无可比较）。" if day.day == 1 else "。"))
    streets = [row for row in rows if row["unit_type"] == "street"]
    departments = [row for row in rows if row["unit_type"] == "department"]
    return [
        TableBlock("daily.rates_streets", f"街道（{day:%m月%d日}本月累计）", columns, streets,
                   ["hotline_kpi_daily"], note=note),
        ChartBlock("daily.rates_map", "各街道综合得分", charts.street_tiles(
            {row["unit_code"]: row["composite_score"] for row in streets}, title="综合得分"),
            ["hotline_kpi_daily"]),
        TableBlock("daily.rates_departments", f"部门（{day:%m月%d日}本月累计）", columns, departments,
                   ["hotline_kpi_daily"]),
    ]


def _overdue(ctx: Context) -> list[Any]:
    day = ctx.period.start
    rows = ctx.query("""
        select
            today.unit_type, today.unit_code, today.unit_name, today.orders,
            today.overdue_orders, today.overdue_orders - coalesce(before.overdue_orders, 0) as overdue_change,
            today.late_response_orders,
            today.late_response_orders - coalesce(before.late_response_orders, 0) as late_change
        from hotline_kpi_daily as today
        left join hotline_kpi_daily as before
            on before.unit_type = today.unit_type and before.unit_code = today.unit_code
            and before.kpi_date = today.kpi_date - 1 and before.period_month = today.period_month
        where today.kpi_date = ? and (today.overdue_orders > 0 or today.late_response_orders > 0)
        order by today.overdue_orders desc, today.late_response_orders desc, today.unit_type desc,
            today.unit_code""", [day])
    for row in rows:
        row["unit_type_name"] = labels.unit_type(row["unit_type"])
    return [TableBlock("daily.overdue", "超期与响应超时的单位（本月累计）", [
        Column("unit_type_name", "类型"), Column("unit_name", "单位"), Column("orders", "到期工单", "int"),
        Column("overdue_orders", "超期办理", "int"), Column("overdue_change", "较前一日", "delta"),
        Column("late_response_orders", "响应超时", "int"), Column("late_change", "较前一日", "delta")],
        rows, ["hotline_kpi_daily"], empty="本月至今无超期办理或响应超时的工单。")]


def _hotspots(ctx: Context) -> list[Any]:
    day = ctx.period.start
    rows = ctx.query("""
        select street_code, community_code, service_group, hotspot_orders, returned_orders,
            window_first_received_at, first_qualified_at
        from hotspots_monthly
        where hotspot_kind = 'repeat_hotspot' and cast(first_qualified_at as date) = ?
        order by hotspot_orders desc, community_code, service_group""", [day])
    month_total = ctx.query("""
        select count(*) as hotspots from hotspots_monthly
        where hotspot_kind = 'repeat_hotspot' and period_month = ?""", [day.replace(day=1)])
    for row in rows:
        row["street_name"] = labels.street(row["street_code"])
        row["community_name"] = labels.community(row["community_code"])
        row["group_name"] = labels.service_group(row["service_group"])
    return [
        TableBlock("daily.hotspots", "昨日新形成的屡治屡返点位", [
            Column("street_name", "街道"), Column("community_name", "社区"), Column("group_name", "诉求类别"),
            Column("hotspot_orders", "30日内工单", "int"), Column("returned_orders", "办结后复发", "int"),
            Column("window_first_received_at", "首次诉求", "datetime"),
            Column("first_qualified_at", "形成时间", "datetime")], rows, ["hotspots_monthly"],
            note="屡治屡返：同一社区同类诉求30日内3件及以上，且有诉求在此前诉求办结后再次发生。",
            empty="昨日无新形成的屡治屡返点位。"),
        TableBlock("daily.hotspots_month", "本月累计", [Column("hotspots", "本月屡治屡返点位", "int")],
                   month_total, ["hotspots_monthly"], cards=True),
    ]


def _sensors(ctx: Context) -> list[Any]:
    day = ctx.period.start
    rows = ctx.query("""
        select
            domain_code,
            sum(exceedance_episodes) filter (where activity_date = $day) as episodes,
            sum(exceedance_episodes) filter (where activity_date = $before) as previous_episodes,
            sum(exceedance_readings) filter (where activity_date = $day) as exceedance_readings,
            sum(valid_readings) filter (where activity_date = $day) as valid_readings,
            sum(offline_gaps) filter (where activity_date = $day) as offline_gaps
        from iot_domain_daily
        where activity_date in ($day, $before) and exceedance_readings is not null
        group by domain_code order by episodes desc nulls last, domain_code""",
        {"day": day, "before": day - timedelta(days=1)})
    rows = [row for row in rows if row["valid_readings"] is not None]
    for row in rows:
        row["domain_name"] = labels.domain(row["domain_code"])
        row["episodes"] = row["episodes"] or 0
        row["episodes_change"] = row["episodes"] - (row["previous_episodes"] or 0)
    by_street = ctx.query("""
        select street_code, sum(exceedance_episodes) as episodes
        from iot_domain_daily where activity_date = ? and street_code is not null
        group by street_code""", [day])
    return [
        TableBlock("daily.sensors", "各领域超标情况", [
            Column("domain_name", "领域"), Column("episodes", "超标事件", "int"),
            Column("episodes_change", "较前一日", "delta"), Column("exceedance_readings", "超标读数", "int"),
            Column("valid_readings", "有效读数", "int"), Column("offline_gaps", "离线中断", "int")],
            rows, ["iot_domain_daily"],
            note="超标事件：同一设备连续超过阈值的读数记为一次；有效读数不含尖峰与卡滞读数。",
            empty="昨日无设备读数。"),
        ChartBlock("daily.sensors_map", "各街道超标事件", charts.street_tiles(
            {row["street_code"]: row["episodes"] for row in by_street}, title="超标事件",
            higher_is_better=False), ["iot_domain_daily"]),
    ]


def _rising(ctx: Context) -> list[Any]:
    day = ctx.period.start
    rows = ctx.query("""
        with counts as (
            select
                service_code,
                arg_max(service_name, received_at) as service_name,
                count(*) filter (where cast(received_at as date) = $day) as orders,
                count(*) filter (where cast(received_at as date) = $before) as previous_orders
            from hotline_requests
            where cast(received_at as date) in ($day, $before)
            group by service_code
        )
        select *, orders - previous_orders as rise from counts
        where orders > previous_orders
        order by rise desc, orders desc, service_code limit 5""", {"day": day, "before": day - timedelta(days=1)})
    blocks: list[Any] = [TableBlock("daily.rising", "较前一日上升最多的事项", [
        Column("service_name", "事项"), Column("orders", "昨日", "int"), Column("previous_orders", "前一日", "int"),
        Column("rise", "增加", "delta")], rows, ["hotline_requests"], empty="昨日无较前一日上升的事项。")]
    if rows:
        blocks.append(ChartBlock("daily.rising_chart", "上升最多的事项", charts.bars(
            rows, category="service_name", value="rise", value_title="较前一日增加"),
            ["hotline_requests"]))
    return blocks
