-- One row per key enterprise and month (uscc, period): the rows of the newest revision of the month's release
-- (YYYYMM, then YYYYMM_r1, _r2...; a release republished in place: its newest landing). A revision is the full
-- month again, so an enterprise it leaves out is out of the month, not carried over from an older revision.
with source as (

    select * from {{ source('statistics', 'key_enterprises') }}

),

latest as (

    select *
    from source
    qualify dense_rank() over (
        partition by period
        order by revision desc, published_at desc, _ingested_at desc, _batch_id desc
    ) = 1

),

renamed as (

    select
        {{ normalise_code('uscc') }} as uscc,
        period,
        {{ parse_date("period || '01'", '%Y%m%d') }} as period_month,
        {{ uscc_is_valid(normalise_code('uscc')) }} as uscc_is_valid,
        release,
        revision,
        published_at,
        source_row,
        trim(replace(replace(enterprise_name, '（', '('), '）', ')')) as enterprise_name,
        {{ normalise_code('street_name') }} as street_code_as_served,
        {{ normalise_code('industry_code') }} as industry_code,
        revenue_wan as revenue_wan_cny,
        profit_wan as profit_wan_cny,
        tax_wan as tax_wan_cny,
        employees,
        energy_tce,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
