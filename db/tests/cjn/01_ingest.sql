-- The CJN: idempotent ingest in sequence order, gaps, conflicts, people, roles.
begin;
select plan(34);

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
select is((select payload_hash from registry.message), sha256(convert_to(:'m1'::jsonb::text, 'UTF8')),
    'the original is untouched by the conflicting duplicate');
select is((select kind from registry.alarm), 'conflicting_duplicate', 'the conflict raised an alarm');
select is((select state::text from registry.fiche where niu = '12345201800000123'), 'active', 'the fiche is in the registry');
select is((select e.signed from registry.message m join registry.envelope e using (signed_hash)), '\x3082'::bytea,
    'the signed bytes are kept, once');

-- Out of order: the withdrawal (seq 3) arrives before the rectification (seq 2).
set session authorization tg_ingest;
select pg_temp.ingest(pg_temp.msg('12345', 3, 'fiche_withdrawn', '12345201800000123', 2));
reset session authorization;
select is((select applied_seq from registry.court where code = '12345'), 1::bigint, 'a message after a gap waits');
select isnt((select payload from registry.message where court_code = '12345' and seq = 3), null,
    'a message waiting for its turn keeps its payload');
select results_eq($$select seq from registry.sequence_gap where court_code = '12345' and filled_at is null$$, array[2::bigint],
    'the gap is recorded');
select is((select open_gaps from cjn.court_health where court_code = '12345'), 1::bigint, 'court_health reports the gap');
set session authorization tg_ingest;
select pg_temp.ingest(pg_temp.msg('12345', 2, 'fiche_rectified', '12345201800000123', 2, 'Kobilla'));
reset session authorization;
select is((select applied_seq from registry.court where code = '12345'), 3::bigint, 'once the gap is filled, both are applied');
select is((select count(*) from registry.message where payload is not null), 0::bigint,
    'an applied message keeps no payload (the registry and its signed envelope hold it)');
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

-- An envelope of several messages in one call: its signed bytes once, an answer per message.
select jsonb_build_array(
    jsonb_build_object('message_id', m3 ->> 'message_id', 'seq', 3, 'kind', 'fiche_signed', 'created_at', m3 ->> 'created_at', 'payload', m3),
    jsonb_build_object('message_id', m4 ->> 'message_id', 'seq', 4, 'kind', 'fiche_signed', 'created_at', m4 ->> 'created_at', 'payload', m4),
    jsonb_build_object('message_id', m5 ->> 'message_id', 'seq', 5, 'kind', 'fiche_withdrawn', 'created_at', m5 ->> 'created_at', 'payload', m5))
    as env
  from (select pg_temp.msg('54321', 3, 'fiche_signed', '54321201900000343', 1, 'Essomba') m3,
               pg_temp.msg('54321', 4, 'fiche_signed', '54321201900000442', 1, 'Onana') m4,
               pg_temp.msg('54321', 5, 'fiche_withdrawn', '54321201900000343', 1) m5) x \gset
set session authorization tg_ingest;
select cjn.ingest_envelope('54321', '\x3082aa', :'env') as answers \gset
select results_eq(format($$select x ->> 'message_id' from jsonb_array_elements(%L::jsonb) x$$, :'answers'),
    format($$select x ->> 'message_id' from jsonb_array_elements(%L::jsonb) x$$, :'env'),
    'an envelope''s messages are answered one by one, in order');
select is(cjn.ingest_envelope('54321', '\x3082aa', :'env'), :'answers'::jsonb, 'the same envelope again gets the same receipts');
select throws_ok(format('select cjn.ingest_envelope(%L, %L, %L)', '54321', '\x3082bb',
    jsonb_build_array(jsonb_build_object('message_id', gen_random_uuid(), 'seq', 6, 'kind', 'fiche_signed', 'created_at', now(),
        'payload', jsonb_set(pg_temp.msg('54321', 6, 'fiche_signed', '54321201900000641', 1), '{fiche,reference}', to_jsonb(repeat('x', 65)))))),
    'XJ001', null, 'an envelope with a text beyond the courts'' limits is refused whole');
reset session authorization;
select is((select count(*) from registry.envelope where signed_hash = sha256('\x3082aa')), 1::bigint,
    'the envelope''s signed bytes are stored once');
select is((select count(*) from registry.message where signed_hash = sha256('\x3082aa')), 3::bigint,
    'and each of its messages points to them');
select results_eq($$select state::text from registry.fiche where niu in ('54321201900000343', '54321201900000442') order by niu$$,
    array['withdrawn', 'active'], 'an envelope''s messages are applied in order');
select is((select applied_seq from registry.court where code = '54321'), 5::bigint, 'the court''s row is up to date');
select is((select count(*) from registry.envelope where signed_hash = sha256('\x3082bb')), 0::bigint,
    'nothing of a refused envelope is kept');

set session authorization tg_stat;
select ok((select sum(convictions) from cjn.stat_conviction) >= 1, 'the statistician reads the statistics view');
select throws_ok('select * from registry.fiche', '42501', null, 'the statistician cannot read the registry itself');
reset session authorization;

select * from finish();
rollback;
