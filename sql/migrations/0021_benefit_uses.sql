-- When an account last used each benefit it may use: allowed entitlement checks of a
-- feature, tallied in memory and added in batches like denials. Adoption tips and renewal
-- notes read it (with the usage of a benefit's metric) to tell used from unused.
create table benefit_uses (
    account_id   uuid not null references accounts (id),
    benefit_key  text not null,
    count        bigint not null,
    first_at     timestamptz not null,
    last_at      timestamptz not null,
    primary key (account_id, benefit_key)
);
