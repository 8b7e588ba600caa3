-- A subscription can be canceled at the end of its period: the scheduler ends it then,
-- once, as it renews others; until then it can be reactivated.
alter table subscriptions add column cancel_at_period_end boolean not null default false;
