-- The links between the platforms' records: hotline work order ↔ grid case ↔ enforcement case ↔ enterprise (uscc),
-- with the monitored restaurants (an enterprise's place) and their fume exceedances, the dust and diesel NOx
-- exceedance episodes and the illegal-parking violations. One row per link, from the
-- record that refers (or would refer) to the one it follows from or is about, with how it was found and a
-- confidence:
--   id                    the platforms' own references (grid case → work order; enforcement case → grid case,
--                         work order, party's uscc; restaurant → uscc; exceedance → restaurant). Confidence 1.
--   name_in_text          a fume report (order, grid case; an enforcement case whose party has no valid uscc)
--                         whose text names a monitored restaurant. 0.9, 0.95 when also within the radius below.
--   place_matter          a cooking-fume report within var('frontage_radius_m') (门前三包, kpis.md) of a restaurant:
--                         the nearest one. 0.5-0.8 by distance, 0.1 less when another restaurant is that close.
--   same_enterprise_time  an enforcement case and an order or grid case of its domain linked to the same enterprise
--                         (by the above), the report at most links_enforcement_window_days() before the filing.
--                         0.9 × the weaker of the two enterprise links.
--   place_matter_time     where the records carry no reference to each other's platform: the same matter
--                         (links_same_matter), points within links_case_radius_m(), and in the time window of the
--                         pair (a grid case within links_report_window_hours() after a call; an enforcement case
--                         within the grid's dispatch and handling limits after a grid case, within a normal
--                         order's resolve limit after a call: macros/links_rules.sql); the best candidate of each
--                         kind only. 0.3-0.7 by distance and time.
--   restaurant_time       a report linked to a restaurant, and the restaurant's exceedance of that day within
--                         links_exceedance_margin_hours() of the report. The confidence of the restaurant link.
--   street_time           a dust episode (int_sensor_exceedances) and an order of group dust or a grid case of domain
--                         road_dust on its road's street, within links_exceedance_margin_hours() of its span; the
--                         report's best episode. 0.4-0.6 by time (0.6 inside the span).
--   place_time            a diesel NOx episode and an order of group heavy_vehicle within links_case_radius_m() of its
--                         first exceeding fix, within the same margin of its span (the report's best episode); a
--                         camera or patrol parking violation and an order of group parking within the radius and
--                         links_report_window_hours() either way (the violation's best order). 0.3-0.7.
--   hotline_violation     a violation the platform recorded from a call (violation_source hotline) and an order of
--                         group parking within the radius, observed links_report_lead_hours() before to
--                         links_report_window_hours() after the call; the violation's best order. 0.6-0.8.
-- Inferred links are only drawn between reports (no consultation or praise, no voided or revoked case) and never
-- repeat a pair the ids already link. `is_to_known`: the record linked to is in the warehouse (a reference can
-- point to an order or case not loaded yet, or never served).
with events as (

    select * from {{ ref('int_link_events_unified') }}

),

enterprises as (

    select uscc from {{ ref('int_enterprises_resolved') }}

),

order_groups as (

    select request_id, service_group from {{ ref('int_hotline_requests_enriched') }}

),

-- the platforms' own references -------------------------------------------------------------------------------

id_links as (

    select 'grid_case' as from_kind, event_id as from_id, 'hotline_order' as to_kind,
        carried_hotline_request_id as to_id
    from events
    where event_kind = 'grid_case' and carried_hotline_request_id is not null
    union all
    select 'enforcement_case', event_id, 'grid_case', carried_grid_case_id
    from events
    where event_kind = 'enforcement_case' and carried_grid_case_id is not null
    union all
    select 'enforcement_case', event_id, 'hotline_order', carried_hotline_request_id
    from events
    where event_kind = 'enforcement_case' and carried_hotline_request_id is not null
    union all
    select 'enforcement_case', event_id, 'enterprise', carried_uscc
    from events
    where event_kind = 'enforcement_case' and carried_uscc is not null
    union all
    select 'restaurant', event_id, 'enterprise', carried_uscc
    from events
    where event_kind = 'restaurant' and carried_uscc is not null
    union all
    select 'fume_exceedance', event_id, 'restaurant', carried_restaurant_id
    from events
    where event_kind = 'fume_exceedance'

),

-- reports about a restaurant: its name in the text, or its frontage ---------------------------------------------

fume_reports as (

    select event_kind as report_kind, event_id as report_id, event_text, lat as report_lat, lon as report_lon
    from events
    where domain_code = 'cooking_fume'
        and is_report
        and (event_kind in ('hotline_order', 'grid_case')
            or (event_kind = 'enforcement_case' and carried_uscc is null))

),

restaurants as (

    select
        event_id as restaurant_id,
        carried_uscc as restaurant_uscc,
        enterprise_name as restaurant_name,
        lat as restaurant_lat,
        lon as restaurant_lon
    from events
    where event_kind = 'restaurant'

),

near_restaurants as (

    {{ places_pairs_within(
        'fume_reports', 'restaurants', var('frontage_radius_m'),
        left_columns=['report_kind', 'report_id'], right_columns=['restaurant_id'],
        left_lat='report_lat', left_lon='report_lon', right_lat='restaurant_lat', right_lon='restaurant_lon',
    ) }}

),

named_restaurants as (

    select fume_reports.report_kind, fume_reports.report_id, restaurants.restaurant_id
    from fume_reports
    inner join restaurants
        on length(restaurants.restaurant_name) >= 4
        and contains(fume_reports.event_text, restaurants.restaurant_name)

),

restaurant_candidates as (

    select
        coalesce(near.report_kind, named.report_kind) as report_kind,
        coalesce(near.report_id, named.report_id) as report_id,
        coalesce(near.restaurant_id, named.restaurant_id) as restaurant_id,
        named.restaurant_id is not null as is_named,
        near.distance_m,
        count(near.restaurant_id) over (
            partition by coalesce(near.report_kind, named.report_kind), coalesce(near.report_id, named.report_id)
        ) as near_count,
        bool_or(named.restaurant_id is not null) over (
            partition by coalesce(near.report_kind, named.report_kind), coalesce(near.report_id, named.report_id)
        ) as any_named
    from near_restaurants as near
    full outer join named_restaurants as named
        on named.report_kind = near.report_kind
        and named.report_id = near.report_id
        and named.restaurant_id = near.restaurant_id

),

restaurant_links as (

    -- every restaurant the text names; without a name, the nearest one within the radius
    select
        report_kind,
        report_id,
        restaurant_id,
        case when is_named then 'name_in_text' else 'place_matter' end as link_method,
        case
            when is_named and distance_m is not null then 0.95
            when is_named then 0.9
            else 0.5 + 0.3 * (1 - distance_m / {{ var('frontage_radius_m') }})
                - case when near_count > 1 then 0.1 else 0 end
        end as confidence
    from restaurant_candidates
    where is_named or not any_named
    qualify is_named or row_number() over (
        partition by report_kind, report_id order by distance_m, restaurant_id
    ) = 1

),

enterprise_links as (

    -- the enterprise of the restaurant (a chain's restaurants share one uscc: the strongest link counts)
    select
        restaurant_links.report_kind,
        restaurant_links.report_id,
        restaurants.restaurant_uscc as uscc,
        {{ arg_max('restaurant_links.link_method', 'restaurant_links.confidence') }} as link_method,
        max(restaurant_links.confidence) as confidence
    from restaurant_links
    inner join restaurants
        on restaurants.restaurant_id = restaurant_links.restaurant_id
    where restaurants.restaurant_uscc is not null
    group by restaurant_links.report_kind, restaurant_links.report_id, restaurants.restaurant_uscc

),

-- an enforcement case and the reports about its enterprise ------------------------------------------------------

case_enterprises as (

    select event_id as case_id, carried_uscc as uscc, 1.0 as confidence
    from events
    where event_kind = 'enforcement_case' and carried_uscc is not null
    union all
    select report_id, uscc, confidence
    from enterprise_links
    where report_kind = 'enforcement_case'

),

same_enterprise_links as (

    select
        'enforcement_case' as from_kind,
        enforcement.event_id as from_id,
        report.event_kind as to_kind,
        report.event_id as to_id,
        'same_enterprise_time' as link_method,
        max(0.9 * least(case_enterprises.confidence, enterprise_links.confidence)) as confidence
    from case_enterprises
    inner join events as enforcement
        on enforcement.event_kind = 'enforcement_case'
        and enforcement.event_id = case_enterprises.case_id
    inner join enterprise_links
        on enterprise_links.uscc = case_enterprises.uscc
        and enterprise_links.report_kind in ('hotline_order', 'grid_case')
    inner join events as report
        on report.event_kind = enterprise_links.report_kind
        and report.event_id = enterprise_links.report_id
    where enforcement.is_report
        and report.domain_code = enforcement.domain_code
        and report.event_at <= enforcement.event_at
        and report.event_at >= enforcement.event_at - {{ interval_of(links_enforcement_window_days(), 'days') }}
    group by all

),

-- place, matter and time, where the records carry no reference -------------------------------------------------

reports as (

    select
        event_kind,
        event_id,
        event_at,
        domain_code,
        matter_code,
        matter_name,
        lat,
        lon,
        carried_hotline_request_id,
        carried_grid_case_id
    from events
    where is_report
        and event_kind in ('hotline_order', 'grid_case', 'enforcement_case')
        and domain_code is not null
        and event_at is not null

),

cased_orders as (

    select distinct to_id as request_id from id_links where from_kind = 'grid_case' and to_kind = 'hotline_order'

),

later_reports as (

    -- grid cases without a work order, enforcement cases without a grid case or without a work order
    select event_kind as later_kind, event_id as later_id, event_at as later_at, domain_code as later_domain,
        matter_code as later_matter, matter_name as later_matter_name, lat as later_lat, lon as later_lon,
        carried_hotline_request_id is null as wants_order,
        event_kind = 'enforcement_case' and carried_grid_case_id is null as wants_grid_case
    from reports
    where (event_kind = 'grid_case' and carried_hotline_request_id is null)
        or (event_kind = 'enforcement_case'
            and (carried_hotline_request_id is null or carried_grid_case_id is null))

),

earlier_reports as (

    -- work orders no grid case carries, and grid cases
    select reports.event_kind as earlier_kind, reports.event_id as earlier_id, reports.event_at as earlier_at,
        reports.domain_code as earlier_domain, reports.matter_code as earlier_matter,
        reports.matter_name as earlier_matter_name, reports.lat as earlier_lat,
        reports.lon as earlier_lon
    from reports
    left join cased_orders
        on reports.event_kind = 'hotline_order' and cased_orders.request_id = reports.event_id
    where reports.event_kind = 'grid_case'
        or (reports.event_kind = 'hotline_order' and cased_orders.request_id is null)

),

near_reports as (

    {{ places_pairs_within(
        'later_reports', 'earlier_reports', links_case_radius_m(),
        left_columns=['later_kind', 'later_id', 'later_at', 'later_domain', 'later_matter', 'later_matter_name',
                      'wants_order', 'wants_grid_case'],
        right_columns=['earlier_kind', 'earlier_id', 'earlier_at', 'earlier_domain', 'earlier_matter',
                       'earlier_matter_name'],
        left_lat='later_lat', left_lon='later_lon', right_lat='earlier_lat', right_lon='earlier_lon',
    ) }}

),

timed_reports as (

    select
        *,
        ({{ epoch_seconds('later_at') }} - {{ epoch_seconds('earlier_at') }}) / 3600.0 as hours_after,
        case
            when later_kind = 'grid_case' then {{ links_report_window_hours() }}
            when earlier_kind = 'grid_case' then {{ links_enforcement_after_grid_hours() }}
            else {{ links_enforcement_after_order_hours() }}
        end as window_hours
    from near_reports
    where {{ links_same_matter('later', 'earlier') }}
        and ((later_kind = 'grid_case' and earlier_kind = 'hotline_order' and wants_order)
            or (later_kind = 'enforcement_case' and earlier_kind = 'hotline_order' and wants_order)
            or (later_kind = 'enforcement_case' and earlier_kind = 'grid_case' and wants_grid_case))

),

place_links as (

    select
        later_kind as from_kind,
        later_id as from_id,
        earlier_kind as to_kind,
        earlier_id as to_id,
        'place_matter_time' as link_method,
        0.3 + 0.2 * (1 - distance_m / {{ links_case_radius_m() }})
            + 0.2 * (1 - abs(hours_after) / window_hours) as confidence
    from timed_reports
    where hours_after <= window_hours
        and hours_after >= case when later_kind = 'grid_case' then -{{ links_report_lead_hours() }} else 0 end
    qualify row_number() over (
        partition by later_kind, later_id, earlier_kind order by confidence desc, earlier_id
    ) = 1

),

-- a report and its restaurant's exceedance ----------------------------------------------------------------------

exceedance_links as (

    select
        restaurant_links.report_kind as from_kind,
        restaurant_links.report_id as from_id,
        'fume_exceedance' as to_kind,
        exceedance.event_id as to_id,
        'restaurant_time' as link_method,
        max(restaurant_links.confidence) as confidence
    from restaurant_links
    inner join events as report
        on report.event_kind = restaurant_links.report_kind
        and report.event_id = restaurant_links.report_id
    inner join events as exceedance
        on exceedance.event_kind = 'fume_exceedance'
        and exceedance.carried_restaurant_id = restaurant_links.restaurant_id
    where report.event_at >= exceedance.event_at - {{ interval_of(links_exceedance_margin_hours(), 'hours') }}
        and report.event_at <= exceedance.event_until + {{ interval_of(links_exceedance_margin_hours(), 'hours') }}
    group by all

),

-- a report and the sensor episode or violation recorded there at that time --------------------------------------

sensor_reports as (

    -- the reports an episode can draw: dust calls and road-dust grid cases, heavy-vehicle calls
    select
        report.event_kind as report_kind,
        report.event_id as report_id,
        report.event_at as report_at,
        report.street_code as report_street,
        report.lat as report_lat,
        report.lon as report_lon,
        case when report.domain_code = 'road_dust' then 'dust' else 'diesel_nox' end as wants_kind
    from events as report
    left join order_groups as orders
        on report.event_kind = 'hotline_order'
        and orders.request_id = report.event_id
    where report.is_report
        and report.event_at is not null
        and (
            (report.event_kind = 'hotline_order' and orders.service_group in ('dust', 'heavy_vehicle'))
            or (report.event_kind = 'grid_case' and report.domain_code = 'road_dust')
        )

),

episodes as (

    select
        event_id as episode_id,
        matter_name as episode_kind,
        event_at as started_at,
        event_until as ended_at,
        street_code as episode_street,
        lat as episode_lat,
        lon as episode_lon
    from events
    where event_kind = 'sensor_exceedance'

),

near_fixes as (

    {{ places_pairs_within(
        'sensor_reports', 'episodes', links_case_radius_m(),
        left_columns=['report_kind', 'report_id'], right_columns=['episode_id'],
        left_lat='report_lat', left_lon='report_lon', right_lat='episode_lat', right_lon='episode_lon',
    ) }}

),

episode_candidates as (

    -- a dust episode: a report on its road's street; a diesel episode: a heavy-vehicle call within the case
    -- radius of the first exceeding fix. Either within the exceedance margin of the episode's span.
    select
        sensor_reports.report_kind,
        sensor_reports.report_id,
        episodes.episode_id,
        episodes.episode_kind,
        near_fixes.distance_m,
        greatest(
            {{ epoch_seconds('episodes.started_at') }} - {{ epoch_seconds('sensor_reports.report_at') }},
            {{ epoch_seconds('sensor_reports.report_at') }} - {{ epoch_seconds('episodes.ended_at') }},
            0
        ) / 3600.0 as outside_hours
    from sensor_reports
    inner join episodes
        on episodes.episode_kind = sensor_reports.wants_kind
    left join near_fixes
        on near_fixes.report_kind = sensor_reports.report_kind
        and near_fixes.report_id = sensor_reports.report_id
        and near_fixes.episode_id = episodes.episode_id
    where (episodes.episode_kind = 'dust' and episodes.episode_street = sensor_reports.report_street)
        or (episodes.episode_kind = 'diesel_nox' and near_fixes.episode_id is not null)

),

episode_links as (

    -- the report's best episode: in its span, else the nearest in time (then the nearest fix)
    select
        report_kind as from_kind,
        report_id as from_id,
        'sensor_exceedance' as to_kind,
        episode_id as to_id,
        case when episode_kind = 'dust' then 'street_time' else 'place_time' end as link_method,
        case
            when episode_kind = 'dust' then 0.4 + 0.2 * (1 - outside_hours / {{ links_exceedance_margin_hours() }})
            else 0.3 + 0.2 * (1 - distance_m / {{ links_case_radius_m() }})
                + 0.2 * (1 - outside_hours / {{ links_exceedance_margin_hours() }})
        end as confidence
    from episode_candidates
    where outside_hours <= {{ links_exceedance_margin_hours() }}
    qualify row_number() over (
        partition by report_kind, report_id order by outside_hours, distance_m nulls last, episode_id
    ) = 1

),

parking_orders as (

    select
        events.event_id as order_id,
        events.event_at as order_at,
        events.lat as order_lat,
        events.lon as order_lon
    from events
    inner join order_groups as orders
        on orders.request_id = events.event_id
    where events.event_kind = 'hotline_order'
        and events.is_report
        and orders.service_group = 'parking'

),

violations as (

    select
        event_id as violation_id,
        event_at as observed_at,
        matter_name as violation_source,
        lat as violation_lat,
        lon as violation_lon
    from events
    where event_kind = 'parking_violation'

),

near_violations as (

    {{ places_pairs_within(
        'violations', 'parking_orders', links_case_radius_m(),
        left_columns=['violation_id', 'observed_at', 'violation_source'], right_columns=['order_id', 'order_at'],
        left_lat='violation_lat', left_lon='violation_lon', right_lat='order_lat', right_lon='order_lon',
    ) }}

),

violation_links as (

    -- a violation the platform recorded from a hotline report follows the call (at most the report lead before
    -- it, the report window after); any other violation within the report window either side of the call
    select
        'parking_violation' as from_kind,
        violation_id as from_id,
        'hotline_order' as to_kind,
        order_id as to_id,
        case when violation_source = 'hotline' then 'hotline_violation' else 'place_time' end as link_method,
        case when violation_source = 'hotline' then 0.6 else 0.3 end
            + 0.1 * (1 - distance_m / {{ links_case_radius_m() }})
                * case when violation_source = 'hotline' then 1 else 2 end
            + 0.1 * (1 - abs(hours_after) / {{ links_report_window_hours() }})
                * case when violation_source = 'hotline' then 1 else 2 end as confidence
    from (
        select *, ({{ epoch_seconds('observed_at') }} - {{ epoch_seconds('order_at') }}) / 3600.0 as hours_after
        from near_violations
    ) as timed
    where hours_after <= {{ links_report_window_hours() }}
        and hours_after >= case
            when violation_source = 'hotline' then -{{ links_report_lead_hours() }}
            else -{{ links_report_window_hours() }}
        end
    qualify row_number() over (partition by violation_id order by confidence desc, order_id) = 1

),

-- all together --------------------------------------------------------------------------------------------------

inferred as (

    select report_kind as from_kind, report_id as from_id, 'restaurant' as to_kind, restaurant_id as to_id,
        link_method, confidence
    from restaurant_links
    union all
    select report_kind, report_id, 'enterprise', uscc, link_method, confidence
    from enterprise_links
    union all
    select * from same_enterprise_links
    union all
    select * from place_links
    union all
    select * from exceedance_links
    union all
    select * from episode_links
    union all
    select * from violation_links

),

unioned as (

    select from_kind, from_id, to_kind, to_id, 'id' as link_method, 1.0 as confidence, 1 as method_rank
    from id_links
    union all
    select inferred.*,
        case inferred.link_method when 'same_enterprise_time' then 2 when 'place_matter_time' then 3 else 2 end
    from inferred

),

deduplicated as (

    -- a pair once, by its strongest method (ids first)
    select * {{ star_exclude() }} (method_rank)
    from unioned
    qualify row_number() over (
        partition by from_kind, from_id, to_kind, to_id order by method_rank, confidence desc, link_method
    ) = 1

),

final as (

    select
        deduplicated.from_kind,
        deduplicated.from_id,
        deduplicated.to_kind,
        deduplicated.to_id,
        deduplicated.link_method,
        round(deduplicated.confidence, 3) as confidence,
        {{ places_distance_m('from_event.lat', 'from_event.lon', 'to_event.lat', 'to_event.lon') }} as distance_m,
        ({{ epoch_seconds('from_event.event_at') }} - {{ epoch_seconds('to_event.event_at') }}) / 3600.0 as hours_after,
        case
            when deduplicated.to_kind = 'enterprise' then enterprises.uscc is not null
            else to_event.event_id is not null
        end as is_to_known
    from deduplicated
    left join events as from_event
        on from_event.event_kind = deduplicated.from_kind
        and from_event.event_id = deduplicated.from_id
    left join events as to_event
        on to_event.event_kind = deduplicated.to_kind
        and to_event.event_id = deduplicated.to_id
    left join enterprises
        on deduplicated.to_kind = 'enterprise'
        and enterprises.uscc = deduplicated.to_id

)

select * from final
