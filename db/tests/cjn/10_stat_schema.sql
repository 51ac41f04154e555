-- The statisticians' schema `stat` (issue 15, points 6 and 7): convictions by the dimensions
-- asked, recidivism, delays, extracts, court activity and transmission health, ICCS levels 1
-- and 2 from a mapping the CJN edits; no personal data; a cell counting fewer people than the
-- threshold (5 by default) is suppressed.
begin;
select plan(33);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('33333', 'Tribunal de première instance de Douala-Bonanjo', 'LITTORAL', 'WOURI', 'Douala I');
select cjn.register_court('55555', 'Tribunal de grande instance de Garoua', 'NORD', 'BENOUE', 'Garoua I');
create role tg_stat10 login in role cjn_statistician;
create role tg_operator10 login in role cjn_operator;
create temporary sequence seq33;
create temporary sequence seq55;

-- A fiche signed at `court` for a person (surname `who`, given names 'Paul', born 1990),
-- convicted on `convicted` (offences 30 days before) of `category` (`cls`), `months` months.
create function pg_temp.fiche(court text, niu text, who text, sex text, convicted date, category text, cls text,
                              months integer) returns void
    language plpgsql as $$
declare
    seq bigint := case court when '33333' then nextval('seq33') else nextval('seq55') end;
    m jsonb := jsonb_build_object('message_id', gen_random_uuid(), 'kind', 'fiche_signed', 'court_code', court,
        'seq', seq, 'created_at', now(), 'niu', niu, 'version', 1, 'motive', null,
        'audit_head', jsonb_build_object('seq', seq, 'hash', repeat('ab', 32)),
        'fiche', jsonb_build_object('number', seq, 'reference', seq || '/2023', 'signed_by', 'g',
            'signed_at', convicted + 10,
            'justiciable', jsonb_build_object('surname', who, 'given_names', 'Paul', 'birth_date', '1990-05-01',
                'birth_place', 'Douala', 'sex', sex, 'father', 'X ' || who, 'mother', 'Y ' || who),
            'condamnation', jsonb_build_object('conviction_date', convicted, 'offence_date', convicted - 30,
                'offence_nature', 'Vol', 'offence_category', category, 'offence_class', cls,
                'sentence_type', 'emprisonnement', 'sentence_months', months, 'minor', false)));
begin
    perform cjn.ingest((m ->> 'message_id')::uuid, court, seq, 'fiche_signed', now(), m, '\x3082');
end
$$;

-- Six men convicted of theft in 2023 at Douala (one again in 2024), two women of fraud at Garoua.
select pg_temp.fiche('33333', '333332023000' || lpad(i::text, 3, '0') || '00', 'Vol' || i, 'M',
                     '2023-03-01'::date + i, 'VOL', 'delit', 12)
  from generate_series(1, 6) i;
select pg_temp.fiche('33333', '33333202400000100', 'Vol1', 'M', '2024-03-02', 'VOL', 'delit', 6);
select pg_temp.fiche('55555', '555552023000' || lpad(i::text, 3, '0') || '00', 'Esc' || i, 'F',
                     '2023-06-01', 'ESCROQUERIE', 'crime', 60)
  from generate_series(1, 2) i;

set session authorization tg_stat10;
select results_eq($$select year, region, offence_class, people, convictions, suppressed
                      from stat.convictions(array['year', 'region', 'class'])$$,
    $$values (2023, 'LITTORAL', 'delit', 6::bigint, 6::bigint, false),
             (2023, 'NORD', 'crime', null::bigint, null::bigint, true),
             (2024, 'LITTORAL', 'delit', null::bigint, null::bigint, true)$$,
    'a cell of fewer than 5 people is suppressed: its figures are null, and it says so');
select results_eq($$select year, region, offence_class, people, convictions, suppressed from stat.conviction_year_region$$,
    $$select year, region, offence_class, people, convictions, suppressed
        from stat.convictions(array['year', 'region', 'class'])$$,
    'the usual table as a view, for spreadsheets');
select results_eq($$select year, people, convictions, mean_sentence_months, suppressed from stat.convictions()$$,
    $$values (2023, 8::bigint, 8::bigint, 24.0, false), (2024, null, null, null, true)$$,
    'by year (the default dimension), with the mean sentence');
