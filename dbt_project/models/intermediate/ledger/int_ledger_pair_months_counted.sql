-- One row per (community, service group, Beijing month) with a counted event of the ledger's channels
-- (int_ledger_events_grouped) or in which the pair was a repeat hotspot: the month's facts the ledger's two rules
-- read (kpis.md):
--   is_repeat_hotspot  an order received in the month makes the pair a repeat hotspot (屡治屡返): an anchor of
--                      int_hotspot_orders_windowed, exactly as hotspots_monthly lists its repeat hotspots;
--   channel_count      the channels (hotline, grid, enforcement, sensor) the month's counted events reached the
--                      district by (report_channel: a grid case the hotline dispatched is the caller's, an
--                      enforcement case the grid referred is the grid's - macros/ledger_rules.sql);
--   orders ... exceedances  the month's counted events per kind.
with events as (

    select * from {{ ref('int_ledger_events_grouped') }}
    where is_counted

),

anchors as (

    select community_code, service_group, period_month
    from {{ ref('int_hotspot_orders_windowed') }}
    where is_repeat_hotspot_anchor
        and community_code is not null
        and service_group is not null
    group by community_code, service_group, period_month

),

event_months as (

    select
        community_code,
        service_group,
        period_month,
        count(*) filter (where channel = 'hotline') as orders,
        count(*) filter (where channel = 'grid') as grid_cases,
        count(*) filter (where channel = 'enforcement') as enforcement_cases,
        count(*) filter (where channel = 'sensor') as exceedances,
        count(distinct report_channel) as channel_count,
        {{ ordered_list('report_channel', 'report_channel', distinct=true) }} as channels
    from events
    group by community_code, service_group, period_month

),

final as (

    select
        coalesce(event_months.community_code, anchors.community_code) as community_code,
        coalesce(event_months.service_group, anchors.service_group) as service_group,
        coalesce(event_months.period_month, anchors.period_month) as period_month,
        cast(coalesce(event_months.orders, 0) as integer) as orders,
        cast(coalesce(event_months.grid_cases, 0) as integer) as grid_cases,
        cast(coalesce(event_months.enforcement_cases, 0) as integer) as enforcement_cases,
        cast(coalesce(event_months.exceedances, 0) as integer) as exceedances,
        cast(coalesce(event_months.channel_count, 0) as integer) as channel_count,
        cast(coalesce(event_months.channels, {{ empty_list() }}) as {{ type_list(dbt.type_string()) }}) as channels,
        anchors.community_code is not null as is_repeat_hotspot
    from event_months
    full outer join anchors
        on anchors.community_code = event_months.community_code
        and anchors.service_group = event_months.service_group
        and anchors.period_month = event_months.period_month

)

select * from final
