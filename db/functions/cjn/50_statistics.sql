-- The statistician's schema `stat` (issue 15, points 6 and 7): read-only, free of personal data,
-- for R, Python, a spreadsheet or psql (docs/statistics.md). Rebuilt on every migrate with `cjn`.
--
-- Each table is a function of the dimensions asked (a whitelist: nothing else reaches the SQL
-- built) and of a period, plus a few views of the usual tables for tools that list views. Every
-- cell counts people (distinct persons of the registry); a cell counting fewer people than
-- registry.operation_setting.stat_min_people (5 by default) is suppressed: its figures are null
-- and `suppressed` is true, so that no one can be singled out from a published table. What the
-- suppression does not prevent (comparing two tables that differ by one cell) is said in
-- docs/statistics.md. Internal relations (prefixed `_`) hold the person's id to count people and
-- are granted to nobody.

-- Cells counting fewer people than this are suppressed (readable by the views' readers).
create function stat._min_people() returns integer
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
return (select s.stat_min_people from registry.operation_setting s);

-- Age band at the offence, from the birth and offence dates (Code pénal, art. 80: 10, 14, 18).
create function stat._age_band(birth_date date, offence_date date) returns text
    language sql immutable
    set search_path = pg_catalog, pg_temp
return case
    when birth_date is null or offence_date is null or offence_date <= birth_date then 'inconnu'
    when extract(year from age(offence_date, birth_date)) < 14 then 'moins de 14 ans'
    when extract(year from age(offence_date, birth_date)) < 18 then '14-17 ans'
    when extract(year from age(offence_date, birth_date)) < 25 then '18-24 ans'
    when extract(year from age(offence_date, birth_date)) < 35 then '25-34 ans'
    when extract(year from age(offence_date, birth_date)) < 50 then '35-49 ans'
    when extract(year from age(offence_date, birth_date)) < 65 then '50-64 ans'
    else '65 ans et plus'
end;

-- Band of the sentence pronounced (imprisonment in months, suspended part included).
create function stat._sentence_band(sentence_type text, sentence_months integer) returns text
    language sql immutable
    set search_path = pg_catalog, pg_temp
return case
    when sentence_type = 'amende' then 'amende seule'
    when sentence_type = 'perpetuite' then 'réclusion à perpétuité'
    when sentence_type = 'mort' then 'peine de mort'
    when sentence_type = 'travaux_interet_general' then 'travail d''intérêt général'
    when sentence_type in ('emprisonnement', 'emprisonnement_amende') then case
        when coalesce(sentence_months, 0) = 0 then 'emprisonnement, durée inconnue'
        when sentence_months <= 6 then 'emprisonnement jusqu''à 6 mois'
        when sentence_months <= 12 then 'emprisonnement de 7 à 12 mois'
        when sentence_months <= 24 then 'emprisonnement de 13 à 24 mois'
        when sentence_months <= 60 then 'emprisonnement de 25 à 60 mois'
        when sentence_months <= 120 then 'emprisonnement de 61 à 120 mois'
        else 'emprisonnement de plus de 120 mois' end
    else 'autre peine'
end;

-- One row per conviction in force (the current version of a fiche, not withdrawn), with every
-- dimension the tables offer. Holds the person's id (to count people): granted to nobody.
create view stat._conviction as
select f.person_id, f.conviction_date,
       extract(year from f.conviction_date)::integer as year,
       extract(quarter from f.conviction_date)::integer as quarter,
       extract(month from f.conviction_date)::integer as month,
       c.region, c.code as court_code, c.name as court_name,
       f.offence_category, oc.label as category_label,
       oc.iccs_section, s1.label_fr as iccs_section_label, oc.iccs_division, s2.label_fr as iccs_division_label,
       f.offence_class, f.sentence_type, stat._sentence_band(f.sentence_type, f.sentence_months) as sentence_band,
       f.sentence_months, f.sex, stat._age_band(f.birth_date, f.offence_date) as age_band
  from registry.fiche f
  join registry.court c on c.code = f.court_code
  left join registry.offence_category oc on oc.code = f.offence_category
  left join registry.iccs_category s1 on s1.code = oc.iccs_section
  left join registry.iccs_category s2 on s2.code = oc.iccs_division
 where f.state = 'active';

-- The select and group-by lists of a table: `spec` lists the output columns
-- [{"col", "dim", "expr", "type"}]; a column whose dimension is asked is its expression (named
-- `col`) and is grouped by, the others are null. Refuses an unknown dimension, in French, naming the known.
create function stat._columns(dimensions text[], spec jsonb, out select_list text, out group_list text)
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    d text;
    known text[] := array(select distinct s ->> 'dim' from jsonb_array_elements(spec) s);
    c jsonb;
    groups text[] := '{}';
    cols text[] := '{}';
begin
    foreach d in array coalesce(dimensions, '{}') loop
        if not d = any (known) then
            raise exception 'Dimension inconnue : « % » (dimensions possibles : %).', d,
                (select string_agg(k, ', ' order by k) from unnest(known) k)
                using errcode = 'XJ001', column = 'dimensions';
        end if;
    end loop;
    for c in select * from jsonb_array_elements(spec) loop
        if c ->> 'dim' = any (coalesce(dimensions, '{}')) then
            cols := cols || format('%s as %s', c ->> 'expr', c ->> 'col');
            groups := groups || (c ->> 'expr');
        else
            cols := cols || format('null::%s as %s', c ->> 'type', c ->> 'col');
        end if;
    end loop;
    select_list := array_to_string(cols, ', ');
    group_list := case when cardinality(groups) > 0 then 'group by ' || array_to_string(groups, ', ') else '' end;
end
$$;

-- The dimensions of a conviction, as `stat._columns` reads them.
create function stat._conviction_spec() returns jsonb
    language sql immutable
return '[{"col": "year", "dim": "year", "expr": "c.year", "type": "integer"},
         {"col": "quarter", "dim": "quarter", "expr": "c.quarter", "type": "integer"},
         {"col": "month", "dim": "month", "expr": "c.month", "type": "integer"},
         {"col": "region", "dim": "region", "expr": "c.region", "type": "text"},
         {"col": "court_code", "dim": "court", "expr": "c.court_code", "type": "text"},
         {"col": "court_name", "dim": "court", "expr": "c.court_name", "type": "text"},
         {"col": "offence_category", "dim": "category", "expr": "c.offence_category", "type": "text"},
         {"col": "category_label", "dim": "category", "expr": "c.category_label", "type": "text"},
         {"col": "iccs_section", "dim": "iccs_section", "expr": "c.iccs_section", "type": "text"},
         {"col": "iccs_section_label", "dim": "iccs_section", "expr": "c.iccs_section_label", "type": "text"},
         {"col": "iccs_division", "dim": "iccs_division", "expr": "c.iccs_division", "type": "text"},
         {"col": "iccs_division_label", "dim": "iccs_division", "expr": "c.iccs_division_label", "type": "text"},
         {"col": "offence_class", "dim": "class", "expr": "c.offence_class", "type": "text"},
         {"col": "sentence_type", "dim": "sentence_type", "expr": "c.sentence_type", "type": "text"},
         {"col": "sentence_band", "dim": "sentence_band", "expr": "c.sentence_band", "type": "text"},
         {"col": "sex", "dim": "sex", "expr": "c.sex", "type": "text"},
         {"col": "age_band", "dim": "age_band", "expr": "c.age_band", "type": "text"}]'::jsonb;

