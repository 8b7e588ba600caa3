-- Dimensions: a metric may name up to three event properties to group its usage by. Each
-- group's usage is counted beside the metric's total, per period and per day; limits and
-- thresholds stay on the total. The number of groups per account, metric and period is
-- bounded by the service (a typed rejection past it).
alter table metrics add column group_by text[] not null default '{}'
    check (cardinality(group_by) <= 3);

-- `dimensions` holds the value of each of the metric's group_by properties ({"region":
-- "eu", "method": null}); jsonb compares objects by content, so one group is one row.
create table usage_group_counters (
    account_id    uuid not null,
    metric_key    text not null,
    period_start  timestamptz not null,
    dimensions    jsonb not null,
    value         numeric not null,
    last_event_at timestamptz,
    primary key (account_id, metric_key, period_start, dimensions)
) with (fillfactor = 50);

create table usage_group_daily (
    account_id    uuid not null,
    metric_key    text not null,
    day           date not null,
    dimensions    jsonb not null,
    value         numeric not null,
    last_event_at timestamptz,
    primary key (account_id, metric_key, day, dimensions)
) with (fillfactor = 50);
