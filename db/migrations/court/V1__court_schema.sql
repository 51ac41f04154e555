-- The court schema: roles, tables, constraints and the append-only audit table.
-- Functions, triggers and grants on them live in db/functions/court/ (schema `juris`),
-- dropped and rebuilt on every migrate. This file never changes once landed.

-- Roles are cluster-wide: create them once, whatever the number of court databases.
do $$
declare
    r text;
begin
    -- Owns the court tables and the API functions; nobody logs in as it.
    if not exists (select from pg_catalog.pg_roles where rolname = 'juris_owner') then
        create role juris_owner nologin createrole;
    end if;
    -- Owns the audit table, so that even the functions' owner cannot alter its triggers.
    if not exists (select from pg_catalog.pg_roles where rolname = 'juris_audit_owner') then
        create role juris_audit_owner nologin;
    end if;
    -- Group roles of the staff (privileges 1, 2, 3) and of the court's listener daemon.
    foreach r in array array['agent', 'secretaire', 'greffier', 'juris_listener'] loop
        if not exists (select from pg_catalog.pg_roles where rolname = r) then
            execute format('create role %I nologin', r);
        end if;
    end loop;
end
$$;

-- The owner may add and remove staff members of the group roles, and end a suspended user's sessions.
grant agent, secretaire, greffier to juris_owner with admin option;
grant pg_signal_backend to juris_owner;

-- Only the staff and the listener may connect to this database.
do $$
begin
    execute format('revoke connect, temporary on database %I from public', current_database());
    execute format('grant connect on database %I to agent, secretaire, greffier, juris_listener',
                   current_database());
    execute format('grant temporary on database %I to agent, secretaire, greffier', current_database());
end
$$;

revoke create on schema public from public;
-- Functions are executable by nobody until granted, role by role.
alter default privileges for role juris_owner revoke execute on functions from public;

-- Extensions in a schema of their own, on the functions' pinned search_path.
create schema if not exists ext;
create extension if not exists pg_trgm schema ext;
create extension if not exists unaccent schema ext;
grant usage on schema ext to juris_owner;

create schema court authorization juris_owner;
revoke all on schema court from public;

set local role juris_owner;

-- Workflow states, as the users number them: 0 brouillon ... 5 déclassée.
create type court.fiche_status as enum ('brouillon', 'soumise', 'verifiee', 'signee', 'archivee', 'declassee');
create type court.sex as enum ('M', 'F');
create type court.civil_status as enum ('celibataire', 'marie', 'divorce', 'veuf', 'union_libre');
create type court.offence_class as enum ('crime', 'delit', 'contravention');
create type court.sentence_type as enum (
    'emprisonnement', 'amende', 'emprisonnement_amende', 'travaux_interet_general',
    'perpetuite', 'mort', 'autre');

