-- One row per work order (latest version) with a received time: where it is (community from the served codes,
-- unit grid from int_places_located), its matter, the Beijing month and day it was received, and kpis.md's repeat
-- hotspot rule (屡治屡返) evaluated at the order, over the orders of its (community, service group):
--   window_orders  orders received within hotspot_window_days up to and including this one (an order received
--                  exactly hotspot_window_days earlier is inside);
--   is_return      an earlier order of the window was closed as resolved before this one was received;
--   is_repeat_hotspot_anchor  both: window_orders >= hotspot_min_orders and is_return. Such an order makes its
--                  (community, service group) a repeat hotspot in the month it was received.
-- Closed as resolved: the unit closed the order (status closed, resolved_at) and no answered return visit says
-- it was not resolved; the close counts from resolved_at.
with requests as (

    select * from {{ ref('int_hotline_requests_enriched') }}
    where received_at is not null

),

located as (

    select event_id as request_id, grid_code, grid_located_by
    from {{ ref('int_places_located') }}
    where event_kind = 'hotline_order'

),

orders as (

    select
        requests.request_id,
        requests.received_at,
        {{ local_date('requests.received_at') }} as received_date,
        date_trunc('month', {{ local_date('requests.received_at') }})::date as period_month,
        requests.street_code,
        requests.community_code,
        located.grid_code,
        coalesce(located.grid_located_by, 'unresolved') as grid_located_by,
        requests.service_code,
        requests.service_name,
        requests.service_group,
        requests.status,
        requests.resolved_at,
        requests.status = 'closed' and requests.resolved_at is not null
            and not (requests.is_visit_answered and not requests.is_visit_resolved) as is_closed_as_resolved
    from requests
    left join located
        on located.request_id = requests.request_id

),

-- the orders of a (community, service group) received within the window before each order
windowed as (

    select
        orders.*,
        case when community_code is not null and service_group is not null then
            count(*) over (
                partition by community_code, service_group
                order by {{ epoch_seconds('received_at') }}
                range between {{ hotspot_window_seconds() }} preceding and current row
            )
        end as window_orders
    from orders

),

-- an earlier order of the window closed as resolved before this one came in
returns as (

    select later.request_id, count(*) as closed_before
    from orders as later
    inner join orders as earlier
        on earlier.community_code = later.community_code
        and earlier.service_group = later.service_group
        and earlier.received_at < later.received_at
        and {{ epoch_seconds('later.received_at') }} - {{ epoch_seconds('earlier.received_at') }}
            <= {{ hotspot_window_seconds() }}
        and earlier.is_closed_as_resolved
        and earlier.resolved_at < later.received_at
    group by later.request_id

),

final as (

    select
        windowed.request_id,
        windowed.received_at,
        windowed.received_date,
        windowed.period_month,
        cast(hour({{ local_time('windowed.received_at') }}) as integer) as received_hour,
        cast({{ iso_weekday('windowed.received_date') }} as integer) as received_iso_weekday,
        windowed.street_code,
        windowed.community_code,
        windowed.grid_code,
        windowed.grid_located_by,
        windowed.service_code,
        windowed.service_name,
        windowed.service_group,
        windowed.status,
        windowed.resolved_at,
        windowed.is_closed_as_resolved,
        cast(windowed.window_orders as integer) as window_orders,
        returns.request_id is not null as is_return,
        coalesce(windowed.window_orders >= {{ var('hotspot_min_orders') }} and returns.request_id is not null, false)
            as is_repeat_hotspot_anchor
    from windowed
    left join returns
        on returns.request_id = windowed.request_id

)

select * from final
