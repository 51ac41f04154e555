-- Read-only views for statisticians' own tools, and for the operator's dashboard.
-- Views run with their owner's rights; the roles get SELECT on the views only.

-- Convictions in force (latest version, not withdrawn), by offence category, class, sentence
-- type, region, court, year, sex and age band at the offence.
create view cjn.stat_conviction as
select c.region, c.departement, c.code as court_code, c.name as court_name,
       extract(year from f.conviction_date)::integer as year,
       f.offence_category, f.offence_class, f.sentence_type, f.sex,
       case
           when f.minor then 'mineur'
           when extract(year from age(f.offence_date, f.birth_date)) < 25 then '18-24'
           when extract(year from age(f.offence_date, f.birth_date)) < 35 then '25-34'
           when extract(year from age(f.offence_date, f.birth_date)) < 50 then '35-49'
           else '50+'
       end as age_band,
       count(*) as convictions,
       avg(f.sentence_months) filter (where f.sentence_months is not null) as mean_sentence_months,
       sum(f.fine_amount) as total_fines
  from registry.fiche f
  join registry.court c on c.code = f.court_code
 where f.state = 'active'
 group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;

-- Each court's transmission health: last contact, messages, gaps not yet filled, refusals.
-- A gap open for longer than registry.operation_setting.gap_alarm_after is an alarm
-- (gap_alarm): the court's later messages are held unapplied until the missing one arrives.
create view cjn.court_health as
select c.code as court_code, c.name as court_name, c.region, c.active,
       c.last_message_at, c.last_seq, c.applied_seq,
       (select count(*) from registry.sequence_gap g where g.court_code = c.code and g.filled_at is null) as open_gaps,
       (select min(g.detected_at) from registry.sequence_gap g where g.court_code = c.code and g.filled_at is null)
           as oldest_gap_at,
       coalesce((select min(g.detected_at) from registry.sequence_gap g
                  where g.court_code = c.code and g.filled_at is null)
                < now() - (select s.gap_alarm_after from registry.operation_setting s), false) as gap_alarm,
       (select count(*) from registry.message m where m.court_code = c.code and m.applied_at is null) as waiting_for_order,
       (select count(*) from registry.quarantine q where q.claimed_court = c.code) as refused,
       (select count(*) from registry.alarm a where a.court_code = c.code and a.acknowledged_at is null) as open_alarms,
       c.audit_seq, c.audit_hash
  from registry.court c;

-- Proposed links between people, for an operator to decide.
create view cjn.person_candidates as
select c.person_a, a.surname as surname_a, a.given_names as given_names_a,
       c.person_b, b.surname as surname_b, b.given_names as given_names_b,
       a.birth_date, c.score, c.decision, c.decided_by, c.decided_at
  from registry.person_candidate c
  join registry.person a on a.person_id = c.person_a
  join registry.person b on b.person_id = c.person_b;
