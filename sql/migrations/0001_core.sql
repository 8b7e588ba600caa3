-- Core data model: catalog (outcomes, metrics, benefits, tiers and their versions),
-- accounts, partners, subscriptions, grants, usage counters, API keys and the event outbox.

create table outcomes (
    key         text primary key,
    name        text not null,
    unit        text not null,
    direction   text not null check (direction in ('increase', 'decrease')),
    description text not null default ''
);

create table metrics (
    key         text primary key,
    name        text not null,
    unit        text not null,
    aggregation text not null check (aggregation in ('sum', 'count', 'max', 'latest')),
    reset       text not null check (reset in ('billing_period', 'calendar_month', 'never'))
);

create table benefits (
    key           text primary key,
    name          text not null,
    kind          text not null check (kind in (
                      'feature', 'limit', 'credit', 'support',
                      'early_access', 'education', 'governance')),
    description   text not null default '',
    outcome_key   text references outcomes (key),
    -- Expected impact on the outcome, e.g. 2 "hours saved per admin per week".
    impact_amount numeric,
    impact_unit   text,
    -- A limit benefit raises the limit of this metric when granted.
    metric_key    text references metrics (key),
    introduced_on date not null,
    retired_on    date,
    check (retired_on is null or retired_on > introduced_on),
    check ((impact_amount is null) = (impact_unit is null)),
    check (kind <> 'limit' or metric_key is not null)
);

create table tiers (
    key  text primary key,
    name text not null,
    rank integer not null unique check (rank >= 0)
);

create table tier_versions (
    id                         bigint generated always as identity primary key,
    tier_key                   text not null references tiers (key),
    version                    integer not null check (version > 0),
    value_narrative            text not null,
    currency                   char(3) not null,
    monthly_price_cents        bigint not null check (monthly_price_cents >= 0),
    annual_price_cents         bigint not null check (annual_price_cents >= 0),
    support_level              text not null,
    support_first_response_hours integer not null check (support_first_response_hours > 0),
    support_channels           text[] not null,
    effective_from             timestamptz not null,
    published_at               timestamptz,
    unique (tier_key, version)
);

-- The outcomes a tier version targets, with an optional target the tier promises to move.
create table tier_outcomes (
    tier_version_id bigint not null references tier_versions (id),
    outcome_key     text not null references outcomes (key),
    target_amount   numeric,
    primary key (tier_version_id, outcome_key)
);

create table tier_limits (
    tier_version_id bigint not null references tier_versions (id),
    metric_key      text not null references metrics (key),
    enforcement     text not null check (enforcement in ('hard', 'soft', 'unlimited')),
    included        numeric check (included >= 0),
    primary key (tier_version_id, metric_key),
    check ((enforcement = 'unlimited') = (included is null))
);

create table tier_benefits (
    tier_version_id bigint not null references tier_versions (id),
    benefit_key     text not null references benefits (key),
    parameters      jsonb not null default '{}',
    primary key (tier_version_id, benefit_key)
);

create table tier_exclusions (
    tier_version_id      bigint not null references tier_versions (id),
    benefit_key          text not null references benefits (key),
    included_in_tier_key text references tiers (key),
    note                 text not null default '',
    primary key (tier_version_id, benefit_key)
);

create table accounts (
    id         uuid primary key,
    name       text not null,
    created_at timestamptz not null default now()
);

create table partners (
    id         uuid primary key,
    name       text not null,
    created_at timestamptz not null default now()
);

create table partner_accounts (
    partner_id uuid not null references partners (id),
    account_id uuid not null references accounts (id),
    primary key (partner_id, account_id)
);
create index partner_accounts_account on partner_accounts (account_id);

create table subscriptions (
    id                   uuid primary key,
    account_id           uuid not null unique references accounts (id),
    tier_version_id      bigint not null references tier_versions (id),
    term                 text not null check (term in ('monthly', 'annual')),
    seats                integer not null check (seats > 0),
    status               text not null check (status in ('trialing', 'active', 'past_due', 'canceled')),
    current_period_start timestamptz not null,
    current_period_end   timestamptz not null,
    renewal_date         date not null,
    scheduled_tier_version_id bigint references tier_versions (id),
    scheduled_change_at  timestamptz,
    started_at           timestamptz not null,
    version              integer not null default 1,
    check (current_period_end > current_period_start),
    check ((scheduled_tier_version_id is null) = (scheduled_change_at is null))
);

-- Grants are append-only history: a revocation sets revoked_at once, nothing is deleted.
create table grants (
    id          uuid primary key,
    account_id  uuid not null references accounts (id),
    benefit_key text not null references benefits (key),
    source      text not null check (source in ('tier', 'addon', 'milestone', 'anniversary', 'manual', 'trial')),
    -- For limit benefits: 'add' raises the tier's limit by amount, 'override' replaces it.
    amount      numeric,
    mode        text not null default 'add' check (mode in ('add', 'override')),
    valid_from  timestamptz not null,
    valid_until timestamptz,
    revoked_at  timestamptz,
    reason      text not null default '',
    created_at  timestamptz not null default now(),
    version     integer not null default 1,
    check (valid_until is null or valid_until > valid_from)
);
create index grants_account on grants (account_id);

-- One row per account, metric and period. A metric that never resets uses the epoch as
-- its single period start.
create table usage_counters (
    account_id   uuid not null references accounts (id),
    metric_key   text not null references metrics (key),
    period_start timestamptz not null,
    period_end   timestamptz,
    value        numeric not null default 0,
    updated_at   timestamptz not null default now(),
    primary key (account_id, metric_key, period_start)
);

-- Daily buckets for time series and trends.
create table usage_daily (
    account_id uuid not null references accounts (id),
    metric_key text not null references metrics (key),
    day        date not null,
    value      numeric not null default 0,
    primary key (account_id, metric_key, day)
);

create table api_keys (
    id           text primary key,  -- the public part of the key, used for lookup
    secret_hash  bytea not null,    -- sha256 of the secret part; the secret itself is never stored
    name         text not null,
    role         text not null check (role in ('partner', 'operator', 'admin')),
    partner_id   uuid references partners (id),
    created_at   timestamptz not null default now(),
    revoked_at   timestamptz,
    check ((role = 'partner') = (partner_id is not null))
);

-- The event outbox. Rows are written in the transaction of the change they report; the
-- cursor is (txid, id), read only below the oldest running transaction, so a transaction
-- that commits late cannot be skipped.
create table events (
    id         bigint generated always as identity primary key,
    txid       xid8 not null default pg_current_xact_id(),
    type       text not null,
    account_id uuid references accounts (id),
    payload    jsonb not null default '{}',
    created_at timestamptz not null default now()
);
create index events_cursor on events (txid, id);
create index events_account_cursor on events (account_id, txid, id);