-- Convictions in force pronounced in a period (by conviction date; null: no bound), by the
-- dimensions asked among: year, quarter, month, region, court, category, iccs_section,
-- iccs_division, class, sentence_type, sentence_band, sex, age_band. People, convictions and
-- the mean imprisonment pronounced (months); suppressed cells have null figures.
create function stat.convictions(dimensions text[] default array['year'], from_date date default null,
                                 to_date date default null)
    returns table (year integer, quarter integer, month integer, region text, court_code text, court_name text,
                   offence_category text, category_label text, iccs_section text, iccs_section_label text,
                   iccs_division text, iccs_division_label text, offence_class text, sentence_type text,
                   sentence_band text, sex text, age_band text, people bigint, convictions bigint,
                   mean_sentence_months numeric, suppressed boolean)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
    set jit = off
as $$
declare
    cols record := stat._columns(dimensions, stat._conviction_spec());
begin
    return query execute format($q$
        select %s,
               case when not x.hidden then x.people end, case when not x.hidden then x.convictions end,
               case when not x.hidden then x.mean_months end, x.hidden
          from (select %s, count(distinct c.person_id) as people, count(*) as convictions,
                       round(avg(c.sentence_months) filter (where c.sentence_months > 0), 1) as mean_months,
                       count(distinct c.person_id) < $1 as hidden
                  from stat._conviction c
                 where ($2::date is null or c.conviction_date >= $2) and ($3::date is null or c.conviction_date <= $3)
                 %s) x
         order by 1, 2, 3, 4, 5, 7, 9, 11, 13, 14, 15, 16, 17$q$,
        (select string_agg('x.' || (s ->> 'col'), ', ') from jsonb_array_elements(stat._conviction_spec()) s),
        cols.select_list,
        cols.group_list)
    using stat._min_people(), from_date, to_date;
