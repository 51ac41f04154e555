-- The seal of an extract, kept with its consultation: recorded once (a re-sent request gets the
-- first seal), unchangeable, and checked by an operator from the number and code printed.
begin;
select plan(12);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('44444', 'Tribunal de première instance de Maroua', 'EXTREME-NORD', 'DIAMARE', 'Maroua I');
create role tg_ingest5 login in role cjn_ingest;
create role tg_stat5 login in role cjn_statistician;
create role tg_operator5 login in role cjn_operator;

select cjn.extract('44444', 'greffier.maroua', '{"surname": "Essomba", "given_names": "Rose", "birth_date": "1975-12-24"}',
                   3, 'Demande de l''intéressée', current_date, 'req-1') ->> 'extract_number' as number \gset
select is(length(:'number'), 15, 'an extract was logged (néant)');

set session authorization tg_ingest5;
select results_eq(format($$select stored_code from cjn.record_extract_seal(%L, 'K7QX-2M9P-4TRW', 'XMJ1:ABC', %L)$$,
                         :'number', repeat('ab', 32)),
    array['K7QX-2M9P-4TRW'], 'the daemon records the seal');
select results_eq(format($$select stored_code || ' ' || stored_qr_text
                             from cjn.record_extract_seal(%L, 'AAAA-BBBB-CCCC', 'XMJ1:OTHER', %L)$$, :'number', repeat('cd', 32)),
    array['K7QX-2M9P-4TRW XMJ1:ABC'], 'a second seal for the same extract returns the first one');
select throws_ok($$select cjn.record_extract_seal('202600000000000', 'K7QX-2M9P-4TRW', 'XMJ1:ABC', repeat('ab', 32))$$,
    'XJ004', null, 'no seal for an extract the CJN never logged');
select throws_ok(format($$select cjn.check_extract(%L, 'K7QX-2M9P-4TRW')$$, :'number'), '42501', null,
    'the daemon cannot check extracts for callers');
reset session authorization;

select throws_ok('update registry.extract_seal set verification_code = ''AAAA-AAAA-AAAA''', 'XJ006', null,
    'a seal cannot be changed, even by a superuser');
select throws_ok('delete from registry.extract_seal', 'XJ006', null, 'a seal cannot be deleted');

set session authorization tg_operator5;
select is((cjn.check_extract(:'number', 'k7qx 2m9p 4trw') ->> 'genuine')::boolean, true,
    'the code is accepted in lower case and with spaces');
select is((cjn.check_extract(:'number', 'K7QX-2M9P-4TRW') ->> 'message'),
    format('Extrait authentique : bulletin n°3 délivré le %s, néant.', to_char(now() at time zone 'UTC', 'DD/MM/YYYY')),
    'the operator reads what was issued: bulletin, date, néant');
select is((cjn.check_extract(:'number', 'K7QX-2M9P-4TRX') ->> 'genuine')::boolean, false, 'a wrong code is not genuine');
select is((cjn.check_extract('202600000000000', 'K7QX-2M9P-4TRW') ->> 'genuine')::boolean, false,
    'an unknown number is not genuine');
reset session authorization;

set session authorization tg_stat5;
select throws_ok(format($$select cjn.check_extract(%L, 'K7QX-2M9P-4TRW')$$, :'number'), '42501', null,
    'a statistician cannot check extracts');
reset session authorization;

select * from finish();
rollback;
