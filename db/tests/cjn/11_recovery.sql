-- A court restored from a backup asks for its messages after a number (cjn.court_recovery):
-- the envelopes it signed, once each, in order, within a size; a duplicate gets the same
-- receipt; a number reused with other content is refused naming the message that holds it.
begin;
select plan(9);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('12345', 'Tribunal de Garoua-Boulaï', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha');
create role tg_ingest login in role cjn_ingest;

create function pg_temp.msg(seq bigint, niu text) returns jsonb language sql as $$
select jsonb_build_object('message_id', gen_random_uuid(), 'kind', 'fiche_signed', 'court_code', '12345', 'seq', seq,
    'created_at', now(), 'niu', niu, 'version', 1, 'motive', null,
    'audit_head', jsonb_build_object('seq', 10 * seq, 'hash', repeat('ab', 32)),
    'fiche', jsonb_build_object('number', seq, 'reference', '103/SD/Just/2018', 'signed_by', 'kamdem', 'signed_at', now(),
        'justiciable', jsonb_build_object('surname', 'Kobila', 'given_names', 'Mangué', 'birth_date', '1987-04-17',
            'birth_place', 'Ekouk', 'sex', 'M'),
        'condamnation', jsonb_build_object('conviction_date', '2018-06-18', 'offence_date', '2017-09-15',
            'offence_nature', 'Vol', 'offence_category', 'VOL', 'offence_class', 'delit',
            'sentence_type', 'emprisonnement', 'sentence_months', 12, 'minor', false)))
$$;
create function pg_temp.ingest(m jsonb, signed bytea) returns jsonb language sql as $$
    select cjn.ingest((m ->> 'message_id')::uuid, m ->> 'court_code', (m ->> 'seq')::bigint, m ->> 'kind',
                      (m ->> 'created_at')::timestamptz, m, signed)
$$;

select pg_temp.msg(1, '12345202600000101') as m1 \gset
select pg_temp.msg(2, '12345202600000202') as m2 \gset
select pg_temp.msg(3, '12345202600000303') as m3 \gset
set session authorization tg_ingest;
-- Messages 1 and 2 came in one envelope, 3 in another.
select pg_temp.ingest(:'m1', '\x30820001') as r1 \gset
select pg_temp.ingest(:'m2', '\x30820001');
select pg_temp.ingest(:'m3', '\x308200020002');
select is(pg_temp.ingest(:'m1', '\x30820009'), :'r1'::jsonb, 'a duplicate (sealed again) gets the receipt given the first time');
select results_eq($$select signed, max_seq, last_seq, complete from cjn.court_recovery('12345', 0, 1000000)$$,
    $$values ('\x30820001'::bytea, 2::bigint, 3::bigint, false), ('\x308200020002'::bytea, 3::bigint, 3::bigint, true)$$,
    'after 0: both envelopes, once each, in order');
select results_eq($$select signed, max_seq from cjn.court_recovery('12345', 1, 1000000)$$,
    $$values ('\x30820001'::bytea, 2::bigint), ('\x308200020002'::bytea, 3::bigint)$$,
    'after 1: the envelope holding 2 (and 1), then 3');
select results_eq($$select signed, complete from cjn.court_recovery('12345', 0, 1)$$,
    $$values ('\x30820001'::bytea, false)$$, 'cut to the size, at least one envelope, not complete');
select results_eq($$select signed, last_seq, complete from cjn.court_recovery('12345', 3, 1000000)$$,
    $$values (null::bytea, 3::bigint, true)$$, 'nothing above: one row without an envelope');
select throws_ok($$select * from cjn.court_recovery('99999', 0, 1000)$$, 'XJ004', null, 'an unknown court');

-- A court restored by hand reuses number 2 with another message.
select pg_temp.msg(2, '12345202600000202') as again \gset
select pg_temp.ingest(:'again', '\x3082') as conflict \gset
select is(:'conflict'::jsonb ->> 'reason', 'reused_sequence', 'a reused number is a conflict of its own kind');
select is(:'conflict'::jsonb ->> 'held_message_id', :'m2'::jsonb ->> 'message_id', 'naming the message that holds it');
reset session authorization;
select is((select count(*) from registry.alarm where kind = 'reused_sequence'), 1::bigint, 'an alarm for the operator');

select * from finish();
rollback;
