-- Identity at the CJN: the person asked is found whatever the accents, case and word order;
-- spelling variants and near birth dates are listed apart, never merged; two near-namesakes
-- never end up on one extract. Then the extract end to end: court A asks for a person whose
-- fiches come from courts B and C; a unique, checked extract number; the consultation log;
-- "néant"; who may call it.
begin;
select plan(40);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('44444', 'Tribunal de première instance de Maroua', 'EXTREME-NORD', 'DIAMARE', 'Maroua I');
select cjn.register_court('22222', 'Tribunal de grande instance de Bafoussam', 'OUEST', 'MIFI', 'Bafoussam I');
select cjn.register_court('33333', 'Tribunal de première instance de Kribi', 'SUD', 'OCEAN', 'Kribi I');
create role tg_ingest4 login in role cjn_ingest;
create role tg_stat4 login in role cjn_statistician;
create role tg_operator4 login in role cjn_operator;

create temporary sequence seq_b;
create temporary sequence seq_c;

-- Sends a fiche of court `court` about `who` (a justiciable), convicted `years_ago` years ago.
create function pg_temp.fiche(court text, who jsonb, months integer, years_ago integer, cls text default 'delit')
    returns text language plpgsql as $$
declare
    seq bigint := nextval(case court when '22222' then 'seq_b' else 'seq_c' end);
    niu text := court || '2024' || lpad(seq::text, 6, '0') || '00';
    cd date := current_date - make_interval(years => years_ago);
    m jsonb;
begin
    m := jsonb_build_object('message_id', gen_random_uuid(), 'kind', 'fiche_signed', 'court_code', court, 'seq', seq,
        'created_at', now(), 'niu', niu, 'version', 1,
        'audit_head', jsonb_build_object('seq', seq, 'hash', repeat('cd', 32)),
        'fiche', jsonb_build_object('number', seq, 'reference', seq || '/2024', 'signed_by', 'greffier', 'signed_at', now(),
            'justiciable', who || '{"sex": "M", "profession": "Commerçant"}',
            'condamnation', jsonb_build_object('conviction_date', cd, 'offence_date', cd - 60,
                'offence_nature', 'Escroquerie', 'offence_category', 'ESCROQUERIE', 'offence_class', cls,
                'sentence_type', 'emprisonnement', 'sentence_months', months, 'suspended_months', 0, 'minor', false)));
    perform cjn.ingest((m ->> 'message_id')::uuid, court, seq, 'fiche_signed', now(), m, '\x3082');
    return niu;
end
$$;

create function pg_temp.person_of(niu text) returns bigint language sql as $$
    select person_id from registry.fiche where niu = $1 limit 1
$$;

-- Jean-Pierre Éloundou Mbarga, born 14 July 1985 in Yaoundé, son of Mbarga Paul and Ngono Marie:
-- a fiche at court B, and one at court C written with other accents, case and word order.
select pg_temp.fiche('22222', '{"surname": "Mbarga", "given_names": "Jean-Pierre Éloundou", "birth_date": "1985-07-14",
    "birth_place": "Yaoundé", "father": "Mbarga Paul", "mother": "Ngono Marie"}', 36, 2) as f1 \gset
select pg_temp.fiche('33333', '{"surname": "MBARGA", "given_names": "Eloundou Jean Pierre", "birth_date": "1985-07-14",
    "birth_place": "YAOUNDE", "father": "Paul Mbarga", "mother": null}', 12, 1) as f2 \gset
-- His namesake: same names and birth date, other birth place and parents.
select pg_temp.fiche('22222', '{"surname": "Mbarga", "given_names": "Jean-Pierre Éloundou", "birth_date": "1985-07-14",
    "birth_place": "Douala", "father": "Mbarga Luc", "mother": "Essomba Claire"}', 30, 1) as f_namesake \gset
