-- NIU check digits, and searching fiches by NIU, reference, names, birth date and status.
begin;
select plan(17);
\ir setup.psql

select ok(juris.niu_valid('12345201800001986'), 'niu_valid: 12345 2018 000019 86, whose MOD 97-10 check holds');
select is(juris._mod97_check('123452018000019'), lpad((98 - (123452018000019::numeric * 100 % 97))::text, 2, '0'),
    'check digits follow ISO 7064 MOD 97-10');
select ok(juris.niu_valid('123452018000019' || juris._mod97_check('123452018000019')), 'a NIU with its check digits is valid');
select ok(not juris.niu_valid('123452018000091' || juris._mod97_check('123452018000019')), 'two swapped digits are detected');
select ok(not juris.niu_valid('123452018000018' || juris._mod97_check('123452018000019')), 'one wrong digit is detected');
select ok(not juris.niu_valid('1234520180000'), 'a short NIU is invalid');
select ok(not juris.niu_valid(null), 'a null NIU is invalid');

select pg_temp.fiche_at(3, pg_temp.sample_fiche('Kobila', 'Mangué')) as a \gset
select pg_temp.fiche_at(0, pg_temp.sample_fiche('Mbarga', 'Étienne')) as b \gset
select pg_temp.fiche_at(1, jsonb_set(pg_temp.sample_fiche('Kobila', 'Jean'), '{justiciable,birth_date}', '"1990-01-01"')) as c \gset
select niu from court.fiche where fiche_id = :a \gset

set session authorization tg_agent;
select results_eq(format('select fiche_id from juris.search_fiches(by_niu => %L)', :'niu'), array[:a::bigint], 'search by NIU');
select throws_ok(format('select * from juris.search_fiches(by_niu => %L)', overlay(:'niu' placing '0' from 17 for 1)
                         ), 'XJ001', null, 'a mistyped NIU is refused, never matched')
  where right(:'niu', 1) <> '0'
union all select pass('(NIU ends with 0)') where right(:'niu', 1) = '0';
select results_eq($$select fiche_id from juris.search_fiches(by_name => 'MANGUE KOBILA') limit 1$$, array[:a::bigint],
    'search by names ignores case, accents and word order');
select results_eq($$select fiche_id from juris.search_fiches(by_name => 'etienne mbarga')$$, array[:b::bigint],
    'search finds unaccented names');
select results_eq($$select fiche_id from juris.search_fiches(by_name => 'Kobilla Mangé') limit 1$$, array[:a::bigint],
    'search tolerates spelling variants, best match first');
select results_eq($$select fiche_id from juris.search_fiches(by_name => 'kobila', by_birth_date => '1990-01-01')$$, array[:c::bigint],
    'search anchored on a birth date');
select results_eq($$select fiche_id from juris.search_fiches(by_reference => '103/sd/just/2018', by_status => 0)$$, array[:b::bigint],
    'search by reference (case-insensitive) and status');
select is((select count(*) from juris.search_fiches(by_name => 'Zzyzx Qwerty')), 0::bigint, 'an unrelated name finds nothing');
select results_eq($$select fiche_id from juris.search_fiches(by_name => 'kobilla') order by fiche_id$$, array[:a::bigint, :c::bigint],
    'one misspelt word finds every fiche whose names hold it');
select is((select count(*) from juris.search_fiches(by_name => 'Kobila Zzyzx')), 0::bigint,
    'every word of the query must match a word of the names');
reset session authorization;

select * from finish();
rollback;
