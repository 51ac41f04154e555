-- What the desktop application's Utilisateurs and Saisie screens read (62_gui_admin.sql): the
-- staff limits with their use, and how many fiches of the court concern a fiche's person.
begin;
select plan(12);
\ir setup.psql

-- The staff limits: the greffier alone reads them.
set session authorization tg_secretaire;
select throws_ok('select * from juris.user_quotas()', '42501', null, 'a secrétaire does not read the staff limits');
reset session authorization;

set session authorization tg_greffier;
select results_eq($$select privilege, active, maximum from juris.user_quotas()$$,
    $$values (3, 1, 1), (2, 2, 19), (1, 2, 19), (0, 0, null::integer)$$,
    'the staff limits: one greffier, 19 secrétaires and 19 agents, with how many are active');
select juris.set_privilege('tg_agent2', 0);
select results_eq($$select active from juris.user_quotas() where privilege in (1, 0) order by privilege$$,
    array[1, 1], 'a suspended agent leaves the agents'' count for the suspended one');
reset session authorization;
update court.setting set max_agents = 5;
set session authorization tg_greffier;
select results_eq($$select maximum from juris.user_quotas() where privilege = 1$$, array[5],
    'the limit follows the court''s setting');
reset session authorization;

-- How many fiches concern the person of a fiche.
select pg_temp.fiche_at(0) as a \gset
select pg_temp.fiche_at(0, pg_temp.sample_fiche('Kobila', 'Mangué')) as b \gset
-- The same words in another order, other accents and case: the same person.
select pg_temp.fiche_at(0, pg_temp.sample_fiche('MANGUE', 'kobila')) as c \gset
-- Another first name: another person.
select pg_temp.fiche_at(0, pg_temp.sample_fiche('Kobila', 'Paul')) as d \gset
-- Another birth date: another person.
select pg_temp.fiche_at(0, jsonb_set(pg_temp.sample_fiche(), '{justiciable,birth_date}', '"1990-01-01"')) as e \gset
-- No birth date yet.
select pg_temp.fiche_at(0, jsonb_set(pg_temp.sample_fiche(), '{justiciable,birth_date}', 'null')) as g \gset

set session authorization tg_agent;
select is(juris.person_fiche_count(:a), 3, 'three fiches concern Kobila Mangué born on 17/04/1987');
select is(juris.person_fiche_count(:c), 3, 'names in another order, accents and case aside, are the same person');
select is(juris.person_fiche_count(:d), 1, 'another first name is another person');
select is(juris.person_fiche_count(:e), 1, 'another birth date is another person');
select is(juris.person_fiche_count(:g), null::integer, 'without a birth date, the count is not known');
select throws_ok('select juris.person_fiche_count(-1)', 'XJ004', null, 'an unknown fiche is reported');
reset session authorization;

set session authorization tg_secretaire;
select is(juris.person_fiche_count(:b), 3, 'a secrétaire reads the count too');
reset session authorization;
select ok(not has_function_privilege('public', 'juris.person_fiche_count(bigint)', 'execute'),
    'nobody outside the staff calls it');

select * from finish();
rollback;
