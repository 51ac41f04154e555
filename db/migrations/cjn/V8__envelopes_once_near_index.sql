-- Issue 14: each signed envelope stored once, and a message row that holds what is not already
-- elsewhere. This file never changes once landed.
-- - registry.envelope: the bytes a court signed (CMS SignedData, the court's signature
--   verified by cjn-ingest), once per envelope, by their SHA-256. Before, every message of an
--   envelope held its own copy of the whole envelope (ten copies of ~1.9 kB for an envelope of
--   10 fiches, bench/RESULTS.md § Message sizes), and hashed it again.
--   `storage external`: the bytes are compressed CBOR under a signature, pglz would gain nothing.
-- - registry.message keeps the message's identity (id, court, sequence number, kind, NIU,
--   version, digest of its payload) and its envelope's digest. Its payload (the JSON of the
--   fiche or event) is kept only while the message waits for its turn (a gap before it): once
--   applied, the registry holds its content (registry.fiche, fiche_event, sentence_event) and
--   the envelope holds it as signed. A duplicate is recognised by the payload's digest.
-- - Near matches (a spelling variant born the same day) from one index on (birth date, names'
--   trigrams): registry.person_birth_trgm, GiST (btree_gist for the date). Ingest looks for
--   them for every new person (cjn._person_for) and extracts for every request
--   (cjn.find_person); both read every person born that day and compared names one by one,
--   which is ~400 people a day at 5 000 000 people and ~2 300 on a 1 January ("né vers"). It
--   replaces person_name_trgm (GIN on names alone, which no query used) and person_birth_names
--   (V4, birth date and names, for that scan).
-- - The receipt is no longer stored: it is made again from the row (cjn._receipt), the same
--   fields with the same values (its stored_at was now() in the transaction that set the row's
--   received_at to now()).

drop schema if exists cjn cascade;
drop schema if exists stat cascade;
delete from registry.functions_applied;

create extension if not exists btree_gist schema ext;

set local role cjn_owner;

create index person_birth_trgm on registry.person
    using gist (birth_date, name_norm ext.gist_trgm_ops (siglen = 32));
drop index registry.person_name_trgm;
drop index registry.person_birth_names;

create table registry.envelope (
    signed_hash bytea primary key constraint envelope_hash_sha256 check (octet_length(signed_hash) = 32),
    signed bytea not null,
    received_at timestamptz not null default now()
);
alter table registry.envelope alter column signed set storage external;

insert into registry.envelope (signed_hash, signed, received_at)
select distinct on (m.signed_hash) m.signed_hash, m.signed, m.received_at
  from registry.message m
 order by m.signed_hash, m.received_at;

alter table registry.message
    add column niu text,
    add column version integer,
    add column payload_hash bytea,
    alter column payload drop not null;
update registry.message m
   set niu = m.payload ->> 'niu', version = (m.payload ->> 'version')::integer,
       payload_hash = sha256(convert_to(m.payload::text, 'UTF8')),
       payload = case when m.applied_at is null then m.payload end;
alter table registry.message
    drop column signed,
    drop column receipt,
    alter column niu set not null,
    alter column version set not null,
    alter column payload_hash set not null,
    add constraint message_envelope_fkey foreign key (signed_hash) references registry.envelope (signed_hash),
    add constraint message_payload_until_applied check (payload is not null or applied_at is not null);

reset role;
