-- Catalog versions: drafts, publishing, and benefits edited by internal tools.

-- A tier has at most one draft (an unpublished version) at a time. A draft is based on the
-- tier's newest version and numbered after it, so two drafts of one tier could not both be
-- published in order; the index makes that exact under concurrency.
create unique index tier_versions_one_draft on tier_versions (tier_key)
    where published_at is null;

-- Benefit changes (retirement) are optimistic: the caller names the version it read.
alter table benefits add column version integer not null default 1;

-- A published version is what subscriptions pin (grandfathering), and what audit entries,
-- outbox events and diffs describe: the database refuses any change to it or to its parts,
-- whoever the role, so a published version can never move under a customer. Publishing a
-- draft (an update of a row whose published_at is still null) is the one update allowed,
-- and drafts may be discarded.
create function refuse_published_tier_version_change() returns trigger
language plpgsql as $$
begin
    if tg_op = 'UPDATE' and old.published_at is null then
        return new;
    end if;
    if tg_op = 'DELETE' and old.published_at is null then
        return old;
    end if;
    raise exception 'tier version % is published and immutable: % refused', old.id, tg_op
        using errcode = 'insufficient_privilege';
end
$$;
create trigger tier_versions_immutable
    before update or delete on tier_versions
    for each row execute function refuse_published_tier_version_change();

-- The parts (outcomes, limits, benefits, exclusions) of a published version. Inserts stay
-- allowed: loaders such as the demo seed write a version row, then its parts.
create function refuse_published_tier_part_change() returns trigger
language plpgsql as $$
begin
    if exists (
        select 1 from tier_versions v
        where v.published_at is not null
          and (v.id = old.tier_version_id or (tg_op = 'UPDATE' and v.id = new.tier_version_id))
    ) then
        raise exception 'tier version % is published and immutable: % on % refused',
            old.tier_version_id, tg_op, tg_table_name
            using errcode = 'insufficient_privilege';
    end if;
    if tg_op = 'DELETE' then
        return old;
    end if;
    return new;
end
$$;
create trigger tier_outcomes_immutable before update or delete on tier_outcomes
    for each row execute function refuse_published_tier_part_change();
create trigger tier_limits_immutable before update or delete on tier_limits
    for each row execute function refuse_published_tier_part_change();
create trigger tier_benefits_immutable before update or delete on tier_benefits
    for each row execute function refuse_published_tier_part_change();
create trigger tier_exclusions_immutable before update or delete on tier_exclusions
    for each row execute function refuse_published_tier_part_change();
