-- Renewal reminders sent, at most one per account, renewal and lead time.
create table renewal_reminders (
    account_id   uuid not null references accounts (id),
    renewal_at   timestamptz not null,  -- the end of the period being reminded of
    days_before  integer not null check (days_before > 0),
    sent_at      timestamptz not null,
    primary key (account_id, renewal_at, days_before)
);
