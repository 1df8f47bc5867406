-- The monthly hotspots of the hotline (kpis.md, "Hotspots and long-standing problems"), one row per hotspot kind,
-- subject and month of receipt:
--   high_frequency_community / high_frequency_grid / high_frequency_service: the top_n communities, unit grids and
--     services by orders received in the month (ties at the cut-off all kept), with the orders of the previous
--     month and of the same month a year before - null where the data do not cover that whole month;
--   repeat_hotspot: a (community, service group) that is a repeat hotspot (屡治屡返) in the month: an order received
--     in the month closes a window of hotspot_window_days holding hotspot_min_orders or more orders, one of which
--     came after an earlier one there was closed as resolved (int_hotspot_orders_windowed).
with orders as (

    select * from {{ ref('int_hotspot_orders_windowed') }}

),

days as (

    select * from {{ ref('int_hotline_days_observed') }}

),

months as (

    select
        period_month,
        cast(count(*) as integer) as days_observed,
        count(*) = any_value(days_in_month) as is_month_complete
    from days
    group by period_month

),

communities as (

    select community_code, street_code from {{ ref('dongcheng_communities') }}

),

cells as (

    select grid_code, street_code, community_code from {{ ref('int_grid_cells_indexed') }}

),

services as (

    select
        service_code,
        {{ arg_max('service_name', 'received_at') }} as service_name,
        {{ arg_max('service_group', 'received_at') }} as service_group
    from orders
    where service_code is not null
    group by service_code

),

-- orders per subject and month, every kind in one shape
subject_orders as (

    select 'high_frequency_community' as hotspot_kind, community_code as subject_code, period_month, count(*) as orders
    from orders
    where community_code is not null
    group by all
    union all
    select 'high_frequency_grid', grid_code, period_month, count(*)
    from orders
    where grid_code is not null
    group by all
    union all
    select 'high_frequency_service', service_code, period_month, count(*)
    from orders
    where service_code is not null
    group by all
    union all
    select 'repeat_hotspot', community_code || '|' || service_group, period_month, count(*)
    from orders
    where community_code is not null and service_group is not null
    group by all

),

ranked as (

    select
        *,
        -- competition rank: subjects with equal orders share a rank, and the next rank skips
        rank() over (partition by hotspot_kind, period_month order by orders desc) as frequency_rank,
        count(*) over (partition by hotspot_kind, period_month) as subjects_with_orders
    from subject_orders
    where hotspot_kind <> 'repeat_hotspot'

),

-- repeat hotspots: the anchors of the month, and the orders of their windows
anchors as (

    select request_id, community_code, service_group, period_month, received_at
    from orders
    where is_repeat_hotspot_anchor

),

window_orders as (

    select distinct
        anchors.community_code,
        anchors.service_group,
        anchors.period_month,
        orders.request_id,
        orders.received_at,
        orders.is_return
    from anchors
    inner join orders
        on orders.community_code = anchors.community_code
        and orders.service_group = anchors.service_group
        and orders.received_at <= anchors.received_at
        and {{ epoch_seconds('anchors.received_at') }} - {{ epoch_seconds('orders.received_at') }}
            <= {{ hotspot_window_seconds() }}

),

repeat_hotspots as (

    select
        'repeat_hotspot' as hotspot_kind,
        community_code || '|' || service_group as subject_code,
        period_month,
        community_code,
        service_group,
        count(*) as hotspot_orders,
        count(*) filter (where is_return) as returned_orders,
        min(received_at) as window_first_received_at,
        max(received_at) as window_last_received_at,
        {{ ordered_list('request_id', 'received_at, request_id') }} as request_ids
    from window_orders
    group by all

),

