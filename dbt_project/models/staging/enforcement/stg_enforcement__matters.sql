-- The enforcement platform's matter list (6 categories, 30 matters) as it serves it now: the newest snapshot
-- batch that has rows (a snapshot lands only when the list changed, so a newer batch may hold none).
with source as (

    select * from {{ source('enforcement', 'matters') }}

),

latest as (

    select *
    from source
    qualify dense_rank() over (order by _ingested_at desc, _batch_id desc) = 1

),

renamed as (

    select
        {{ normalise_code('matter_code') }} as matter_code,
        matter_name,
        matter_name_en,
        {{ normalise_code('category_code') }} as category_code,
        category_name,
        category_name_en,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
