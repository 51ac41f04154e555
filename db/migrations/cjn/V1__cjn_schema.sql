-- The CJN's schema: the registry of courts, every message received (with its signed bytes, kept
-- for ever), the central fiches by NIU and version, the people they concern, the quarantine and
-- the alarms. The API (schema `cjn`) lives in db/functions/cjn/, rebuilt on every migrate.
-- This file never changes once landed.

do $$
declare
    r text;
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'cjn_owner') then
        create role cjn_owner nologin;
    end if;
    -- cjn_ingest: the daemon (calls cjn.ingest and the receipt bookkeeping only);
    -- cjn_operator: the CJN's staff; cjn_statistician: read-only statistics views;
    -- cjn_auditor: reads everything, changes nothing.
    foreach r in array array['cjn_ingest', 'cjn_operator', 'cjn_statistician', 'cjn_auditor'] loop
        if not exists (select from pg_catalog.pg_roles where rolname = r) then
            execute format('create role %I nologin', r);
        end if;
    end loop;
end
$$;

do $$
begin
    execute format('revoke connect, temporary on database %I from public', current_database());
    execute format('grant connect on database %I to cjn_ingest, cjn_operator, cjn_statistician, cjn_auditor',
                   current_database());
end
$$;
revoke create on schema public from public;
alter default privileges for role cjn_owner revoke execute on functions from public;

create schema if not exists ext;
create extension if not exists pg_trgm schema ext;
create extension if not exists unaccent schema ext;
grant usage on schema ext to cjn_owner;

create schema registry authorization cjn_owner;
revoke all on schema registry from public;

set local role cjn_owner;

create type registry.fiche_state as enum ('active', 'superseded', 'withdrawn');

-- The courts of the country, and what the CJN knows of their transmissions.
create table registry.court (
    code text primary key constraint court_code_format check (code ~ '^[0-9]{5}$'),
    name text not null constraint court_name_present check (btrim(name) <> ''),
    region text not null,
    departement text not null,
    arrondissement text not null,
    active boolean not null default true,
    -- Highest sequence number applied in order, and the last message received.
    applied_seq bigint not null default 0 constraint court_applied_seq_positive check (applied_seq >= 0),
    last_seq bigint not null default 0,
    last_message_at timestamptz,
    -- The court's audit chain head, as its last message carried it.
    audit_seq bigint,
    audit_hash text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Certificates issued to courts (by serial), and their status.
create table registry.court_certificate (
    serial text primary key,
    court_code text not null constraint court_certificate_court_fkey references registry.court (code),
    subject_key_id text not null,
    not_before timestamptz not null,
    not_after timestamptz not null,
    der bytea not null,
    revoked_at timestamptz,
    created_at timestamptz not null default now()
);
create index court_certificate_court on registry.court_certificate (court_code);

-- Every message received from a court, once, with the signed bytes it came in (kept for ever:
-- the signature can be verified again decades later). Applied in sequence order.
create table registry.message (
    message_id uuid primary key,
    court_code text not null constraint message_court_fkey references registry.court (code),
    seq bigint not null constraint message_seq_positive check (seq >= 1),
    kind text not null constraint message_kind_known
        check (kind in ('fiche_signed', 'fiche_rectified', 'fiche_withdrawn')),
    created_at timestamptz not null,
    received_at timestamptz not null default now(),
    payload jsonb not null,
    signed bytea not null,
    signed_hash bytea not null,
    applied_at timestamptz,
    receipt jsonb not null,
    constraint message_court_seq_unique unique (court_code, seq)
);
create index message_unapplied on registry.message (court_code, seq) where applied_at is null;

-- People, linked across courts by identity; spelling variants are proposed, never merged silently.
create table registry.person (
    person_id bigint generated always as identity primary key,
    surname text not null,
    given_names text not null,
    birth_date date not null,
    birth_place text,
    sex text,
    father text,
    mother text,
    -- Normalised identity: names, birth date and place, parents (unaccented, lower case).
    identity_key text not null constraint person_identity_key_unique unique,
    name_norm text not null,
    created_at timestamptz not null default now()
);
create index person_name_trgm on registry.person using gin (name_norm ext.gin_trgm_ops);
create index person_birth on registry.person (birth_date, name_norm);

create table registry.person_candidate (
    person_a bigint not null references registry.person (person_id),
    person_b bigint not null references registry.person (person_id),
    score real not null,
    decision text constraint person_candidate_decision_known check (decision in ('same', 'different')),
    decided_by text,
    decided_at timestamptz,
    proposed_at timestamptz not null default now(),
    constraint person_candidate_pkey primary key (person_a, person_b),
    constraint person_candidate_ordered check (person_a < person_b)
);

-- The central fiches: one row per NIU and version.
create table registry.fiche (
    niu text not null constraint fiche_niu_format check (niu ~ '^[0-9]{17}$'),
    version integer not null constraint fiche_version_positive check (version >= 1),
    court_code text not null constraint fiche_court_fkey references registry.court (code),
    state registry.fiche_state not null default 'active',
    person_id bigint not null constraint fiche_person_fkey references registry.person (person_id),
    content jsonb not null,
    -- Denormalised for statistics and extracts.
    sex text,
    birth_date date,
    conviction_date date,
    offence_date date,
    offence_category text,
    offence_class text,
    sentence_type text,
    sentence_months integer,
    suspended_months integer,
    fine_amount numeric(14, 2),
    minor boolean not null default false,
    message_id uuid not null constraint fiche_message_fkey references registry.message (message_id),
    signed_at timestamptz,
    withdrawn_at timestamptz,
    withdrawal_motive text,
    created_at timestamptz not null default now(),
    constraint fiche_pkey primary key (niu, version)
);
create index fiche_person on registry.fiche (person_id);
create index fiche_active on registry.fiche (niu) where state = 'active';

-- The history of each fiche as events (signed, rectified, withdrawn).
create table registry.fiche_event (
    fiche_event_id bigint generated always as identity primary key,
    niu text not null,
    version integer not null,
    kind text not null constraint fiche_event_kind_known check (kind in ('signed', 'rectified', 'withdrawn')),
    motive text,
    message_id uuid not null references registry.message (message_id),
    at timestamptz not null default now()
);
create index fiche_event_niu on registry.fiche_event (niu, fiche_event_id);

-- Gaps in a court's sequence numbers (a message not yet received), and when they were filled.
create table registry.sequence_gap (
    court_code text not null references registry.court (code),
    seq bigint not null,
    detected_at timestamptz not null default now(),
    filled_at timestamptz,
    constraint sequence_gap_pkey primary key (court_code, seq)
);

-- Messages refused before anything touched the registry, with their reason.
create table registry.quarantine (
    quarantine_id bigint generated always as identity primary key,
    received_at timestamptz not null default now(),
    topic text not null,
    claimed_court text,
    reason_code text not null,
    detail text,
    payload bytea not null
);

-- Alarms for the operator: the same message id with different content, a reused sequence number...
create table registry.alarm (
    alarm_id bigint generated always as identity primary key,
    raised_at timestamptz not null default now(),
    kind text not null,
    court_code text,
    message_id uuid,
    detail text not null,
    acknowledged_by text,
    acknowledged_at timestamptz
);

create table registry.functions_applied (
    functions_applied_id boolean primary key default true check (functions_applied_id),
    digest text not null,
    applied_at timestamptz not null default now()
);

reset role;
