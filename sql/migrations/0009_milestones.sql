-- Milestones that reward adoption, and the achievements that happen at most once per
-- account, milestone and occurrence.

create table milestones (
    key          text primary key,
    name         text not null,
    description  text not null default '',
    kind         text not null check (kind in (
                     'usage_threshold', 'sustained_usage', 'renewal_anniversary',
                     'outcome_target', 'seat_utilisation')),
    -- usage_threshold and sustained_usage: a metric's counter at or above threshold in a
    -- period (sustained: in each of `periods` consecutive closed periods).
    metric_key   text references metrics (key),
    threshold    numeric check (threshold > 0),
    -- sustained_usage: how many periods; renewal_anniversary: which anniversary.
    periods      integer check (periods > 0),
    -- seat_utilisation uses threshold as the share of purchased seats assigned (0 to 1].
    -- outcome_target: the account's target for this outcome is met.
    outcome_key  text references outcomes (key),
    repeatable   boolean not null,  -- once per period (or target window), or once ever
    reward_benefit_key text references benefits (key),
    reward_amount numeric check (reward_amount >= 0),
    reward_days  integer check (reward_days > 0),  -- null: the reward does not expire
    active       boolean not null default true,
    created_at   timestamptz not null,
    -- Time-driven milestones are evaluated up to here; the scheduler moves it forward.
    evaluated_until timestamptz,
    version      integer not null default 1,
    check ((kind in ('usage_threshold', 'sustained_usage')) = (metric_key is not null)),
    check ((kind in ('usage_threshold', 'sustained_usage', 'seat_utilisation'))
           = (threshold is not null)),
    check ((kind in ('sustained_usage', 'renewal_anniversary')) = (periods is not null)),
    check ((kind = 'outcome_target') = (outcome_key is not null)),
    check (kind <> 'seat_utilisation' or threshold <= 1),
    check (reward_benefit_key is not null or (reward_amount is null and reward_days is null))
);

-- The database, not the code, keeps an achievement to one per occurrence: concurrent
-- ingests that cross one threshold insert one row between them.
create table achievements (
    id            uuid primary key,
    account_id    uuid not null references accounts (id),
    milestone_key text not null references milestones (key),
    occurrence    text not null,  -- 'once', or the period / anniversary it belongs to
    achieved_at   timestamptz not null,
    value         numeric,
    grant_id      uuid references grants (id),
    unique (account_id, milestone_key, occurrence)
);
create index achievements_account on achievements (account_id, achieved_at);

-- Closed periods of a metric, found without scanning every counter (sustained usage).
create index usage_counters_closing on usage_counters (metric_key, period_end)
    where period_end is not null;
