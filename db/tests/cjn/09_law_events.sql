-- Issue 15, the law complete: table-driven cases written from the rules (docs/law.md), each a
-- fresh person with a few fiches and the dated events their court recorded after signature,
-- a date, and the expected presence of fiche A on bulletins n°1, n°2 and n°3 (and, where given,
-- the date the decision changes; null: never). Cases of the preset 'xmjuris_issue6' (the
-- defaults, issue 6's specification) run first; then the preset 'cameroun_cp_2016' is applied
-- (logged) and its cases run. Case numbers: E events, M minority, B bans, C Cameroon.
--
-- The rules the cases read:
-- - Events (point 1): the delay of rehabilitation runs from the release recorded (sentence
--   served), the payment recorded, a total pardon (a remission equals execution), or else the
--   assumption: the expected end of the unsuspended term (less the months a pardon remitted),
--   the conviction date for an unpaid fine; a fine and a term: the later. An event dated after
--   the date asked, or cancelled, does not count. A suspension revoked by a decision the court
--   recorded, within the suspension's delay, is revoked as by a conviction. A ban lifted ends
--   on the lifting.
-- - Minority (point 2): under 18 at the offence, from the birth and offence dates; the flag is
--   trusted alone only when the court decided minority (minor_decided).
-- - Bans (point 3): from their own start, from the release (recorded, or expected), or from
--   the conviction; until their end, for their duration, or for life; on n°3 while they run
--   and the conviction is on n°2.
-- - Cameroon, Code pénal art. 70: fine 5 years; a single term ≤ 6 months 10 years, ≤ 2 years
--   15, ≤ 5 years 20, beyond none; several terms over 1 year and under 2: 15 years, 1 year or
--   less: no delay fixed; only a new prison conviction makes the delay run again; no doubling
--   for recidivism.
begin;

create temporary table cases (
    case_no text primary key,
    preset text not null default 'xmjuris_issue6',
    label text not null,
    fiches jsonb not null,
    -- {"born": date, "events": [{"k": fiche, "kind": ..., "date": ..., "months": n, "total": true,
    --   "cancels": index of an earlier event of the case}]}
    setup jsonb not null default '{}',
    as_of date not null,
    b1 boolean not null,
    b2 boolean not null,
    b3 boolean not null,
    changes jsonb not null default '{}',
    -- A pattern (SQL LIKE) the reason on bulletin n°2 (or n°3 with "reason3") must match.
    reason2 text,
    reason3 text
);

insert into cases (case_no, preset, label, fiches, setup, as_of, b1, b2, b3, changes, reason2, reason3) values
-- Events after signature.
('E01', 'xmjuris_issue6', '8 mois en 2019, aucune libération enregistrée : fin de peine supposée, réhabilitée en 2024',
    '[{"k":"A","cd":"2019-03-01","m":8}]', '{}', '2025-01-01', true, false, false, '{"2":null}',
    '%fin de peine supposée le 01/11/2019%', null),
('E02', 'xmjuris_issue6', 'les mêmes 8 mois, libération enregistrée le 01/06/2022 : au n°2 jusqu''en 2027',
    '[{"k":"A","cd":"2019-03-01","m":8}]', '{"events":[{"k":"A","kind":"sentence_served","date":"2022-06-01"}]}',
    '2025-01-01', true, true, false, '{"2":"2027-06-01"}', '%libération enregistrée le 01/06/2022%', null),
('E03', 'xmjuris_issue6', 'une libération datée après la date demandée : la personne était encore détenue ce jour-là',
    '[{"k":"A","cd":"2019-03-01","m":8}]', '{"events":[{"k":"A","kind":"sentence_served","date":"2025-06-01"}]}',
    '2025-01-01', true, true, false, '{"2":"2030-06-01"}', '%libération enregistrée le 01/06/2025%', null),
('E04', 'xmjuris_issue6', 'une libération annulée (enregistrée par erreur) ne compte pas',
    '[{"k":"A","cd":"2019-03-01","m":8}]',
    '{"events":[{"k":"A","kind":"sentence_served","date":"2022-06-01"},{"k":"A","kind":"cancellation","date":"2022-07-01","cancels":0}]}',
    '2025-01-01', true, false, false, '{}', '%fin de peine supposée%', null),
('E05', 'xmjuris_issue6', 'amende payée le 01/06/2019 : 3 ans depuis le paiement — la veille',
    '[{"k":"A","cd":"2015-01-01","type":"amende"}]', '{"events":[{"k":"A","kind":"fine_paid","date":"2019-06-01"}]}',
    '2022-05-31', true, true, false, '{"2":"2022-06-01"}', '%amende payée le 01/06/2019%', null),
('E06', 'xmjuris_issue6', 'amende sans paiement enregistré : date de la condamnation supposée',
    '[{"k":"A","cd":"2015-01-01","type":"amende"}]', '{}', '2018-01-01', true, false, false, '{}',
    '%paiement de l''amende non enregistré%', null),
('E07', 'xmjuris_issue6', 'emprisonnement et amende : le délai court du plus tardif (amende payée après la fin de peine)',
    '[{"k":"A","cd":"2015-01-01","type":"emprisonnement_amende","m":6}]',
    '{"events":[{"k":"A","kind":"fine_paid","date":"2017-01-01"}]}',
    '2021-12-31', true, true, false, '{"2":"2022-01-01"}', '%amende payée le 01/01/2017%', null),
('E08', 'xmjuris_issue6', 'grâce de 2 mois sur 8 : fin de peine supposée avancée d''autant',
    '[{"k":"A","cd":"2019-03-01","m":8}]', '{"events":[{"k":"A","kind":"pardon","date":"2019-05-01","months":2}]}',
    '2024-08-31', true, true, false, '{"2":"2024-09-01"}', '%2 mois remis par grâce%', null),
('E09', 'xmjuris_issue6', 'remise totale par grâce : vaut exécution à sa date (36 mois, au n°3 jusqu''à la réhabilitation)',
    '[{"k":"A","cd":"2019-01-01","m":36}]', '{"events":[{"k":"A","kind":"pardon","date":"2020-01-01","total":true}]}',
    '2025-01-01', true, true, true, '{"2":"2030-01-01","3":"2030-01-01"}', '%remise totale de la peine par grâce le 01/01/2020%',
    null),
('E10', 'xmjuris_issue6', 'sursis révoqué par une décision enregistrée dans le délai : reste au n°2 (10 ans après la révocation et toute la peine)',
    '[{"k":"A","cd":"2014-02-20","m":24,"s":24}]', '{"events":[{"k":"A","kind":"suspension_revoked","date":"2016-01-01"}]}',
    '2019-02-20', true, true, false, '{"2":"2028-01-01"}', '%sursis révoqué le 01/01/2016 par la décision du 01/01/2016%', null),
('E11', 'xmjuris_issue6', 'révocation enregistrée après le délai du sursis : sans effet, le sursis est non avenu',
    '[{"k":"A","cd":"2014-02-20","m":24,"s":24}]', '{"events":[{"k":"A","kind":"suspension_revoked","date":"2019-03-01"}]}',
    '2019-03-01', true, false, false, '{}', 'Sursis non avenu le 20/02/2019%', null),
('E12', 'xmjuris_issue6', 'interdiction levée le 01/06/2017 : au n°3 jusqu''à la veille',
    '[{"k":"A","cd":"2016-01-01","type":"amende","ban":"Interdiction de séjour à Kribi","ban_m":60}]',
    '{"events":[{"k":"A","kind":"ban_lifted","date":"2017-06-01"}]}',
    '2017-05-31', true, true, true, '{"3":"2017-06-01"}', null, '%levée par décision de la juridiction le 01/06/2017%'),
('E13', 'xmjuris_issue6', 'interdiction levée — le jour de la levée : plus au n°3',
    '[{"k":"A","cd":"2016-01-01","type":"amende","ban":"Interdiction de séjour à Kribi","ban_m":60}]',
    '{"events":[{"k":"A","kind":"ban_lifted","date":"2017-06-01"}]}',
    '2017-06-01', true, true, false, '{"3":null}', null, '%terminée le 01/06/2017%'),
-- Minority from the dates.
('M01', 'xmjuris_issue6', 'case « mineur » non cochée mais 14 ans au moment des faits : mineur d''après les dates',
    '[{"k":"A","cd":"2019-05-05","m":36}]', '{"born":"2004-06-01"}', '2020-01-01', true, false, false,
    '{"2":null,"3":null}', 'Condamnation d''un mineur (14 ans au moment des faits%bien que la fiche ne l''indique pas)%', null),
('M02', 'xmjuris_issue6', 'case « mineur » cochée pour une personne de 49 ans : non retenue, au n°2 et au n°3',
    '[{"k":"A","cd":"2019-05-05","m":36,"minor":true}]', '{"born":"1970-01-01"}', '2020-01-01', true, true, true, '{}',
    '%l''indication « mineur » de la fiche, contredite par les dates, n''est pas retenue%', null),
('M03', 'xmjuris_issue6', 'minorité fixée par la juridiction (date de naissance approximative) : le drapeau décide',
    '[{"k":"A","cd":"2019-05-05","m":36,"minor":true,"md":true}]', '{"born":"1970-01-01"}', '2020-01-01', true, false, false,
    '{}', 'Condamnation d''un mineur (minorité fixée par la juridiction)%', null),
('M04', 'xmjuris_issue6', 'majorité fixée par la juridiction malgré des dates de mineur : au n°2',
    '[{"k":"A","cd":"2019-05-05","m":36,"md":true}]', '{"born":"2004-06-01"}', '2020-01-01', true, true, true, '{}', null, null),
('M05', 'xmjuris_issue6', '18 ans le jour des faits : majeur',
    '[{"k":"A","cd":"2019-05-05","m":36}]', '{"born":"2001-04-05"}', '2020-01-01', true, true, true, '{}', null, null),
('M06', 'xmjuris_issue6', '18 ans le lendemain des faits : mineur',
    '[{"k":"A","cd":"2019-05-05","m":36}]', '{"born":"2001-04-06"}', '2020-01-01', true, false, false, '{}',
    'Condamnation d''un mineur (17 ans%', null),
-- Bans with their own dates.
('B01', 'xmjuris_issue6', 'autre peine et interdiction de 10 ans : au n°3 tant qu''elle court (plus coupée après 5 ans)',
    '[{"k":"A","cd":"2015-01-01","type":"autre","ban":"Interdiction d''exercer la profession de notaire","ban_m":120}]',
    '{}', '2021-01-01', true, true, true, '{"3":"2025-01-01"}', null, '%depuis la condamnation du 01/01/2015, jusqu''au 01/01/2025%'),
('B02', 'xmjuris_issue6', 'interdiction du 01/01/2016 au 01/01/2018 : pas encore au n°3 la veille de son début',
    '[{"k":"A","cd":"2015-06-01","type":"amende","ban":"Interdiction de séjour à Garoua","bs":"2016-01-01","be":"2018-01-01"}]',
    '{}', '2015-12-31', true, true, false, '{"3":"2016-01-01"}', null, '%à partir du 01/01/2016%'),
('B03', 'xmjuris_issue6', 'interdiction du 01/01/2016 au 01/01/2018 : au n°3 jusqu''à sa fin',
    '[{"k":"A","cd":"2015-06-01","type":"amende","ban":"Interdiction de séjour à Garoua","bs":"2016-01-01","be":"2018-01-01"}]',
    '{}', '2017-12-31', true, true, true, '{"3":"2018-01-01"}', null, '%depuis le 01/01/2016, jusqu''au 01/01/2018%'),
('B04', 'xmjuris_issue6', 'interdiction de 24 mois à compter de la libération supposée (12 mois de 2015)',
    '[{"k":"A","cd":"2015-01-01","m":12,"ban":"Interdiction de séjour à Douala","ban_m":24,"bfr":true}]',
    '{}', '2017-06-01', true, true, true, '{"3":"2018-01-01"}', null, '%depuis la libération : fin de peine supposée le 01/01/2016%'),
('B05', 'xmjuris_issue6', 'interdiction de 24 mois à compter de la libération enregistrée le 01/01/2017',
    '[{"k":"A","cd":"2015-01-01","m":12,"ban":"Interdiction de séjour à Douala","ban_m":24,"bfr":true}]',
    '{"events":[{"k":"A","kind":"sentence_served","date":"2017-01-01"}]}', '2018-06-01', true, true, true, '{"3":"2019-01-01"}',
    null, '%libération enregistrée le 01/01/2017%'),
('B06', 'xmjuris_issue6', 'interdiction à compter de la libération : pas au n°3 pendant la détention',
    '[{"k":"A","cd":"2015-01-01","m":12,"ban":"Interdiction de séjour à Douala","ban_m":24,"bfr":true}]',
    '{}', '2015-06-01', true, true, false, '{"3":"2016-01-01"}', null, null),
-- Cameroon, Code pénal art. 70.
('C01', 'cameroun_cp_2016', 'amende : 5 ans (art. 70 (1)) — la veille',
    '[{"k":"A","cd":"2015-01-01","type":"amende"}]', '{}', '2019-12-31', true, true, false, '{"2":"2020-01-01"}',
    '%amende : délai de 5 ans%', null),
('C02', 'cameroun_cp_2016', 'peine unique de 6 mois : 10 ans depuis la fin de peine — la veille',
    '[{"k":"A","cd":"2010-03-15","m":6}]', '{}', '2020-09-14', true, true, false, '{"2":"2020-09-15"}', null, null),
('C03', 'cameroun_cp_2016', 'peine unique de 7 mois : 15 ans',
    '[{"k":"A","cd":"2010-01-01","m":7}]', '{}', '2025-07-31', true, true, false, '{"2":"2025-08-01"}', null, null),
('C04', 'cameroun_cp_2016', 'peine unique de 60 mois : 20 ans, au n°3 jusque-là',
    '[{"k":"A","cd":"2000-01-01","m":60}]', '{}', '2024-12-31', true, true, true, '{"2":"2025-01-01","3":"2025-01-01"}', null, null),
('C05', 'cameroun_cp_2016', 'peine unique de 61 mois : au-delà du dernier palier, pas de réhabilitation de plein droit',
    '[{"k":"A","cd":"2000-01-01","m":61}]', '{}', '2030-01-01', true, true, true, '{"2":"2040-01-01"}',
    '%au-delà du dernier palier%', null),
('C06', 'cameroun_cp_2016', 'deux peines, 14 mois au total (plus d''un an, moins de deux) : 15 ans depuis la dernière fin de peine',
    '[{"k":"A","cd":"2000-01-01","m":6},{"k":"B","cd":"2005-01-01","m":8}]', '{}', '2020-08-31', true, true, false,
    '{"2":"2020-09-01"}', null, null),
('C07', 'cameroun_cp_2016', 'deux peines, 7 mois au total : l''art. 70 (2) ne fixe aucun délai',
    '[{"k":"A","cd":"2000-01-01","m":3},{"k":"B","cd":"2002-01-01","m":4}]', '{}', '2030-01-01', true, true, false,
    '{"2":"2042-01-01"}', '%aucun délai fixé%', null),
('C08', 'cameroun_cp_2016', 'une amende prononcée dans le délai ne le fait pas courir de nouveau (art. 70 (1))',
    '[{"k":"A","cd":"2010-03-15","m":6},{"k":"B","cd":"2014-01-10","type":"amende"}]', '{}', '2020-09-14', true, true, false,
    '{"2":"2020-09-15"}', null, null),
('C09', 'cameroun_cp_2016', 'récidive légale : pas de doublement (art. 70)',
    '[{"k":"A","cd":"2010-03-15","m":6,"rec":true}]', '{}', '2020-09-15', true, false, false, '{}', null, null),
('C10', 'cameroun_cp_2016', 'un emprisonnement prononcé dans le délai d''une amende le fait courir de nouveau',
    '[{"k":"A","cd":"2010-01-01","type":"amende"},{"k":"B","cd":"2012-01-01","m":3}]', '{}', '2022-03-31', true, true, false,
    '{"2":"2022-04-01"}', null, null),
('C11', 'cameroun_cp_2016', '8 mois en 2019, libération enregistrée en 2022 : 15 ans depuis la libération',
    '[{"k":"A","cd":"2019-03-01","m":8}]', '{"events":[{"k":"A","kind":"sentence_served","date":"2022-06-01"}]}',
    '2025-01-01', true, true, false, '{"2":"2037-06-01"}', '%libération enregistrée le 01/06/2022%', null);

select plan((select count(*)::integer * 2 from cases) + (select count(*)::integer from cases where reason2 is not null)
            + (select count(*)::integer from cases where reason3 is not null) + 21);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('11112', 'Tribunal de première instance de Kribi', 'SUD', 'OCEAN', 'Kribi I');
create temporary sequence msg_seq;

-- The NIU of fiche `k` of a case: court 11112, year 2000, the case's letter and number, the fiche.
create function pg_temp.niu(case_no text, k text) returns text language sql as $$
    select '111122000' || lpad((ascii(case_no) - 64)::text, 2, '0') || substr(case_no, 2, 2)
           || lpad((ascii(k) - 64)::text, 2, '0') || '00'
$$;
-- A stable id for event `i` of a case.
create function pg_temp.event_id(case_no text, i integer) returns uuid language sql as $$
    select md5(case_no || '/' || i)::uuid
$$;

-- A court's message for fiche `spec` of a case, as its outbox writes it.
create function pg_temp.msg(case_no text, spec jsonb, born date) returns jsonb
    language sql as $$
select jsonb_build_object('message_id', gen_random_uuid(), 'kind', 'fiche_signed', 'court_code', '11112',
    'seq', nextval('msg_seq'), 'created_at', now(), 'niu', pg_temp.niu(case_no, spec ->> 'k'), 'version', 1,
    'motive', null, 'audit_head', jsonb_build_object('seq', 1, 'hash', repeat('ab', 32)),
    'fiche', jsonb_build_object('number', 1, 'reference', format('%s/COR/2020', case_no), 'signed_by', 'greffier',
        'signed_at', now(),
        'justiciable', jsonb_build_object('surname', 'Loi', 'given_names', 'Cas ' || case_no, 'birth_date', born,
            'birth_place', 'Kribi', 'sex', 'F', 'father', 'Père ' || case_no, 'mother', 'Mère ' || case_no),
        'condamnation', jsonb_build_object(
            'conviction_date', spec ->> 'cd', 'offence_date', ((spec ->> 'cd')::date - 30)::text,
            'offence_nature', 'Vol', 'offence_category', 'VOL', 'offence_class', coalesce(spec ->> 'cls', 'delit'),
            'sentence_type', coalesce(spec ->> 'type', 'emprisonnement'),
            'sentence_months', coalesce((spec ->> 'm')::integer, 0),
            'suspended_months', coalesce((spec ->> 's')::integer, 0),
            'fine_amount', case when spec ->> 'type' in ('amende', 'emprisonnement_amende') then 100000 end,
            'legal_recidivism', coalesce((spec ->> 'rec')::boolean, false),
            'minor', coalesce((spec ->> 'minor')::boolean, false),
            'minor_decided', coalesce((spec ->> 'md')::boolean, false),
            'excluded_b2', false, 'excluded_b3', false, 'b3_ordered', false,
            'ban', spec ->> 'ban', 'ban_months', (spec ->> 'ban_m')::integer, 'ban_suspended', false,
            'ban_start', spec ->> 'bs', 'ban_end', spec ->> 'be',
            'ban_from_release', coalesce((spec ->> 'bfr')::boolean, false),
            'revoked_suspension_niu', null)))
$$;

-- Event `i` of a case, as the court's outbox writes it.
create function pg_temp.event_msg(case_no text, i integer, e jsonb) returns jsonb
    language sql as $$
select jsonb_build_object('message_id', gen_random_uuid(), 'kind', 'sentence_event', 'court_code', '11112',
    'seq', nextval('msg_seq'), 'created_at', now(), 'event_id', pg_temp.event_id(case_no, i),
    'niu', pg_temp.niu(case_no, e ->> 'k'), 'version', 1, 'event_kind', e ->> 'kind', 'event_date', e ->> 'date',
    'remitted_months', (e ->> 'months')::integer, 'total', coalesce((e ->> 'total')::boolean, false),
    'cancels', case when e ? 'cancels' then pg_temp.event_id(case_no, (e ->> 'cancels')::integer) end,
    'reference', format('Pièce %s-%s', case_no, i), 'note', null, 'recorded_by', 'greffier',
    'recorded_by_name', 'Greffier en chef', 'recorded_at', now(),
    'audit_head', jsonb_build_object('seq', 2, 'hash', repeat('cd', 32)))
$$;

create function pg_temp.send(m jsonb) returns jsonb language sql as $$
    select cjn.ingest((m ->> 'message_id')::uuid, m ->> 'court_code', (m ->> 'seq')::bigint, m ->> 'kind',
                      (m ->> 'created_at')::timestamptz, m, '\x3082')
$$;

create function pg_temp.build(c cases) returns void language plpgsql as $$
declare
    born date := coalesce((c.setup ->> 'born')::date, '1970-01-01');
    spec jsonb;
    i integer := 0;
begin
    for spec in select * from jsonb_array_elements(c.fiches) loop
        perform pg_temp.send(pg_temp.msg(c.case_no, spec, born));
    end loop;
    for spec in select * from jsonb_array_elements(coalesce(c.setup -> 'events', '[]')) loop
        perform pg_temp.send(pg_temp.event_msg(c.case_no, i, spec));
        i := i + 1;
    end loop;
end
$$;
select pg_temp.build(c) from cases c order by case_no;

create function pg_temp.expected(c cases) returns text language sql as $$
    select string_agg(format('n°%s %s', k, case when (array[c.b1, c.b2, c.b3])[k] then 'oui' else 'non' end)
                      || case when c.changes ? k::text then ' jusqu''au ' || coalesce(c.changes ->> k::text, 'jamais') else '' end,
                      ', ' order by k)
      from generate_series(1, 3) k
$$;
create function pg_temp.decided(c cases) returns text language sql as $$
    select string_agg(format('n°%s %s', d.bulletin, case when d.appears then 'oui' else 'non' end)
                      || case when c.changes ? d.bulletin::text then ' jusqu''au ' || coalesce(d.changes_on::text, 'jamais') else '' end,
                      ', ' order by d.bulletin)
      from cjn.bulletin_decision(pg_temp.niu(c.case_no, 'A'), c.as_of) d
$$;
create function pg_temp.listed(c cases) returns text language sql as $$
    select string_agg(format('n°%s %s', k, case when exists (
               select from cjn.bulletin((select person_id from registry.fiche where niu = pg_temp.niu(c.case_no, 'A') limit 1), k, c.as_of) b
                where b.niu = pg_temp.niu(c.case_no, 'A')) then 'oui' else 'non' end), ', ' order by k)
      from generate_series(1, 3) k
$$;
create function pg_temp.reason(c cases, k integer) returns text language sql as $$
    select d.reason from cjn.bulletin_decision(pg_temp.niu(c.case_no, 'A'), c.as_of) d where d.bulletin = k
$$;

-- Every event reached the registry (none raised an alarm), the cancelled one marked.
select is((select count(*) from registry.sentence_event where court_code = '11112'),
          (select count(*) from cases c, jsonb_array_elements(coalesce(c.setup -> 'events', '[]')) e),
          'every event of the cases is in the registry');
select is((select count(*) from registry.sentence_event where cancelled_by is not null), 1::bigint,
          'the cancelled event is marked so');
select is((select count(*) from registry.alarm where court_code = '11112'), 0::bigint, 'no alarm');

-- The preset 'xmjuris_issue6' (the defaults).
select is(pg_temp.decided(c), pg_temp.expected(c), format('cas %s (%s) : %s', c.case_no, c.as_of, c.label))
  from cases c where c.preset = 'xmjuris_issue6' order by c.case_no;
select is(pg_temp.listed(c), format('n°1 %s, n°2 %s, n°3 %s', case when c.b1 then 'oui' else 'non' end,
                                    case when c.b2 then 'oui' else 'non' end, case when c.b3 then 'oui' else 'non' end),
          format('cas %s : le bulletin calculé suit la décision', c.case_no))
  from cases c where c.preset = 'xmjuris_issue6' order by c.case_no;
select alike(pg_temp.reason(c, 2), c.reason2, format('cas %s : l''explication du n°2 dit sur quoi elle repose', c.case_no))
  from cases c where c.preset = 'xmjuris_issue6' and c.reason2 is not null order by c.case_no;
select alike(pg_temp.reason(c, 3), c.reason3, format('cas %s : l''explication du n°3 dit sur quoi elle repose', c.case_no))
  from cases c where c.preset = 'xmjuris_issue6' and c.reason3 is not null order by c.case_no;

-- Every setting names its source; the rule without one is gone.
select is((select count(*) from cjn.law_settings where coalesce(btrim(source), '') = ''), 0::bigint,
          'every setting of the law names its source');
select is((select count(*) from cjn.rehab_tiers where coalesce(btrim(source), '') = ''), 0::bigint,
          'every tier of rehabilitation names its source');
select is((select count(*) from cjn.law_settings where setting_key = 'b2.rehab_other_years'), 0::bigint,
          'the 5 years for "other sentences" (no source) is removed');
select throws_ok($$select cjn.set_law_setting('b3.custodial_min_months', '12', 'essai', ' ')$$, 'XJ001',
    'La source du paramètre (article de loi, texte ou décision) est obligatoire.', 'a change without a source is refused');
select throws_ok($$select cjn.set_rehab_tiers('[{"kind":"fine","years":4}]', 'essai')$$, 'XJ001', null,
    'a tier without a source is refused');
select throws_ok($$select cjn.set_rehab_tiers('[{"kind":"amende","years":4,"source":"art. 1"}]', 'essai')$$, 'XJ001', null,
    'a tier of an unknown kind is refused');
select throws_ok($$select cjn.set_rehab_tiers('[{"kind":"fine","years":4,"source":"art. 1"},{"kind":"fine","years":5,"source":"art. 2"}]', 'essai')$$,
    'XJ001', null, 'two tiers with the same bound are refused');
select throws_ok($$select cjn.apply_law_preset('france', 'essai')$$, 'XJ004', null, 'an unknown preset is refused');
select throws_ok($$select cjn.apply_law_preset('cameroun_cp_2016', ' ')$$, 'XJ001', null, 'a preset needs a motive');

-- The preset 'cameroun_cp_2016', applied and logged like every change.
select is(cjn.apply_law_preset('cameroun_cp_2016', 'Arrêté du ministre de la Justice'), 3,
    'the Cameroonian preset changes b2.rehab_reset, b2.recidivism_factor and the tiers');
select is(cjn.apply_law_preset('cameroun_cp_2016', 'Deuxième fois'), 0, 'applied again, it changes nothing');
select results_eq($$select setting_key, old_value, new_value from cjn.law_setting_changes
                     where motive like 'Arrêté du ministre%' order by setting_key$$,
    $$values ('b2.recidivism_factor', '2', '1'), ('b2.rehab_reset', 'any_conviction', 'prison_conviction'),
             ('b2.rehab_tiers', '[{"kind": "fine", "years": 3, "max_months": null}, {"kind": "several_prison", "years": 10, "max_months": 60}, {"kind": "single_prison", "years": 5, "max_months": 12}, {"kind": "single_prison", "years": 10, "max_months": 120}]',
              '[{"kind": "fine", "years": 5, "max_months": null}, {"kind": "several_prison", "years": null, "max_months": 12}, {"kind": "several_prison", "years": 15, "max_months": 23}, {"kind": "single_prison", "years": 10, "max_months": 6}, {"kind": "single_prison", "years": 15, "max_months": 24}, {"kind": "single_prison", "years": 20, "max_months": 60}]')$$,
    'each change of the preset is logged, from what to what');
select alike((select source from cjn.law_settings where setting_key = 'b2.rehab_reset'), 'Code pénal, art. 70 (1)%',
    'the setting names its new source');

select is(pg_temp.decided(c), pg_temp.expected(c), format('cas %s (%s) : %s', c.case_no, c.as_of, c.label))
  from cases c where c.preset = 'cameroun_cp_2016' order by c.case_no;
select is(pg_temp.listed(c), format('n°1 %s, n°2 %s, n°3 %s', case when c.b1 then 'oui' else 'non' end,
                                    case when c.b2 then 'oui' else 'non' end, case when c.b3 then 'oui' else 'non' end),
          format('cas %s : le bulletin calculé suit la décision', c.case_no))
  from cases c where c.preset = 'cameroun_cp_2016' order by c.case_no;
select alike(pg_temp.reason(c, 2), c.reason2, format('cas %s : l''explication du n°2 dit sur quoi elle repose', c.case_no))
  from cases c where c.preset = 'cameroun_cp_2016' and c.reason2 is not null order by c.case_no;

-- Back to the specification: the first case decides as before.
select is(cjn.apply_law_preset('xmjuris_issue6', 'Retour à la spécification'), 3, 'the specification''s preset restores');
select is(pg_temp.decided(c), pg_temp.expected(c), format('cas %s à nouveau avec la spécification', c.case_no))
  from cases c where c.case_no = 'E02';

-- An event the registry cannot take raises an alarm and blocks nothing: an event for a fiche
-- the CJN does not hold from this court, a cancellation of an unknown event.
select pg_temp.send(pg_temp.event_msg('E99', 0, '{"k":"A","kind":"fine_paid","date":"2020-01-01"}'));
select pg_temp.send(jsonb_set(pg_temp.event_msg('E01', 7, '{"k":"A","kind":"cancellation","date":"2020-01-01"}'),
                              '{cancels}', to_jsonb(gen_random_uuid())));
-- And what a court's database refuses at entry, if a tampered court sent it anyway: an event
-- dated before the conviction, a pardon without a remission, a remission on a payment.
select pg_temp.send(pg_temp.event_msg('E01', 8, '{"k":"A","kind":"sentence_served","date":"2019-01-01"}'));
select pg_temp.send(pg_temp.event_msg('E01', 9, '{"k":"A","kind":"pardon","date":"2020-01-01"}'));
select pg_temp.send(pg_temp.event_msg('E01', 10, '{"k":"A","kind":"fine_paid","date":"2020-01-01","months":3}'));
select results_eq($$select kind from registry.alarm where court_code = '11112' order by alarm_id$$,
    $$values ('invalid_event'), ('invalid_event'), ('invalid_event'), ('invalid_event'), ('invalid_event')$$,
    'each one is an alarm for the operator, and is not applied');
select is((select count(*) from registry.sentence_event where niu = pg_temp.niu('E01', 'A')), 0::bigint,
    'none of them reached the registry''s events');
select is((select applied_seq = last_seq from registry.court where code = '11112'), true,
    'and the court''s messages are all applied, none held behind them');

select * from finish();
rollback;
