-- The outbox's retention horizon: the cursor of the newest event ever pruned. A reader
-- whose cursor lies below it may have missed pruned events, and is told so instead of
-- silently skipping them. One row; pruning moves it forward in the transaction that
-- deletes the events, so a reader that checks it after reading can trust what it read.
create table event_horizon (
    singleton boolean primary key default true check (singleton),
    txid      xid8 not null,
    id        bigint not null
);
insert into event_horizon (txid, id) values ('0'::xid8, 0);
