-- Credits: a credit benefit's grants are its lots (amount in, until the grant ends); each
-- consumption draws from them, soonest-ending first, recorded here with the usage event of
-- the credit's metric it was recorded as. The ledger is the grants, these draws, and what
-- was left of each lot when it ended.
create table credit_draws (
    id         bigint generated always as identity primary key,
    account_id uuid not null references accounts (id),
    grant_id   uuid not null references grants (id),
    metric_key text not null references metrics (key),
    event_id   text not null,  -- the usage event (source 'credit') of this consumption
    amount     numeric not null check (amount > 0),
    at         timestamptz not null,
    unique (account_id, event_id, grant_id)
);
create index credit_draws_grant on credit_draws (grant_id);
create index credit_draws_account on credit_draws (account_id, id);
