-- Staff management: greffier only, quotas, one greffier, suspension, audit.
begin;
select plan(16);
\ir setup.psql

select results_eq($$select privilege from court.app_user where login = 'tg_greffier'$$, array[3::smallint],
    'court init creates the greffier with privilege 3');
select ok(pg_has_role('tg_secretaire', 'secretaire', 'member') and pg_has_role('tg_agent', 'agent', 'member'),
    'users are members of the group role of their privilege');
select ok((select rolcanlogin from pg_roles where rolname = 'tg_agent'), 'a new agent can log in');

set session authorization tg_secretaire;
select throws_ok($$select juris.create_user('bob', 'Bob Nkoulou', pg_temp.pw(), 1)$$, '42501', null,
    'a secrétaire cannot create users');
reset session authorization;

set session authorization tg_greffier;
select throws_ok($$select juris.create_user('Bob!', 'Bob', pg_temp.pw(), 1)$$, 'XJ001', null, 'a malformed login is refused');
select throws_ok($$select juris.create_user('bob', 'Bob', 'motdepasse-en-clair', 1)$$, 'XJ001', null,
    'a clear password is refused (it would land in the server log on any failure): SCRAM verifiers only');
select throws_ok($$select juris.create_user('bob', 'Bob', pg_temp.pw(), 3)$$, 'XJ005',
    'La juridiction a déjà un greffier.', 'a second greffier is refused');
select throws_ok($$select juris.create_user('tg_agent', 'X', pg_temp.pw(), 1)$$, 'XJ001', null, 'a taken login is refused');
select throws_ok($$select juris.set_privilege('tg_greffier', 0)$$, 'XJ002', null, 'the greffier cannot change his own privilege');
select throws_ok($$select juris.set_privilege('nobody', 1)$$, 'XJ004', null, 'an unknown user is reported');
reset session authorization;

-- Quota of agents (a setting, 19 by default).
update court.setting set max_agents = 3;
set session authorization tg_greffier;
select lives_ok($$select juris.create_user('agent_c', 'Agent C', pg_temp.pw(), 1)$$, 'the third agent fits the quota of 3');
select throws_ok($$select juris.create_user('agent_d', 'Agent D', pg_temp.pw(), 1)$$, 'XJ005', null,
    'a fourth agent exceeds the quota of 3');
select lives_ok($$select juris.set_privilege('agent_c', 0)$$, 'suspending an agent frees a place');
select lives_ok($$select juris.create_user('agent_d', 'Agent D', pg_temp.pw(), 1)$$, 'then another agent fits');
reset session authorization;

select throws_ok($$delete from court.app_user where login = 'agent_d'$$, 'XJ006', null, 'users are never deleted, even by a superuser');
select results_eq($$select action from court.audit where entity = 'user' and entity_id = 'agent_c' order by seq$$,
    array['user_create', 'user_privilege'], 'user creation and privilege changes are audited');

select * from finish();
rollback;
