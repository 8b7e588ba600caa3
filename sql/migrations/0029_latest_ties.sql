-- A latest gauge's buckets keep the id and source of the reading they hold beside its
-- time: of readings at one time the greater event id, then source, is the latest across
-- batches as within one (the batch written last won, so concurrent batches left either
-- reading). Null in rows written before, and for other aggregations.
alter table usage_counters add column last_event_id text, add column last_source text;
alter table usage_daily add column last_event_id text, add column last_source text;
alter table usage_group_counters add column last_event_id text, add column last_source text;
alter table usage_group_daily add column last_event_id text, add column last_source text;
