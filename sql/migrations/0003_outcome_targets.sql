-- Outcome targets per account, set by internal tools, and the metric that measures an
-- outcome so that progress toward a target can be read from the daily usage buckets.

alter table outcomes add column metric_key text references metrics (key);

-- One current target per account and outcome; setting it again replaces it.
create table outcome_targets (
    account_id  uuid not null references accounts (id),
    outcome_key text not null references outcomes (key),
    target      numeric not null check (target >= 0),
    starts_on   date not null,
    ends_on     date not null,
    note        text not null default '',
    set_by      text not null,
    set_at      timestamptz not null,
    primary key (account_id, outcome_key),
    check (ends_on >= starts_on)
);