select results_eq($$select people, convictions from stat.convictions(array[]::text[], '2023-01-01', '2023-12-31')$$,
    $$values (8::bigint, 8::bigint)$$, 'no dimension: the total of a period');
select results_eq($$select iccs_section, iccs_section_label, iccs_division, people, suppressed
                      from stat.convictions(array['iccs_section', 'iccs_division'], '2023-01-01', '2023-12-31')$$,
    $$values ('05', 'Atteintes aux biens seulement', '0502', 6::bigint, false),
             ('07', 'Actes de fraude, de tromperie ou de corruption', '0701', null, true)$$,
    'ICCS section and division of the offence categories');
select results_eq($$select sex, age_band, people from stat.convictions(array['sex', 'age_band'], '2023-01-01', '2023-12-31')
                     where not suppressed$$,
    $$values ('M', '25-34 ans', 6::bigint)$$, 'by sex and age band at the offence');
select results_eq($$select sentence_band, people, suppressed from stat.convictions(array['sentence_band'], '2023-01-01', '2023-12-31')$$,
    $$values ('emprisonnement de 25 à 60 mois', null::bigint, true), ('emprisonnement de 7 à 12 mois', 6::bigint, false)$$,
    'by length of sentence');
select throws_ok($$select * from stat.convictions(array['year', 'surname'])$$, 'XJ001', null,
    'a dimension not offered is refused (nothing else reaches the query)');
select results_eq($$select people, convictions, after_earlier_conviction, suppressed from stat.recidivism(array['year'])$$,
    $$values (8::bigint, 8::bigint, 0::bigint, false), (null, null, null, true)$$,
    'recidivism by year: 2024 (one person) is suppressed');
select results_eq($$select convictions_in_force, sex, people, suppressed from stat.people_by_conviction_count$$,
    $$values ('1', 'F', null::bigint, true), ('1', 'M', 5::bigint, false), ('2', 'M', null, true)$$,
    'people by number of convictions');
select results_eq($$select court_code, fiches, offence_to_conviction_median_days, conviction_to_signature_median_days
                      from stat.delays(array['year', 'court']) where year = 2023 and not suppressed$$,
    $$values ('33333', 6::bigint, 30.0, 10.0)$$, 'delays by court: offence → conviction → signature');
select ok((select signature_to_cjn_median_days from stat.delays(array['court']) where court_code = '33333') > 0,
    'and signature → arrival at the CJN');
select results_eq($$select court_code, fiches_signed, messages from stat.court_activity order by court_code$$,
    $$values ('33333', 7::bigint, 7::bigint), ('55555', 2::bigint, 2::bigint)$$, 'each court''s activity by month');
select is((select count(*) from stat.transmission_health), 2::bigint, 'and the transmission health');
reset session authorization;

-- The threshold is a setting of the CJN.
set session authorization tg_operator10;
select cjn.set_stat_min_people(1);
reset session authorization;
set session authorization tg_stat10;
select results_eq($$select people, convictions, after_earlier_conviction, share_after_earlier, median_months_since_earlier
                      from stat.recidivism(array['year']) where year = 2024$$,
    $$values (1::bigint, 1::bigint, 1::bigint, 1.000, 12.0)$$,
    'with a threshold of 1, the conviction after an earlier one shows, 12 months after it');
select is((select value from stat.settings where setting = 'stat_min_people'), '1', 'the threshold is shown');
reset session authorization;
set session authorization tg_operator10;
select cjn.set_stat_min_people(5);
select throws_ok($$select cjn.set_stat_min_people(0)$$, 'XJ001', null, 'a threshold under 1 is refused');

-- The ICCS mapping is the CJN's to edit, each change logged.
select throws_ok($$select cjn.set_offence_category('VOL', 'Vol et recel', '05', '0701', 'essai')$$, 'XJ001', null,
    'a division of another section is refused');
select throws_ok($$select cjn.set_offence_category('VOL', 'Vol et recel', '12', null, 'essai')$$, 'XJ001', null,
    'an unknown section is refused');
select throws_ok($$select cjn.set_offence_category('VOL', 'Vol et recel', '05', null, ' ')$$, 'XJ001', null,
    'a change needs a motive');
