-- Webhook endpoints: where events are pushed, signed, to the Standard Webhooks
-- specification, and how far each endpoint's delivery has come.
create table webhook_endpoints (
    id          uuid primary key default gen_random_uuid(),
    partner_id  uuid references partners (id) on delete cascade,  -- null: an internal tool's
    url         text not null,
    description text not null default '',
    event_types text[],  -- null: every type
    account_ids uuid[],  -- null: every account the owner may see
    status      text not null default 'enabled' check (status in ('enabled', 'disabled')),
    disabled_reason text,
    -- Signing secrets, encrypted with the service's webhook key: a dump alone cannot sign.
    secret      bytea not null,
    previous_secret bytea,  -- still signs beside the new one until it expires
    previous_secret_expires_at timestamptz,
    -- Delivery: the last event handled (sent, or not wanted), in outbox cursor order.
    cursor_txid xid8 not null,
    cursor_id   bigint not null,
    attempts    integer not null default 0,  -- consecutive failures of the next event
    failing_since   timestamptz,
    next_attempt_at timestamptz,  -- null: now
    -- A replica delivers an endpoint only while it holds the lease.
    lease_owner text,
    lease_until timestamptz,
    version     integer not null default 1,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
create index webhook_endpoints_partner on webhook_endpoints (partner_id);
create index webhook_endpoints_due on webhook_endpoints (next_attempt_at) where status = 'enabled';

-- Every delivery attempt, for the endpoint's delivery log.
create table webhook_attempts (
    id           bigint generated always as identity primary key,
    endpoint_id  uuid not null references webhook_endpoints (id) on delete cascade,
    event_id     bigint,  -- null for a test send
    webhook_id   text not null,
    event_type   text not null,
    attempted_at timestamptz not null,
    succeeded    boolean not null,
    status_code  integer,
    latency_ms   double precision not null,
    error        text
);
create index webhook_attempts_endpoint on webhook_attempts (endpoint_id, id);
