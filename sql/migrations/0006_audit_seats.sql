-- Entitlement changes by internal tools: an append-only audit log, promotional grants,
-- and seat assignments within the purchased count.

-- One row per change: who did what to which target, the state before and after, and why.
-- A rollback is itself an entry that names the entry it reverses; an entry is reversed at
-- most once.
create table audit_log (
    id          bigint generated always as identity primary key,
    at          timestamptz not null,
    actor       text not null,
    action      text not null,
    target_kind text not null,
    target_id   text not null,
    account_id  uuid references accounts (id),
    before      jsonb,
    after       jsonb,
    reason      text not null,
    request_id  text,
    rollback_of bigint unique references audit_log (id)
);
create index audit_log_account on audit_log (account_id, id);
create index audit_log_actor on audit_log (actor, id);
create index audit_log_target on audit_log (target_kind, target_id, id);

-- The database, not the service, keeps the log append-only: every role, the table's owner
-- included, is refused an update, delete or truncate.
create function refuse_audit_log_change() returns trigger
language plpgsql as $$
begin
    raise exception 'audit_log is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end
$$;
create trigger audit_log_append_only
    before update or delete on audit_log
    for each row execute function refuse_audit_log_change();
create trigger audit_log_no_truncate
    before truncate on audit_log
    for each statement execute function refuse_audit_log_change();

-- Promotional grants (campaigns, goodwill) join the sources an operator may grant from.
alter table grants drop constraint grants_source_check;
alter table grants add constraint grants_source_check check (source in (
    'tier', 'addon', 'milestone', 'anniversary', 'manual', 'trial', 'promotional'));
alter table grants add constraint grants_amount_finite check (amount is null or amount >= 0);

-- A seat held by a named user of the account. Releasing keeps the row as history; at most
-- one open assignment per user.
create table seat_assignments (
    id             uuid primary key,
    account_id     uuid not null references accounts (id),
    user_ref       text not null,
    assigned_at    timestamptz not null,
    released_at    timestamptz,
    last_active_at timestamptz,
    check (released_at is null or released_at >= assigned_at)
);
create unique index seat_assignments_open
    on seat_assignments (account_id, user_ref) where released_at is null;
