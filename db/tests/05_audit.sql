-- The audit trail: every change appended, chained by hashes, immutable; audit_verify finds tampering.
begin;
select plan(14);
\ir setup.psql

select pg_temp.fiche_at(3) as id \gset
select results_eq(format($$select action from court.audit where entity = 'fiche' and entity_id = '%s' order by seq$$, :id),
    array['create', 'submit', 'verify', 'sign'], 'each transition of a fiche is audited');
select results_eq(format($$select actor from court.audit where entity = 'fiche' and entity_id = '%s' order by seq$$, :id),
    array['tg_agent', 'tg_agent', 'tg_secretaire', 'tg_greffier'], 'the audit names the acting login');
set session authorization tg_agent;
select results_eq(format('select action, actor, status from juris.fiche_history(%s)', :id),
    $$values ('create', 'tg_agent', 0), ('submit', 'tg_agent', 1), ('verify', 'tg_secretaire', 2), ('sign', 'tg_greffier', 3)$$,
    'fiche_history shows every change, who and the state after it');
reset session authorization;
select is((select count(*) from court.audit a where a.seq <> (select count(*) from court.audit b where b.seq <= a.seq)), 0::bigint,
    'audit sequence numbers are consecutive from 1');

set session authorization tg_greffier;
select results_eq('select ok, first_broken_seq from juris.audit_verify()', $$values (true, null::bigint)$$,
    'audit_verify accepts the untouched chain');
reset session authorization;

select throws_ok('update court.audit set actor = $$x$$ where seq = 1', 'XJ006', null, 'UPDATE of the audit table is refused, even to a superuser');
select throws_ok('delete from court.audit where seq = 1', 'XJ006', null, 'DELETE of the audit table is refused, even to a superuser');
select throws_ok('truncate court.audit', 'XJ006', null, 'TRUNCATE of the audit table is refused, even to a superuser');
select is((select pg_get_userbyid(relowner)::text from pg_class where oid = 'court.audit'::regclass), 'juris_audit_owner',
    'the audit table belongs to a role nobody logs in as');
select ok(not has_table_privilege('juris_owner', 'court.audit', 'update') and not has_table_privilege('juris_owner', 'court.audit', 'delete'),
    'the functions'' owner can neither update nor delete audit rows');

-- Tampering by someone who bypasses the triggers (a superuser disabling them) is detected.
-- Rows so far: 1 court, 2..6 users, 7 create, 8 submit, 9 verify, 10 sign.
alter table court.audit disable trigger user;
savepoint clean;
update court.audit set data = jsonb_set(data, '{surname}', '"Autre"') where seq = 8;
select results_eq('select ok, first_broken_seq from juris.audit_verify()', $$values (false, 8::bigint)$$,
    'an edited row is named as the first broken link');
rollback to savepoint clean;
delete from court.audit where seq = 5;
select results_eq('select ok, first_broken_seq, problem from juris.audit_verify()',
    $$values (false, 6::bigint, 'Les lignes 5 à 5 ont disparu (supprimées).')$$, 'a deleted row is detected');
rollback to savepoint clean;
delete from court.audit where seq = 10;
select results_eq('select ok from juris.audit_verify()', $$values (true)$$,
    'deleting the last row alone is not visible locally (the CJN holds the head: see the messages)');
rollback to savepoint clean;
-- Insert a well-formed row in the middle, renumbering the rest, with a correctly computed hash.
update court.audit set seq = seq + 1000 where seq >= 5;
update court.audit set seq = seq - 999 where seq >= 1000;
insert into court.audit (seq, at, actor, action, entity, entity_id, data, prev_hash, hash)
select 5, now(), 'intrus', 'update', 'fiche', '1', '{}'::jsonb, a.hash,
       sha256(a.hash || juris._audit_canonical(5, now(), 'intrus', 'update', 'fiche', '1', '{}'::jsonb))
  from court.audit a where a.seq = 4;
select results_eq('select ok, first_broken_seq from juris.audit_verify()', $$values (false, 6::bigint)$$,
    'an inserted row is detected at the row after it');
rollback to savepoint clean;
alter table court.audit enable trigger user;

select * from finish();
rollback;
