-- The events the links connect, one row each, in one shape: hotline work orders, grid cases, enforcement cases,
-- monitored restaurants and fume exceedances (a restaurant's exceeding day), dust and diesel NOx exceedance
-- episodes (int_sensor_exceedances: a road's street; a vehicle's first exceeding fix, its point from
-- stg_citymgmt__diesel_obd) and illegal-parking violations (their point), with their time, their matter
-- (the domain, reference.md, and the enforcement matter when one fits), their place (int_places_located: street,
-- community, grid, point) and the ids they carry to the other platforms.
-- Matter: a work order's service group gives its domain; a grid case's subcategory is read as an enforcement
-- matter name, else as a hotline service name, its category as a domain name, else as an enforcement category
-- whose matters share one domain, else the case is the grid's own (grid_supervision); an enforcement case's
-- matter code (or, dirty, the matter's name) gives its domain. `matter_name`: the service name, the grid
-- subcategory, the enforcement matter's name (the links compare them where no matter code fits).
with places as (

    select * from {{ ref('int_places_located') }}

),

orders as (

    select * from {{ ref('int_hotline_requests_enriched') }}

),

grid_cases as (

    select * from {{ ref('stg_citymgmt__grid_cases') }}

),

enforcement_cases as (

    select * from {{ ref('stg_enforcement__cases') }}

),

restaurants as (

    select * from {{ ref('stg_citymgmt__restaurants') }}

),

exceedances as (

    select * from {{ ref('int_fume_exceedances_grouped') }}

),

sensor_exceedances as (

    select * from {{ ref('int_sensor_exceedances') }}
    where exceedance_kind in ('dust', 'diesel_nox')

),

obd_fixes as (

    select obd_id, lat, lon from {{ ref('stg_citymgmt__diesel_obd') }}

),

violations as (

    select * from {{ ref('stg_citymgmt__parking_violations') }}

),

streets as (

    select street_code from {{ ref('dongcheng_streets') }}

),

matters as (

    select * from {{ ref('enforcement_matters') }}

),

domains as (

    select * from {{ ref('domains') }}

),

service_domains as (

    select services.service_name, any_value(service_groups.domain_code) as domain_code
    from {{ ref('stg_hotline__services') }} as services
    inner join {{ ref('service_groups') }} as service_groups
        on service_groups.service_group = services.service_group
    where service_groups.domain_code is not null
    group by services.service_name
    having count(distinct service_groups.domain_code) = 1

),

category_domains as (

    -- an enforcement category says the domain only when all its matters are of one (A, B, D, E, F; not C)
    select category_name, any_value(domain_code) as domain_code
    from matters
    group by category_name
    having count(distinct domain_code) = 1

),

order_events as (

    select
        'hotline_order' as event_kind,
        orders.request_id as event_id,
        orders.received_at as event_at,
        orders.domain_code,
        matters.matter_code,
        orders.service_name as matter_name,
        -- a consultation or a praise is no report of a place's problem: it is linked by ids only
        coalesce(orders.request_type not in ('consult', 'praise'), true) as is_report,
        orders.description as event_text,
        null::{{ dbt.type_string() }} as carried_hotline_request_id,
        null::{{ dbt.type_string() }} as carried_grid_case_id,
        null::{{ dbt.type_string() }} as carried_uscc,
        null::{{ dbt.type_string() }} as carried_restaurant_id,
        null::{{ dbt.type_string() }} as enterprise_name
    from orders
    left join matters
        on matters.matter_name = orders.service_name

),

grid_events as (

    select
        'grid_case' as event_kind,
        grid_cases.case_id as event_id,
        grid_cases.reported_at as event_at,
        coalesce(
            by_matter.domain_code, by_service.domain_code, by_domain.domain_code, by_category.domain_code,
            'grid_supervision'
        ) as domain_code,
        by_matter.matter_code,
        grid_cases.case_subcategory as matter_name,
        coalesce(grid_cases.case_status <> 'voided', true) as is_report,
        grid_cases.case_description as event_text,
        grid_cases.hotline_request_id as carried_hotline_request_id,
        null::{{ dbt.type_string() }} as carried_grid_case_id,
        null::{{ dbt.type_string() }} as carried_uscc,
        null::{{ dbt.type_string() }} as carried_restaurant_id,
        null::{{ dbt.type_string() }} as enterprise_name
    from grid_cases
    left join matters as by_matter
        on by_matter.matter_name = grid_cases.case_subcategory
    left join service_domains as by_service
        on by_service.service_name = grid_cases.case_subcategory
    left join domains as by_domain
        on by_domain.domain_name = grid_cases.case_category
    left join category_domains as by_category
        on by_category.category_name = grid_cases.case_category

),

enforcement_events as (

    select
        'enforcement_case' as event_kind,
        enforcement_cases.case_id as event_id,
        enforcement_cases.filed_at as event_at,
        matters.domain_code,
        matters.matter_code,
        matters.matter_name,
        coalesce(enforcement_cases.status <> 'revoked', true) as is_report,
        enforcement_cases.result_text as event_text,
        enforcement_cases.hotline_request_id as carried_hotline_request_id,
        enforcement_cases.grid_case_id as carried_grid_case_id,
        case when enforcement_cases.party_uscc_is_valid then enforcement_cases.party_uscc end as carried_uscc,
        null::{{ dbt.type_string() }} as carried_restaurant_id,
        enforcement_cases.party_enterprise_name as enterprise_name
    from enforcement_cases
    left join matters
        on matters.matter_code = enforcement_cases.matter_code
        or matters.matter_name = enforcement_cases.matter_code

),

restaurant_events as (

    select
        'restaurant' as event_kind,
        restaurant_id as event_id,
        null::{{ type_instant() }} as event_at,
        'cooking_fume' as domain_code,
        'C01' as matter_code,
        '餐饮油烟' as matter_name,
        true as is_report,
        null::{{ dbt.type_string() }} as event_text,
        null::{{ dbt.type_string() }} as carried_hotline_request_id,
        null::{{ dbt.type_string() }} as carried_grid_case_id,
        case when {{ uscc_is_valid('uscc') }} then uscc end as carried_uscc,
        null::{{ dbt.type_string() }} as carried_restaurant_id,
        nullif(trim(restaurant_name), '') as enterprise_name
    from restaurants

),

exceedance_events as (

    select
        'fume_exceedance' as event_kind,
        exceedance_id as event_id,
        first_exceeding_at as event_at,
        'cooking_fume' as domain_code,
        'C01' as matter_code,
        '餐饮油烟' as matter_name,
        true as is_report,
        null::{{ dbt.type_string() }} as event_text,
        null::{{ dbt.type_string() }} as carried_hotline_request_id,
        null::{{ dbt.type_string() }} as carried_grid_case_id,
        null::{{ dbt.type_string() }} as carried_uscc,
        restaurant_id as carried_restaurant_id,
        null::{{ dbt.type_string() }} as enterprise_name
    from exceedances

),

sensor_events as (

    -- an episode's matter is its kind (dust, diesel_nox) within its domain; no enforcement matter fits one
    select
        'sensor_exceedance' as event_kind,
        exceedance_id as event_id,
        started_at as event_at,
        domain_code,
        null::{{ dbt.type_string() }} as matter_code,
        exceedance_kind as matter_name,
        true as is_report,
        null::{{ dbt.type_string() }} as event_text,
        null::{{ dbt.type_string() }} as carried_hotline_request_id,
        null::{{ dbt.type_string() }} as carried_grid_case_id,
        null::{{ dbt.type_string() }} as carried_uscc,
        null::{{ dbt.type_string() }} as carried_restaurant_id,
        null::{{ dbt.type_string() }} as enterprise_name
    from sensor_exceedances

),

violation_events as (

    select
        'parking_violation' as event_kind,
        cast(violation_id as {{ dbt.type_string() }}) as event_id,
        observed_at as event_at,
        'static_traffic' as domain_code,
        null::{{ dbt.type_string() }} as matter_code,
        violation_source as matter_name,
        true as is_report,
        null::{{ dbt.type_string() }} as event_text,
        null::{{ dbt.type_string() }} as carried_hotline_request_id,
        null::{{ dbt.type_string() }} as carried_grid_case_id,
        null::{{ dbt.type_string() }} as carried_uscc,
        null::{{ dbt.type_string() }} as carried_restaurant_id,
        null::{{ dbt.type_string() }} as enterprise_name
    from violations

),

own_places as (

    -- the places int_places_located does not hold: a road's street, a vehicle's first exceeding fix, a violation's
    -- point (its street as served, when it is the district's)
    select
        'sensor_exceedance' as event_kind,
        sensor_exceedances.exceedance_id as event_id,
        sensor_exceedances.street_code,
        sensor_exceedances.community_code,
        sensor_exceedances.grid_code,
        obd_fixes.lat,
        obd_fixes.lon,
        sensor_exceedances.ended_at as event_until
    from sensor_exceedances
    left join obd_fixes
        on sensor_exceedances.exceedance_kind = 'diesel_nox'
        and cast(obd_fixes.obd_id as {{ dbt.type_string() }}) = sensor_exceedances.first_reading_id
    union all
    select
        'parking_violation',
        cast(violations.violation_id as {{ dbt.type_string() }}),
        streets.street_code,
        null::{{ dbt.type_string() }},
        null::{{ dbt.type_string() }},
        violations.lat,
        violations.lon,
        null::{{ type_instant() }}
    from violations
    left join streets
        on streets.street_code = violations.street_code_as_served

),

unioned as (

    select * from order_events
    union all
    select * from grid_events
    union all
    select * from enforcement_events
    union all
    select * from restaurant_events
    union all
    select * from exceedance_events
    union all
    select * from sensor_events
    union all
    select * from violation_events

),

final as (

    select
        unioned.*,
        -- an exceedance is where its restaurant is
        coalesce(places.street_code, restaurant_places.street_code, own_places.street_code) as street_code,
        coalesce(places.community_code, restaurant_places.community_code, own_places.community_code)
            as community_code,
        coalesce(places.grid_code, restaurant_places.grid_code, own_places.grid_code) as grid_code,
        coalesce(places.lat, restaurant_places.lat, own_places.lat) as lat,
        coalesce(places.lon, restaurant_places.lon, own_places.lon) as lon,
        coalesce(exceedances.last_exceeding_at, own_places.event_until) as event_until
    from unioned
    left join places
        on places.event_kind = unioned.event_kind
        and places.event_id = unioned.event_id
    left join places as restaurant_places
        on restaurant_places.event_kind = 'restaurant'
        and restaurant_places.event_id = unioned.carried_restaurant_id
    left join exceedances
        on unioned.event_kind = 'fume_exceedance'
        and exceedances.exceedance_id = unioned.event_id
    left join own_places
        on own_places.event_kind = unioned.event_kind
        and own_places.event_id = unioned.event_id

)

select * from final
