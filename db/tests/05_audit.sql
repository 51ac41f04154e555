-- The audit trail: every change appended, chained by hashes, immutable; audit_verify finds tampering.
begin;
select plan(15);
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
-- Each tampering runs in a subtransaction that is rolled back (its verdict carried out by the
-- error message), so that pgTAP's own bookkeeping is not rolled back with it.
-- Rows so far: 1 court, 2..6 users, 7 create, 8 submit, 9 verify, 10 sign.
create function pg_temp.verdict_after(tampering text[]) returns text language plpgsql as $$
declare
    statement text;
    verdict text;
begin
    begin
        alter table court.audit disable trigger user;
        foreach statement in array tampering loop
            execute statement;
        end loop;
        select concat_ws(' ', ok, first_broken_seq, problem) into verdict from juris.audit_verify();
        raise exception 'verdict: %', verdict;
    exception when raise_exception then
        return substr(sqlerrm, 10);
    end;
end
$$;
select is(pg_temp.verdict_after(array[$$update court.audit set data = jsonb_set(data, '{surname}', '"Autre"') where seq = 8$$]),
    'f 8 Le contenu de la ligne a été modifié (empreinte incorrecte).', 'an edited row is named as the first broken link');
select is(pg_temp.verdict_after(array['delete from court.audit where seq = 5']),
    'f 6 Les lignes 5 à 5 ont disparu (supprimées).', 'a deleted row is detected');
select is(pg_temp.verdict_after(array['delete from court.audit where seq = 10']),
    'f 9 La fiche n° 1 diffère de sa dernière trace au journal (ligne 9) : modifiée hors de l''application.',
    'deleting the last row is seen too: the fiche no longer matches its last audit row (and the CJN holds the head)');
select is(pg_temp.verdict_after(array[
    'update court.audit set seq = seq + 1000 where seq >= 5',
    'update court.audit set seq = seq - 999 where seq >= 1000',
    $$insert into court.audit (seq, at, actor, action, entity, entity_id, data, prev_hash, hash)
      select 5, now(), 'intrus', 'update', 'fiche', '1', '{}'::jsonb, a.hash,
             sha256(a.hash || juris._audit_canonical(5, now(), 'intrus', 'update', 'fiche', '1', '{}'::jsonb))
        from court.audit a where a.seq = 4$$]),
    'f 6 Le lien vers la ligne précédente est rompu (ligne insérée, ou ligne précédente remplacée).',
    'an inserted row is detected at the row after it');
select results_eq('select ok from juris.audit_verify()', array[true], 'after the rollbacks the chain is whole again');

select * from finish();
rollback;