end
$$;

-- Recidivism: convictions in force pronounced in a period, by the dimensions asked (year,
-- region, category, iccs_section, class, sex, age_band), with how many came after an earlier
-- conviction of the same person (any year, any court), their share, and the median time
-- between the two (months). And how many people the period's convictions concern.
create function stat.recidivism(dimensions text[] default array['year'], from_date date default null,
                                to_date date default null)
    returns table (year integer, region text, offence_category text, iccs_section text, offence_class text,
                   sex text, age_band text, people bigint, convictions bigint, after_earlier_conviction bigint,
                   share_after_earlier numeric, median_months_since_earlier numeric, suppressed boolean)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
    set jit = off
as $$
declare
    spec jsonb := '[{"col": "year", "dim": "year", "expr": "c.year", "type": "integer"},
                    {"col": "region", "dim": "region", "expr": "c.region", "type": "text"},
                    {"col": "offence_category", "dim": "category", "expr": "c.offence_category", "type": "text"},
                    {"col": "iccs_section", "dim": "iccs_section", "expr": "c.iccs_section", "type": "text"},
                    {"col": "offence_class", "dim": "class", "expr": "c.offence_class", "type": "text"},
                    {"col": "sex", "dim": "sex", "expr": "c.sex", "type": "text"},
                    {"col": "age_band", "dim": "age_band", "expr": "c.age_band", "type": "text"}]';
    cols record := stat._columns(dimensions, spec);
begin
    return query execute format($q$
        with c as (
            select c.*, lag(c.conviction_date) over (partition by c.person_id order by c.conviction_date) as earlier
              from stat._conviction c)
        select x.year, x.region, x.offence_category, x.iccs_section, x.offence_class, x.sex, x.age_band,
               case when not x.hidden then x.people end, case when not x.hidden then x.convictions end,
               case when not x.hidden then x.after_earlier end, case when not x.hidden then x.share end,
               case when not x.hidden then x.median_months end, x.hidden
          from (select %s, count(distinct c.person_id) as people, count(*) as convictions,
                       count(*) filter (where c.earlier is not null) as after_earlier,
                       round(count(*) filter (where c.earlier is not null)::numeric / count(*), 3) as share,
                       round((percentile_cont(0.5) within group (
                           order by (c.conviction_date - c.earlier) / 30.4375))::numeric, 1) as median_months,
                       count(distinct c.person_id) < $1 as hidden
                  from c
                 where ($2::date is null or c.conviction_date >= $2) and ($3::date is null or c.conviction_date <= $3)
                 %s) x
         order by 1, 2, 3, 4, 5, 6, 7$q$, cols.select_list, cols.group_list)
    using stat._min_people(), from_date, to_date;
