-- Counters and daily buckets are updated in place thousands of times a second. With full
-- pages every update writes a new entry into the primary key; leaving half of each page
-- free lets Postgres keep the new row version on the same page (a HOT update), which
-- touches no index at all. Autovacuum prunes the old versions.

alter table usage_counters set (fillfactor = 50);
alter table usage_daily set (fillfactor = 50);
