-- Extract latency at the CJN (cjn.extract, cjn.bulletin_decision) on a large registry.
-- Run against a throw-away CJN database migrated with `xmjuris migrate --cjn`, as a superuser:
--   psql -v n=1000000 -f bench/cjn-extract.sql <url>
-- It fills :n people born over 4 800 days (as dense per birth date as 5 million over 66
-- years, which is what the near-match search by birth date pays for) with 2 fiches each,
-- then times 300 extracts by full identity, 300 by names in another word order without birth
-- place, and 300 explanations, and prints median, 95th percentile and maximum in ms.
-- It writes to the registry: never run it on a real CJN.
\if :{?n}
\else
\set n 1000000
\endif
select set_config('bench.n', :'n', false);
set maintenance_work_mem = '512MB';
select cjn.register_court('55555', 'Tribunal de test', 'R', 'D', 'A');
insert into registry.envelope (signed_hash, signed) values (sha256('\x00'), '\x00');
insert into registry.message (message_id, court_code, seq, kind, created_at, niu, version, payload, payload_hash,
                              signed_hash)
values ('00000000-0000-0000-0000-000000000001', '55555', 1, 'fiche_signed', now(), '', 1, '{}', sha256('\x00'),
        sha256('\x00'));
create temporary table syl as select array['ba','be','bi','bo','ka','ke','ko','ma','me','mo','na','ne','no','ta','te','to','la','le','lo','nga','ndo','mbe','ze','zo'] s;
create function pg_temp.word(n int, seed bigint) returns text language sql immutable as $$
  select string_agg((select s from syl)[1 + ((seed / (24 ^ i)::bigint) % 24)], '' order by i) from generate_series(0, n - 1) i $$;
insert into registry.person (surname, given_names, birth_date, birth_place, sex, father, mother, identity_key, name_norm)
select initcap(sur), initcap(g1) || ' ' || initcap(g2), bd, 'Lieu' || (g % 500), 'M', 'Pere' || g, 'Mere' || g,
       'k' || g, sur || ' ' || g1 || ' ' || g2
  from (select g, pg_temp.word(3, (hashint8(g) & 2147483647)::bigint) sur,
               pg_temp.word(2, (hashint8(g * 7) & 2147483647)::bigint) g1,
               pg_temp.word(2, (hashint8(g * 13) & 2147483647)::bigint) g2,
               date '1980-01-01' + ((hashint8(g * 31) & 2147483647) % 4800)::int bd
          from generate_series(1, :n) g) x;
insert into registry.fiche (niu, version, court_code, person_id, content, birth_date, conviction_date, offence_class,
    sentence_type, sentence_months, suspended_months, minor, message_id)
select lpad((p.person_id * 2 + k)::text, 17, '0'), 1, '55555', p.person_id,
       jsonb_build_object('justiciable', jsonb_build_object('surname', p.surname, 'given_names', p.given_names),
           'condamnation', jsonb_build_object('conviction_date', cd, 'offence_class', 'delit', 'sentence_type', 'emprisonnement',
               'sentence_months', 6 + k * 12, 'suspended_months', 0, 'minor', false, 'offence_nature', 'Vol qualifié avec violence',
               'legal_recidivism', false, 'excluded_b2', false, 'excluded_b3', false)),
       p.birth_date, cd, 'delit', 'emprisonnement', 6 + k * 12, 0, false, '00000000-0000-0000-0000-000000000001'
  from registry.person p, generate_series(0, 1) k,
       lateral (select p.birth_date + (20 + k * 3) * 365 as cd) c;
analyze;
create temporary table t (kind text, ms double precision);
do $$
declare
    p registry.person;
    t0 timestamptz;
    a jsonb;
    i int;
begin
    for i in 1 .. 300 loop
        select * into p from registry.person where person_id = 1 + (hashint4(i * 7919) & 2147483647) % current_setting('bench.n')::integer;
        t0 := clock_timestamp();
        a := cjn.extract('55555', 'bench', jsonb_build_object('surname', p.surname, 'given_names', p.given_names,
                 'birth_date', p.birth_date, 'birth_place', p.birth_place, 'father', p.father), 2, 'Bench');
        insert into t values ('extract exact', extract(epoch from clock_timestamp() - t0) * 1000);
        t0 := clock_timestamp();
        a := cjn.extract('55555', 'bench', jsonb_build_object('surname', split_part(p.given_names, ' ', 2),
                 'given_names', p.surname || ' ' || split_part(p.given_names, ' ', 1), 'birth_date', p.birth_date), 3, 'Bench');
        insert into t values ('extract word order, no place', extract(epoch from clock_timestamp() - t0) * 1000);
        t0 := clock_timestamp();
        perform * from cjn.bulletin_decision(lpad((p.person_id * 2)::text, 17, '0'));
        insert into t values ('bulletin_decision', extract(epoch from clock_timestamp() - t0) * 1000);
    end loop;
end $$;
select kind, count(*), round(percentile_cont(0.5) within group (order by ms)::numeric, 1) median,
       round(percentile_cont(0.95) within group (order by ms)::numeric, 1) p95, round(max(ms)::numeric, 1) max
  from t group by kind order by kind;