-- Spelling variants born the same day, and the same names with a mistyped birth date.
select pg_temp.fiche('33333', '{"surname": "Mbarga", "given_names": "Jean-Pierre Elundou", "birth_date": "1985-07-14",
    "birth_place": "Yaoundé", "father": "Mbarga Paul"}', 30, 1) as f_variant \gset
select pg_temp.fiche('33333', '{"surname": "Mbarga", "given_names": "Jean-Pierre Éloundou", "birth_date": "1985-07-15",
    "birth_place": "Yaoundé"}', 30, 1) as f_day \gset
select pg_temp.fiche('33333', '{"surname": "Mbarga", "given_names": "Jean-Pierre Éloundou", "birth_date": "1958-07-14",
    "birth_place": "Yaoundé"}', 30, 1) as f_year \gset
-- Someone else born the same day.
select pg_temp.fiche('22222', '{"surname": "Atangana", "given_names": "Roger", "birth_date": "1985-07-14",
    "birth_place": "Yaoundé"}', 30, 1) as f_other \gset
-- A variant an operator decided is the same person.
select pg_temp.fiche('22222', '{"surname": "Mbarga", "given_names": "Jean-Pierre Elondou", "birth_date": "1985-07-14",
    "birth_place": "Yaoundé", "father": "Mbarga Paul"}', 6, 1) as f_same \gset
select cjn.decide_person_candidate(pg_temp.person_of(:'f1'), pg_temp.person_of(:'f_same'), true);

create temporary table asked as
select '{"surname": "mbarga", "given_names": "ELOUNDOU jean pierre", "birth_date": "1985-07-14",
         "birth_place": "Yaounde", "father": "Mbarga Paul"}'::jsonb as who;
grant select on asked to public;

-- find_person
select is((select array_agg(person_id order by person_id) from cjn.find_person((select who from asked)) where match = 'exact'),
    (select array_agg(distinct x order by x) from unnest(array[pg_temp.person_of(:'f1'), pg_temp.person_of(:'f2'),
                                                            pg_temp.person_of(:'f_same')]) x),
    'accents, case and word order do not matter; the operator''s "same" decision joins a variant');
select isnt(pg_temp.person_of(:'f1'), pg_temp.person_of(:'f2'), 'the two courts'' spellings were stored as two people');
select is((select reason_code from cjn.find_person((select who from asked)) where person_id = pg_temp.person_of(:'f_same')),
    'decision', 'the variant is exact by the operator''s decision');
select is((select match || '/' || reason_code from cjn.find_person((select who from asked)) where person_id = pg_temp.person_of(:'f_namesake')),
    'near/filiation', 'a namesake with other parents is only a near match');
select is((select match || '/' || reason_code from cjn.find_person((select who from asked)) where person_id = pg_temp.person_of(:'f_variant')),
    'near/spelling', 'a missing letter is a near match');
select is((select match || '/' || reason_code from cjn.find_person((select who from asked)) where person_id = pg_temp.person_of(:'f_day')),
    'near/birth_date', 'a birth date one digit away is a near match');
select is((select match || '/' || reason_code from cjn.find_person((select who from asked)) where person_id = pg_temp.person_of(:'f_year')),
    'near/birth_date', 'a birth year with two digits swapped is a near match');
select is((select count(*) from cjn.find_person((select who from asked)) where person_id = pg_temp.person_of(:'f_other')),
    0::bigint, 'someone else born the same day is not listed');
select is((select count(*) from cjn.find_person('{"surname": "Mbarga", "given_names": "Jean-Pierre Éloundou", "birth_date": "1985-07-14"}')
            where match = 'exact'), 0::bigint,
    'without birth place nor parents, namesakes who differ on them make the identity ambiguous: nobody is exact');
select is((select array_agg(distinct reason_code) from cjn.find_person('{"surname": "Mbarga", "given_names": "Jean-Pierre Éloundou", "birth_date": "1985-07-14"}')
            where person_id in (pg_temp.person_of(:'f1'), pg_temp.person_of(:'f_namesake'))), array['homonym'],
    'both namesakes are listed as homonyms to tell apart');
