-- The plain-language glossary of the license's terms, managed by internal tools. Each
-- change is an audit entry; `version` counts the changes of one term.
create table glossary_terms (
    key        text primary key check (key ~ '^[a-z][a-z0-9_]{0,63}$'),
    term       text not null check (length(term) between 1 and 100),
    definition text not null check (length(definition) between 1 and 2000),
    example    text not null default '' check (length(example) <= 1000),
    version    integer not null default 1,
    updated_at timestamptz not null
);
