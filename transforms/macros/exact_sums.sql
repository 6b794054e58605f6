{#- Sums and averages of fractional numbers that come out the same in every build.

    A sum of doubles depends on the order it adds them in (floating-point addition is not
    associative), and DuckDB's threads add a group's rows in whatever order they reach them:
    the same rows gave 1885.940000000002 in one build and 1885.9400000000023 in the next, so
    the marts' bytes, and the suppliers' feed versions, changed with nothing new in the data.
    Decimals add exactly, in any order. So every fractional value the models sum or average
    (forecast units, weights, ratios) is first rounded to `scale` decimal places, 9 unless a
    model says otherwise, which is far finer than any figure a mart publishes, and summed as
    a decimal. Integers and money (decimal(18, 2) from staging on) are summed as they are:
    they add exactly already. -#}

{# the sum of `expression`, each value rounded to `scale` decimals: a decimal(38, scale) #}
{% macro exact_sum(expression, scale=9) -%}
    sum(cast({{ expression }} as decimal(38, {{ scale }})))
{%- endmacro %}

{# the mean of `expression`, each value rounded to `scale` decimals, as a double #}
{% macro exact_avg(expression, scale=9) -%}
    cast(avg(cast({{ expression }} as decimal(38, {{ scale }}))) as double)
{%- endmacro %}

{# the sample standard deviation of a whole-number `expression` (null under two values),
   from exact integer sums: DuckDB's stddev_samp() updates a running mean per thread and
   merges the threads' states in the order they finish #}
{% macro exact_stddev_samp(expression) -%}
    case when count({{ expression }}) > 1 then sqrt(
        cast(
            count({{ expression }}) * sum(cast({{ expression }} as decimal(38, 0)) * cast({{ expression }} as decimal(38, 0)))
                - sum(cast({{ expression }} as decimal(38, 0))) * sum(cast({{ expression }} as decimal(38, 0)))
            as double
        ) / (count({{ expression }}) * (count({{ expression }}) - 1))
    ) end
{%- endmacro %}
