-- Usage retention: raw events are kept BENEFITGATE_USAGE_RETENTION_DAYS, by dropping each
-- monthly partition of usage_events once all of it is older than that (the service checks
-- that retention covers the backfill window). Serialised with the creation of partitions.
create function drop_usage_partitions(before timestamptz) returns setof text
language plpgsql as $$
declare
    part text;
begin
    perform pg_advisory_xact_lock(hashtext('benefitgate.usage_events.partitions'));
    for part in
        select c.relname::text from pg_inherits i
        join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'usage_events'::regclass
          and c.relname ~ '^usage_events_[0-9]{4}_[0-9]{2}$'
          and (to_date(substr(c.relname, 14), 'YYYY_MM') + interval '1 month')::timestamp
              at time zone 'UTC' <= before
        order by 1
    loop
        execute format('drop table %I', part);
        return next part;
    end loop;
end
$$;
