-- Database CPU of storing fiches at the CJN: cjn.ingest_envelope as cjn-ingest calls it, one
-- call and one transaction an envelope, each committed (durable when the cluster is).
-- Run against a throw-away CJN database migrated with `xmjuris migrate --cjn`, as a superuser,
-- on a cluster with fsync and synchronous_commit on, pg_stat_statements preloaded:
--   shared_preload_libraries = 'pg_stat_statements'   (postgresql.conf)
--   psql -X -v n=20000 -f bench/cjn-ingest.sql <url>
-- Settings (psql -v): n (timed messages, default 20000), courts (default 50), warm (messages
-- stored and analyzed first, untimed, default 2000), profile (messages of the profiled run,
-- default n/4; 0: none), per (messages an envelope, default 10).
-- Messages: a court's messages in sequence order, envelopes of :per from the courts in turn;
-- 85 % fiches signed, 10 % rectified (version 2 of one of the court's earlier fiches), 5 %
-- withdrawn; one signed fiche in 6 about a person already in the registry (same identity), the
-- others about new people (Cameroonian names with accents, hyphens, apostrophes, born over 52
-- years); one in 5 from the long sample (protocol/src/samples.rs), its names long; an
-- envelope's signed bytes as large as the daemon's (random: 300 bytes and 130 a message, what a
-- compressed SignedData of such fiches weighs, bench/RESULTS.md § Message sizes).
-- Prints, for the timed run: µs of wall time per fiche (median, p95 of the calls divided by
-- their messages), the backend's CPU per fiche (user + system, /proc, commits included),
-- fiches/s and WAL bytes per fiche; beside it the floor, measured in the same session just
-- before: the same payloads inserted by a plain INSERT … SELECT into a table with a primary key,
-- one transaction an envelope, and the ratio. Then the bytes on disk per fiche of each registry
-- table (heap, TOAST and indexes) after all runs; then, for the profiled run
-- (pg_stat_statements.track = all, track_functions = all: slower), the statements and functions
-- by total time per fiche.
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
\if :{?per}
\else
\set per 10
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

-- The messages: i = 0, 1, ...; envelope i / per from court 1 + (i / per) % courts; seq in the court.
create temporary table bench_msg as
with m as (
    select i, i / :per as env, 1 + (i / :per) % :courts as court, (i / :per) / :courts * :per + i % :per + 1 as s
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
-- An envelope: its court, its messages as cjn.ingest_envelope takes them, and signed bytes
-- as large as a real SignedData of them (random, incompressible).
create temporary table bench_env as
select g.*, (select decode(string_agg(md5(g.env::text || ':' || j), '' order by j), 'hex')
               from generate_series(1, (300 + 130 * g.messages) / 16) j) as signed
  from (select env, min(i) as first_i, count(*) as messages, lpad(min(court)::text, 5, '0') as court_code,
               jsonb_agg(jsonb_build_object('message_id', message_id, 'seq', s, 'kind', kind, 'created_at', created_at,
                                            'payload', payload) order by i) as body
          from bench_msg
         group by env) g;
create index on bench_env (first_i);
analyze bench_msg, bench_env;

create temporary table bench_result (run text, calls bigint, us double precision[], cpu_ms double precision,
                                     wall_ms double precision, wal bigint);
-- (a regular table: a temporary one is not WAL-logged, so not as durable)
drop table if exists public.bench_floor;
create table public.bench_floor (message_id uuid primary key, payload jsonb not null);

-- Stores the envelopes whose first message is in [from, to), one call and one transaction each
-- (or, floor = true, inserts their payloads into bench_floor); records µs a fiche for each call.
create procedure pg_temp.run(name text, first bigint, last bigint, floor boolean default false)
language plpgsql as $$
declare
    e record;
    t0 timestamptz;
    us double precision[] := '{}';
    stat text[];
    cpu0 double precision;
    wal0 pg_lsn := pg_current_wal_insert_lsn();
    wall0 timestamptz := clock_timestamp();
    r jsonb;
    n bigint := 0;
begin
    stat := regexp_split_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ');
    cpu0 := (stat[12]::bigint + stat[13]::bigint) * 10.0;  -- USER_HZ = 100: 10 ms ticks
    for e in select * from pg_temp.bench_env x where x.first_i >= first and x.first_i < last order by x.first_i loop
        t0 := clock_timestamp();
        if floor then
            insert into public.bench_floor (message_id, payload)
            select (x ->> 'message_id')::uuid, x -> 'payload' from jsonb_array_elements(e.body) x;
        else
            r := cjn.ingest_envelope(e.court_code, e.signed, e.body);
        end if;
        commit;
        us := us || extract(epoch from clock_timestamp() - t0) * 1e6 / e.messages;
        n := n + e.messages;
        if r is not null and jsonb_path_exists(r, '$[*] ? (@.conflict == true)') then
            raise exception 'conflict in envelope %: %', e.env, r;
        end if;
    end loop;
    stat := regexp_split_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ');
    insert into pg_temp.bench_result
    values (name, n, us, (stat[12]::bigint + stat[13]::bigint) * 10.0 - cpu0,
            extract(epoch from clock_timestamp() - wall0) * 1000, pg_current_wal_insert_lsn() - wal0);
    commit;
end
$$;

\echo warm-up
call pg_temp.run('warm', 0, :warm);
vacuum analyze;
select pg_stat_statements_reset();
set pg_stat_statements.track = none;
set track_functions = none;
\echo floor: the same payloads by a plain INSERT … SELECT, one transaction an envelope
call pg_temp.run('floor', :warm, :warm + :n, true);
\echo timed run
call pg_temp.run('timed', :warm, :warm + :n);
\pset footer off
select run, calls as fiches, round(percentile_cont(0.5) within group (order by u)::numeric, 1) as "µs/fiche p50",
       round(percentile_cont(0.95) within group (order by u)::numeric, 1) as "µs/fiche p95",
       round((cpu_ms * 1000 / calls)::numeric, 0) as "backend CPU µs/fiche",
       round((calls / wall_ms * 1000)::numeric, 0) as "fiches/s (one session)",
       round(wal::numeric / calls) as "WAL bytes/fiche"
  from bench_result, unnest(us) u where run in ('floor', 'timed') group by run, calls, cpu_ms, wall_ms, wal
 order by run;
select round(((t.cpu_ms / t.calls) / nullif(f.cpu_ms / f.calls, 0))::numeric, 1) as "CPU/fiche: ingest ÷ floor",
       round(((t.wall_ms / t.calls) / (f.wall_ms / f.calls))::numeric, 1) as "wall/fiche: ingest ÷ floor",
       round(t.wal::numeric / t.calls / (f.wal::numeric / f.calls), 1) as "WAL/fiche: ingest ÷ floor"
  from bench_result t, bench_result f where t.run = 'timed' and f.run = 'floor';

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
\echo bytes on disk per fiche (heap, TOAST and indexes), all runs
select c.relname as "table", pg_total_relation_size(c.oid) as bytes,
       round(pg_total_relation_size(c.oid)::numeric / (select count(*) from registry.fiche)) as "bytes/fiche",
       round(pg_indexes_size(c.oid)::numeric / (select count(*) from registry.fiche)) as "of which indexes"
  from pg_class c where c.relnamespace = 'registry'::regnamespace and c.relkind = 'r'
   and pg_total_relation_size(c.oid) > 100000
union all
select 'total', sum(pg_total_relation_size(c.oid)),
       round(sum(pg_total_relation_size(c.oid))::numeric / (select count(*) from registry.fiche)),
       round(sum(pg_indexes_size(c.oid))::numeric / (select count(*) from registry.fiche))
  from pg_class c where c.relnamespace = 'registry'::regnamespace and c.relkind = 'r'
 order by 2 desc;
select (select count(*) from registry.fiche) as fiches, (select count(*) from registry.person) as people,
       (select count(*) from registry.person_candidate) as candidates,
       (select count(*) from registry.message where applied_at is null) as unapplied;