end
$$;

-- People by their number of convictions in force (1, 2, 3, 4, 5 or more), by sex.
create view stat.people_by_conviction_count as
with p as (
    select c.person_id, min(c.sex) as sex, count(*) as n from stat._conviction c group by c.person_id),
cells as (
    select case when p.n >= 5 then '5 ou plus' else p.n::text end as convictions_in_force, p.sex, count(*) as people
      from p group by 1, 2)
select cells.convictions_in_force, cells.sex,
       case when cells.people >= stat._min_people() then cells.people end as people,
       cells.people < stat._min_people() as suppressed
  from cells
 order by 1, 2;

-- Delays of the fiches signed (first version), by the dimensions asked (year of conviction,
-- region, court): from the offence to the conviction, from the conviction to the signature, and
-- from the signature to the CJN's receiving it (days; median and 90th percentile).
create function stat.delays(dimensions text[] default array['year'], from_date date default null,
                            to_date date default null)
    returns table (year integer, region text, court_code text, court_name text, fiches bigint,
                   offence_to_conviction_median_days numeric, offence_to_conviction_p90_days numeric,
                   conviction_to_signature_median_days numeric, conviction_to_signature_p90_days numeric,
                   signature_to_cjn_median_days numeric, signature_to_cjn_p90_days numeric, suppressed boolean)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
    set jit = off
as $$
declare
    spec jsonb := '[{"col": "year", "dim": "year", "expr": "d.year", "type": "integer"},
                    {"col": "region", "dim": "region", "expr": "d.region", "type": "text"},
                    {"col": "court_code", "dim": "court", "expr": "d.court_code", "type": "text"},
                    {"col": "court_name", "dim": "court", "expr": "d.court_name", "type": "text"}]';
    cols record := stat._columns(dimensions, spec);
begin
    return query execute format($q$
        with d as (
            select extract(year from f.conviction_date)::integer as year, c.region, c.code as court_code,
                   c.name as court_name, f.person_id,
                   (f.conviction_date - f.offence_date)::numeric as to_conviction,
                   (f.signed_at::date - f.conviction_date)::numeric as to_signature,
                   extract(epoch from m.received_at - f.signed_at)::numeric / 86400 as to_cjn,
                   f.conviction_date
              from registry.fiche f
              join registry.court c on c.code = f.court_code
              join registry.message m on m.message_id = f.message_id
             where f.version = 1)
        select x.year, x.region, x.court_code, x.court_name,
               case when not x.hidden then x.fiches end,
               case when not x.hidden then x.a1 end, case when not x.hidden then x.a9 end,
               case when not x.hidden then x.b1 end, case when not x.hidden then x.b9 end,
               case when not x.hidden then x.c1 end, case when not x.hidden then x.c9 end, x.hidden
          from (select %s, count(*) as fiches,
                       round(percentile_cont(0.5) within group (order by d.to_conviction)::numeric, 1) as a1,
                       round(percentile_cont(0.9) within group (order by d.to_conviction)::numeric, 1) as a9,
                       round(percentile_cont(0.5) within group (order by d.to_signature)::numeric, 1) as b1,
                       round(percentile_cont(0.9) within group (order by d.to_signature)::numeric, 1) as b9,
                       round(percentile_cont(0.5) within group (order by d.to_cjn)::numeric, 2) as c1,
                       round(percentile_cont(0.9) within group (order by d.to_cjn)::numeric, 2) as c9,
                       count(distinct d.person_id) < $1 as hidden
                  from d
                 where ($2::date is null or d.conviction_date >= $2) and ($3::date is null or d.conviction_date <= $3)
                 %s) x
         order by 1, 2, 3$q$,
        cols.select_list, cols.group_list)
    using stat._min_people(), from_date, to_date;
end
$$;

