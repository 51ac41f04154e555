-- cjn-ingest's bookkeeping: certificates, revocations, audit checkpoints, status; its role.
begin;
select plan(27);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('12345', 'Tribunal de Garoua-Boulaï', 'ADAMAOUA', 'FARO ET DEO', 'Biyouha');
select cjn.register_court('54321', 'Tribunal de Bamenda', 'NORD-OUEST', 'MEZAM', 'Bamenda I');
update registry.court set active = false where code = '54321';
create role tg_daemon login in role cjn_ingest;
create role tg_operator login in role cjn_operator;

create function pg_temp.cert(court text, serial text, der bytea default '\x3082aa')
    returns boolean language sql as $$
    select cjn.record_certificate(court, serial, 'abcdef', now() - interval '1 day', now() + interval '2 years', der)
$$;

set session authorization tg_daemon;
select is(cjn.court_registered('12345'), true, 'a registered, active court may enroll');
select is(cjn.court_registered('54321'), false, 'an inactive court may not');
select is(cjn.court_registered('99999'), false, 'an unknown court may not');

select is(pg_temp.cert('12345', '0a01'), true, 'a certificate is recorded');
select is(pg_temp.cert('12345', '0a01'), false, 'recording it again changes nothing');
select throws_ok($$select pg_temp.cert('12345', '0a01', '\x3082bb')$$, 'XJ006', null,
    'the same serial with another content is refused');
select throws_ok($$select pg_temp.cert('99999', '0a02')$$, 'XJ004', null,
    'a certificate for an unknown court is refused');
select throws_ok($$select pg_temp.cert('12345', 'not hex')$$, 'XJ001', null, 'a malformed serial is refused');
select throws_ok($$select cjn.record_certificate('12345', '0a03', 'abcd', now(), now() - interval '1 day', '\x30')$$,
    'XJ001', null, 'a certificate that expires before it starts is refused');
select pg_temp.cert('12345', '0a04');
select pg_temp.cert('54321', '0b01');
select is((select count(*) from cjn.court_certificates()), 3::bigint, 'every certificate, for the trust store');
select results_eq($$select serial from cjn.court_certificates('12345') order by serial$$, array['0a01', '0a04'],
    'one court''s certificates');

select is(cjn.record_revocations(array['0a04', 'ffff'], array[now() - interval '1 hour', now()]), 1,
    'a revocation of a known certificate is recorded; an unknown serial is ignored');
select is(cjn.record_revocations(array['0a04'], array[now()]), 0, 'recording it again changes nothing');
select isnt((select revoked_at from cjn.court_certificates('12345') where serial = '0a04'), null,
    'the trust store sees the revocation');
select is((select revoked_at from cjn.court_certificates('12345') where serial = '0a01'), null,
    'the other certificate stays valid');

-- Audit checkpoints.
select is(cjn.record_audit_checkpoint('12345', gen_random_uuid(), 10, repeat('ab', 32), now()) ->> 'recorded', 'true',
    'a first checkpoint is recorded');
select is(cjn.record_audit_checkpoint('12345', gen_random_uuid(), 15, repeat('cd', 32), now()) ->> 'audit_seq', '15',
    'a newer head replaces it');
select is(cjn.record_audit_checkpoint('12345', gen_random_uuid(), 12, repeat('ef', 32), now()) ->> 'recorded', 'false',
    'an older head (overtaken in transit) changes nothing');
select is(cjn.record_audit_checkpoint('12345', gen_random_uuid(), 15, repeat('cd', 32), now()) ->> 'alarm', null,
    'the same head again raises nothing');
select is(cjn.record_audit_checkpoint('12345', gen_random_uuid(), 15, repeat('99', 32), now()) ->> 'alarm', 'audit_fork',
    'another hash at the same sequence is a fork');
select throws_ok($$select cjn.record_audit_checkpoint('99999', gen_random_uuid(), 1, repeat('ab', 32), now())$$,
    'XJ004', null, 'a checkpoint of an unknown court is refused');
select throws_ok($$select cjn.record_audit_checkpoint('12345', gen_random_uuid(), 16, 'xyz', now())$$,
    'XJ001', null, 'a malformed hash is refused');

select is((cjn.ingest_status() ->> 'revoked_certificates')::integer, 1, 'the status counts the revoked certificates');
select throws_ok('select * from registry.court_certificate', '42501', null, 'the daemon cannot read the registry itself');
reset session authorization;

select results_eq($$select audit_seq, audit_hash from registry.court where code = '12345'$$,
    $$values (15::bigint, repeat('cd', 32))$$, 'the fork left the recorded head as it was');
select is((select count(*) from registry.alarm where kind = 'audit_fork' and court_code = '12345'), 1::bigint,
    'the fork raised one alarm');

set session authorization tg_operator;
select throws_ok($$select pg_temp.cert('12345', '0a05')$$, '42501', null, 'an operator does not record certificates');
reset session authorization;

select * from finish();
rollback;
