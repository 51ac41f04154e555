-- juris.search_fiches_page: the criteria of a search plus a range of conviction dates, sorted and
-- paged in the database, with the number of fiches found (counted up to 10 000).
begin;
select plan(17);
\ir setup.psql

-- Thirty drafts convicted a month apart from 2018-01-10, named in reverse order of their dates
-- ("Essomba 30" the first convicted, "Essomba 01" the last).
select count(pg_temp.as_user('tg_agent', format('select juris.save_fiche(%L)',
           jsonb_set(pg_temp.sample_fiche(format('Essomba %s', lpad((30 - i)::text, 2, '0')), 'Rose'),
                     '{condamnation,conviction_date}', to_jsonb((date '2018-01-10' + i * 31)::text))))) as created
  from generate_series(0, 29) i \gset

create function pg_temp.plan(q text) returns setof text language plpgsql as $$
begin
    return query execute 'explain ' || q;
end
$$;

select count(*) as open_end from court.fiche where conviction_date >= '2020-06-01' \gset
select array_agg(number order by number) as second_ten from (
    select number from court.fiche order by number limit 10 offset 10) s \gset

set session authorization tg_agent;
-- 2019-01-01 .. 2019-12-31: the fiches convicted on 2018-01-10 + i*31 days for i = 12 .. 23.
select results_eq(
    $$select conviction_date from juris.search_fiches_page(convicted_from => '2019-01-01', convicted_to => '2019-12-31',
                                                          sort_by => 'conviction_date', descending => false)$$,
    $$select date '2018-01-10' + i * 31 from generate_series(0, 29) i
       where date '2018-01-10' + i * 31 between '2019-01-01' and '2019-12-31' order by 1$$,
    'a range of conviction dates returns only the fiches convicted within it, sorted by that date');
select is((select distinct total from juris.search_fiches_page(convicted_from => '2019-01-01', convicted_to => '2019-12-31')),
    12::bigint, 'each row carries the number of fiches found');
select is((select count(*) from juris.search_fiches_page(convicted_from => '2020-06-01')),
    :open_end::bigint, 'a range open at its end');
select is((select count(*) from juris.search_fiches_page(convicted_to => '2018-03-01')), 2::bigint,
    'a range open at its start');
select throws_ok($$select * from juris.search_fiches_page(convicted_from => '2020-01-01', convicted_to => '2019-01-01')$$,
    'XJ001', null, 'a range that ends before it starts is refused');

-- Paging: the second page follows the first, no fiche twice, the total the same on both.
select results_eq(
    $$select number from juris.search_fiches_page(by_name => 'rose', sort_by => 'number', descending => false,
                                                 page_size => 10, page_offset => 10)$$,
    :'second_ten'::bigint[],
    'page_offset gives the next page in the order asked');
select is((select count(*) from (
            select fiche_id from juris.search_fiches_page(sort_by => 'number', page_size => 10, page_offset => 0)
            union
            select fiche_id from juris.search_fiches_page(sort_by => 'number', page_size => 10, page_offset => 10)
            union
            select fiche_id from juris.search_fiches_page(sort_by => 'number', page_size => 10, page_offset => 20)) s),
    30::bigint, 'three pages of ten hold the thirty fiches, each once');
select is((select distinct total from juris.search_fiches_page(page_size => 10, page_offset => 20)), 30::bigint,
    'the last page still tells the total');

-- Sorting: by name the order is the reverse of the dates'; descending reverses it.
select results_eq(
    $$select surname from juris.search_fiches_page(sort_by => 'name', descending => false, page_size => 3)$$,
    array['Essomba 01', 'Essomba 02', 'Essomba 03'], 'sorted by name, ascending: the reverse of the dates');
select results_eq(
    $$select surname from juris.search_fiches_page(sort_by => 'name', descending => true, page_size => 3)$$,
    array['Essomba 30', 'Essomba 29', 'Essomba 28'], 'sorted by name, descending');
select results_eq(
    $$select conviction_date from juris.search_fiches_page(sort_by => 'conviction_date', descending => true, page_size => 2)$$,
    array[date '2018-01-10' + 29 * 31, date '2018-01-10' + 28 * 31], 'sorted by conviction date, newest first');
select throws_ok($$select * from juris.search_fiches_page(sort_by => 'niu; drop table court.fiche')$$,
    'XJ001', null, 'an unknown sort is refused');
reset session authorization;

-- Beyond 10 000 fiches found, the count stops: the total says "at least", pages stop there.
set local session_replication_role = replica;
insert into court.fiche (number, reference, surname, given_names, name_norm, name_tokens, birth_date, birth_place, sex,
                         conviction_date, offence_date, offence_nature, offence_category, offence_class,
                         sentence_type, sentence_months, created_by, updated_by, content_by, content_editors)
select 1000 + g, '1/SD/Just/2023', 'Ngono', 'Alice', 'ngono alice', '{ngono,alice}', date '1980-01-01', 'Maroua', 'M',
       date '2023-05-01', date '2023-01-01', 'Vol simple', 'VOL', 'delit', 'emprisonnement', 6, 'tg_agent', 'tg_agent', 'tg_agent', '{tg_agent}'
  from generate_series(1, 10050) g;
set local session_replication_role = origin;
analyze court.fiche;
set session authorization tg_agent;
select is((select distinct (total, total_exact)::text from juris.search_fiches_page(convicted_from => '2023-01-01')),
    '(10000,f)', 'more than 10 000 fiches found: the count stops at 10 000 and says it is not exact');
select is((select count(*) from juris.search_fiches_page(convicted_from => '2023-01-01', page_offset => 20000)), 25::bigint,
    'a page beyond the 10 000th fiche is the last one within it');
reset session authorization;
select ok((select string_agg(p, ' ') from (
             select * from pg_temp.plan($$select f.fiche_id from court.fiche f where f.conviction_date >= '2023-01-01'
                                           order by f.conviction_date desc, f.number desc limit 25$$) p) s)
          ~ 'Index Scan Backward using fiche_conviction_date',
    'a page sorted by conviction date reads the index in that order (V9), not the whole range');
select ok((select string_agg(p, ' ') from (
             select * from pg_temp.plan($$select f.fiche_id from court.fiche f
                                           order by f.status desc, f.number desc limit 25$$) p) s)
          ~ 'fiche_status_number',
    'a page sorted by status reads the status and number index');
select ok((select string_agg(p, ' ') from (
             select * from pg_temp.plan($$select f.fiche_id from court.fiche f order by f.name_norm, f.number limit 25$$) p) s)
          ~ 'fiche_name_order',
    'a page sorted by name reads the names index');

select * from finish();
rollback;