-- Extracts asked for in a period (by the day they were asked), by the dimensions asked (year,
-- month, bulletin, purpose, court: the requesting court, region: its region): requests, people
-- asked about (distinct identities), answers « néant », their share, and identities to be
-- specified. The purpose is the court's text, lower-cased and trimmed: a purpose few people
-- share is suppressed with its cell.
create function stat.extracts(dimensions text[] default array['year', 'bulletin'], from_date date default null,
                              to_date date default null)
    returns table (year integer, month integer, bulletin smallint, purpose text, requester_court text, court_name text,
                   region text, people bigint, requests bigint, neant bigint, share_neant numeric,
                   identity_to_specify bigint, suppressed boolean)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
    set jit = off
as $$
declare
    spec jsonb := '[{"col": "year", "dim": "year", "expr": "e.year", "type": "integer"},
                    {"col": "month", "dim": "month", "expr": "e.month", "type": "integer"},
                    {"col": "bulletin", "dim": "bulletin", "expr": "e.bulletin", "type": "smallint"},
                    {"col": "purpose", "dim": "purpose", "expr": "e.purpose", "type": "text"},
                    {"col": "requester_court", "dim": "court", "expr": "e.requester_court", "type": "text"},
                    {"col": "court_name", "dim": "court", "expr": "e.court_name", "type": "text"},
                    {"col": "region", "dim": "region", "expr": "e.region", "type": "text"}]';
    cols record := stat._columns(dimensions, spec);
begin
    return query execute format($q$
        with e as (
            select extract(year from x.asked_at)::integer as year, extract(month from x.asked_at)::integer as month,
                   x.bulletin, lower(btrim(x.purpose)) as purpose, x.requester_court, c.name as court_name, c.region,
                   registry.name_key(x.identity ->> 'surname', x.identity ->> 'given_names')
                       || '|' || coalesce(x.identity ->> 'birth_date', '') as who,
                   x.outcome, x.asked_at
              from registry.consultation x
              join registry.court c on c.code = x.requester_court)
        select y.year, y.month, y.bulletin, y.purpose, y.requester_court, y.court_name, y.region,
               case when not y.hidden then y.people end, case when not y.hidden then y.requests end,
               case when not y.hidden then y.neant end, case when not y.hidden then y.share end,
               case when not y.hidden then y.ambiguous end, y.hidden
          from (select %s, count(distinct e.who) as people, count(*) as requests,
                       count(*) filter (where e.outcome = 'neant') as neant,
                       round(count(*) filter (where e.outcome = 'neant')::numeric / count(*), 3) as share,
                       count(*) filter (where e.outcome = 'identite_a_preciser') as ambiguous,
                       count(distinct e.who) < $1 as hidden
                  from e
                 where ($2::date is null or e.asked_at >= $2) and ($3::date is null or e.asked_at < $3 + 1)
                 %s) y
         order by 1, 2, 3, 4, 5$q$, cols.select_list, cols.group_list)
    using stat._min_people(), from_date, to_date;
end
$$;

-- Each court's activity by month: messages received by kind, refused envelopes, extracts asked.
-- Counts of messages, not of people: nothing suppressed.
create view stat.court_activity as
with months as (
    select m.court_code, date_trunc('month', m.received_at)::date as month,
           count(*) filter (where m.kind = 'fiche_signed') as fiches_signed,
           count(*) filter (where m.kind = 'fiche_rectified') as fiches_rectified,
           count(*) filter (where m.kind = 'fiche_withdrawn') as fiches_withdrawn,
           count(*) filter (where m.kind = 'sentence_event') as sentence_events,
           count(*) as messages
      from registry.message m group by 1, 2),
refused as (
    select q.claimed_court as court_code, date_trunc('month', q.received_at)::date as month, count(*) as refused
      from registry.quarantine q where q.claimed_court is not null group by 1, 2),
asked as (
    select x.requester_court as court_code, date_trunc('month', x.asked_at)::date as month, count(*) as extracts_asked
      from registry.consultation x group by 1, 2)
