-- The trials each account has started, by tier: a frontend may start one trial of a tier
-- per account (self-serve), whoever started the earlier one. Trials started before this
-- table existed are read back from the audit log.
create table subscription_trials (
    account_id uuid not null references accounts (id),
    tier_key   text not null references tiers (key),
    started_at timestamptz not null,
    primary key (account_id, tier_key)
);

insert into subscription_trials (account_id, tier_key, started_at)
select distinct on (a.account_id, v.tier_key) a.account_id, v.tier_key, a.at
from audit_log a
join tier_versions v on v.id = (a.after ->> 'tierVersionId')::bigint
where a.action = 'subscription.trial_started' and a.account_id is not null
order by a.account_id, v.tier_key, a.at;
