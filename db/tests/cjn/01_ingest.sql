-- The CJN: idempotent ingest in sequence order, gaps, conflicts, people, roles.
begin;
select plan(24);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('12345', 'Tribunal de Garoua-Boulaï', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha');
select cjn.register_court('54321', 'Tribunal de Bamenda', 'NORD-OUEST', 'MEZAM', 'Bamenda I');
create role tg_ingest login in role cjn_ingest;
create role tg_stat login in role cjn_statistician;

-- A court's message payload, as its outbox writes it.
create function pg_temp.msg(court text, seq bigint, kind text, niu text, version integer,
                            surname text default 'Kobila', given text default 'Mangué', father text default 'Bikoula Mendomo')
    returns jsonb language sql as $$
select jsonb_build_object('message_id', gen_random_uuid(), 'kind', kind, 'court_code', court, 'seq', seq,
    'created_at', now(), 'niu', niu, 'version', version,
    'motive', case when kind = 'fiche_signed' then null else 'motif' end,
    'audit_head', jsonb_build_object('seq', 10 * seq, 'hash', repeat('ab', 32)),
    'fiche', jsonb_build_object('number', 1, 'reference', '103/SD/Just/2018', 'signed_by', 'kamdem', 'signed_at', now(),
        'justiciable', jsonb_build_object('surname', surname, 'given_names', given, 'birth_date', '1987-04-17',
            'birth_place', 'Ekouk', 'sex', 'M', 'father', father, 'mother', 'Atouba Fabienne'),
        'condamnation', jsonb_build_object('conviction_date', '2018-06-18', 'offence_date', '2017-09-15',
            'offence_nature', 'Vol', 'offence_category', 'VOL', 'offence_class', 'delit',
            'sentence_type', 'emprisonnement', 'sentence_months', 12, 'minor', false)))
$$;
create function pg_temp.ingest(m jsonb, signed bytea default '\x3082') returns jsonb language sql as $$
    select cjn.ingest((m ->> 'message_id')::uuid, m ->> 'court_code', (m ->> 'seq')::bigint, m ->> 'kind',
                      (m ->> 'created_at')::timestamptz, m, signed)
$$;

select pg_temp.msg('12345', 1, 'fiche_signed', '12345201800000123', 1) as m1 \gset
set session authorization tg_ingest;
select pg_temp.ingest(:'m1') as r1 \gset
select is(:'r1'::jsonb ->> 'message_id', :'m1'::jsonb ->> 'message_id', 'the receipt names the message');
select is(:'r1'::jsonb ->> 'signed_hash', encode(sha256('\x3082'), 'hex'), 'the receipt carries the digest of the signed bytes kept');
select is(pg_temp.ingest(:'m1'), :'r1'::jsonb, 'a duplicate gets the same receipt again');
select is(pg_temp.ingest(jsonb_set(:'m1', '{motive}', '"autre"')) ->> 'conflict', 'true',
    'the same id with other content is a conflict');
select throws_ok('select * from registry.message', '42501', null, 'the ingest role cannot read the registry');
select throws_ok($$select cjn.register_court('11111', 'x', 'x', 'x', 'x')$$, '42501', null, 'the ingest role cannot register courts');
select throws_ok(format('select pg_temp.ingest(%L)', pg_temp.msg('99999', 1, 'fiche_signed', '99999201800000199', 1)),
    'XJ004', null, 'a message from an unknown court is refused');
reset session authorization;

select is((select count(*) from registry.message), 1::bigint, 'the message is stored once');
select is((select payload ->> 'motive' from registry.message), null, 'the original is untouched by the conflicting duplicate');
select is((select kind from registry.alarm), 'conflicting_duplicate', 'the conflict raised an alarm');
select is((select state::text from registry.fiche where niu = '12345201800000123'), 'active', 'the fiche is in the registry');
select is((select signed from registry.message), '\x3082'::bytea, 'the signed bytes are kept');

-- Out of order: the withdrawal (seq 3) arrives before the rectification (seq 2).
set session authorization tg_ingest;
select pg_temp.ingest(pg_temp.msg('12345', 3, 'fiche_withdrawn', '12345201800000123', 2));
reset session authorization;
select is((select applied_seq from registry.court where code = '12345'), 1::bigint, 'a message after a gap waits');
select results_eq($$select seq from registry.sequence_gap where court_code = '12345' and filled_at is null$$, array[2::bigint],
    'the gap is recorded');
select is((select open_gaps from cjn.court_health where court_code = '12345'), 1::bigint, 'court_health reports the gap');
set session authorization tg_ingest;
select pg_temp.ingest(pg_temp.msg('12345', 2, 'fiche_rectified', '12345201800000123', 2, 'Kobilla'));
reset session authorization;
select is((select applied_seq from registry.court where code = '12345'), 3::bigint, 'once the gap is filled, both are applied');
select results_eq($$select version, state::text from registry.fiche where niu = '12345201800000123' order by version$$,
    $$values (1, 'superseded'), (2, 'withdrawn')$$, 'applied in sequence order: rectified, then withdrawn');
select results_eq($$select kind from registry.fiche_event where niu = '12345201800000123' order by fiche_event_id$$,
    array['signed', 'rectified', 'withdrawn'], 'the fiche''s history stays readable');
select is((select audit_seq from registry.court where code = '12345'), 30::bigint, 'the court''s audit head is recorded');

-- People: the same identity from another court is the same person; a variant is only proposed.
set session authorization tg_ingest;
select pg_temp.ingest(pg_temp.msg('54321', 1, 'fiche_signed', '54321201900000145', 1));
select pg_temp.ingest(pg_temp.msg('54321', 2, 'fiche_signed', '54321201900000244', 1, 'Kobilla', 'Mangue'));
reset session authorization;
select is((select count(distinct person_id) from registry.fiche where niu in ('12345201800000123', '54321201900000145') and version = 1),
    1::bigint, 'the same identity in two courts is one person');
select isnt((select person_id from registry.fiche where niu = '54321201900000244'),
    (select person_id from registry.fiche where niu = '54321201900000145'), 'a spelling variant is not merged silently');
select ok(exists (select from cjn.person_candidates where decision is null), 'a spelling variant is proposed to an operator');

set session authorization tg_stat;
select ok((select sum(convictions) from cjn.stat_conviction) >= 1, 'the statistician reads the statistics view');
select throws_ok('select * from registry.fiche', '42501', null, 'the statistician cannot read the registry itself');
reset session authorization;

select * from finish();
rollback;
