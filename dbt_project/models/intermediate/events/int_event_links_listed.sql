-- The links of each unified event (int_events_linked, both directions), as lists of the linked events' ids
-- (int_events_unified.event_id), one list per kind, the strongest link first (confidence, then id), and the
-- enterprises (uscc) linked to it. A link to a restaurant's exceedance day (int_fume_exceedances_grouped, what the
-- links compare reports with) is a link to that restaurant's fume episode of that day nearest in time to the
-- report (within it, else the closest; an episode can span midnight); a link to a record the warehouse lacks, or
-- to a restaurant (not an event: its enterprise is listed), is left out. A link to a dust or diesel episode
-- (sensor_exceedance) is one to that event, a link of a work order and a parking violation one to that violation
-- (and from it).
with events as (

    select * from {{ ref('int_events_unified') }}

),

links as (

    select * from {{ ref('int_events_linked') }}

),

exceedance_days as (

    select * from {{ ref('int_fume_exceedances_grouped') }}

),

platform_events as (

    select event_id, event_kind, source_id, occurred_at
    from events
    where event_kind in ('hotline_order', 'grid_case', 'enforcement_case', 'sensor_exceedance', 'parking_violation')

),

fume_episodes as (

    select
        event_id,
        register_place_id as restaurant_id,
        occurred_at as started_at,
        closed_at as ended_at
    from events
    where event_kind = 'sensor_exceedance' and matter_code = 'fume'

),

resolved as (

    select
        links.*,
        from_event.event_id as from_event_id,
        from_event.occurred_at as from_at,
        to_event.event_id as to_event_id
    from links
    inner join platform_events as from_event
        on from_event.event_kind = links.from_kind
        and from_event.source_id = links.from_id
    left join platform_events as to_event
        on to_event.event_kind = links.to_kind
        and to_event.source_id = links.to_id

),

episode_links as (

    select
        resolved.from_event_id,
        fume_episodes.event_id as to_event_id,
        resolved.link_method,
        resolved.confidence
    from resolved
    inner join exceedance_days
        on exceedance_days.exceedance_id = resolved.to_id
    inner join fume_episodes
        on fume_episodes.restaurant_id = exceedance_days.restaurant_id
        and exceedance_days.exceedance_date
            between {{ local_date('fume_episodes.started_at') }}
            and {{ local_date('fume_episodes.ended_at') }}
    where resolved.to_kind = 'fume_exceedance'
    qualify row_number() over (
        partition by resolved.from_event_id, resolved.to_id
        order by
            greatest(
                {{ epoch_seconds('fume_episodes.started_at') }} - {{ epoch_seconds('resolved.from_at') }},
                {{ epoch_seconds('resolved.from_at') }} - {{ epoch_seconds('fume_episodes.ended_at') }},
                0
            ),
            fume_episodes.started_at
    ) = 1

),

directed as (

    select from_event_id, to_event_id, link_method, confidence
    from resolved
    where to_event_id is not null
    union all
    select * from episode_links

),

pairs as (

    -- each link seen from both of its events; a pair once, by its strongest link
    select event_id, linked_event_id, link_method, confidence
    from (
        select from_event_id as event_id, to_event_id as linked_event_id, link_method, confidence from directed
        union all
        select to_event_id, from_event_id, link_method, confidence from directed
    ) as both_ways
    qualify row_number() over (
        partition by event_id, linked_event_id order by confidence desc, link_method
    ) = 1

),

enterprises as (

    select
        from_event_id as event_id,
        to_id as uscc,
        {{ arg_max('link_method', 'confidence') }} as link_method,
        max(confidence) as confidence
    from resolved
    where to_kind = 'enterprise'
    group by from_event_id, to_id

),

enterprises_ranked as (

    select
        *,
        row_number() over (partition by event_id order by confidence desc, uscc) as enterprise_rank
    from enterprises

),

listed as (

    select
        pairs.event_id,
        {{ ordered_list(
            'pairs.linked_event_id',
            'pairs.confidence desc, pairs.linked_event_id',
            condition="linked.event_kind = 'hotline_order'",
        ) }} as linked_hotline_order_ids,
        {{ ordered_list(
            'pairs.linked_event_id',
            'pairs.confidence desc, pairs.linked_event_id',
            condition="linked.event_kind = 'grid_case'",
        ) }} as linked_grid_case_ids,
        {{ ordered_list(
            'pairs.linked_event_id',
            'pairs.confidence desc, pairs.linked_event_id',
            condition="linked.event_kind = 'enforcement_case'",
        ) }} as linked_enforcement_case_ids,
        {{ ordered_list(
            'pairs.linked_event_id',
            'pairs.confidence desc, pairs.linked_event_id',
            condition="linked.event_kind = 'sensor_exceedance'",
        ) }} as linked_exceedance_ids,
        {{ ordered_list(
            'pairs.linked_event_id',
            'pairs.confidence desc, pairs.linked_event_id',
            condition="linked.event_kind = 'parking_violation'",
        ) }} as linked_violation_ids,
        count(*) as linked_event_count
    from pairs
    inner join events as linked
        on linked.event_id = pairs.linked_event_id
    group by pairs.event_id

),

enterprises_listed as (

    select
        event_id,
        {{ ordered_list('uscc', 'enterprise_rank') }} as linked_usccs,
        any_value(uscc) filter (where enterprise_rank = 1) as best_linked_uscc,
        any_value(link_method) filter (where enterprise_rank = 1) as best_linked_uscc_method
    from enterprises_ranked
    group by event_id

),

final as (

    select
        events.event_id,
        coalesce(listed.linked_hotline_order_ids, {{ empty_list() }}) as linked_hotline_order_ids,
        coalesce(listed.linked_grid_case_ids, {{ empty_list() }}) as linked_grid_case_ids,
        coalesce(listed.linked_enforcement_case_ids, {{ empty_list() }}) as linked_enforcement_case_ids,
        coalesce(listed.linked_exceedance_ids, {{ empty_list() }}) as linked_exceedance_ids,
        coalesce(listed.linked_violation_ids, {{ empty_list() }}) as linked_violation_ids,
        coalesce(enterprises_listed.linked_usccs, {{ empty_list() }}) as linked_usccs,
        coalesce(listed.linked_event_count, 0) as linked_event_count,
        enterprises_listed.best_linked_uscc,
        enterprises_listed.best_linked_uscc_method,
        -- the event's enterprise: the one it carries, else the strongest linked one, and how it was found
        coalesce(events.carried_uscc, enterprises_listed.best_linked_uscc) as uscc,
        case
            when events.carried_uscc is not null then 'id'
            else enterprises_listed.best_linked_uscc_method
        end as uscc_found_by
    from events
    left join listed
        on listed.event_id = events.event_id
    left join enterprises_listed
        on enterprises_listed.event_id = events.event_id

)

select * from final