select c.code as court_code, c.name as court_name, c.region, k.month,
       coalesce(m.messages, 0) as messages, coalesce(m.fiches_signed, 0) as fiches_signed,
       coalesce(m.fiches_rectified, 0) as fiches_rectified, coalesce(m.fiches_withdrawn, 0) as fiches_withdrawn,
       coalesce(m.sentence_events, 0) as sentence_events, coalesce(r.refused, 0) as refused,
       coalesce(a.extracts_asked, 0) as extracts_asked
  from (select court_code, month from months union select court_code, month from refused
        union select court_code, month from asked) k
  join registry.court c on c.code = k.court_code
  left join months m on m.court_code = k.court_code and m.month = k.month
  left join refused r on r.court_code = k.court_code and r.month = k.month
  left join asked a on a.court_code = k.court_code and a.month = k.month
 order by c.code, k.month;

-- Each court's transmission health now: last contact, sequence numbers, gaps, backlog held
-- behind a gap, refusals and alarms not acknowledged.
create view stat.transmission_health as
select h.court_code, h.court_name, h.region, h.active, h.last_message_at, h.last_seq, h.applied_seq, h.open_gaps,
       h.oldest_gap_at, h.gap_alarm, h.waiting_for_order, h.refused, h.open_alarms
  from cjn.court_health h;

-- The usual tables, for tools that list views.
create view stat.conviction_year_region as
select c.year, c.region, c.offence_class, c.people, c.convictions, c.suppressed
  from stat.convictions(array['year', 'region', 'class']) c;
create view stat.conviction_year_court as
select c.year, c.region, c.court_code, c.court_name, c.people, c.convictions, c.suppressed
  from stat.convictions(array['year', 'court', 'region']) c;
create view stat.conviction_year_iccs as
select c.year, c.iccs_section, c.iccs_section_label, c.iccs_division, c.iccs_division_label, c.people, c.convictions,
       c.suppressed
  from stat.convictions(array['year', 'iccs_section', 'iccs_division']) c;
create view stat.conviction_year_category as
select c.year, c.offence_category, c.category_label, c.offence_class, c.people, c.convictions, c.suppressed
  from stat.convictions(array['year', 'category', 'class']) c;
create view stat.conviction_year_sentence as
select c.year, c.offence_class, c.sentence_type, c.sentence_band, c.people, c.convictions, c.mean_sentence_months,
       c.suppressed
  from stat.convictions(array['year', 'class', 'sentence_type', 'sentence_band']) c;
create view stat.conviction_year_sex_age as
select c.year, c.sex, c.age_band, c.people, c.convictions, c.suppressed
  from stat.convictions(array['year', 'sex', 'age_band']) c;
create view stat.recidivism_year as
select r.year, r.people, r.convictions, r.after_earlier_conviction, r.share_after_earlier, r.median_months_since_earlier,
       r.suppressed
  from stat.recidivism(array['year']) r;
create view stat.delay_year_court as
select d.* from stat.delays(array['year', 'court', 'region']) d;
create view stat.extract_year_bulletin as
select e.year, e.bulletin, e.people, e.requests, e.neant, e.share_neant, e.identity_to_specify, e.suppressed
  from stat.extracts(array['year', 'bulletin']) e;

-- The classifications: the ICCS (UNODC), the offence categories and their mapping, and the
-- suppression threshold in force.
create view stat.iccs_categories as
select i.code, i.level, i.label_en, i.label_fr from registry.iccs_category i order by i.code;
create view stat.offence_categories as
select o.code, o.label, o.iccs_section, s1.label_en as iccs_section_label_en, o.iccs_division,
       s2.label_en as iccs_division_label_en
  from registry.offence_category o
  left join registry.iccs_category s1 on s1.code = o.iccs_section
  left join registry.iccs_category s2 on s2.code = o.iccs_division
 order by o.code;
create view stat.settings as
select 'stat_min_people'::text as setting, stat._min_people()::text as value,
       'Les cases qui comptent moins de personnes que ce seuil sont masquées.'::text as meaning;

-- The CJN's edits: the threshold, and the mapping of a category (logged).

