-- One row per garbage pick-up (garbage.collection): its latest version, soft-deleted pick-ups left out; a weight
-- no truck carries flagged as a spike, not dropped. A pick-up is an event, not a series: no neighbours, no
-- stuck rule. Incremental: each run reads only the raw batches it has not seen and replaces the held rows of
-- their keys (macros/citymgmt_readings.sql).
with {{ citymgmt_incremental_source('garbage__collection', key='collection_id', unique_key='collection_id') }},

renamed as (

    select
        collection_id,
        station_id,
        {{ normalise_code('truck_plate') }} as truck_plate,
        collected_at,
        lower(trim(waste_type)) as waste_type,
        weight_kg,
        mixed,
        updated_at,
        deleted_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

),

{{ citymgmt_changed('renamed', key='collection_id') }},

flagged as (

    select
        *,
        -- over 20 t: more than the largest compactor truck's payload, for one pick-up
        coalesce(weight_kg > 20000, false) as is_spike
    from changed
    where deleted_at is null

),

final as (

    select * from flagged
    {%- if is_incremental() %}  {#- a full build has no soft deletes to write (citymgmt_changed) #}
    union all by name
    select * from deleted
    {%- endif %}

)

select * from final
