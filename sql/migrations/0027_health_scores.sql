-- Account health scores, kept by the scheduler's health job (health/refresh.py) so that
-- accounts at risk are a page of an index instead of every renewing account scored per
-- request. Each account has one current row (valid_until null); a changed score closes
-- it and opens another, and closed rows are kept a day, so a walk through the pages
-- reads the ranking as it stood at one instant (`health_ranking.ranked_at` when it
-- began) whatever was scored since.
create table health_scores (
    account_id  uuid not null references accounts (id),
    score       smallint not null check (score between 0 and 100),
    factors     jsonb not null,           -- those that apply, most harmful first
    renews_on   date,                     -- the live subscription's renewal date, if any
    valid_from  timestamptz not null,     -- the round that scored it
    valid_until timestamptz,              -- the round that scored it otherwise; null: current
    scored_at   timestamptz not null,     -- the last round that found this score
    primary key (account_id, valid_from),
    check (valid_until is null or valid_until > valid_from)
);
create unique index health_scores_current on health_scores (account_id)
    where valid_until is null;
create index health_scores_rank on health_scores (score, account_id);
create index health_scores_ended on health_scores (valid_until)
    where valid_until is not null;

-- Accounts an event named since they were last scored, waiting for the job.
create table health_marks (
    account_id uuid primary key references accounts (id),
    marked_at  timestamptz not null
);

-- The instant of the last round of scores (every round's rows are written under a lock
-- on this row, each after the one before): what a first page of accounts at risk reads.
create table health_ranking (
    one        boolean primary key default true check (one),
    ranked_at  timestamptz
);
insert into health_ranking (one, ranked_at) values (true, null);

-- The job follows the outbox from its newest event on: every account is unscored at
-- first, and so scored at its first run anyway.
insert into event_consumers (name, txid, id)
select 'health', coalesce(newest.txid, '0'::xid8), coalesce(newest.id, 0)
from (select 1) as one
left join lateral (
    select txid, id from events order by txid desc, id desc limit 1
) as newest on true;
