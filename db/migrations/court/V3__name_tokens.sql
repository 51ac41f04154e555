-- Name search through a dictionary of name words: each fiche lists the words of its names
-- (GIN-indexed), and the small dictionary of distinct words carries the trigram index, so a
-- spelling-tolerant search looks up similar words first, then the fiches holding them.

alter table court.fiche add column name_tokens text[] not null default '{}';
-- A derived column, filled without the fiche triggers (no content changes).
set local session_replication_role = replica;
update court.fiche set name_tokens = string_to_array(name_norm, ' ') where name_norm <> '';
set local session_replication_role = origin;

set local role juris_owner;
create index fiche_name_tokens on court.fiche using gin (name_tokens);

create table court.name_token (
    token text primary key constraint name_token_present check (token <> '')
);
insert into court.name_token (token)
select distinct unnest(name_tokens) from court.fiche on conflict do nothing;
create index name_token_trgm on court.name_token using gin (token ext.gin_trgm_ops);

drop index court.fiche_name_norm_trgm;

reset role;
