-- Database CPU of storing fiches at the CJN: cjn.ingest as cjn-ingest calls it, in envelopes of
-- 10 messages a transaction, each transaction committed (durable when the cluster is).
-- Run against a throw-away CJN database migrated with `xmjuris migrate --cjn`, as a superuser,
-- on a cluster with fsync and synchronous_commit on, pg_stat_statements preloaded:
--   shared_preload_libraries = 'pg_stat_statements'   (postgresql.conf)
--   psql -X -v n=20000 -f bench/cjn-ingest.sql <url>
-- Settings (psql -v): n (timed messages, default 20000), courts (default 50), warm (messages
-- stored and analyzed first, untimed, default 2000), profile (messages of the profiled run,
-- default n/4; 0: none).
-- Messages: a court's messages in sequence order, envelopes of 10 from the courts in turn;
-- 85 % fiches signed, 10 % rectified (version 2 of one of the court's earlier fiches), 5 %
-- withdrawn; one signed fiche in 6 about a person already in the registry (same identity), the
-- others about new people (Cameroonian names with accents, hyphens, apostrophes, born over 52
-- years); one in 5 from the long sample (protocol/src/samples.rs), its names long; the signed
-- bytes of an envelope (its 10 payloads and 1 kB of signature) stored with each of its messages.
-- Prints, for the timed run: µs of wall time per cjn.ingest call (median, p95, mean), the
-- backend's CPU per fiche (user + system, /proc, commits included) and fiches/s; then, for the
-- profiled run (pg_stat_statements.track = all, track_functions = all: slower), the statements
-- and functions by total time per fiche.
-- It writes to the registry: never run it on a real CJN.
\set ON_ERROR_STOP 1
\if :{?n}
\else
\set n 20000
\endif
\if :{?courts}
\else
\set courts 50
\endif
\if :{?warm}
\else
\set warm 2000
\endif
\if :{?profile}
\else
select (:n / 4)::int as profile \gset
\endif
select :profile > 0 as do_profile \gset
create extension if not exists pg_stat_statements;
set jit = off;
set client_min_messages = warning;

select cjn.register_court(lpad(c::text, 5, '0'), 'Tribunal de première instance n° ' || c, 'REGION ' || c % 10,
                          'DEPARTEMENT ' || c % 58, 'ARRONDISSEMENT ' || c)
  from generate_series(1, :courts) c;

-- Identities, by person number.
create temporary table bench_list (k text primary key, v text[]);
insert into bench_list values
('surname', array['Atangana','Mbarga','Ngono','Essomba','Onana','Fouda','Owona','Mbida','Abena','Ndzana','Eto''o',
   'Nkoulou','Bikoula','Kamdem','Tchouaméni','Ngo Bassong','Ngo Nkoumou','Mvondo-Assam','Ékotto','Djoumessi','Fotsing',
   'Nana Djeumo','N''Diaye','Abessolo','Aboubakar','Hamadou','Bello','Oumarou','Nguéma','Ateba','Zambo','Tsala Ébodé']),
('given', array['Jean','Marie','Paul','Pierre','Thérèse','Béatrice','Aïssatou','Jean-Baptiste','Françoise','Cécile',
   'Hervé','Rose','Alice','Kenneth','Joseph','Émilie','Moïse','Ibrahim','Fadimatou','Régine','Armand','Josué',
   'Christelle','Gaëlle','Serge','Yannick','Clémentine','Noël']),
('place', array['Ekouk','Yaoundé','Douala','Garoua','Bamenda','Maroua','Ngaoundéré','Bertoua','Ébolowa','Kribi',
   'Nkolmetet, arrondissement de Mbalmayo','Foumban','Dschang','Kumba','Limbé','Sangmélima','Mbalmayo','Obala',
   'Bafoussam','Nkongsamba','Mora','Kousséri','Tibati','Batouri','Abong-Mbang']);
create function pg_temp.pick(k text, h bigint) returns text language sql stable
return (select v[1 + (abs(h) % cardinality(v))::int] from pg_temp.bench_list where bench_list.k = pick.k);
create function pg_temp.h(p bigint, salt int) returns bigint language sql immutable
return hashint8(p * 1000 + salt);
create function pg_temp.justiciable(p bigint, long boolean) returns jsonb language sql stable
return jsonb_build_object(
    'surname', pg_temp.pick('surname', pg_temp.h(p, 1))
               || case when long then ' épouse ' || pg_temp.pick('surname', pg_temp.h(p, 2)) else '' end,
    'given_names', pg_temp.pick('given', pg_temp.h(p, 3)) || ' ' || pg_temp.pick('given', pg_temp.h(p, 4))
               || case when long then ' ' || pg_temp.pick('given', pg_temp.h(p, 5)) else '' end,
    'birth_date', (date '1950-01-01' + (abs(pg_temp.h(p, 6)) % 19000)::int)::text,
    'birth_place', pg_temp.pick('place', pg_temp.h(p, 7)),
    'sex', case when pg_temp.h(p, 8) % 2 = 0 then 'M' else 'F' end,
    'father', pg_temp.pick('surname', pg_temp.h(p, 9)) || ' ' || pg_temp.pick('given', pg_temp.h(p, 10))
              || case when long then ' (décédé)' else '' end,
    'mother', case when pg_temp.h(p, 11) % 10 = 0 then null
              else pg_temp.pick('given', pg_temp.h(p, 12)) || ' ' || pg_temp.pick('surname', pg_temp.h(p, 13)) end,
    'profession', case when long then 'Commerçante grossiste en produits vivriers' else 'Agriculteur' end,
    'civil_status', 'celibataire',
    'domicile', case when long then 'Quartier Mvog-Mbi, derrière la pharmacie du Soleil, Yaoundé IV' else 'Tsinga' end,
    'nationality', 'Camerounaise');
create function pg_temp.niu(court int, s bigint) returns text language sql immutable
return lpad(court::text, 5, '0') || '2026' || lpad(s::text, 6, '0')
       || lpad((97 - ((lpad(court::text, 5, '0') || '2026' || lpad(s::text, 6, '0'))::numeric * 100 % 97))::text, 2, '0');

-- The messages: i = 0, 1, ...; envelope i / 10 from court 1 + (i / 10) % courts; seq in the court.
create temporary table bench_msg as
with m as (
    select i, i / 10 as env, 1 + (i / 10) % :courts as court, (i / 10) / :courts * 10 + i % 10 + 1 as s
      from generate_series(0, :warm + :n + :profile - 1) i
), k as (
    select m.*,
           case when s % 10 = 7 and s > 10 then 'fiche_rectified'
                when s % 20 = 9 and s > 20 then 'fiche_withdrawn' else 'fiche_signed' end as kind,
           case when s % 10 = 7 and s > 10 then s - 5 when s % 20 = 9 and s > 20 then s - 6 else s end as fiche_s
      from m
), p as (
    -- the person: the fiche's own number, or (one in 6) an earlier fiche's person
    select k.*, fiche_s * 1000 + court as fiche_g,
           case when (fiche_s * 1000 + court) % 6 = 5 and fiche_s > 60 then (fiche_s - 1 - abs(hashint8(fiche_s)) % 50) * 1000 + court
                else fiche_s * 1000 + court end as person
      from k
)
select i, env, court, s, kind, gen_random_uuid() as message_id,
       timestamptz '2026-11-30 08:00:00+00' + i * interval '1 ms' as created_at,
       jsonb_build_object('message_id', null, 'kind', kind, 'court_code', lpad(court::text, 5, '0'), 'seq', s,
           'created_at', null, 'niu', pg_temp.niu(court, fiche_s),
           'version', case kind when 'fiche_rectified' then 2 else 1 end,
           'motive', case kind when 'fiche_rectified' then 'Rectification ordonnée par arrêt de la Cour d''appel du Centre n° '
                                                           || s || '/CRIM/2026 : requalification partielle des faits.'
                               when 'fiche_withdrawn' then 'Annulation de la décision par arrêt n° ' || s || '/2026.' end,
           'audit_head', jsonb_build_object('seq', s * 4, 'hash', encode(sha256(int8send(i)), 'hex')),
           'fiche', jsonb_build_object('number', fiche_s, 'reference', fiche_s || '/COR/' || lpad(court::text, 5, '0') || '/2026',
               'justiciable', pg_temp.justiciable(person, person % 5 = 4),
               'condamnation', jsonb_build_object(
                   'conviction_date', (date '2026-01-01' + (fiche_g % 300)::int)::text,
                   'offence_date', (date '2025-01-01' + (fiche_g % 300)::int)::text,
                   'offence_nature', case when fiche_g % 5 = 4 then 'Escroquerie aggravée en bande organisée, faux et usage de faux en écriture privée de commerce, abus de confiance portant sur des fonds confiés par une tontine, et blanchiment du produit de ces infractions'
                                          else 'Détournement de fonds publics' end,
                   'offence_category', case fiche_g % 3 when 0 then 'ATT_BIENS_PUBLICS' when 1 then 'ATT_BIENS' else 'VOL' end,
                   'offence_class', case fiche_g % 7 when 0 then 'crime' when 1 then 'contravention' else 'delit' end,
                   'warrants', 'Aucun', 'road_traffic', null,
                   'sentence_type', case fiche_g % 4 when 0 then 'amende' when 1 then 'emprisonnement_amende' else 'emprisonnement' end,
                   'sentence_months', case when fiche_g % 4 = 0 then null else 6 + fiche_g % 60 end,
                   'suspended_months', case when fiche_g % 4 = 0 then null else fiche_g % 6 end,
                   'fine_amount', case when fiche_g % 4 in (0, 1) then 50000 + fiche_g % 1000 * 1000 end,
                   'legal_recidivism', fiche_g % 9 = 0, 'minor', fiche_g % 23 = 0,
                   'excluded_b2', false, 'excluded_b3', fiche_g % 5 = 4),
               'signed_by', 'greffier' || lpad(court::text, 5, '0'), 'signed_by_name', 'Kamdem Jean',
               'signed_at', null)) as payload
  from p;
update bench_msg set payload = jsonb_set(jsonb_set(jsonb_set(payload, '{message_id}', to_jsonb(message_id::text)),
                                         '{created_at}', to_jsonb(created_at)), '{fiche,signed_at}', to_jsonb(created_at));
create index on bench_msg (i);
-- An envelope's signed bytes: its payloads and a signature with the court's certificate.
create temporary table bench_env as
select env, convert_to(string_agg(payload::text, ',' order by i), 'UTF8')
            || (select decode(string_agg(md5(env::text || ':' || j), '' order by j), 'hex') from generate_series(1, 64) j)
            as signed
  from bench_msg
 group by env;
create index on bench_env (env);
analyze bench_msg, bench_env;

create temporary table bench_result (run text, calls bigint, us double precision[], cpu_ms double precision, wall_ms double precision);

-- Stores messages [from, to) in envelopes of 10, one transaction each; records per call times.
create procedure pg_temp.run(name text, first bigint, last bigint)
language plpgsql as $$
declare
    m record;
    signed bytea;
    cur_env bigint := -1;
    t0 timestamptz;
    us double precision[] := '{}';
    stat text[];
    cpu0 double precision;
    wall0 timestamptz := clock_timestamp();
    r jsonb;
begin
    stat := regexp_split_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ');
    cpu0 := (stat[12]::bigint + stat[13]::bigint) * 10.0;  -- USER_HZ = 100: 10 ms ticks
    for m in select * from pg_temp.bench_msg where i >= first and i < last order by i loop
        if m.env <> cur_env then
            if cur_env >= 0 then
                commit;
            end if;
            cur_env := m.env;
            select e.signed into signed from pg_temp.bench_env e where e.env = m.env;
        end if;
        t0 := clock_timestamp();
        r := cjn.ingest(m.message_id, lpad(m.court::text, 5, '0'), m.s, m.kind, m.created_at, m.payload, signed);
        us := us || extract(epoch from clock_timestamp() - t0) * 1e6;
        if r ? 'conflict' then
            raise exception 'conflict at message %: %', m.i, r;
        end if;
    end loop;
    commit;
    stat := regexp_split_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ');
    insert into pg_temp.bench_result
    values (name, last - first, us, (stat[12]::bigint + stat[13]::bigint) * 10.0 - cpu0,
            extract(epoch from clock_timestamp() - wall0) * 1000);
    commit;
end
$$;

\echo warm-up
call pg_temp.run('warm', 0, :warm);
vacuum analyze;
select pg_stat_statements_reset();
set pg_stat_statements.track = none;
set track_functions = none;
\echo timed run
call pg_temp.run('timed', :warm, :warm + :n);
\pset footer off
select run, calls, round(percentile_cont(0.5) within group (order by u)::numeric, 1) as "µs/call p50",
       round(percentile_cont(0.95) within group (order by u)::numeric, 1) as "µs/call p95",
       round(avg(u)::numeric, 1) as "µs/call mean",
       round((cpu_ms * 1000 / calls)::numeric, 0) as "backend CPU µs/fiche",
       round((calls / wall_ms * 1000)::numeric, 0) as "fiches/s (one session)"
  from bench_result, unnest(us) u where run = 'timed' group by run, calls, cpu_ms, wall_ms;

\if :do_profile
set pg_stat_statements.track = 'all';
set track_functions = 'all';
select pg_stat_statements_reset();
select pg_stat_reset();
\echo profiled run (pg_stat_statements.track = all, track_functions = all)
call pg_temp.run('profile', :warm + :n, :warm + :n + :profile);
select pg_sleep(1.1);  -- function statistics are flushed at most once a second
select run, calls, round(avg(u)::numeric, 1) as "µs/call mean (profiled)" from bench_result, unnest(us) u
 where run = 'profile' group by run, calls;
select round((total_exec_time * 1000 / :profile)::numeric, 1) as "µs/fiche", calls,
       round((total_exec_time * 1000 / calls)::numeric, 1) as "µs/call",
       round((total_plan_time * 1000 / :profile)::numeric, 1) as "plan µs/fiche",
       left(regexp_replace(query, '\s+', ' ', 'g'), 110) as statement
  from pg_stat_statements
 where query not like '%pg_stat%' and query not like 'call pg_temp.run%' and query not like '%pg_sleep%'
 order by total_exec_time desc limit 25;
select schemaname || '.' || funcname as function, calls,
       round((total_time * 1000 / :profile)::numeric, 1) as "total µs/fiche",
       round((self_time * 1000 / :profile)::numeric, 1) as "self µs/fiche"
  from pg_stat_user_functions where schemaname in ('cjn', 'registry', 'ext') and calls > 0
 order by total_time desc;
\endif
select (select count(*) from registry.fiche) as fiches, (select count(*) from registry.person) as people,
       (select count(*) from registry.person_candidate) as candidates,
       (select count(*) from registry.message where applied_at is null) as unapplied;
