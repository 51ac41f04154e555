-- Staff roles hold no table privileges; every API function is SECURITY DEFINER with a pinned
-- search_path, executable by no one but the roles it is granted to; privilege escalation fails.
begin;
select plan(22);
\ir setup.psql

-- No staff role has any privilege on any table of the data schema.
select is_empty($$
    select r.rolname, c.relname
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      cross join (values ('agent'), ('secretaire'), ('greffier'), ('tg_agent'), ('tg_greffier')) r(rolname)
     where n.nspname = 'court' and c.relkind in ('r', 'v', 'S', 'p')
       and (has_table_privilege(r.rolname, c.oid, 'select') or has_table_privilege(r.rolname, c.oid, 'insert')
         or has_table_privilege(r.rolname, c.oid, 'update') or has_table_privilege(r.rolname, c.oid, 'delete')
         or has_table_privilege(r.rolname, c.oid, 'truncate'))$$,
    'staff roles have no table privileges in schema court');

select is_empty($$
    select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'juris' and p.proname !~ '^_' and not p.prosecdef
       and p.proname not in ('niu_valid')$$,
    'every public API function is SECURITY DEFINER');

select is_empty($$
    select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'juris'
       and not exists (select from unnest(p.proconfig) c where c like 'search_path=%')$$,
    'every juris function pins its search_path');

select is_empty($$
    select p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'juris' and has_function_privilege('public', p.oid, 'execute')$$,
    'no juris function is executable by PUBLIC');

select is_empty($$
    select p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'juris' and p.proname ~ '^_'
       and (has_function_privilege('agent', p.oid, 'execute') or has_function_privilege('greffier', p.oid, 'execute'))$$,
    'internal helpers are executable by no staff role');

select ok(not has_function_privilege('agent', 'juris.sign_fiche(bigint)', 'execute'), 'an agent cannot execute sign_fiche');
select ok(not has_function_privilege('secretaire', 'juris.sign_fiche(bigint)', 'execute'), 'a secrétaire cannot execute sign_fiche');
select ok(has_function_privilege('greffier', 'juris.sign_fiche(bigint)', 'execute'), 'the greffier can execute sign_fiche');
select ok(not has_function_privilege('agent', 'juris.verify_fiche(bigint)', 'execute'), 'an agent cannot execute verify_fiche');
select ok(not has_function_privilege('tg_agent', 'juris.create_user(text, text, text, integer)', 'execute'), 'an agent cannot create users');
select ok(not has_function_privilege('tg_greffier', 'juris.init_court(text, text, text, text, text, text, text, text)', 'execute'),
    'even the greffier cannot re-initialise the court');

-- An agent at the psql prompt.
select pg_temp.fiche_at(2) as verified_id \gset
set session authorization tg_agent;
select throws_ok(format('select juris.sign_fiche(%s)', :verified_id), '42501', null,
    'an agent calling sign_fiche is refused by PostgreSQL');
select throws_ok(format('update court.fiche set status = %L where fiche_id = %s', 'signee', :verified_id), '42501', null,
    'an agent cannot UPDATE the fiche table directly');
select throws_ok('select * from court.fiche', '42501', null, 'an agent cannot read the fiche table directly');
select throws_ok('insert into court.audit (seq, at, actor, action, entity, entity_id, data, prev_hash, hash)
                  values (999, now(), $$x$$, $$x$$, $$fiche$$, $$1$$, $${}$$, $$\x00$$, $$\x00$$)', '42501', null,
    'an agent cannot write the audit table');
select throws_ok('set role greffier', '42501', null, 'an agent cannot SET ROLE greffier');
select throws_ok('set role tg_greffier', '42501', null, 'an agent cannot SET ROLE to the greffier''s login');

-- Planting pg_temp objects that shadow what a SECURITY DEFINER function uses changes nothing.
create function pg_temp._require(integer, text) returns void language sql as $$ select $$;
create function pg_temp.session_user() returns name language sql as $$ select 'tg_greffier'::name $$;
create function pg_temp.btrim(text) returns text language sql as $$ select 'pwned' $$;
create temporary table app_user (login text, privilege int);
insert into app_user values ('tg_agent', 3);
reset session authorization;
select throws_ok(format($$select pg_temp.as_user('tg_agent', 'select juris.withdraw_fiche(%s, ''x'')')$$, :verified_id),
    '42501', null, 'pg_temp shadows do not let an agent reach a greffier function');
-- The shadowed helpers are not used by the API: the agent is still an agent to juris._require.
set session authorization tg_agent;
select throws_ok(format('select juris.verify_fiche(%s)', :verified_id), '42501', null,
    'with pg_temp shadows planted, verify_fiche is still refused to an agent');
select is((juris.get_fiche(:verified_id) ->> 'reference'), '103/SD/Just/2018',
    'pg_temp.btrim does not replace pg_catalog.btrim inside the API');
reset session authorization;

-- A suspended user can no longer log in.
set session authorization tg_greffier;
select juris.set_privilege('tg_agent2', 0);
reset session authorization;
select ok(not (select rolcanlogin from pg_roles where rolname = 'tg_agent2'), 'privilege 0 removes the LOGIN right');
select ok(not pg_has_role('tg_agent2', 'agent', 'member'), 'privilege 0 removes the group membership');

select * from finish();
rollback;
