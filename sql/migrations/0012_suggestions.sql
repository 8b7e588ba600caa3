-- Upgrade suggestions from usage patterns, the marks that say whose evidence changed, and
-- the value of a unit of an outcome, which impact summaries price delivered outcomes with.

-- An account whose evidence changed since its suggestion was last computed. Written in the
-- transaction of the change (a threshold crossed, a denied check, a seat, a milestone, a
-- target, a tier change), drained by the scheduler; a mark never outlives its recompute.
-- Append-only, with no unique key and no foreign key: marking never waits on another
-- transaction, so it can sit anywhere in a change without risking a deadlock.
create table suggestion_marks (
    id         bigint generated always as identity primary key,
    account_id uuid not null,
    marked_at  timestamptz not null
);

-- Suggestions are history: a recompute with the same target tier updates the open one in
-- place (its id stays), anything else closes it and opens a new one.
create table suggestions (
    id                   uuid primary key,
    account_id           uuid not null references accounts (id),
    tier_key             text not null references tiers (key),  -- the suggested tier
    tier_version_id      bigint not null references tier_versions (id),
    from_tier_version_id bigint not null references tier_versions (id),
    status               text not null
                         check (status in ('open', 'accepted', 'dismissed', 'withdrawn')),
    confidence           numeric(3, 2) not null check (confidence > 0 and confidence <= 1),
    reasons              jsonb not null,
    gains                jsonb not null,
    currency             char(3) not null,
    monthly_delta_cents  bigint not null,
    annual_delta_cents   bigint not null,
    created_at           timestamptz not null,
    evaluated_at         timestamptz not null,  -- the last recompute, changed or not
    decided_at           timestamptz,           -- accepted or dismissed
    decided_by           text,
    dismiss_reason       text,
    dismissed_until      timestamptz,
    closed_at            timestamptz,           -- no longer the account's current one
    version              integer not null default 1,
    check ((status = 'dismissed') = (dismissed_until is not null)),
    -- Open is current; accepted and withdrawn are closed; dismissed is current until the
    -- evidence grows or its suppression ends.
    check (status = 'dismissed' or (status = 'open') = (closed_at is null))
);
-- At most one current suggestion (open, or dismissed and still suppressing) per account.
create unique index suggestions_current on suggestions (account_id) where closed_at is null;
-- A partner's open suggestions, most confident first.
create index suggestions_open_by_confidence on suggestions (confidence desc, id desc)
    where status = 'open';
-- Current suggestions not recomputed for a day are refreshed: evidence ages out too.
create index suggestions_evaluated on suggestions (evaluated_at) where closed_at is null;

-- What a unit of an outcome is worth to customers, e.g. an hour saved at a loaded hourly
-- rate. Set by admins as part of the catalog; impact summaries price delivered outcomes
-- with it. Null: the outcome is reported without a value.
alter table outcomes
    add column value_per_unit_cents bigint check (value_per_unit_cents >= 0),
    add column value_currency char(3),
    add constraint outcomes_value check ((value_per_unit_cents is null) = (value_currency is null));
