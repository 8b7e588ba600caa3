-- Metering: raw usage events partitioned by month, deduplication over the accepted window,
-- counters for every aggregation, threshold crossings, idempotency keys and denied checks.

-- `latest` keeps the value of the newest event, so counters remember when that was.
alter table usage_counters add column last_event_at timestamptz;
alter table usage_daily add column last_event_at timestamptz;

-- One row per accepted client event id. Not partitioned: a unique key on a partitioned
-- table must include the partition key, and a retry may arrive in another month.
-- Rows older than the accepted window are pruned by the service.
create table usage_event_ids (
    account_id  uuid not null,
    event_id    text not null,
    received_at timestamptz not null,
    primary key (account_id, event_id)
);
create index usage_event_ids_received_at on usage_event_ids (received_at);

-- Raw events, one partition per UTC month; retention is a partition drop. Accounts and
-- metrics are checked at ingest, so the hot insert path carries no foreign keys.
create table usage_events (
    account_id   uuid not null,
    metric_key   text not null,
    event_id     text not null,
    value        numeric not null,
    occurred_at  timestamptz not null,
    received_at  timestamptz not null,
    period_start timestamptz not null
) partition by range (occurred_at);
create index usage_events_account_metric on usage_events (account_id, metric_key, occurred_at);

-- Creates the partition holding `month` unless it exists. Serialised by an advisory lock so
-- that replicas creating the same month at once do not collide.
create function ensure_usage_partition(month date) returns void
language plpgsql as $$
declare
    first_day date := date_trunc('month', month)::date;
    name text := format('usage_events_%s', to_char(first_day, 'YYYY_MM'));
begin
    perform pg_advisory_xact_lock(hashtext('benefitgate.usage_events.partitions'));
    if to_regclass(name) is null then
        execute format(
            'create table %I partition of usage_events for values from (%L) to (%L)',
            name,
            first_day::timestamp at time zone 'UTC',
            (first_day + interval '1 month')::timestamp at time zone 'UTC'
        );
    end if;
end
$$;

-- 80 % and 100 % of a limit, crossed at most once per account, metric and period.
create table usage_thresholds (
    account_id   uuid not null references accounts (id),
    metric_key   text not null references metrics (key),
    period_start timestamptz not null,
    threshold    smallint not null check (threshold in (80, 100)),
    crossed_at   timestamptz not null,
    primary key (account_id, metric_key, period_start, threshold)
);

-- The first result of an idempotent request, replayed for retries with the same arguments.
create table idempotency_keys (
    scope        text not null,  -- the caller: a key id, or a frontend's subject
    key          text not null,
    operation    text not null,
    request_hash bytea not null,
    response     jsonb not null,
    created_at   timestamptz not null,
    primary key (scope, key)
);
create index idempotency_keys_created_at on idempotency_keys (created_at);

-- Denied entitlement checks per account, feature (or metric) and reason.
create table entitlement_denials (
    account_id uuid not null references accounts (id),
    feature    text not null,
    reason     text not null,
    count      bigint not null,
    first_at   timestamptz not null,
    last_at    timestamptz not null,
    primary key (account_id, feature, reason)
);
