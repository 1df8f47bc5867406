-- Every heavy-diesel OBD fix put in its unit grid and street: the nearest cell centroid within
-- places_max_cell_distance_m() (macros/iot_places.sql), a fix farther from every centroid left unlocated
-- (outside the gridded district). Incremental: each run locates only the fixes of the batches staged since the
-- newest one it holds (a correction of a fix is a newer version: located again); a fix deleted upstream keeps
-- its row here, never read (readings join to it from staging). A change of the grid register needs
-- `gridlake build --full-refresh --select int_obd_fixes_located+`.
{{ config(
    materialized=incremental_materialization(),
    unique_key='obd_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with fixes as (

    select obd_id, lat, lon, ingested_at
    from {{ ref('stg_citymgmt__diesel_obd') }}
    {{ citymgmt_new_batches(column='ingested_at') }}

),

nearest as (

    {{ iot_nearest_cell('fixes', 'obd_id') }}

),

final as (

    select
        fixes.obd_id,
        nearest.grid_code,
        nearest.street_code,
        nearest.community_code,
        nearest.distance_m,
        fixes.ingested_at
    from fixes
    left join nearest
        on nearest.obd_id = fixes.obd_id

)

select * from final
