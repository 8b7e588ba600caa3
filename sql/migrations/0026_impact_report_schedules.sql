-- An account's own period for impact reports, set by internal tools (0: none); accounts
-- without a row follow the service's BENEFITGATE_REPORT_MONTHS.
create table impact_report_schedules (
    account_id  uuid primary key references accounts (id),
    months      integer not null check (months in (0, 1, 2, 3, 4, 6, 12))
);
