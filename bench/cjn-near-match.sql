-- The near-match step of an extract on a 1 January ("né vers"), the densest birth date: 2 300
-- people born on 1 January 1980, as many as a registry of 5 000 000 people holds on a 1 January
-- (3 % of people, over 66 years). Times, for 200 people asked (names no one holds, born that
-- day), in the same run:
--   cjn.find_person, the whole identity search of an extract (its spelling variants from the
--   index on (birth date, names' trigrams), CJN V8);
--   the step it replaced alone: every person born that day read and compared by trigram
--   similarity (what find_person did before V8);
--   the floor: one B-tree lookup of a person by identity key.
-- Prints median and 95th percentile in ms. Run against a throw-away CJN database migrated with
-- `xmjuris migrate --cjn`, as a superuser:
--   psql -X -f bench/cjn-near-match.sql <url>
-- It writes people to the registry: never run it on a real CJN.
\set ON_ERROR_STOP 1
set jit = off;
set client_min_messages = warning;
create temporary table syl as select array['ba','be','bi','bo','ka','ke','ko','ma','me','mo','na','ne','no','ta','te',
    'to','la','le','lo','nga','ndo','mbe','ze','zo'] s;
create function pg_temp.word(n int, seed bigint) returns text language sql immutable as $$
  select string_agg((select s from syl)[1 + ((seed / (24 ^ i)::bigint) % 24)], '' order by i) from generate_series(0, n - 1) i $$;
insert into registry.person (surname, given_names, birth_date, birth_place, sex, father, mother, identity_key, name_norm)
select initcap(sur), initcap(g1), date '1980-01-01', 'Lieu', 'M', 'P' || g, 'M' || g, 'near-match-bench-' || g,
       sur || ' ' || g1
  from (select g, pg_temp.word(3, (hashint8(g) & 2147483647)::bigint) sur,
               pg_temp.word(2, (hashint8(g * 7) & 2147483647)::bigint) g1
          from generate_series(1, 2300) g) x
on conflict do nothing;
analyze registry.person;
create temporary table q as
select g, initcap(pg_temp.word(3, (hashint8(g) & 2147483647)::bigint)) sur,
       initcap(pg_temp.word(2, (hashint8(g * 7 + 1) & 2147483647)::bigint)) given
  from generate_series(3000, 3199) g;
create temporary table t (kind text, ms float8);
do $$
declare
    r record;
    t0 timestamptz;
begin
    for r in select * from q loop
        t0 := clock_timestamp();
        perform * from cjn.find_person(jsonb_build_object('surname', r.sur, 'given_names', r.given,
                                                          'birth_date', '1980-01-01'));
        insert into t values ('cjn.find_person (the whole identity search)', extract(epoch from clock_timestamp() - t0) * 1000);
        t0 := clock_timestamp();
        perform count(*) from (select ext.similarity(x.name_norm, lower(r.sur || ' ' || r.given)) s
                                 from registry.person x where x.birth_date = '1980-01-01' offset 0) y
         where y.s >= 0.3;
        insert into t values ('the step it replaced: everyone born that day compared', extract(epoch from clock_timestamp() - t0) * 1000);
        t0 := clock_timestamp();
        perform 1 from registry.person x where x.identity_key = 'near-match-bench-' || (1 + r.g % 2300);
        insert into t values ('floor: one B-tree lookup', extract(epoch from clock_timestamp() - t0) * 1000);
    end loop;
end
$$;
\pset footer off
select (select count(*) from registry.person where birth_date = '1980-01-01') as "born on 1 January 1980";
select kind, count(*) as calls, round(percentile_cont(0.5) within group (order by ms)::numeric, 2) as "median ms",
       round(percentile_cont(0.95) within group (order by ms)::numeric, 2) as "p95 ms"
  from t group by kind order by 3 desc;
