-- The courts that get a broker account (`xmjuris broker config`): the active registered ones,
-- for the operator (and the auditor) only.
begin;
select plan(6);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('20002', 'Tribunal de Kribi', 'SUD', 'OCEAN', 'Kribi I');
select cjn.register_court('20001', 'Tribunal de Bertoua', 'EST', 'LOM ET DJEREM', 'Bertoua I');
select cjn.register_court('20003', 'Tribunal fermé', 'SUD', 'OCEAN', 'Kribi II');
update registry.court set active = false where code = '20003';
create role tg_operator9 login in role cjn_operator;
create role tg_auditor9 login in role cjn_auditor;
create role tg_daemon9 login in role cjn_ingest;
create role tg_stat9 login in role cjn_statistician;

set session authorization tg_operator9;
select results_eq($$select code from cjn.broker_courts() where code like '2000_'$$,
    array['20001', '20002'], 'the active courts, by code; not the inactive one');
reset session authorization;
set session authorization tg_auditor9;
select is((select count(*) from cjn.broker_courts() where code like '2000_'), 2::bigint, 'the auditor reads them too');
reset session authorization;
set session authorization tg_daemon9;
select throws_ok($$select * from cjn.broker_courts()$$, '42501', null, 'cjn-ingest may not list them');
reset session authorization;
set session authorization tg_stat9;
select throws_ok($$select * from cjn.broker_courts()$$, '42501', null, 'nor a statistician');
reset session authorization;

update registry.court set active = true where code = '20003';
set session authorization tg_operator9;
select is((select count(*) from cjn.broker_courts() where code like '2000_'), 3::bigint,
    'a court made active again has its account back');
select throws_ok($$select * from registry.court$$, '42501', null, 'the operator does not read the registry itself');
reset session authorization;

select * from finish();
rollback;