select cjn.set_offence_category('VOL', 'Vol et recel', '04', null, 'Vols avec violence dominants dans les fiches');
select cjn.set_offence_category('BRACONNAGE', 'Braconnage', '10', null, 'Nouvelle catégorie');
reset session authorization;
select results_eq($$select code, old_value ->> 'iccs_section', new_value ->> 'iccs_section', changed_by
                      from registry.offence_category_change order by offence_category_change_id$$,
    $$values ('VOL', '05', '04', 'tg_operator10'), ('BRACONNAGE', null, '10', 'tg_operator10')$$,
    'each change of the mapping is logged, from what to what, by whom');
set session authorization tg_stat10;
select results_eq($$select iccs_section, iccs_division, people from stat.convictions(array['iccs_section', 'iccs_division'], '2023-01-01', '2023-12-31')
                     where not suppressed$$,
    $$values ('04', null::text, 6::bigint)$$, 'the statistics follow the mapping');
select ok((select count(*) from stat.offence_categories) = 19 and (select count(*) from stat.iccs_categories where level = 1) = 11,
    'the categories and the 11 ICCS sections are offered');
select throws_ok($$select cjn.set_offence_category('VOL', 'Vol', '05', null, 'x')$$, '42501', null,
    'a statistician cannot edit the mapping');
reset session authorization;

-- Extracts: by bulletin, purpose and court, with the share of « néant ».
select cjn.extract('33333', 'greffier', jsonb_build_object('surname', 'Inconnu' || i, 'given_names', 'Jean',
                                                           'birth_date', '1980-01-01'), 3, 'Recrutement', current_date,
                   'req-' || i)
  from generate_series(1, 5) i;
select cjn.extract('33333', 'greffier', '{"surname": "Vol1", "given_names": "Paul", "birth_date": "1990-05-01"}', 2,
                   'Recrutement', current_date, 'req-6');
select cjn.extract('33333', 'greffier', '{"surname": "Vol2", "given_names": "Paul", "birth_date": "1990-05-01"}', 2,
                   'Pour le dossier de M. Vol2 à la mairie', current_date, 'req-7');
set session authorization tg_stat10;
select results_eq($$select bulletin, people, requests, neant, share_neant, suppressed from stat.extracts(array['bulletin'])$$,
    $$values (2::smallint, null::bigint, null::bigint, null::bigint, null::numeric, true),
             (3::smallint, 5::bigint, 5::bigint, 5::bigint, 1.000, false)$$,
    'extracts by bulletin, with the share answered « néant »');
select results_eq($$select people, requests, neant, share_neant, identity_to_specify from stat.extracts(array['year'])$$,
    $$values (7::bigint, 7::bigint, 5::bigint, 0.714, 0::bigint)$$, 'by year');
select results_eq($$select purpose, suppressed from stat.extracts(array['purpose'])$$,
    $$values ('pour le dossier de m. vol2 à la mairie', true), ('recrutement', false)$$,
    'a purpose few people share is suppressed with its cell');
select results_eq($$select requester_court, requests from stat.extracts(array['court']) where not suppressed$$,
    $$values ('33333', 7::bigint)$$, 'by requesting court');

-- Read-only and free of personal data.
select throws_ok('select * from stat._conviction', '42501', null, 'the internal relation (with the person''s id) is closed');
select throws_ok('select * from registry.fiche', '42501', null, 'the registry is closed');
select throws_ok($$select * from cjn.bulletin_decision('33333202300000100')$$, '42501', null, 'the bulletins are closed');
reset session authorization;
select is((select count(*) from information_schema.columns
            where table_schema = 'stat' and table_name !~ '^_'
              and column_name ~ '^(surname|given_names|birth_date|birth_place|father|mother|niu|person_id|reference|identity|domicile)$'),
    0::bigint,
    'no view of `stat` has a column of personal data');
select is((select count(*) from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'stat' and p.proname !~ '^_'
              and pg_get_function_result(p.oid)
                  ~ '\m(surname|given_names|birth_date|birth_place|father|mother|niu|person_id|reference|identity|domicile)\M'),
    0::bigint, 'no function of `stat` returns personal data');

select * from finish();
rollback;
