-- The district's events across the nine domains, one row each (int_events_unified), with the events and
-- enterprises linked to them (int_event_links_listed). The enterprise: the uscc the event carries (an enforcement
-- case's party, a restaurant's fume episode), else the strongest linked one. No personal data and no point: an
-- order's and a hotline grid case's point is where a citizen stood or lives, a violation's locates a vehicle
-- (with its plate hash, left out too); the unit grid (about 100 m) is the finest place here, as in
-- hotline_requests and grid_case_lifecycle. Texts (descriptions, results) are left out for the same reason.
with events as (

    select * from {{ ref('int_events_unified') }}

),

event_links as (

    select * from {{ ref('int_event_links_listed') }}

),

final as (

    select
        events.event_id,
        events.event_kind,
        events.source_id,
        events.source_platform,
        events.source_entity,
        events.origin,
        events.domain_code,
        events.matter_category,
        events.matter_code,
        events.matter_name,
        events.enforcement_matter_code,
        events.street_code,
        events.street_located_by,
        events.community_code,
        events.community_located_by,
        events.grid_code,
        events.grid_located_by,
        events.occurred_at,
        events.occurred_date,
        events.closed_at,
        events.status,
        events.status_group,
        events.responsible_unit_type,
        events.responsible_unit_code,
        event_links.uscc,
        event_links.uscc_found_by,
        events.severity,
        events.urgency,
        events.penalty_cny,
        events.exceedance_ratio,
        event_links.linked_hotline_order_ids,
        event_links.linked_grid_case_ids,
        event_links.linked_enforcement_case_ids,
        event_links.linked_exceedance_ids,
        event_links.linked_violation_ids,
        event_links.linked_usccs,
        event_links.linked_event_count
    from events
    inner join event_links
        on event_links.event_id = events.event_id

)

select * from final
