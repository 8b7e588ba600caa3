-- Provisioning: accounts carry the vendor's own id (its billing system's customer id) and
-- bounded metadata, and change under optimistic versions, as subscriptions do.
alter table accounts
    add column external_id text,
    add column metadata    jsonb not null default '{}',
    add column version     integer not null default 1,
    add constraint accounts_external_id_length
        check (external_id is null or length(external_id) between 1 and 255);
create unique index accounts_external_id on accounts (external_id);

alter table partners add column version integer not null default 1;
