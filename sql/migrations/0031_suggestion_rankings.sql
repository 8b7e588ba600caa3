-- The confidence each open suggestion is ranked by, per round of the suggestion job, so
-- that a walk through `suggestions` reads the ranking as it stood at its first page while
-- the job changes confidences in place. A round is one transaction of the job; rounds are
-- numbered under the lock of `suggestion_ranking`'s row, so they commit in their order.
-- A changed confidence closes the suggestion's current row at its round and opens
-- another. Rows of suggestions no longer open are never read (a suggestion that left the
-- list never comes back to it) and are dropped; closed rows are kept a day.
create table suggestion_rankings (
    suggestion_id uuid not null references suggestions (id),
    confidence    numeric(3, 2) not null,
    valid_from    bigint not null,       -- the round that ranked it so
    valid_until   bigint,                -- the round that ranked it otherwise; null: current
    ended_at      timestamptz,           -- the job's clock at that round, for pruning
    primary key (suggestion_id, valid_from),
    check (valid_until is null or valid_until > valid_from),
    check ((valid_until is null) = (ended_at is null))
);
create unique index suggestion_rankings_current on suggestion_rankings (suggestion_id)
    where valid_until is null;
create index suggestion_rankings_rank on suggestion_rankings
    (confidence desc, suggestion_id desc);
create index suggestion_rankings_ended on suggestion_rankings (ended_at)
    where ended_at is not null;

-- The last committed round (what a walk's first page reads), and the greatest round that
-- ended a row since removed: a walk of an earlier round would miss it and is refused.
create table suggestion_ranking (
    one            boolean primary key default true check (one),
    round          bigint not null,
    pruned_through bigint not null
);
insert into suggestion_ranking (one, round, pruned_through) values (true, 0, 0);

-- The suggestions open now, ranked at round 0.
insert into suggestion_rankings (suggestion_id, confidence, valid_from)
select id, confidence, 0 from suggestions where status = 'open';

-- The list reads the ranking now; `suggestions_open_by_confidence` serves the release
-- before this one, whose replicas run beside this one's during a rollout (expand, then
-- contract): a later migration drops it.
