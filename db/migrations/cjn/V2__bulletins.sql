-- Bulletins n°1, n°2 and n°3 at the CJN: the law's figures as data (one row per setting, each
-- with the rule it serves, in French, for the operators who adapt them), the events recorded by
-- CJN operators that the rules need (a death, an amnesty), the consultation log and the extract
-- numbers, and the indexes that find a person's identity in a few milliseconds.
-- The rules themselves are SQL in db/functions/cjn/30_bulletins.sql. This file never changes
-- once landed.

-- Levenshtein distance for near matches of names (contrib, shipped with PostgreSQL).
create extension if not exists fuzzystrmatch schema ext;

set local role cjn_owner;

-- The settings of the law. A country adapts them with cjn.set_law_setting (logged), never by
-- hand: the rules read them on every computation.
create table registry.law_setting (
    setting_key text primary key constraint law_setting_key_format check (setting_key ~ '^[a-z0-9_]+(\.[a-z0-9_]+)*$'),
    value text not null,
    unit text not null constraint law_setting_unit_known
        check (unit in ('years', 'months', 'factor', 'ratio', 'count', 'letters', 'choice')),
    -- The values a 'choice' may take.
    choices text[],
    -- The rule, in French, as the operator reads it next to the value.
    rule text not null constraint law_setting_rule_present check (btrim(rule) <> ''),
    updated_by text,
    updated_at timestamptz not null default now(),
    constraint law_setting_value_fits_unit check (case
        when unit = 'choice' then choices is not null and value = any (choices)
        when unit = 'ratio' then value ~ '^(0(\.[0-9]+)?|1(\.0+)?)$'
        else value ~ '^[0-9]{1,4}$'
    end)
);

-- Every change of a setting: who, when, why, from what to what.
create table registry.law_setting_change (
    law_setting_change_id bigint generated always as identity primary key,
    setting_key text not null constraint law_setting_change_setting_fkey references registry.law_setting (setting_key),
    old_value text not null,
    new_value text not null,
    motive text not null constraint law_setting_change_motive_present check (btrim(motive) <> ''),
    changed_by text not null,
    changed_at timestamptz not null default now()
);
create index law_setting_change_key on registry.law_setting_change (setting_key, changed_at);

-- Default values. Where the law leaves a choice, the choice made is written next to the setting
-- (and in ARCHITECTURE.md, "Bulletins").
insert into registry.law_setting (setting_key, value, unit, choices, rule) values
-- Bulletin n°1: erasure of fiches.
('b1.max_age_years', '120', 'years', null,
 'Bulletin n°1 : toutes les fiches d''une personne sont effacées le jour de son 120e anniversaire.'),
('b1.erasure_years', '40', 'years', null,
 'Bulletin n°1 : une condamnation pour crime ou délit est effacée ce nombre d''années après la date de la '
 'condamnation, si aucune nouvelle condamnation pour crime ou délit n''est intervenue dans ce délai ; '
 'une nouvelle condamnation dans le délai le fait courir de nouveau, pour toutes, à partir d''elle.'),
('b1.contravention_years', '3', 'years', null,
 'Bulletin n°1 : une condamnation pour contravention est effacée ce nombre d''années après sa date.'),
-- Bulletin n°2: suspended sentences deemed "non avenues".
('b2.suspension_lapse_years_delit', '5', 'years', null,
 'Bulletin n°2 : une peine d''emprisonnement entièrement assortie du sursis pour un délit est réputée non '
 'avenue, et retirée du bulletin n°2, ce nombre d''années après la condamnation, sauf révocation du sursis '
 'par une condamnation prononcée dans ce délai.'),
('b2.suspension_lapse_years_crime', '5', 'years', null,
 'Bulletin n°2 : même règle que la précédente pour un crime.'),
-- Bulletin n°2: rehabilitation by law (réhabilitation légale), automatic.
('b2.rehab_fine_years', '3', 'years', null,
 'Réhabilitation légale : délai pour une condamnation à l''amende seule.'),
('b2.rehab_other_years', '5', 'years', null,
 'Réhabilitation légale : délai pour une autre peine que l''emprisonnement ou l''amende (travail d''intérêt '
 'général, autre peine).'),
('b2.rehab_single_short_max_months', '12', 'months', null,
 'Réhabilitation légale : durée maximale d''une condamnation unique à l''emprisonnement pour le délai court.'),
('b2.rehab_single_short_years', '5', 'years', null,
 'Réhabilitation légale : délai pour une condamnation unique à l''emprisonnement ne dépassant pas la durée '
 'précédente.'),
