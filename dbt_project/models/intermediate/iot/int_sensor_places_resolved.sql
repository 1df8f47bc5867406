-- Where each registered sensor place is: one row per register row of the observation domains - a monitored road
-- (road_dust), restaurant (cooking_fume), garbage station (garbage_sorting), sanitation vehicle, worker
-- (personnel) and parking lot (static_traffic) - with the district's street and community. Restaurants are
-- located by int_places_located (codes, then their point). The others: the street as served (a code or a name,
-- int_street_names) → the served community's street → the point's nearest unit grid (stations and lots, which
-- carry a point) → unresolved; the community only where the register names one (stations). Also the
-- restaurant's enterprise (its uscc, only when it passes the GB 32100-2015 check) and the lot's capacity.
-- Heavy-diesel vehicles have no register: their place is each fix's (int_obd_fixes_located).
with roads as (

    select * from {{ ref('stg_citymgmt__roads') }}

),

restaurants as (

    select * from {{ ref('stg_citymgmt__restaurants') }}

),

stations as (

    select * from {{ ref('stg_citymgmt__garbage_stations') }}

),

vehicles as (

    select * from {{ ref('stg_citymgmt__vehicles') }}

),

workers as (

    select * from {{ ref('stg_citymgmt__workers') }}

),

lots as (

    select * from {{ ref('stg_citymgmt__parking_lots') }}

),

restaurant_places as (

    select * from {{ ref('int_places_located') }}
    where event_kind = 'restaurant'

),

street_names as (

    select * from {{ ref('int_street_names') }}

),

community_names as (

    select * from {{ ref('int_community_names') }}

),

registered as (

    select 'road_dust' as domain_code, road_id as place_id, road_name as place_name,
        street_code_as_served, null::{{ dbt.type_string() }} as community_code_as_served, null::double as lat, null::double as lon,
        null::{{ dbt.type_string() }} as uscc, null::integer as capacity
    from roads
    union all
    select 'garbage_sorting', station_id, station_name, street_code_as_served, community_code_as_served, lat, lon,
        null, null
    from stations
    union all
    select 'sanitation_vehicle', vehicle_id, plate, street_code_as_served, null, null, null, null, null
    from vehicles
    union all
    select 'personnel', worker_id, null, street_code_as_served, null, null, null, null, null
    from workers
    union all
    select 'static_traffic', lot_id, lot_name, street_code_as_served, null, lat, lon, null, capacity
    from lots

),

pointed as (

    select domain_code || '/' || place_id as place_key, lat, lon
    from registered
    where lat is not null and lon is not null

),

nearest as (

    {{ iot_nearest_cell('pointed', 'place_key') }}

),

coded as (

    select
        registered.domain_code,
        registered.place_id,
        registered.place_name,
        registered.street_code_as_served,
        registered.uscc,
        registered.capacity,
        street.street_code as served_street_code,
        street.spelling_kind as served_street_spelling_kind,
        community.community_code,
        community.street_code as community_street_code,
        nearest.street_code as point_street_code
    from registered
    left join street_names as street
        on street.street_spelling = registered.street_code_as_served
    left join community_names as community
        on community.community_spelling = registered.community_code_as_served
    left join nearest
        on nearest.place_key = registered.domain_code || '/' || registered.place_id

),

unified as (

    select
        domain_code,
        place_id,
        place_name,
        coalesce(served_street_code, community_street_code, point_street_code) as street_code,
        case
            when served_street_code is not null and served_street_spelling_kind = 'code' then 'street_code'
            when served_street_code is not null then 'street_name'
            when community_street_code is not null then 'community_code'
            when point_street_code is not null then 'coordinates'
            else 'unresolved'
        end as street_located_by,
        community_code,
        uscc,
        capacity
    from coded

    union all

    select
        'cooking_fume' as domain_code,
        restaurants.restaurant_id as place_id,
        restaurants.restaurant_name as place_name,
        restaurant_places.street_code,
        coalesce(restaurant_places.street_located_by, 'unresolved') as street_located_by,
        restaurant_places.community_code,
        case when {{ uscc_is_valid('restaurants.uscc') }} then restaurants.uscc end as uscc,
        null::integer as capacity
    from restaurants
    left join restaurant_places
        on restaurant_places.event_id = restaurants.restaurant_id

)

select * from unified
