-- What a subscription does at the end of its period or trial: a term change scheduled
-- for the renewal (beside a scheduled tier change), and trials that either convert to
-- their tier or fall back to the tier held before.

alter table subscriptions add column scheduled_term text
    check (scheduled_term in ('monthly', 'annual'));

-- A scheduled change has a time exactly when it changes something.
alter table subscriptions drop constraint subscriptions_check1;
alter table subscriptions add constraint subscriptions_scheduled_change check (
    (scheduled_change_at is null)
    = (scheduled_tier_version_id is null and scheduled_term is null));

alter table subscriptions
    add column trial_ends_at timestamptz,
    add column trial_fallback_tier_version_id bigint references tier_versions (id),
    add column trial_converts boolean not null default false;

-- Trials that began before this migration end with their current period and fall back to
-- the lowest tier's version then in force.
update subscriptions
set trial_ends_at = current_period_end,
    trial_fallback_tier_version_id = (
        select v.id from tier_versions v join tiers t on t.key = v.tier_key
        where v.published_at is not null
        order by t.rank, v.version desc
        limit 1)
where status = 'trialing';

alter table subscriptions add constraint subscriptions_trial check (
    (status = 'trialing') = (trial_ends_at is not null)
    and (trial_ends_at is null) = (trial_fallback_tier_version_id is null));

-- The scheduler finds what is due without scanning every subscription.
create index subscriptions_period_due on subscriptions (current_period_end)
    where status <> 'canceled';
create index subscriptions_trial_due on subscriptions (trial_ends_at)
    where trial_ends_at is not null;
