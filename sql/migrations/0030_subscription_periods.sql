-- The billing periods a subscription has ended, with the term each ran for: a backdated
-- event counts in the period that held at its instant, and stepping back from the
-- current period by the current term misses a renewal into another term. Written with
-- every change that ends a period (`subscriptions.repository.save`); the current period
-- stays on the subscription's row.
create table subscription_periods (
    account_id   uuid not null references subscriptions (account_id) on delete cascade,
    period_start timestamptz not null,
    period_end   timestamptz not null,
    term         text not null check (term in ('monthly', 'annual')),
    primary key (account_id, period_start),
    check (period_end > period_start)
);

-- What is known of the periods ended before: each audited change that moved a period on
-- (a renewal by the scheduler) recorded the period before it. Periods since moved past,
-- or not before the row's current one, are left out.
insert into subscription_periods (account_id, period_start, period_end, term)
select distinct on (l.account_id, (l.before ->> 'currentPeriodStart')::timestamptz)
    l.account_id,
    (l.before ->> 'currentPeriodStart')::timestamptz,
    least((l.before ->> 'currentPeriodEnd')::timestamptz,
          (l.after ->> 'currentPeriodStart')::timestamptz),
    l.before ->> 'term'
from audit_log l
join subscriptions s on s.account_id = l.account_id
where l.target_kind = 'subscription'
  and (l.after ->> 'currentPeriodStart')::timestamptz
      > (l.before ->> 'currentPeriodStart')::timestamptz
  and (l.before ->> 'currentPeriodStart')::timestamptz < s.current_period_start
order by l.account_id, (l.before ->> 'currentPeriodStart')::timestamptz, l.id desc;
