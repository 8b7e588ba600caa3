-- Scheduled impact reports: one per account and period, written once by the scheduler
-- (the primary key makes a second write a no-op) and never changed after: a new period is
-- a new report, so a report is versioned by its period.
create table impact_reports (
    account_id    uuid not null references accounts (id),
    period_start  date not null,
    period_end    date not null,  -- inclusive
    created_at    timestamptz not null,
    document      jsonb not null,  -- the report as exported: figures and names as of then
    primary key (account_id, period_start, period_end),
    check (period_end >= period_start)
);

create function refuse_impact_report_change() returns trigger
language plpgsql as $$
begin
    raise exception 'impact reports are immutable' using errcode = 'insufficient_privilege';
end
$$;
create trigger impact_reports_immutable
    before update or delete on impact_reports
    for each row execute function refuse_impact_report_change();
create trigger impact_reports_no_truncate
    before truncate on impact_reports
    for each statement execute function refuse_impact_report_change();
