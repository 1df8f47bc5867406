{#- Locating points without DuckDB's spatial extension (not available): an equirectangular projection to metres
    with its standard parallel at the middle of the district's box (vars lat_min/lat_max), and pairs of points
    found by a bucketed equi-join instead of a cross join. Within Dongcheng (0.11 degrees of latitude) the
    projection's distances are off by less than 0.1 %; the tests recompute them with the same formula in Python. -#}


{#- Metres per degree of latitude on the mean Earth radius (6,371,008.8 m × π / 180). -#}
{% macro places_metres_per_degree() -%}
    111195.0797
{%- endmacro %}


{#- The projected coordinates of a point, in metres: y north, x east (x shrinks with the cosine of the standard
    parallel). Null when the coordinate is null. -#}
{% macro places_y_m(lat) -%}
    (cast({{ lat }} as double) * {{ places_metres_per_degree() }})
{%- endmacro %}

{% macro places_x_m(lon) -%}
    (cast({{ lon }} as double) * {{ places_metres_per_degree() }}
        * cos(radians(({{ var('lat_min') }} + {{ var('lat_max') }}) / 2.0)))
{%- endmacro %}


{#- The distance in metres between two points (the projection's plane distance). -#}
{% macro places_distance_m(lat1, lon1, lat2, lon2) -%}
    sqrt(
        pow({{ places_y_m(lat2) }} - {{ places_y_m(lat1) }}, 2)
        + pow({{ places_x_m(lon2) }} - {{ places_x_m(lon1) }}, 2)
    )
{%- endmacro %}


{#- How far a point may lie from the centroid of its unit grid. Cells are about 10,000 m2 (a square of 100 m: a
    point inside one is within about 70 m of its centroid; cells are not squares, and in the served grid the
    farthest event point lies 150 m from the nearest centroid); a point farther than 200 m from every centroid
    is outside the gridded district and is not located by coordinates (setting links.max_cell_distance_m). -#}
{% macro places_max_cell_distance_m() -%}
    {{ var('link_max_cell_distance_m') }}
{%- endmacro %}


{#- Every pair of a point of `left` and a point of `right` at most `radius_m` apart, as a select: the columns
    `left_columns` of left and `right_columns` of right (names must not collide), and `distance_m`.
    The plane is cut in square buckets of side `radius_m`; each right point is written into the 3 × 3 buckets
    around its own and joined on the left point's bucket (an equi-join DuckDB hashes), so every pair within the
    radius meets once and only the neighbourhood is compared: about (points × right points in 9 buckets) distances
    instead of points × right points. Rows without coordinates never pair. -#}
{% macro places_pairs_within(left, right, radius_m, left_columns, right_columns,
                             left_lat='lat', left_lon='lon', right_lat='lat', right_lon='lon') -%}
    select
        {%- for column in left_columns %}
        left_points.{{ column }},
        {%- endfor %}
        {%- for column in right_columns %}
        right_points.{{ column }},
        {%- endfor %}
        sqrt(pow(right_points.y_m - left_points.y_m, 2) + pow(right_points.x_m - left_points.x_m, 2))
            as distance_m
    from (
        select
            {{ left_columns | join(', ') }},
            {{ places_x_m(left_lon) }} as x_m,
            {{ places_y_m(left_lat) }} as y_m,
            cast(floor({{ places_x_m(left_lon) }} / ({{ radius_m }})) as bigint) as bucket_x,
            cast(floor({{ places_y_m(left_lat) }} / ({{ radius_m }})) as bigint) as bucket_y
        from {{ left }}
        where {{ left_lat }} is not null and {{ left_lon }} is not null
            and {{ is_finite(left_lat) }} and {{ is_finite(left_lon) }}
    ) as left_points
    inner join (
        select
            {{ right_columns | join(', ') }},
            {{ places_x_m(right_lon) }} as x_m,
            {{ places_y_m(right_lat) }} as y_m,
            cast(floor({{ places_x_m(right_lon) }} / ({{ radius_m }})) as bigint) + neighbour_x.step as bucket_x,
            cast(floor({{ places_y_m(right_lat) }} / ({{ radius_m }})) as bigint) + neighbour_y.step as bucket_y
        from {{ right }}
        cross join (values (-1), (0), (1)) as neighbour_x (step)
        cross join (values (-1), (0), (1)) as neighbour_y (step)
        where {{ right_lat }} is not null and {{ right_lon }} is not null
            and {{ is_finite(right_lat) }} and {{ is_finite(right_lon) }}
    ) as right_points
        on right_points.bucket_x = left_points.bucket_x
        and right_points.bucket_y = left_points.bucket_y
    where sqrt(pow(right_points.y_m - left_points.y_m, 2) + pow(right_points.x_m - left_points.x_m, 2))
        <= ({{ radius_m }})
{%- endmacro %}
