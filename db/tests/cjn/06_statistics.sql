-- Statistics for statisticians' own tools: convictions in force by region, court, year, offence
-- category and class, sentence type, sex and age band (no personal data), and each court's
-- transmission health (last contact, backlog, gaps, refusals, alarms).
begin;
select plan(10);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('44444', 'Tribunal de première instance de Maroua', 'EXTREME-NORD', 'DIAMARE', 'Maroua I');
select cjn.register_court('22222', 'Tribunal de grande instance de Bafoussam', 'OUEST', 'MIFI', 'Bafoussam I');
create role tg_stat6 login in role cjn_statistician;
create role tg_operator6 login in role cjn_operator;

-- A fiche event of `court` (sequence `seq`) for a person of `sex` born `born`, convicted on
-- `convicted` of `category` (`cls`) to `months` months.
create function pg_temp.send(court text, seq bigint, kind text, niu text, version integer, surname text, sex text,
                             born date, convicted date, category text, cls text, months integer)
    returns void language plpgsql as $$
declare
    m jsonb := jsonb_build_object('message_id', gen_random_uuid(), 'kind', kind, 'court_code', court, 'seq', seq,
        'created_at', now(), 'niu', niu, 'version', version,
        'motive', case when kind = 'fiche_signed' then null else 'motif' end,
        'audit_head', jsonb_build_object('seq', seq, 'hash', repeat('ab', 32)),
        'fiche', jsonb_build_object('number', seq, 'reference', seq || '/2024', 'signed_by', 'g', 'signed_at', now(),
            'justiciable', jsonb_build_object('surname', surname, 'given_names', 'Paul', 'birth_date', born,
                'birth_place', 'Maroua', 'sex', sex, 'father', 'X', 'mother', 'Y'),
            'condamnation', jsonb_build_object('conviction_date', convicted, 'offence_date', convicted - 30,
                'offence_nature', 'Vol', 'offence_category', category, 'offence_class', cls,
                'sentence_type', 'emprisonnement', 'sentence_months', months, 'minor', false)));
begin
    perform cjn.ingest((m ->> 'message_id')::uuid, court, seq, kind, now(), m, '\x3082');
end
$$;

select pg_temp.send('44444', 1, 'fiche_signed', '44444202400000101', 1, 'Abba', 'M', '1995-01-01', '2024-03-01', 'VOL', 'delit', 12);
select pg_temp.send('44444', 2, 'fiche_signed', '44444202400000202', 1, 'Bello', 'M', '1993-06-01', '2024-05-01', 'VOL', 'delit', 24);
select pg_temp.send('44444', 3, 'fiche_signed', '44444202400000303', 1, 'Dada', 'F', '1960-01-01', '2024-07-01', 'VOL', 'delit', 6);
-- Rectified (counted once, at its new version) and withdrawn (not counted).
select pg_temp.send('44444', 4, 'fiche_rectified', '44444202400000303', 2, 'Dada', 'F', '1960-01-01', '2024-07-01', 'VOL', 'delit', 3);
select pg_temp.send('22222', 1, 'fiche_signed', '22222202500000101', 1, 'Eto', 'M', '2000-01-01', '2025-01-10', 'ESCROQUERIE', 'crime', 60);
select pg_temp.send('22222', 2, 'fiche_withdrawn', '22222202500000101', 2, 'Eto', 'M', '2000-01-01', '2025-01-10', 'ESCROQUERIE', 'crime', 60);
-- Court 22222's message 4 arrives before 3: a gap, and a message waiting for order.
select pg_temp.send('22222', 4, 'fiche_signed', '22222202500000404', 1, 'Fouda', 'M', '1980-01-01', '2025-02-10', 'VOL', 'delit', 8);
select cjn.quarantine('xmjuris/v1/22222/up', '22222', 'bad_signature', 'test', '\xdead');

set session authorization tg_stat6;
select results_eq(
    $$select region, court_code, year, offence_category, offence_class, sentence_type, sex, age_band, convictions
        from cjn.stat_conviction order by region, sex, age_band$$,
    $$values ('EXTREME-NORD', '44444', 2024, 'VOL', 'delit', 'emprisonnement', 'F', '50+', 1::bigint),
             ('EXTREME-NORD', '44444', 2024, 'VOL', 'delit', 'emprisonnement', 'M', '25-34', 2::bigint)$$,
    'convictions in force by region, court, year, category, class, sentence, sex and age band');
select is((select mean_sentence_months from cjn.stat_conviction where sex = 'M')::numeric, 18.0,
    'the mean sentence of a group');
select is((select mean_sentence_months from cjn.stat_conviction where sex = 'F')::numeric, 3.0,
    'a rectified fiche counts once, at its current version');
select is((select count(*) from cjn.stat_conviction where court_code = '22222'), 0::bigint,
    'a withdrawn fiche is not counted; a fiche waiting for an earlier message is not yet');
select hasnt_column('cjn', 'stat_conviction', 'surname', 'the statistics carry no name');
select hasnt_column('cjn', 'stat_conviction', 'niu', 'the statistics carry no NIU');
select throws_ok('select * from cjn.court_health', '42501', null, 'the transmission health is for operators');
select throws_ok('select * from registry.person', '42501', null, 'a statistician cannot read people');
reset session authorization;

set session authorization tg_operator6;
select results_eq($$select court_code, last_seq, applied_seq, open_gaps, waiting_for_order, refused
                      from cjn.court_health order by court_code$$,
    $$values ('22222', 4::bigint, 2::bigint, 1::bigint, 1::bigint, 1::bigint),
             ('44444', 4::bigint, 4::bigint, 0::bigint, 0::bigint, 0::bigint)$$,
    'each court''s health: last sequence, applied, gaps, backlog waiting for order, refusals');
select ok((select last_message_at from cjn.court_health where court_code = '44444') is not null,
    'the last contact is shown');
reset session authorization;

select * from finish();
rollback;
