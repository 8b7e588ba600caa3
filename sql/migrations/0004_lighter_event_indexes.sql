-- Raw usage events are written a thousand at a time and read rarely: counters and daily
-- buckets answer every read. A B-tree per event on each of the two tables cost about a
-- fifth of the ingest statements' time. Block-range indexes serve what remains, time-range
-- scans and pruning by age, because both tables are appended in time order.

drop index usage_events_account_metric;
create index usage_events_occurred_at on usage_events using brin (occurred_at);

drop index usage_event_ids_received_at;
create index usage_event_ids_received_at on usage_event_ids using brin (received_at);