-- The court's identity: one row, set by `xmjuris court init`.
create table court.court (
    court_id boolean primary key default true constraint court_single_row check (court_id),
    code text not null constraint court_code_format check (code ~ '^[0-9]{5}$'),
    name text not null constraint court_name_present check (btrim(name) <> ''),
    region text not null constraint court_region_present check (btrim(region) <> ''),
    departement text not null constraint court_departement_present check (btrim(departement) <> ''),
    arrondissement text not null constraint court_arrondissement_present check (btrim(arrondissement) <> ''),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Settings of the court (one row); a DBA changes them with UPDATE.
create table court.setting (
    setting_id boolean primary key default true constraint setting_single_row check (setting_id),
    -- At most this many agents (privilege 1) and secrétaires (privilege 2), suspended ones excluded.
    max_agents integer not null default 19 constraint setting_max_agents_range check (max_agents between 0 and 10000),
    max_secretaires integer not null default 19
        constraint setting_max_secretaires_range check (max_secretaires between 0 and 10000),
    -- Age of criminal responsibility, in years, at the date of the offences.
    min_age_years integer not null default 10 constraint setting_min_age_range check (min_age_years between 0 and 25),
    updated_at timestamptz not null default now()
);
insert into court.setting default values;

-- Staff: each row is also a PostgreSQL login role of the same name.
create table court.app_user (
    app_user_id bigint generated always as identity primary key,
    login text not null
        constraint app_user_login_unique unique
        constraint app_user_login_format check (login ~ '^[a-z][a-z0-9_]{1,62}$'),
    full_name text not null constraint app_user_full_name_present check (btrim(full_name) <> ''),
    privilege smallint not null constraint app_user_privilege_range check (privilege between 0 and 3),
    created_by text not null default session_user,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
-- One greffier per court.
create unique index app_user_one_greffier on court.app_user ((true)) where privilege = 3;

-- Gapless counters: fiche numbers, NIU sequence per year, message sequence.
-- A counter row is locked until commit, so a rolled-back use leaves no hole.
create table court.counter (
    name text not null constraint counter_name_known check (name in ('fiche', 'niu', 'message')),
    year integer not null default 0,
    value bigint not null default 0 constraint counter_value_positive check (value >= 0),
    constraint counter_pkey primary key (name, year)
);

-- Offence categories, for statistics (codes shared with the CJN).
create table court.offence_category (
    code text primary key constraint offence_category_code_format check (code ~ '^[A-Z][A-Z0-9_]{1,31}$'),
    label text not null constraint offence_category_label_present check (btrim(label) <> '')
);

insert into court.offence_category (code, label) values
    ('ATT_PERSONNES', 'Atteintes volontaires aux personnes'),
    ('HOMICIDE', 'Homicide volontaire'),
    ('HOMICIDE_INVOL', 'Homicide et blessures involontaires'),
    ('VIOLENCES', 'Violences volontaires'),
    ('MOEURS', 'Atteintes aux mœurs et agressions sexuelles'),
    ('VOL', 'Vol et recel'),
    ('ESCROQUERIE', 'Escroquerie, abus de confiance'),
    ('ATT_BIENS_PUBLICS', 'Atteintes aux biens publics, détournement de fonds publics'),
    ('CORRUPTION', 'Corruption et trafic d''influence'),
    ('STUPEFIANTS', 'Stupéfiants'),
    ('ARMES', 'Armes et munitions'),
    ('CIRCULATION', 'Circulation routière'),
    ('FAUX', 'Faux et usage de faux'),
    ('FAMILLE', 'Atteintes à la famille et aux mineurs'),
    ('ETAT', 'Atteintes à la sûreté de l''État et à l''autorité publique'),
    ('ENVIRONNEMENT', 'Environnement, faune et flore'),
    ('ECONOMIQUE', 'Infractions économiques et financières'),
    ('AUTRE', 'Autres infractions');

-- One conviction record ("fiche"): the justiciable, the condamnation, and the workflow state.
create table court.fiche (
    fiche_id bigint generated always as identity primary key,
    number bigint not null constraint fiche_number_unique unique,
    status court.fiche_status not null default 'brouillon',
    version integer not null default 1 constraint fiche_version_positive check (version >= 1),
    niu text constraint fiche_niu_unique unique constraint fiche_niu_format check (niu ~ '^[0-9]{17}$'),
    reference text constraint fiche_reference_length check (length(reference) <= 64),

    -- Le justiciable.
    surname text constraint fiche_surname_length check (length(surname) <= 200),
    given_names text constraint fiche_given_names_length check (length(given_names) <= 200),
    birth_date date,
    birth_place text,
    sex court.sex,
    father text,
    mother text,
    profession text,
    civil_status court.civil_status,
    domicile text,
    nationality text,

    -- La condamnation.
    conviction_date date,
    offence_date date,
    offence_nature text constraint fiche_offence_nature_length check (length(offence_nature) <= 2000),
    offence_category text constraint fiche_offence_category_fkey references court.offence_category (code),
    offence_class court.offence_class,
    warrants text,
    road_traffic text,
    sentence_type court.sentence_type,
    sentence_months integer constraint fiche_sentence_months_range check (sentence_months between 0 and 1200),
    suspended_months integer constraint fiche_suspended_months_range check (suspended_months between 0 and 1200),
    fine_amount numeric(14, 2) constraint fiche_fine_amount_positive check (fine_amount >= 0),
    legal_recidivism boolean not null default false,
    minor boolean not null default false,
    excluded_b2 boolean not null default false,
    excluded_b3 boolean not null default false,

    -- Search key (unaccented, lower-case names), maintained by a trigger.
    name_norm text not null default '',

    -- Workflow: who did what, when.
    created_by text not null,
    created_at timestamptz not null default now(),
    updated_by text not null,
    updated_at timestamptz not null default now(),
    submitted_by text,
    submitted_at timestamptz,
    returned_by text,
    returned_at timestamptz,
    return_comment text,
    verified_by text,
    verified_at timestamptz,
    first_verified_by text,
    signed_by text,
    signed_at timestamptz,
    first_signed_by text,
    archived_at timestamptz,
    rectification_motive text,
    withdrawn_by text,
    withdrawn_at timestamptz,
    withdrawal_motive text,

    constraint fiche_offence_not_after_conviction check (offence_date <= conviction_date),
    constraint fiche_birth_before_offence check (birth_date < offence_date),
    constraint fiche_suspended_within_sentence check (suspended_months <= sentence_months),
    constraint fiche_niu_iff_signed check ((niu is not null) = (status >= 'signee')),
    constraint fiche_withdrawal_has_motive check (status <> 'declassee' or withdrawal_motive is not null),
    constraint fiche_complete_unless_draft check (
        status = 'brouillon' or (
            reference is not null and surname is not null and given_names is not null
            and birth_date is not null and birth_place is not null and sex is not null
            and conviction_date is not null and offence_date is not null and offence_nature is not null
            and offence_category is not null and offence_class is not null and sentence_type is not null))
);

create index fiche_name_norm_trgm on court.fiche using gin (name_norm ext.gin_trgm_ops);
create index fiche_birth_date on court.fiche (birth_date, name_norm);
create index fiche_reference on court.fiche (lower(reference));
create index fiche_status on court.fiche (status);

-- The tamper-evident audit trail: every change of every fiche and user, chained by hashes.
-- Owned by a role nobody can become; triggers refuse UPDATE, DELETE and TRUNCATE to everyone.
create table court.audit (
    seq bigint primary key constraint audit_seq_positive check (seq >= 1),
    at timestamptz not null,
    actor text not null,
    action text not null,
    entity text not null constraint audit_entity_known check (entity in ('fiche', 'user', 'court')),
    entity_id text not null,
    data jsonb not null,
    prev_hash bytea not null,
    hash bytea not null
);
create index audit_entity on court.audit (entity, entity_id, seq);

-- The messages to transmit to the CJN, written in the transaction that signs, rectifies or
-- withdraws. A row stays pending until the CJN's receipt for it is stored.
create table court.outbox (
    outbox_id bigint generated always as identity primary key,
    message_id uuid not null default gen_random_uuid() constraint outbox_message_id_unique unique,
    seq bigint not null constraint outbox_seq_unique unique,
    kind text not null constraint outbox_kind_known
        check (kind in ('fiche_signed', 'fiche_rectified', 'fiche_withdrawn')),
    fiche_id bigint not null constraint outbox_fiche_fkey references court.fiche (fiche_id),
    niu text not null,
    version integer not null,
    payload jsonb not null,
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    attempts integer not null default 0,
    acknowledged_at timestamptz
);
create index outbox_pending on court.outbox (seq) where acknowledged_at is null;

-- The state of the rebuilt functions (digest of db/functions/court), so a second migrate is a no-op.
create table court.functions_applied (
    functions_applied_id boolean primary key default true check (functions_applied_id),
    digest text not null,
    applied_at timestamptz not null default now()
);

reset role;

-- The audit table belongs to its own owner; the functions' owner may only read and append.
create function court._audit_immutable() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
begin
    raise exception 'Le journal d''audit est inaltérable : % refusé.', tg_op
        using errcode = 'XJ006',
              hint = 'Le journal n''accepte que des ajouts, par les fonctions de XMJuris.';
end
$$;
revoke all on function court._audit_immutable() from public;

create trigger audit_no_update_delete before update or delete on court.audit
    for each row execute function court._audit_immutable();
create trigger audit_no_truncate before truncate on court.audit
    for each statement execute function court._audit_immutable();

alter table court.audit owner to juris_audit_owner;
alter function court._audit_immutable() owner to juris_audit_owner;
grant usage on schema court to juris_audit_owner;
revoke all on court.audit from public;
grant select, insert on court.audit to juris_owner;