('b2.rehab_single_long_max_months', '120', 'months', null,
 'Réhabilitation légale : durée maximale d''une condamnation unique à l''emprisonnement pour le délai long ; '
 'au-delà, pas de réhabilitation légale.'),
('b2.rehab_single_long_years', '10', 'years', null,
 'Réhabilitation légale : délai pour une condamnation unique à l''emprisonnement ne dépassant pas la durée '
 'précédente.'),
('b2.rehab_several_max_months', '60', 'months', null,
 'Réhabilitation légale : durée totale maximale de plusieurs condamnations à l''emprisonnement ; au-delà, pas '
 'de réhabilitation légale.'),
('b2.rehab_several_years', '10', 'years', null,
 'Réhabilitation légale : délai pour plusieurs condamnations à l''emprisonnement dont le total ne dépasse pas '
 'la durée précédente. Plusieurs condamnations comptent ensemble quand chacune est prononcée avant la fin du '
 'délai des précédentes (la nouvelle condamnation fait courir le délai de nouveau).'),
('b2.recidivism_factor', '2', 'factor', null,
 'Réhabilitation légale : les délais sont multipliés par ce facteur quand une des condamnations a été '
 'prononcée en état de récidive légale.'),
-- The choice the law leaves: from when the rehabilitation delay runs. XMJuris's default is the
-- expected end of the unsuspended part of the prison term (conviction date + unsuspended months;
-- after the revocation of a suspension: the revoking conviction's date + the whole term), since
-- the law runs it from the execution of the sentence and the CJN knows no actual release date;
-- fines and other sentences run from the conviction date. 'conviction' runs every delay from
-- the conviction date.
('b2.rehab_start', 'sentence_end', 'choice', array['sentence_end', 'conviction'],
 'Réhabilitation légale : point de départ du délai. « sentence_end » : fin prévisible de la partie ferme de '
 'l''emprisonnement (date de la condamnation + mois fermes ; après révocation d''un sursis : date de la '
 'condamnation qui révoque + toute la peine) ; amende et autres peines : date de la condamnation. '
 '« conviction » : toujours la date de la condamnation.'),
-- Bulletin n°3.
('b3.custodial_min_months', '24', 'months', null,
 'Bulletin n°3 : y figurent les condamnations pour crime ou délit à une peine privative de liberté ferme de '
 'plus de ce nombre de mois (de ce nombre ou moins si la juridiction l''a ordonné), la réclusion à perpétuité '
 'et la peine de mort, tant qu''elles figurent au bulletin n°2.'),
-- Identity: near matches shown apart for a human, never merged.
('identity.near_similarity', '0.5', 'ratio', null,
 'Identité : ressemblance minimale (trigrammes, 0 à 1) des noms pour signaler une personne née le même jour '
 'comme homonyme proche.'),
('identity.near_letters', '2', 'letters', null,
 'Identité : nombre maximal de lettres différentes (ajoutées, manquantes, changées) pour signaler une personne '
 'née le même jour comme homonyme proche.'),
('identity.near_max', '20', 'count', null,
 'Identité : nombre maximal d''homonymes proches listés dans une réponse.');

-- A person's death, recorded by a CJN operator from a death certificate: every fiche of the
-- person is erased from that date. A mistaken record is cancelled, never deleted.
create table registry.person_death (
    person_death_id bigint generated always as identity primary key,
    person_id bigint not null constraint person_death_person_fkey references registry.person (person_id),
    death_date date not null,
    reference text not null constraint person_death_reference_present check (btrim(reference) <> ''),
    recorded_by text not null,
    recorded_at timestamptz not null default now(),
    cancelled_by text,
    cancelled_at timestamptz,
    cancel_motive text,
    constraint person_death_cancel_complete
        check ((cancelled_at is null) = (cancelled_by is null) and (cancelled_at is null) = (cancel_motive is null))
);
create unique index person_death_one_in_force on registry.person_death (person_id) where cancelled_at is null;

-- An amnesty of a fiche (every version of the NIU), by a law: the fiche is erased from that date.
create table registry.fiche_amnesty (
    fiche_amnesty_id bigint generated always as identity primary key,
    niu text not null constraint fiche_amnesty_niu_format check (niu ~ '^[0-9]{17}$'),
    amnesty_date date not null,
    law_reference text not null constraint fiche_amnesty_law_present check (btrim(law_reference) <> ''),
    recorded_by text not null,
    recorded_at timestamptz not null default now(),
    cancelled_by text,
    cancelled_at timestamptz,
    cancel_motive text,
    constraint fiche_amnesty_cancel_complete
        check ((cancelled_at is null) = (cancelled_by is null) and (cancelled_at is null) = (cancel_motive is null))
);
create unique index fiche_amnesty_one_in_force on registry.fiche_amnesty (niu) where cancelled_at is null;

-- Extract numbers: 4 digits of the year of issue + 9 of this sequence + 2 check digits (ISO 7064
-- MOD 97-10, as the NIU), so a mistyped number is detected. Gaps are harmless.
create sequence registry.extract_seq as bigint minvalue 1 maxvalue 999999999 no cycle;

-- Every consultation of the record: who asked (court and login), for whom (the identity asked,
-- and the people found), which bulletin, why, when, and what was answered. Append-only.
create table registry.consultation (
    consultation_id bigint generated always as identity primary key,
    extract_number text not null constraint consultation_extract_number_unique unique
        constraint consultation_extract_number_format check (extract_number ~ '^[0-9]{15}$'),
    requester_court text not null constraint consultation_court_fkey references registry.court (code),
    requested_by text not null constraint consultation_requested_by_present check (btrim(requested_by) <> ''),
    -- The court's own id of the request: the same request sent twice gets the same answer.
    request_id text,
    bulletin smallint not null constraint consultation_bulletin_known check (bulletin between 1 and 3),
    purpose text not null constraint consultation_purpose_present check (btrim(purpose) <> ''),
    identity jsonb not null,
    as_of date not null,
    outcome text not null constraint consultation_outcome_known
        check (outcome in ('inscriptions', 'neant', 'identite_a_preciser')),
    -- The people the extract is about (exact matches), and those listed apart as near matches.
    person_ids bigint[] not null default '{}',
    near_person_ids bigint[] not null default '{}',
    -- The fiches listed: [{"niu": ..., "version": ...}].
    entries jsonb not null default '[]',
    answer jsonb not null,
    answer_digest bytea not null,
    -- The database login that called (the cjn-ingest daemon).
    called_by text not null,
    asked_at timestamptz not null default now()
);
create unique index consultation_request_once on registry.consultation (requester_court, request_id)
    where request_id is not null;
create index consultation_court on registry.consultation (requester_court, asked_at);
create index consultation_person on registry.consultation using gin (person_ids);
create index consultation_near_person on registry.consultation using gin (near_person_ids);

-- Identity keys, kept here (not in the rebuilt `cjn` schema) because indexes depend on them.
-- The words of a text, unaccented, lower-case, without punctuation, sorted: the same key
-- whatever the accents, case, punctuation or word order ("N'Diaye Jean-Pierre" and
-- "jean pierre ndiaye" differ only by the apostrophe's split; "Mangué Kobila" = "kobila mangue").
create function registry.words_key(t text) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, ext, pg_temp
return array_to_string(array(
    select w from unnest(string_to_array(btrim(regexp_replace(
        lower(ext.unaccent('ext.unaccent'::regdictionary, coalesce(t, ''))), '[^a-z0-9]+', ' ', 'g')), ' ')) w
     where w <> '' order by w collate "C"), ' ');

-- A person's name key: the words of surname and given names together, in any order.
create function registry.name_key(surname text, given_names text) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return registry.words_key(concat_ws(' ', surname, given_names));

-- Exact identity lookup (and a birth date mistyped, among the same names).
create index person_name_key on registry.person (registry.name_key(surname, given_names), birth_date);
-- Operators' decisions on people, looked up from either side.
create index person_candidate_b on registry.person_candidate (person_b);
-- Revocations of a suspension, by the NIU they name.
create index fiche_revoked_suspension on registry.fiche ((content -> 'condamnation' ->> 'revoked_suspension_niu'))
    where content -> 'condamnation' ->> 'revoked_suspension_niu' is not null;

reset role;

-- The consultation log and the log of settings are append-only, for everyone.
create function registry._append_only() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
begin
    raise exception 'Le journal % est inaltérable : % refusé.', tg_table_name, tg_op
        using errcode = 'XJ006',
              hint = 'Le journal n''accepte que des ajouts, par les fonctions de XMJuris.';
end
$$;
revoke all on function registry._append_only() from public;
create trigger consultation_no_update_delete before update or delete on registry.consultation
    for each row execute function registry._append_only();
create trigger consultation_no_truncate before truncate on registry.consultation
    for each statement execute function registry._append_only();
create trigger law_setting_change_no_update_delete before update or delete on registry.law_setting_change
    for each row execute function registry._append_only();
create trigger law_setting_change_no_truncate before truncate on registry.law_setting_change
    for each statement execute function registry._append_only();
