-- Jobs that follow the outbox from a cursor of their own: the position each has handled.
-- A job locks its row, reads the events after it, acts on them and moves the row in one
-- transaction, so a crash in between repeats the work and loses none.
create table event_consumers (
    name text primary key,
    txid xid8 not null,
    id   bigint not null
);

-- Upgrade suggestions follow the outbox from its newest event on; before this migration
-- each change marked its account directly, in its own transaction.
insert into event_consumers (name, txid, id)
select 'suggestions', coalesce(newest.txid, '0'::xid8), coalesce(newest.id, 0)
from (select 1) as one
left join lateral (
    select txid, id from events order by txid desc, id desc limit 1
) as newest on true;
