-- Unique counts: a `unique_count` metric counts the distinct values of one event property
-- (`unique_property`) per period. Each distinct value is a row, per period and per day, so
-- the count is exact at any size and a value seen again (in any batch, concurrent or
-- retried) counts nothing: a row's primary key decides, whatever races.
alter table metrics drop constraint metrics_aggregation_check,
    add constraint metrics_aggregation_check
        check (aggregation in ('sum', 'count', 'max', 'latest', 'unique_count'));
alter table metrics add column unique_property text,
    add constraint metrics_unique_property_check
        check ((aggregation = 'unique_count') = (unique_property is not null)),
    -- A group's distinct values would need rows of their own per group.
    add constraint metrics_unique_count_ungrouped_check
        check (aggregation <> 'unique_count' or cardinality(group_by) = 0);

create table usage_unique_values (
    account_id   uuid not null,
    metric_key   text not null,
    period_start timestamptz not null,
    value        text not null,
    primary key (account_id, metric_key, period_start, value)
);

-- The days' distinct values: a series point of several days counts its distinct values
-- over them, which no sum of daily counts gives.
create table usage_unique_days (
    account_id uuid not null,
    metric_key text not null,
    day        date not null,
    value      text not null,
    primary key (account_id, metric_key, day, value)
);