-- when each pair first became a repeat hotspot in the month: its first anchor (the daily bulletin's "new" ones)
first_anchors as (

    select community_code, service_group, period_month, min(received_at) as first_qualified_at
    from anchors
    group by all

),

selected as (

    select
        hotspot_kind,
        subject_code,
        period_month,
        frequency_rank,
        subjects_with_orders,
        null::bigint as hotspot_orders,
        null::bigint as returned_orders,
        null::{{ type_instant() }} as window_first_received_at,
        null::{{ type_instant() }} as window_last_received_at,
        null::{{ type_instant() }} as first_qualified_at,
        null::{{ type_list(dbt.type_string()) }} as request_ids
    from ranked
    where frequency_rank <= {{ var('top_n') }}
    union all
    select
        repeat_hotspots.hotspot_kind,
        repeat_hotspots.subject_code,
        repeat_hotspots.period_month,
        null,
        null,
        repeat_hotspots.hotspot_orders,
        repeat_hotspots.returned_orders,
        repeat_hotspots.window_first_received_at,
        repeat_hotspots.window_last_received_at,
        first_anchors.first_qualified_at,
        repeat_hotspots.request_ids
    from repeat_hotspots
    inner join first_anchors
        on first_anchors.community_code = repeat_hotspots.community_code
        and first_anchors.service_group = repeat_hotspots.service_group
        and first_anchors.period_month = repeat_hotspots.period_month

),

compared as (

    select
        selected.*,
        coalesce(current_month.orders, 0) as orders,
        this_month.days_observed,
        this_month.is_month_complete as is_period_complete,
        -- a comparison month counts only when the data cover all of it; then a subject without orders had 0
        case when previous_month.is_month_complete then coalesce(previous_orders.orders, 0) end
            as previous_month_orders,
        case when previous_year.is_month_complete then coalesce(previous_year_orders.orders, 0) end
            as previous_year_orders
    from selected
    left join subject_orders as current_month
        on current_month.hotspot_kind = selected.hotspot_kind
        and current_month.subject_code = selected.subject_code
        and current_month.period_month = selected.period_month
    left join months as this_month
        on this_month.period_month = selected.period_month
    left join months as previous_month
        on previous_month.period_month = selected.period_month - interval 1 month
    left join subject_orders as previous_orders
        on previous_orders.hotspot_kind = selected.hotspot_kind
        and previous_orders.subject_code = selected.subject_code
        and previous_orders.period_month = selected.period_month - interval 1 month
    left join months as previous_year
        on previous_year.period_month = selected.period_month - interval 1 year
    left join subject_orders as previous_year_orders
        on previous_year_orders.hotspot_kind = selected.hotspot_kind
        and previous_year_orders.subject_code = selected.subject_code
        and previous_year_orders.period_month = selected.period_month - interval 1 year

),

final as (

    select
        concat_ws('|', compared.hotspot_kind, compared.subject_code, {{ format_time('compared.period_month', '%Y-%m') }})
            as hotspot_key,
        compared.hotspot_kind,
        compared.period_month,
        coalesce(cells.street_code, communities.street_code) as street_code,
        case compared.hotspot_kind
            when 'high_frequency_community' then compared.subject_code
            when 'high_frequency_grid' then cells.community_code
            when 'repeat_hotspot' then split_part(compared.subject_code, '|', 1)
        end as community_code,
        case when compared.hotspot_kind = 'high_frequency_grid' then compared.subject_code end as grid_code,
        case when compared.hotspot_kind = 'high_frequency_service' then compared.subject_code end as service_code,
        case when compared.hotspot_kind = 'high_frequency_service' then services.service_name end as service_name,
        case compared.hotspot_kind
            when 'high_frequency_service' then services.service_group
            when 'repeat_hotspot' then split_part(compared.subject_code, '|', 2)
        end as service_group,
        cast(compared.orders as integer) as orders,
        cast(compared.frequency_rank as integer) as frequency_rank,
        cast(compared.subjects_with_orders as integer) as subjects_with_orders,
        cast(compared.previous_month_orders as integer) as previous_month_orders,
        cast(compared.orders - compared.previous_month_orders as integer) as change_vs_previous_month,
        (compared.orders - compared.previous_month_orders) / nullif(compared.previous_month_orders, 0)
            as change_ratio_vs_previous_month,
        cast(compared.previous_year_orders as integer) as previous_year_orders,
        cast(compared.orders - compared.previous_year_orders as integer) as change_vs_previous_year,
        (compared.orders - compared.previous_year_orders) / nullif(compared.previous_year_orders, 0)
            as change_ratio_vs_previous_year,
        cast(compared.hotspot_orders as integer) as hotspot_orders,
        cast(compared.returned_orders as integer) as returned_orders,
        compared.window_first_received_at,
        compared.window_last_received_at,
        compared.first_qualified_at,
        compared.request_ids,
        compared.days_observed,
        compared.is_period_complete,
        as_of.data_as_of
    from compared
    left join communities
        on communities.community_code = case compared.hotspot_kind
            when 'high_frequency_community' then compared.subject_code
            when 'repeat_hotspot' then split_part(compared.subject_code, '|', 1)
        end
    left join cells
        on compared.hotspot_kind = 'high_frequency_grid'
        and cells.grid_code = compared.subject_code
    left join services
        on compared.hotspot_kind = 'high_frequency_service'
        and services.service_code = compared.subject_code
    cross join (select max(data_as_of) as data_as_of from {{ ref('int_hotline_requests_enriched') }}) as as_of

)

select * from final