-- Sets the threshold under which a cell is suppressed (operator).
create function cjn.set_stat_min_people(people integer) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if people is null or people not between 1 and 1000 then
        raise exception 'Seuil invalide : % (de 1 à 1000 personnes).', people using errcode = 'XJ001', column = 'people';
    end if;
    update registry.operation_setting set stat_min_people = people, updated_by = session_user, updated_at = now();
end
$$;

-- Creates or changes an offence category and its ICCS section and division (operator), logged
-- with its motive. The division, when given, belongs to the section; either may be null
-- (not classified).
create function cjn.set_offence_category(code text, label text, iccs_section text, iccs_division text, motive text)
    returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    before jsonb;
begin
    if code is null or code !~ '^[A-Z][A-Z0-9_]{1,31}$' then
        raise exception 'Code de catégorie invalide : « % » (majuscules, chiffres, _).', code
            using errcode = 'XJ001', column = 'code';
    end if;
    if coalesce(btrim(label), '') = '' then
        raise exception 'Le libellé de la catégorie est obligatoire.' using errcode = 'XJ001', column = 'label';
    end if;
    if coalesce(btrim(motive), '') = '' then
        raise exception 'Le motif du changement est obligatoire.' using errcode = 'XJ001', column = 'motive';
    end if;
    if iccs_section is not null and not exists (select from registry.iccs_category i
                                                 where i.code = iccs_section and i.level = 1) then
        raise exception 'Section ICCS inconnue : « % » (deux chiffres, voir stat.iccs_categories).', iccs_section
            using errcode = 'XJ001', column = 'iccs_section';
    end if;
    if iccs_division is not null and not exists (select from registry.iccs_category i
                                                  where i.code = iccs_division and i.level = 2) then
        raise exception 'Division ICCS inconnue : « % » (quatre chiffres, voir stat.iccs_categories).', iccs_division
            using errcode = 'XJ001', column = 'iccs_division';
    end if;
    if iccs_division is not null and left(iccs_division, 2) is distinct from iccs_section then
        raise exception 'La division ICCS % n''appartient pas à la section %.', iccs_division, coalesce(iccs_section, '(aucune)')
            using errcode = 'XJ001', column = 'iccs_division';
    end if;
    select to_jsonb(o) - 'updated_at' - 'updated_by' into before from registry.offence_category o
     where o.code = set_offence_category.code for update;
    insert into registry.offence_category as o (code, label, iccs_section, iccs_division, updated_by, updated_at)
    values (code, btrim(label), iccs_section, iccs_division, session_user, now())
    on conflict on constraint offence_category_pkey do update
        set label = excluded.label, iccs_section = excluded.iccs_section, iccs_division = excluded.iccs_division,
            updated_by = excluded.updated_by, updated_at = excluded.updated_at;
    insert into registry.offence_category_change (code, old_value, new_value, motive, changed_by)
    values (code, before, jsonb_build_object('code', code, 'label', btrim(label), 'iccs_section', iccs_section,
                                             'iccs_division', iccs_division), btrim(motive), session_user);
end
$$;

-- Grants: the statistician reads `stat`, nothing else.
revoke all on all functions in schema stat from public;
revoke all on all tables in schema stat from public;
grant usage on schema stat to cjn_statistician, cjn_operator, cjn_auditor;
grant execute on function
    -- pure helpers the views call (a view's functions run with its reader's rights)
    stat._min_people(),
    stat._age_band(date, date),
    stat._sentence_band(text, integer),
    stat.convictions(text[], date, date),
    stat.recidivism(text[], date, date),
    stat.delays(text[], date, date),
    stat.extracts(text[], date, date)
to cjn_statistician, cjn_operator, cjn_auditor;
grant select on
    stat.people_by_conviction_count, stat.court_activity, stat.transmission_health,
    stat.conviction_year_region, stat.conviction_year_court, stat.conviction_year_iccs, stat.conviction_year_category,
    stat.conviction_year_sentence, stat.conviction_year_sex_age, stat.recidivism_year, stat.delay_year_court,
    stat.extract_year_bulletin, stat.iccs_categories, stat.offence_categories, stat.settings
to cjn_statistician, cjn_operator, cjn_auditor;