select is((select array_agg(person_id) from cjn.find_person('{"surname": "Mbarga", "given_names": "Jean-Pierre Éloundou",
            "birth_date": "1985-07-14", "birth_place": "Douala", "father": "Mbarga Luc"}') where match = 'exact'),
    array[pg_temp.person_of(:'f_namesake')], 'the namesake''s own identity finds only him');
select throws_ok($$select * from cjn.find_person('{"surname": "Mbarga", "given_names": "Jean"}')$$, 'XJ001',
    'La date de naissance de la personne demandée est obligatoire.', 'a birth date is required');
select throws_ok($$select * from cjn.find_person('{"surname": "Mbarga", "given_names": "Jean", "birth_date": "14/07/1985"}')$$,
    'XJ001', null, 'a malformed birth date is refused');

-- The extract, end to end, as the daemon calls it: court A asks for bulletin n°2.
set session authorization tg_ingest4;
select cjn.extract('44444', 'greffier.maroua', (select who from asked), 2, 'Recrutement dans la fonction publique',
                   current_date, 'req-0001') as a1 \gset
reset session authorization;
select is(:'a1'::jsonb ->> 'outcome', 'inscriptions', 'the extract lists convictions');
select is((select array_agg(e ->> 'niu' order by e ->> 'niu') from jsonb_array_elements(:'a1'::jsonb -> 'entries') e),
    (select array_agg(x order by x) from unnest(array[:'f1', :'f2', :'f_same']) x),
    'it holds the fiches of courts B and C, and of the variant an operator joined, and nothing of the namesakes');
select is((select array_agg(distinct e ->> 'court_code' order by e ->> 'court_code') from jsonb_array_elements(:'a1'::jsonb -> 'entries') e),
    array['22222', '33333'], 'each entry names its court');
select ok((select bool_and(e -> 'fiche' -> 'condamnation' ? 'sentence_months' and e ? 'version')
             from jsonb_array_elements(:'a1'::jsonb -> 'entries') e), 'entries carry the fiche as signed and its version');
select is((select array_agg((e ->> 'person_id')::bigint order by (e ->> 'person_id')::bigint) from jsonb_array_elements(:'a1'::jsonb -> 'near_matches') e),
    (select array_agg(x order by x) from unnest(array[pg_temp.person_of(:'f_namesake'), pg_temp.person_of(:'f_variant'),
                                                      pg_temp.person_of(:'f_day'), pg_temp.person_of(:'f_year')]) x),
    'near matches are listed apart');
select ok((select bool_and(not (e ? 'entries') and not (e ? 'fiche') and e ? 'reason' and e ? 'surname')
             from jsonb_array_elements(:'a1'::jsonb -> 'near_matches') e),
    'near matches show their identity and why, never their convictions');
select is(:'a1'::jsonb ->> 'verification_required', 'true', 'the answer says a human must look at the near matches');
select ok(:'a1'::jsonb ->> 'extract_number' ~ '^[0-9]{15}$' and (:'a1'::jsonb ->> 'extract_number')::numeric % 97 = 1,
    'the extract number has 15 digits and a MOD 97-10 check');
select is((select count(*) from registry.consultation), 1::bigint, 'the consultation is logged');
select is((select requester_court || ' ' || requested_by || ' ' || bulletin || ' ' || purpose || ' ' || outcome
             from registry.consultation),
    '44444 greffier.maroua 2 Recrutement dans la fonction publique inscriptions', 'who asked, which bulletin, why, what was answered');
select is((select jsonb_array_length(entries) from registry.consultation), 3, 'the fiches listed are logged by NIU and version');
select is((select near_person_ids @> array[pg_temp.person_of(:'f_namesake')] from registry.consultation), true,
    'the near matches listed are logged');
select is((select answer_digest from registry.consultation), sha256(convert_to(:'a1'::jsonb::text, 'UTF8')),
    'the digest of the answer is kept');

set session authorization tg_ingest4;
select is(cjn.extract('44444', 'greffier.maroua', (select who from asked), 2, 'Recrutement dans la fonction publique',
                      current_date, 'req-0001'), :'a1'::jsonb, 'the same request again gets the same answer');
select cjn.extract('44444', 'greffier.maroua', (select who from asked), 2, 'Concours', current_date, 'req-0002') as a2 \gset
reset session authorization;
select isnt(:'a2'::jsonb ->> 'extract_number', :'a1'::jsonb ->> 'extract_number', 'a new request gets a new extract number');
select is((select count(*) from registry.consultation), 2::bigint, 'a repeated request is logged once');

-- Two near-namesakes never share an extract.
set session authorization tg_ingest4;
select cjn.extract('44444', 'agent.maroua', '{"surname": "Mbarga", "given_names": "Jean-Pierre Éloundou",
    "birth_date": "1985-07-14", "birth_place": "Douala", "father": "Mbarga Luc"}', 1, 'Procédure pénale') as a3 \gset
select cjn.extract('44444', 'agent.maroua', '{"surname": "Mbarga", "given_names": "Jean-Pierre Éloundou",
    "birth_date": "1985-07-14"}', 1, 'Procédure pénale') as a4 \gset
select cjn.extract('44444', 'agent.maroua', '{"surname": "Inconnu", "given_names": "Personne",
    "birth_date": "2001-02-03"}', 3, 'Demande de l''intéressé') as a5 \gset
reset session authorization;
select is((select array_agg(e ->> 'niu') from jsonb_array_elements(:'a3'::jsonb -> 'entries') e), array[:'f_namesake'],
    'the namesake''s extract holds his fiche only');
select is(:'a4'::jsonb ->> 'outcome', 'identite_a_preciser',
    'an identity that fits two namesakes gets no bulletin, and says the identity must be made precise');
select is(jsonb_array_length(:'a4'::jsonb -> 'entries'), 0, 'an ambiguous identity lists no conviction');
select is(:'a5'::jsonb ->> 'outcome' || ' ' || (:'a5'::jsonb ->> 'neant') || ' ' || (:'a5'::jsonb ->> 'message'),
    'neant true Néant.', 'nobody found: "néant"');

-- A person's own consultation history.
select is((select array_agg(listed_as order by asked_at, extract_number) from cjn.consultations_of(pg_temp.person_of(:'f2'))),
    array['personne demandée', 'personne demandée', 'homonyme proche', 'homonyme proche'],
    'a person''s history: the extracts about them, and where they were listed as a near match');

-- Refusals and roles.
select throws_ok($$select cjn.extract('44444', 'x', '{"surname": "A", "given_names": "B", "birth_date": "2000-01-01"}', 4, 'motif')$$,
    'XJ001', 'Bulletin inconnu : 4 (1, 2 ou 3).', 'an unknown bulletin is refused');
select throws_ok($$select cjn.extract('44444', 'x', '{"surname": "A", "given_names": "B", "birth_date": "2000-01-01"}', 3, ' ')$$,
    'XJ001', 'Le motif de la demande est obligatoire.', 'a purpose is required');
select throws_ok($$update registry.consultation set purpose = 'autre'$$, 'XJ006', null,
    'the consultation log cannot be changed, even by a superuser');
set session authorization tg_stat4;
select throws_ok($$select cjn.extract('44444', 'x', '{"surname": "A", "given_names": "B", "birth_date": "2000-01-01"}', 3, 'motif')$$,
    '42501', null, 'the statistician cannot ask for an extract');
reset session authorization;
set session authorization tg_ingest4;
select throws_ok($$select cjn.set_law_setting('b1.max_age_years', '100', 'essai')$$, '42501', null,
    'the daemon cannot change the law''s settings');
reset session authorization;
set session authorization tg_operator4;
select is((select count(*) from cjn.find_person((select who from asked)) where match = 'exact'), 3::bigint,
    'an operator looks people up');
reset session authorization;

select * from finish();
rollback;
