-- CloudEvents ingest: an event is identified by its `id` within its `source` (the
-- CloudEvents rule), so the source joins the account and the event id in the dedup key.
-- Events recorded through usageRecord have no source: theirs is ''.
alter table usage_event_ids add column source text not null default '';
alter table usage_event_ids drop constraint usage_event_ids_pkey,
    add primary key (account_id, source, event_id);
alter table usage_events add column source text not null default '';
