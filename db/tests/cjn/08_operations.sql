-- Operations: a sequence gap open longer than the operation setting is an alarm (court_health,
-- gap_alarms, ingest_status), the delay is an operator's setting; the fiche digests that
-- `xmjuris reconcile` compares leave out only the signature's login, name and time.
begin;
select plan(23);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('12345', 'Tribunal de Garoua-Boulaï', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha');
create role tg_ingest login in role cjn_ingest;
create role tg_operator login in role cjn_operator;

create function pg_temp.msg(seq bigint) returns jsonb language sql as $$
select jsonb_build_object('message_id', gen_random_uuid(), 'kind', 'fiche_signed', 'court_code', '12345', 'seq', seq,
    'created_at', now(), 'niu', '1234520260000' || lpad(seq::text, 2, '0') || '00', 'version', 1, 'motive', null,
    'audit_head', jsonb_build_object('seq', seq, 'hash', repeat('ab', 32)),
    'fiche', jsonb_build_object('number', seq, 'reference', '1/SD/2026', 'signed_by', 'kamdem',
        'signed_by_name', 'Kamdem Jean', 'signed_at', '2026-01-02T10:00:00.000000Z',
        'justiciable', jsonb_build_object('surname', 'Kobila', 'given_names', 'Mangué', 'birth_date', '1987-04-17',
            'birth_place', 'Ekouk', 'sex', 'M', 'father', null),
        'condamnation', jsonb_build_object('conviction_date', '2018-06-18', 'offence_date', '2017-09-15',
            'offence_nature', 'Vol', 'offence_category', 'VOL', 'offence_class', 'delit',
            'sentence_type', 'amende', 'fine_amount', 50000, 'minor', false)))
$$;
create function pg_temp.ingest(m jsonb) returns jsonb language sql as $$
    select cjn.ingest((m ->> 'message_id')::uuid, m ->> 'court_code', (m ->> 'seq')::bigint, m ->> 'kind',
                      (m ->> 'created_at')::timestamptz, m, '\x3082')
$$;

set session authorization tg_ingest;
select pg_temp.ingest(pg_temp.msg(1));
select pg_temp.ingest(pg_temp.msg(3));
reset session authorization;

select is((select open_gaps from cjn.court_health), 1::bigint, 'message 3 without 2: one open gap');
select is((select gap_alarm from cjn.court_health), false, 'a fresh gap is not yet an alarm');
update registry.sequence_gap set detected_at = now() - interval '2 hours';
select is((select gap_alarm from cjn.court_health), true, 'a gap open for more than an hour (the default) is an alarm');
select results_eq('select court_code, missing_seqs, held_messages from cjn.gap_alarms()',
    $$values ('12345', array[2::bigint], 1::bigint)$$, 'gap_alarms names the court, the missing message and what it holds back');
set session authorization tg_ingest;
select is((cjn.ingest_status() ->> 'gap_alarms')::int, 1, 'cjn-ingest''s status counts the court in alarm');
reset session authorization;

set session authorization tg_operator;
select throws_ok($$select cjn.set_gap_alarm_after('10 seconds')$$, 'XJ001', null, 'a delay under a minute is refused');
select lives_ok($$select cjn.set_gap_alarm_after('3 hours')$$, 'an operator sets the alarm delay');
select is((select gap_alarm from cjn.court_health), false, 'with 3 hours, the 2-hour gap is no alarm');
reset session authorization;
set session authorization tg_ingest;
select throws_ok($$select cjn.set_gap_alarm_after('1 hour')$$, '42501', null, 'the daemon cannot change the setting');
select pg_temp.ingest(pg_temp.msg(2));
reset session authorization;
select is((select open_gaps from cjn.court_health), 0::bigint, 'the missing message fills the gap');

-- The digest of the content as the court signed it: the signature's fields left out.
select is((select content_digest from cjn.court_fiches('12345') where niu = '123452026000001' || '00'),
    encode(sha256(convert_to(((pg_temp.msg(1) -> 'fiche') - 'signed_by' - 'signed_by_name' - 'signed_at')::text, 'UTF8')), 'hex'),
    'court_fiches gives the digest of the content less the signature');
select is((select count(*) from cjn.court_fiches('12345')), 3::bigint, 'one row per fiche');

-- Names near the courts' limits (200 + 200 characters) and a variant of them: the near-match
-- search must not fail (levenshtein takes at most 255 characters), nor refuse a whole envelope.
create function pg_temp.long_names(seq bigint, surname text, given text) returns jsonb language sql as $$
    select jsonb_set(jsonb_set(pg_temp.msg(seq), '{fiche,justiciable,surname}', to_jsonb(surname)),
                     '{fiche,justiciable,given_names}', to_jsonb(given))
$$;
set session authorization tg_ingest;
select pg_temp.ingest(pg_temp.long_names(4, rtrim(repeat('Mbarga Ondoa ', 15)), rtrim(repeat('Jean Pierre Marie ', 11))));
select lives_ok($$select cjn.extract('12345', 'g1', jsonb_build_object(
        'surname', rtrim(repeat('Mbarga Ondoa ', 14)) || ' Owona', 'given_names', rtrim(repeat('Jean Pierre Marie ', 11)),
        'birth_date', '1987-04-17'), 3, 'Emploi')$$,
    'an extract for names of about 400 characters and a variant of them is computed');
select throws_ok($$select cjn.extract('12345', 'g1', jsonb_build_object('surname', repeat('kobila ', 100),
        'given_names', 'Mangué', 'birth_date', '1987-04-17'), 3, 'Emploi')$$, 'XJ001', null,
    'names past the courts'' limit are refused (a consultation is kept for ever)');
select throws_ok(format('select pg_temp.ingest(%L)',
        jsonb_set(pg_temp.msg(5), '{fiche,justiciable,domicile}', to_jsonb(repeat('x', 600)))), 'XJ001', null,
    'a signed fiche past the courts'' limits is refused at the CJN too');
reset session authorization;

-- Alarms: an operator sees those open, acknowledges one (who and when are kept), and it leaves
-- the open list but stays in the full one; acknowledging twice or an unknown alarm is refused.
insert into registry.alarm (kind, court_code, detail) values ('audit_fork', '12345', 'two audit heads for seq 7');
set session authorization tg_operator;
select is((select count(*) from cjn.alarms() where kind = 'audit_fork'), 1::bigint, 'an operator sees the open alarm');
select lives_ok(format('select cjn.acknowledge_alarm(%s)', (select alarm_id from cjn.alarms() where kind = 'audit_fork')),
    'an operator acknowledges it');
select is((select count(*) from cjn.alarms() where kind = 'audit_fork'), 0::bigint, 'it leaves the open alarms');
select is((select acknowledged_by from cjn.alarms(true) where kind = 'audit_fork'), 'tg_operator',
    'the full list keeps it, with who acknowledged it');
select throws_ok(format('select cjn.acknowledge_alarm(%s)', (select alarm_id from cjn.alarms(true) where kind = 'audit_fork')),
    'XJ003', null, 'an alarm is acknowledged once');
select throws_ok('select cjn.acknowledge_alarm(-1)', 'XJ004', null, 'an unknown alarm is refused');
reset session authorization;
set session authorization tg_ingest;
select throws_ok('select cjn.acknowledge_alarm(1)', '42501', null, 'cjn-ingest cannot acknowledge an alarm');
reset session authorization;

-- Closing a court: no broker account, no enrollment; unknown court refused.
set session authorization tg_operator;
select cjn.set_court_active('12345', false);
select is((select count(*) from cjn.broker_courts() where code = '12345'), 0::bigint,
    'a closed court gets no broker account');
reset session authorization;

select * from finish();
rollback;
