-- Issue 15: the law complete and the registry open to statisticians. This file never changes
-- once landed.
-- - Every setting of the law names its source (the article, or "spécification XMJuris,
--   issue 6" where no article was found); the rule without a source (5 years for "other
--   sentences", counted from the conviction) is removed.
-- - The delays of rehabilitation by law become a small table of tiers (kind, up to N months,
--   delay in years), so that both issue 6's figures and the Cameroonian Code pénal's (art. 70)
--   can be expressed; named presets of values and tiers (cjn.apply_law_preset, logged).
-- - Dated events after signature (fine paid, sentence served, suspension revoked, ban lifted,
--   pardon, and the cancellation of an event recorded by mistake), sent by the courts like a
--   rectification (message kind `sentence_event`).
-- - Statistics: the threshold under which a cell is suppressed, and the offence categories
--   mapped to the UNODC's ICCS (levels 1 and 2), editable by the CJN.

-- The API schemas depend on the registry's tables: `migrate` rebuilds them right after.
drop schema if exists cjn cascade;
drop schema if exists stat cascade;
delete from registry.functions_applied;

set local role cjn_owner;

-- Sources ----------------------------------------------------------------------------------

alter table registry.law_setting add column source text;
update registry.law_setting s set source = case
    when s.setting_key like 'identity.%' then
        'Choix technique XMJuris (identification des personnes), pas une règle de droit.'
    when s.setting_key like 'b2.suspension_lapse_years_%' then
        'Code pénal, art. 54 (sursis : délai d''épreuve de 3 à 5 ans fixé par la juridiction, texte de 1967 dont la '
        'numérotation est conservée par la loi n° 2016/007) ; 5 ans retenus par la spécification XMJuris, issue 6, '
        'faute de champ pour le délai fixé sur la fiche.'
    when s.setting_key = 'b2.rehab_start' then
        'Code pénal, art. 70 (4) : le délai court du paiement de l''amende ou de l''expiration de la peine subie ; '
        'en l''absence d''événement daté enregistré par la juridiction, hypothèse XMJuris (spécification, issue 6).'
    when s.setting_key = 'b2.recidivism_factor' then
        'Spécification XMJuris, issue 6 (aucun article trouvé ; l''art. 70 du Code pénal ne prévoit pas de '
        'doublement).'
    else 'Spécification XMJuris, issue 6 (aucun article trouvé).'
end;

-- The delays of rehabilitation by law, by tier. `kind`: fine (amende seule), single_prison (une
-- seule condamnation à l'emprisonnement), several_prison (plusieurs, leurs durées additionnées).
-- A tier applies up to `max_months` (inclusive; none for fines); the smallest tier that fits
-- applies; beyond the last one, or where `years` is null, there is no rehabilitation by law.
create table registry.rehab_tier (
    rehab_tier_id bigint generated always as identity primary key,
    kind text not null constraint rehab_tier_kind_known check (kind in ('fine', 'single_prison', 'several_prison')),
    max_months integer constraint rehab_tier_max_months_range check (max_months between 1 and 1200),
    years integer constraint rehab_tier_years_range check (years between 1 and 100),
    source text not null constraint rehab_tier_source_present check (btrim(source) <> ''),
    constraint rehab_tier_months_by_kind check ((kind = 'fine') = (max_months is null))
);
create unique index rehab_tier_one_per_bound on registry.rehab_tier (kind, coalesce(max_months, 0));

-- The tiers as the installation has them now (issue 6's figures unless an operator changed them).
insert into registry.rehab_tier (kind, max_months, years, source)
select x.kind, x.max_months::integer, x.years::integer,
       case when (x.max_months, x.years) is not distinct from (x.spec_months, x.spec_years)
            then 'Spécification XMJuris, issue 6 (aucun article trouvé).'
            else 'Valeur fixée par un opérateur avant l''issue 15 (voir registry.law_setting_change).' end
  from (select 'fine' as kind, null as max_months, v ->> 'b2.rehab_fine_years' as years,
               null as spec_months, '3' as spec_years from (select jsonb_object_agg(setting_key, value) v from registry.law_setting) l
        union all
        select 'single_prison', v ->> 'b2.rehab_single_short_max_months', v ->> 'b2.rehab_single_short_years', '12', '5'
          from (select jsonb_object_agg(setting_key, value) v from registry.law_setting) l
        union all
        select 'single_prison', v ->> 'b2.rehab_single_long_max_months', v ->> 'b2.rehab_single_long_years', '120', '10'
          from (select jsonb_object_agg(setting_key, value) v from registry.law_setting) l
        union all
        select 'several_prison', v ->> 'b2.rehab_several_max_months', v ->> 'b2.rehab_several_years', '60', '10'
          from (select jsonb_object_agg(setting_key, value) v from registry.law_setting) l) x
on conflict do nothing;

-- The history of settings also records retired keys and the tiers: no foreign key any more.
alter table registry.law_setting_change drop constraint law_setting_change_setting_fkey,
    add column new_source text;

-- Retired: the tiers below replace the delays and thresholds of rehabilitation by law, and the
-- 5 years for "other sentences" (no source) is removed. The log keeps the retirement.
insert into registry.law_setting_change (setting_key, old_value, new_value, motive, changed_by)
select s.setting_key, s.value, '(supprimé)',
       case when s.setting_key = 'b2.rehab_other_years'
            then 'Issue 15 : règle sans source (5 ans pour les « autres peines », comptés de la condamnation) supprimée.'
            else 'Issue 15 : remplacé par les paliers de registry.rehab_tier.' end,
       current_user
  from registry.law_setting s
 where s.setting_key in ('b2.rehab_fine_years', 'b2.rehab_other_years', 'b2.rehab_single_short_max_months',
                         'b2.rehab_single_short_years', 'b2.rehab_single_long_max_months',
                         'b2.rehab_single_long_years', 'b2.rehab_several_max_months', 'b2.rehab_several_years');
delete from registry.law_setting
 where setting_key in ('b2.rehab_fine_years', 'b2.rehab_other_years', 'b2.rehab_single_short_max_months',
                       'b2.rehab_single_short_years', 'b2.rehab_single_long_max_months',
                       'b2.rehab_single_long_years', 'b2.rehab_several_max_months', 'b2.rehab_several_years');

insert into registry.law_setting (setting_key, value, unit, choices, rule, source) values
('b2.rehab_reset', 'any_conviction', 'choice', array['any_conviction', 'prison_conviction'],
 'Réhabilitation légale : ce qui fait courir le délai de nouveau. « any_conviction » : toute nouvelle '
 'condamnation pour crime ou délit prononcée dans le délai ; « prison_conviction » : seulement une nouvelle '
 'condamnation à l''emprisonnement pour crime ou délit (une amende prononcée dans le délai se réhabilite avec '
 'les autres, sans faire courir le délai de nouveau).',
 'Spécification XMJuris, issue 6.'),
('b2.majority_age_years', '18', 'years', null,
 'Bulletin n°2 : une condamnation pour des faits commis avant cet âge (d''après les dates de naissance et des '
 'faits) est celle d''un mineur, sauf décision contraire de la juridiction portée sur la fiche.',
 'Code pénal, art. 80 (minorité pénale : moins de 18 ans au moment des faits).');

alter table registry.law_setting alter column source set not null,
    add constraint law_setting_source_present check (btrim(source) <> '');

-- Named sets of values and tiers, applied by cjn.apply_law_preset (every change logged).
create table registry.law_preset (
    preset_key text primary key constraint law_preset_key_format check (preset_key ~ '^[a-z0-9_]+$'),
    label text not null constraint law_preset_label_present check (btrim(label) <> ''),
    description text not null
);
create table registry.law_preset_value (
    preset_key text not null constraint law_preset_value_preset_fkey references registry.law_preset (preset_key),
    setting_key text not null constraint law_preset_value_setting_fkey references registry.law_setting (setting_key),
    value text not null,
    source text not null constraint law_preset_value_source_present check (btrim(source) <> ''),
    constraint law_preset_value_pkey primary key (preset_key, setting_key)
);
create table registry.law_preset_tier (
    preset_key text not null constraint law_preset_tier_preset_fkey references registry.law_preset (preset_key),
    kind text not null constraint law_preset_tier_kind_known check (kind in ('fine', 'single_prison', 'several_prison')),
    max_months integer constraint law_preset_tier_max_months_range check (max_months between 1 and 1200),
    years integer constraint law_preset_tier_years_range check (years between 1 and 100),
    source text not null constraint law_preset_tier_source_present check (btrim(source) <> ''),
    constraint law_preset_tier_months_by_kind check ((kind = 'fine') = (max_months is null))
);
create unique index law_preset_tier_one_per_bound on registry.law_preset_tier (preset_key, kind, coalesce(max_months, 0));

insert into registry.law_preset (preset_key, label, description) values
('xmjuris_issue6', 'Spécification XMJuris (issue 6)',
 'Les valeurs de la spécification du ministère (issue 6), valeurs par défaut de XMJuris.'),
('cameroun_cp_2016', 'Cameroun : Code pénal (loi n° 2016/007 du 12 juillet 2016)',
 'Réhabilitation de plein droit selon l''art. 70 du Code pénal ; majorité pénale selon l''art. 80 ; les autres '
 'valeurs restent celles de la spécification XMJuris (issue 6), faute d''article trouvé.');

-- Issue 6's figures.
insert into registry.law_preset_tier (preset_key, kind, max_months, years, source) values
('xmjuris_issue6', 'fine', null, 3, 'Spécification XMJuris, issue 6 (aucun article trouvé).'),
('xmjuris_issue6', 'single_prison', 12, 5, 'Spécification XMJuris, issue 6 (aucun article trouvé).'),
('xmjuris_issue6', 'single_prison', 120, 10, 'Spécification XMJuris, issue 6 (aucun article trouvé).'),
('xmjuris_issue6', 'several_prison', 60, 10, 'Spécification XMJuris, issue 6 (aucun article trouvé).');
insert into registry.law_preset_value (preset_key, setting_key, value, source)
select 'xmjuris_issue6', s.setting_key, x.value, s.source
  from registry.law_setting s
  join (values ('b1.max_age_years', '120'), ('b1.erasure_years', '40'), ('b1.contravention_years', '3'),
               ('b2.suspension_lapse_years_delit', '5'), ('b2.suspension_lapse_years_crime', '5'),
               ('b2.recidivism_factor', '2'), ('b2.rehab_start', 'sentence_end'), ('b2.rehab_reset', 'any_conviction'),
               ('b2.majority_age_years', '18'), ('b3.custodial_min_months', '24')) x(setting_key, value)
    on x.setting_key = s.setting_key;

-- Cameroon, Code pénal of 2016, art. 70: (1) no new conviction to imprisonment for a crime or
-- délit within 5 years for a fine, 10 for a single term up to 6 months, 15 up to 2 years, 20 up
-- to 5 years; (2) 15 years when all the convictions together are over 1 year and under 2;
-- (3) merged sentences (confusion des peines) count as one; (4) the delay runs from the payment
-- of the fine, or from the expiry of the custodial sentence served, pardons included; (5) a
-- remission equals execution. Art. 70 (2) states no delay for several terms totalling 1 year or
-- less: the tier says so (years null), for the ministry to decide (docs/law.md).
insert into registry.law_preset_tier (preset_key, kind, max_months, years, source) values
('cameroun_cp_2016', 'fine', null, 5, 'Code pénal, art. 70 (1) : cinq ans pour une peine d''amende.'),
('cameroun_cp_2016', 'single_prison', 6, 10,
 'Code pénal, art. 70 (1) : dix ans pour une peine unique d''emprisonnement inférieure ou égale à six mois.'),
('cameroun_cp_2016', 'single_prison', 24, 15,
 'Code pénal, art. 70 (1) : quinze ans pour une peine unique d''emprisonnement inférieure ou égale à deux ans.'),
('cameroun_cp_2016', 'single_prison', 60, 20,
 'Code pénal, art. 70 (1) : vingt ans pour une peine unique d''emprisonnement inférieure ou égale à cinq ans.'),
('cameroun_cp_2016', 'several_prison', 12, null,
 'Code pénal, art. 70 (2) : aucun délai n''est fixé pour plusieurs condamnations totalisant un an ou moins '
 '(question ouverte, docs/law.md).'),
('cameroun_cp_2016', 'several_prison', 23, 15,
 'Code pénal, art. 70 (2) : quinze ans si l''ensemble des condamnations est supérieur à un an mais inférieur à '
 'deux ans.');
insert into registry.law_preset_value (preset_key, setting_key, value, source)
select 'cameroun_cp_2016', v.setting_key,
       case v.setting_key when 'b2.rehab_reset' then 'prison_conviction' when 'b2.recidivism_factor' then '1'
                          else v.value end,
       case v.setting_key
           when 'b2.rehab_reset' then
               'Code pénal, art. 70 (1) : seule une condamnation nouvelle à l''emprisonnement pour crime ou délit '
               'fait obstacle à la réhabilitation.'
           when 'b2.recidivism_factor' then
               'Code pénal, art. 70 : aucun allongement des délais pour récidive (facteur 1).'
           else v.source end
  from registry.law_preset_value v
 where v.preset_key = 'xmjuris_issue6';

-- Dated events after signature ----------------------------------------------------------------

alter table registry.message drop constraint message_kind_known,
    add constraint message_kind_known
        check (kind in ('fiche_signed', 'fiche_rectified', 'fiche_withdrawn', 'sentence_event'));

-- What happened after a conviction, as the court that pronounced it recorded and signed it:
-- the fine paid, the sentence served (release), the suspension revoked, the ban lifted, a
-- pardon (remise de peine), or the cancellation of an earlier event recorded by mistake.
create table registry.sentence_event (
    event_id uuid primary key,
    niu text not null constraint sentence_event_niu_format check (niu ~ '^[0-9]{17}$'),
    -- The fiche's version when the event was recorded.
    version integer not null constraint sentence_event_version_positive check (version >= 1),
    court_code text not null constraint sentence_event_court_fkey references registry.court (code),
    event_kind text not null constraint sentence_event_kind_known
        check (event_kind in ('fine_paid', 'sentence_served', 'suspension_revoked', 'ban_lifted', 'pardon',
                              'cancellation')),
    event_date date not null,
    remitted_months integer constraint sentence_event_remitted_months_range check (remitted_months between 1 and 1200),
    total boolean not null default false,
    cancels uuid constraint sentence_event_cancels_fkey references registry.sentence_event (event_id),
    reference text not null constraint sentence_event_reference_present check (btrim(reference) <> ''),
    note text,
    recorded_by text not null,
    recorded_at timestamptz not null,
    message_id uuid not null constraint sentence_event_message_fkey references registry.message (message_id),
    -- Set when a later cancellation names this event.
    cancelled_by uuid,
    cancelled_on date,
    received_at timestamptz not null default now(),
    constraint sentence_event_cancellation_names_one check ((event_kind = 'cancellation') = (cancels is not null))
);
create index sentence_event_niu on registry.sentence_event (niu, event_date);

-- Statistics -------------------------------------------------------------------------------

-- Cells of a statistics table counting fewer people than this are suppressed.
alter table registry.operation_setting
    add column stat_min_people integer not null default 5
        constraint operation_setting_stat_min_people_range check (stat_min_people between 1 and 1000);

-- The UNODC's International Classification of Crime for Statistical Purposes (ICCS, version 1.0,
-- March 2015): its 11 sections (level 1, two digits) and the divisions (level 2, four digits)
-- the offence categories map to. English labels as published; French labels translated by
-- XMJuris (not an official translation).
create table registry.iccs_category (
    code text primary key constraint iccs_category_code_format check (code ~ '^[0-9]{2}([0-9]{2})?$'),
    label_en text not null constraint iccs_category_label_en_present check (btrim(label_en) <> ''),
    label_fr text not null constraint iccs_category_label_fr_present check (btrim(label_fr) <> ''),
    level smallint generated always as (case when length(code) = 2 then 1 else 2 end) stored
);
insert into registry.iccs_category (code, label_en, label_fr) values
('01', 'Acts leading to death or intending to cause death', 'Actes causant la mort ou visant à la causer'),
('02', 'Acts causing harm or intending to cause harm to the person', 'Actes causant un préjudice à la personne ou visant à le causer'),
('03', 'Injurious acts of a sexual nature', 'Actes préjudiciables de nature sexuelle'),
('04', 'Acts against property involving violence or threat against a person', 'Atteintes aux biens avec violence ou menace contre une personne'),
('05', 'Acts against property only', 'Atteintes aux biens seulement'),
('06', 'Acts involving controlled psychoactive substances or other drugs', 'Actes impliquant des substances psychoactives contrôlées ou d''autres drogues'),
('07', 'Acts involving fraud, deception or corruption', 'Actes de fraude, de tromperie ou de corruption'),
('08', 'Acts against public order, authority and provisions of the State', 'Actes contre l''ordre public, l''autorité et les dispositions de l''État'),
('09', 'Acts against public safety and state security', 'Actes contre la sécurité publique et la sûreté de l''État'),
('10', 'Acts against the natural environment', 'Actes contre le milieu naturel'),
('11', 'Other criminal acts not elsewhere classified', 'Autres actes criminels non classés ailleurs'),
('0101', 'Intentional homicide', 'Homicide volontaire'),
('0103', 'Non-intentional homicide', 'Homicide involontaire'),
('0201', 'Assaults and threats', 'Agressions et menaces'),
('0301', 'Sexual violence', 'Violences sexuelles'),
('0502', 'Theft', 'Vol'),
('0601', 'Unlawful acts involving controlled drugs or precursors', 'Actes illicites impliquant des drogues contrôlées ou des précurseurs'),
('0701', 'Fraud', 'Fraude'),
('0702', 'Forgery/counterfeiting', 'Faux et contrefaçon'),
('0703', 'Corruption', 'Corruption'),
('0901', 'Acts involving weapons, explosives and other destructive materials', 'Actes impliquant des armes, des explosifs et d''autres matières destructrices'),
('0904', 'Acts against state security', 'Actes contre la sûreté de l''État'),
('0907', 'Traffic offences', 'Infractions à la circulation'),
('1102', 'Acts contrary to youth regulations and acts against minors', 'Actes contraires aux règles sur la jeunesse et actes contre les mineurs'),
('1109', 'Other criminal acts not elsewhere classified', 'Autres actes criminels non classés ailleurs');

-- The offence categories the courts use (codes shared with court.offence_category), and their
-- ICCS section and division. A category wider than one division keeps its section only
-- (division null). The CJN edits it with cjn.set_offence_category (logged).
create table registry.offence_category (
    code text primary key constraint offence_category_code_format check (code ~ '^[A-Z][A-Z0-9_]{1,31}$'),
    label text not null constraint offence_category_label_present check (btrim(label) <> ''),
    iccs_section text constraint offence_category_iccs_section_fkey references registry.iccs_category (code),
    iccs_division text constraint offence_category_iccs_division_fkey references registry.iccs_category (code),
    updated_by text,
    updated_at timestamptz not null default now(),
    constraint offence_category_iccs_levels check (
        (iccs_section is null or length(iccs_section) = 2)
        and (iccs_division is null or (length(iccs_division) = 4 and left(iccs_division, 2) = iccs_section)))
);
insert into registry.offence_category (code, label, iccs_section, iccs_division) values
('ATT_PERSONNES', 'Atteintes volontaires aux personnes', '02', null),
('HOMICIDE', 'Homicide volontaire', '01', '0101'),
('HOMICIDE_INVOL', 'Homicide et blessures involontaires', '01', '0103'),
('VIOLENCES', 'Violences volontaires', '02', '0201'),
('MOEURS', 'Atteintes aux mœurs et agressions sexuelles', '03', null),
('VOL', 'Vol et recel', '05', '0502'),
('ESCROQUERIE', 'Escroquerie, abus de confiance', '07', '0701'),
('ATT_BIENS_PUBLICS', 'Atteintes aux biens publics, détournement de fonds publics', '07', '0703'),
('CORRUPTION', 'Corruption et trafic d''influence', '07', '0703'),
('STUPEFIANTS', 'Stupéfiants', '06', '0601'),
('ARMES', 'Armes et munitions', '09', '0901'),
('CIRCULATION', 'Circulation routière', '09', '0907'),
('FAUX', 'Faux et usage de faux', '07', '0702'),
('FAMILLE', 'Atteintes à la famille et aux mineurs', '11', '1102'),
('ETAT', 'Atteintes à la sûreté de l''État et à l''autorité publique', '09', '0904'),
('ENVIRONNEMENT', 'Environnement, faune et flore', '10', null),
('ECONOMIQUE', 'Infractions économiques et financières', '07', null),
('AUTRE', 'Autres infractions', '11', '1109');

-- Every change of a category's mapping: who, when, why, from what to what.
create table registry.offence_category_change (
    offence_category_change_id bigint generated always as identity primary key,
    code text not null,
    old_value jsonb,
    new_value jsonb not null,
    motive text not null constraint offence_category_change_motive_present check (btrim(motive) <> ''),
    changed_by text not null,
    changed_at timestamptz not null default now()
);

reset role;

create trigger offence_category_change_no_update_delete before update or delete on registry.offence_category_change
    for each row execute function registry._append_only();
create trigger offence_category_change_no_truncate before truncate on registry.offence_category_change
    for each statement execute function registry._append_only();

-- The statistician's schema (views and functions rebuilt on every migrate, like `cjn`).
do $$
begin
    execute format('grant connect on database %I to cjn_statistician', current_database());
end
$$;
