-- Bulletins n°1, n°2 and n°3: a table of cases written from the rules (default settings: the
-- preset 'xmjuris_issue6', issue 6's specification), not from the code. Issue 15 changed two
-- cases: n°7's person now has a birth date that makes them a minor (the CJN derives minority
-- from the dates and no longer trusts a flag they contradict), and n°53 no longer has the
-- 5-year delay for "other sentences" (a rule with no source, removed). The cases of issue 15
-- (dated events, minority from the dates, bans with their own dates, the Cameroonian preset)
-- are in 09_law_events.sql. Each case is a fresh person with a few fiches (ingested as a court sends them),
-- a few events (withdrawal, rectification, death, amnesty), a date, and the expected presence of
-- fiche A on each bulletin — and, where given, the date the decision changes (null: never).
--
-- The rules, with the default settings, as the cases read them:
-- n°1: every fiche, erased on the death of the person, on their 120th birthday, on an amnesty,
--      40 years after the last of a chain of convictions for crime or délit each within 40 years
--      of the previous, 3 years after a conviction for a contravention; withdrawn fiches never;
--      a rectified fiche by its new version.
-- n°2: n°1 minus minors (under 18 at the offence, from the dates), contraventions, court-ordered exclusions; a wholly suspended term
--      5 years after the conviction unless a conviction within those 5 years revoked it;
--      rehabilitation by law: 3 years (fine), 5 (single term ≤ 12 months), 10 (single term
--      ≤ 120 months, or several terms ≤ 60 months in total), none for other sentences, never beyond,
--      doubled for legal recidivism, counted from the end of the unsuspended part of the term
--      (after a revocation: revoking conviction + whole term), fines and others from the
--      conviction; a conviction (crime or délit) before the delay ends joins the earlier ones and
--      the delay runs again from the latest start.
-- n°3: among n°2 and not excluded from n°3: more than 24 months unsuspended, or an unsuspended
--      term the court ordered onto n°3, life imprisonment and death; bans without suspension
--      while they last (for life if no duration).
begin;

create temporary table cases (
    case_no integer primary key,
    label text not null,
    fiches jsonb not null,
    events jsonb not null default '{}',
    as_of date not null,
    b1 boolean not null,
    b2 boolean not null,
    b3 boolean not null,
    -- {"1": "2050-03-15", "2": null}: the expected change date of the bulletins named.
    changes jsonb not null default '{}'
);

insert into cases (case_no, label, fiches, events, as_of, b1, b2, b3, changes) values
(1, 'n°2 : 6 mois fermes, réhabilitation 5 ans après la fin de la peine — la veille',
    '[{"k":"A","cd":"2010-03-15","m":6}]', '{}', '2015-09-14', true, true, false, '{"2":"2015-09-15","3":null}'),
(2, 'n°2 : 6 mois fermes — le jour de la réhabilitation ; n°1 jusqu''à 40 ans',
    '[{"k":"A","cd":"2010-03-15","m":6}]', '{}', '2015-09-15', true, false, false, '{"1":"2050-03-15","2":null}'),
(3, 'amende seule : réhabilitation 3 ans après la condamnation — la veille',
    '[{"k":"A","cd":"2012-06-01","type":"amende"}]', '{}', '2015-05-31', true, true, false, '{"2":"2015-06-01"}'),
(4, 'amende seule — le jour même',
    '[{"k":"A","cd":"2012-06-01","type":"amende"}]', '{}', '2015-06-01', true, false, false, '{}'),
(5, 'contravention : n°1 pendant 3 ans, jamais au n°2 — la veille',
    '[{"k":"A","cd":"2018-01-10","cls":"contravention","type":"amende"}]', '{}', '2021-01-09', true, false, false,
    '{"1":"2021-01-10","2":null}'),
(6, 'contravention — le jour de l''effacement',
    '[{"k":"A","cd":"2018-01-10","cls":"contravention","type":"amende"}]', '{}', '2021-01-10', false, false, false, '{"1":null}'),
(7, 'mineur (16 ans au moment des faits) : n°1 seulement, même pour 36 mois fermes',
    '[{"k":"A","cd":"2019-05-05","m":36,"minor":true}]', '{"born":"2003-01-01"}', '2020-01-01', true, false, false,
    '{"2":null,"3":null}'),
(8, 'sursis total (délit, 24 mois) : non avenu 5 ans après — la veille',
    '[{"k":"A","cd":"2014-02-20","m":24,"s":24}]', '{}', '2019-02-19', true, true, false, '{"2":"2019-02-20"}'),
(9, 'sursis total — le jour où il est non avenu',
    '[{"k":"A","cd":"2014-02-20","m":24,"s":24}]', '{}', '2019-02-20', true, false, false, '{}'),
(10, 'sursis révoqué dans le délai : reste au n°2 (10 ans après la révocation et toute la peine)',
    '[{"k":"A","cd":"2014-02-20","m":24,"s":24},{"k":"B","cd":"2017-06-01","m":6,"revokes":"A"}]', '{}', '2019-02-20',
    true, true, false, '{"2":"2029-06-01","3":null}'),
(11, 'révocation prononcée après le délai : le sursis reste non avenu',
    '[{"k":"A","cd":"2014-02-20","m":24,"s":24},{"k":"B","cd":"2019-03-01","m":6,"revokes":"A"}]', '{}', '2019-03-01',
    true, false, false, '{}'),
(12, 'révocation la veille de la fin du délai : le sursis est révoqué',
    '[{"k":"A","cd":"2014-02-20","m":24,"s":24},{"k":"B","cd":"2019-02-19","m":6,"revokes":"A"}]', '{}', '2019-02-20',
    true, true, false, '{}'),
(13, 'révocation le jour de la fin du délai : trop tard',
    '[{"k":"A","cd":"2014-02-20","m":24,"s":24},{"k":"B","cd":"2019-02-20","m":6,"revokes":"A"}]', '{}', '2019-02-20',
    true, false, false, '{}'),
(14, 'emprisonnement unique de 12 mois : délai de 5 ans — la veille',
    '[{"k":"A","cd":"2010-01-01","m":12}]', '{}', '2015-12-31', true, true, false, '{"2":"2016-01-01"}'),
(15, 'emprisonnement unique de 12 mois — le jour même',
    '[{"k":"A","cd":"2010-01-01","m":12}]', '{}', '2016-01-01', true, false, false, '{}'),
(16, 'emprisonnement unique de 13 mois : délai de 10 ans — la veille',
    '[{"k":"A","cd":"2010-01-01","m":13}]', '{}', '2021-01-31', true, true, false, '{"2":"2021-02-01"}'),
(17, 'emprisonnement unique de 13 mois — le jour même',
    '[{"k":"A","cd":"2010-01-01","m":13}]', '{}', '2021-02-01', true, false, false, '{}'),
(18, 'récidive légale : délai doublé (10 ans au lieu de 5)',
    '[{"k":"A","cd":"2010-03-15","m":6,"rec":true}]', '{}', '2015-09-15', true, true, false, '{"2":"2020-09-15"}'),
(19, 'récidive légale — le jour du délai doublé',
    '[{"k":"A","cd":"2010-03-15","m":6,"rec":true}]', '{}', '2020-09-15', true, false, false, '{}'),
(20, 'nouvelle condamnation dans le délai : le délai repart de la dernière',
    '[{"k":"A","cd":"2010-03-15","m":6},{"k":"B","cd":"2014-01-10","type":"amende"}]', '{}', '2015-09-15',
    true, true, false, '{"2":"2019-01-10"}'),
(21, 'nouvelle condamnation dans le délai — le jour où le nouveau délai expire',
    '[{"k":"A","cd":"2010-03-15","m":6},{"k":"B","cd":"2014-01-10","type":"amende"}]', '{}', '2019-01-10',
    true, false, false, '{}'),
(22, 'plusieurs peines, plus de 60 mois au total : pas de réhabilitation légale',
    '[{"k":"A","cd":"2000-01-01","m":36},{"k":"B","cd":"2005-06-01","m":30}]', '{}', '2030-01-01',
    true, true, true, '{"1":"2045-06-01","2":"2045-06-01","3":"2045-06-01"}'),
(23, 'deux peines de 12 mois (24 au total) : 10 ans depuis la fin de la dernière — la veille',
    '[{"k":"A","cd":"2000-01-01","m":12},{"k":"B","cd":"2004-01-01","m":12}]', '{}', '2014-12-31',
    true, true, false, '{"2":"2015-01-01"}'),
(24, 'deux peines de 12 mois — le jour même',
    '[{"k":"A","cd":"2000-01-01","m":12},{"k":"B","cd":"2004-01-01","m":12}]', '{}', '2015-01-01',
    true, false, false, '{}'),
(25, 'nouvelle condamnation le jour où le délai expire : pas de reprise',
    '[{"k":"A","cd":"2010-03-15","m":6},{"k":"B","cd":"2015-09-15","m":6}]', '{}', '2015-09-15',
    true, false, false, '{}'),
(26, 'nouvelle condamnation la veille de l''expiration : le délai repart (plusieurs peines, 10 ans)',
    '[{"k":"A","cd":"2010-03-15","m":6},{"k":"B","cd":"2015-09-14","m":6}]', '{}', '2015-09-15',
    true, true, false, '{"2":"2026-03-14"}'),
(27, 'exclusion du n°2 ordonnée par la juridiction',
    '[{"k":"A","cd":"2015-01-01","m":36,"x2":true}]', '{}', '2016-01-01', true, false, false, '{"2":null,"3":null}'),
(28, 'exclusion du n°3 ordonnée par la juridiction',
    '[{"k":"A","cd":"2015-01-01","m":36,"x3":true}]', '{}', '2016-01-01', true, true, false, '{"3":null}'),
(29, 'plus de 2 ans fermes : au n°3 jusqu''à la réhabilitation (10 ans après la fin de la peine)',
    '[{"k":"A","cd":"2015-01-01","m":36}]', '{}', '2016-01-01', true, true, true, '{"2":"2028-01-01","3":"2028-01-01"}'),
(30, '24 mois fermes exactement : pas au n°3',
    '[{"k":"A","cd":"2015-01-01","m":24}]', '{}', '2016-01-01', true, true, false, '{}'),
(31, '25 mois fermes : au n°3',
    '[{"k":"A","cd":"2015-01-01","m":25}]', '{}', '2016-01-01', true, true, true, '{}'),
(32, '36 mois dont 12 avec sursis (24 fermes) : pas au n°3',
    '[{"k":"A","cd":"2015-01-01","m":36,"s":12}]', '{}', '2016-01-01', true, true, false, '{}'),
(33, '12 mois fermes, inscription au n°3 ordonnée : au n°3 jusqu''à la réhabilitation',
    '[{"k":"A","cd":"2015-01-01","m":12,"b3o":true}]', '{}', '2016-01-01', true, true, true, '{"3":"2021-01-01"}'),
(34, 'inscription au n°3 ordonnée mais sursis total : pas au n°3',
    '[{"k":"A","cd":"2015-01-01","m":12,"s":12,"b3o":true}]', '{}', '2016-01-01', true, true, false, '{}'),
(35, 'interdiction de 24 mois : au n°3 tant qu''elle dure — la veille de la fin',
    '[{"k":"A","cd":"2016-01-01","type":"amende","ban":"Interdiction de séjour à Garoua","ban_m":24}]', '{}', '2017-12-31',
    true, true, true, '{"3":"2018-01-01"}'),
(36, 'interdiction de 24 mois — le jour de la fin',
    '[{"k":"A","cd":"2016-01-01","type":"amende","ban":"Interdiction de séjour à Garoua","ban_m":24}]', '{}', '2018-01-01',
    true, true, false, '{"2":"2019-01-01","3":null}'),
(37, 'interdiction à vie : au n°3 tant que la condamnation est au n°2',
    '[{"k":"A","cd":"2016-01-01","type":"amende","ban":"Interdiction des droits civiques"}]', '{}', '2018-12-31',
    true, true, true, '{"3":"2019-01-01"}'),
(38, 'interdiction avec sursis : pas au n°3',
    '[{"k":"A","cd":"2016-01-01","type":"amende","ban":"Interdiction de séjour","ban_m":60,"ban_s":true}]', '{}', '2017-01-01',
    true, true, false, '{"3":null}'),
(39, 'fiche retirée (annulation) : sur aucun bulletin',
    '[{"k":"A","cd":"2015-01-01","m":36}]', '{"withdraw":["A"]}', '2016-01-01', false, false, false,
    '{"1":null,"2":null,"3":null}'),
(40, 'rectification : la nouvelle version décide (36 mois rectifiés en 12)',
    '[{"k":"A","cd":"2015-01-01","m":36}]', '{"rectify":{"A":{"m":12}}}', '2016-01-01', true, true, false,
    '{"2":"2021-01-01","3":null}'),
(41, 'décès — la veille',
    '[{"k":"A","cd":"2015-01-01","m":36}]', '{"death":"2020-06-01"}', '2020-05-31', true, true, true, '{"1":"2020-06-01"}'),
(42, 'décès — le jour même : effacée',
    '[{"k":"A","cd":"2015-01-01","m":36}]', '{"death":"2020-06-01"}', '2020-06-01', false, false, false, '{"1":null}'),
(43, 'amnistie — la veille',
    '[{"k":"A","cd":"2015-01-01","m":6}]', '{"amnesty":{"A":"2017-07-14"}}', '2017-07-13', true, true, false,
    '{"1":"2017-07-14","2":"2017-07-14"}'),
(44, 'amnistie — le jour même : effacée',
    '[{"k":"A","cd":"2015-01-01","m":6}]', '{"amnesty":{"A":"2017-07-14"}}', '2017-07-14', false, false, false, '{}'),
(45, '120 ans après la naissance — la veille',
    '[{"k":"A","cd":"1990-01-01","m":132}]', '{"born":"1900-03-01"}', '2020-02-29', true, true, true, '{"1":"2020-03-01"}'),
(46, '120 ans après la naissance — le jour même',
    '[{"k":"A","cd":"1990-01-01","m":132}]', '{"born":"1900-03-01"}', '2020-03-01', false, false, false, '{}'),
(47, '40 ans sans nouvelle condamnation — la veille',
    '[{"k":"A","cd":"1985-05-01","m":132}]', '{"born":"1960-01-01"}', '2025-04-30', true, true, true, '{"1":"2025-05-01"}'),
(48, '40 ans sans nouvelle condamnation — le jour même',
    '[{"k":"A","cd":"1985-05-01","m":132}]', '{"born":"1960-01-01"}', '2025-05-01', false, false, false, '{}'),
(49, 'un délit dans les 40 ans fait courir le délai de nouveau',
    '[{"k":"A","cd":"1985-05-01","m":132},{"k":"B","cd":"2020-01-01","type":"amende"}]', '{"born":"1960-01-01"}',
    '2025-05-01', true, true, true, '{"1":"2060-01-01"}'),
(50, 'une contravention ne fait pas courir le délai de 40 ans de nouveau',
    '[{"k":"A","cd":"1985-05-01","m":132},{"k":"B","cd":"2020-01-01","cls":"contravention","type":"amende"}]',
    '{"born":"1960-01-01"}', '2025-05-01', false, false, false, '{}'),
(51, 'réclusion à perpétuité : au n°3, pas de réhabilitation légale',
    '[{"k":"A","cd":"2000-01-01","cls":"crime","type":"perpetuite"}]', '{}', '2030-01-01', true, true, true,
    '{"1":"2040-01-01","2":"2040-01-01","3":"2040-01-01"}'),
(52, 'crime, sursis total : non avenu 5 ans après',
    '[{"k":"A","cd":"2010-01-01","cls":"crime","m":24,"s":24}]', '{}', '2015-01-01', true, false, false, '{}'),
(53, 'travail d''intérêt général : aucun palier de réhabilitation légale (la règle sans source des 5 ans est retirée, issue 15) — au n°2 jusqu''à l''effacement',
    '[{"k":"A","cd":"2010-01-01","type":"travaux_interet_general"}]', '{}', '2014-12-31', true, true, false,
    '{"2":"2050-01-01"}'),
(54, 'récidive légale d''une condamnation du groupe : délai doublé pour toutes',
    '[{"k":"A","cd":"2010-01-01","m":6},{"k":"B","cd":"2012-01-01","type":"amende","rec":true}]', '{}', '2021-12-31',
    true, true, false, '{"2":"2022-01-01"}'),
(55, 'une condamnation retirée ne fait pas courir le délai de nouveau',
    '[{"k":"A","cd":"2010-03-15","m":6},{"k":"B","cd":"2014-01-01","m":6}]', '{"withdraw":["B"]}', '2015-09-15',
    true, false, false, '{}'),
(56, 'sursis partiel : jamais non avenu, réhabilitation sur la peine prononcée (24 mois : 10 ans)',
    '[{"k":"A","cd":"2010-01-01","m":24,"s":12}]', '{}', '2015-06-01', true, true, false, '{"2":"2021-01-01"}'),
(57, 'sursis de 36 mois révoqué : la peine entre au n°3 à la révocation',
    '[{"k":"A","cd":"2014-02-20","m":36,"s":36},{"k":"B","cd":"2016-01-01","m":6,"revokes":"A"}]', '{}', '2016-01-01',
    true, true, true, '{"2":"2029-01-01","3":"2029-01-01"}'),
(58, 'la même, la veille de la révocation (encore inconnue) : pas au n°3, non avenu prévu',
    '[{"k":"A","cd":"2014-02-20","m":36,"s":36},{"k":"B","cd":"2016-01-01","m":6,"revokes":"A"}]', '{}', '2015-12-31',
    true, true, false, '{"2":"2019-02-20","3":null}'),
(59, 'condamnation postérieure à la date demandée : pas encore inscrite',
    '[{"k":"A","cd":"2015-01-01","m":6}]', '{}', '2014-12-31', false, false, false, '{"1":"2015-01-01"}'),
(60, 'peine de mort : au n°3',
    '[{"k":"A","cd":"2001-01-01","cls":"crime","type":"mort"}]', '{}', '2002-01-01', true, true, true, '{}');

select plan((select count(*)::integer * 2 from cases) + 17);

grant all on table __tcache__ to public;
grant all on sequence __tcache___id_seq, __tresults___numb_seq to public;
select cjn.register_court('11111', 'Tribunal de première instance d''Essai', 'CENTRE', 'MFOUNDI', 'Yaoundé I');
create temporary sequence msg_seq;

-- The NIU of fiche `k` of a case: court 11111, year 2000, then the case and the fiche's letter.
create function pg_temp.niu(case_no integer, k text) returns text language sql as $$
    select '111112000' || lpad(case_no::text, 4, '0') || lpad((ascii(k) - 64)::text, 2, '0') || '00'
$$;

-- A court's message for fiche `spec` of a case, as its outbox writes it.
create function pg_temp.msg(case_no integer, kind text, spec jsonb, version integer, born date) returns jsonb
    language sql as $$
select jsonb_build_object('message_id', gen_random_uuid(), 'kind', kind, 'court_code', '11111',
    'seq', nextval('msg_seq'), 'created_at', now(), 'niu', pg_temp.niu(case_no, spec ->> 'k'), 'version', version,
    'motive', case when kind = 'fiche_signed' then null else 'Arrêt de la cour d''appel' end,
    'audit_head', jsonb_build_object('seq', 1, 'hash', repeat('ab', 32)),
    'fiche', jsonb_build_object('number', 1, 'reference', format('%s/SD/Just/2020', case_no), 'signed_by', 'greffier',
        'signed_at', now(),
        'justiciable', jsonb_build_object('surname', 'Essai', 'given_names', 'Cas ' || case_no, 'birth_date', born,
            'birth_place', 'Yaoundé', 'sex', 'M', 'father', 'Père ' || case_no, 'mother', 'Mère ' || case_no),
        'condamnation', jsonb_build_object(
            'conviction_date', spec ->> 'cd', 'offence_date', ((spec ->> 'cd')::date - 30)::text,
            'offence_nature', 'Vol', 'offence_category', 'VOL',
            'offence_class', coalesce(spec ->> 'cls', 'delit'),
            'sentence_type', coalesce(spec ->> 'type', 'emprisonnement'),
            'sentence_months', coalesce((spec ->> 'm')::integer, 0),
            'suspended_months', coalesce((spec ->> 's')::integer, 0),
            'fine_amount', case when spec ->> 'type' = 'amende' then 100000 end,
            'legal_recidivism', coalesce((spec ->> 'rec')::boolean, false),
            'minor', coalesce((spec ->> 'minor')::boolean, false),
            'excluded_b2', coalesce((spec ->> 'x2')::boolean, false),
            'excluded_b3', coalesce((spec ->> 'x3')::boolean, false),
            'b3_ordered', coalesce((spec ->> 'b3o')::boolean, false),
            'ban', spec ->> 'ban', 'ban_months', (spec ->> 'ban_m')::integer,
            'ban_suspended', coalesce((spec ->> 'ban_s')::boolean, false),
            'revoked_suspension_niu', case when spec ? 'revokes' then pg_temp.niu(case_no, spec ->> 'revokes') end)))
$$;

create function pg_temp.send(m jsonb) returns jsonb language sql as $$
    select cjn.ingest((m ->> 'message_id')::uuid, m ->> 'court_code', (m ->> 'seq')::bigint, m ->> 'kind',
                      (m ->> 'created_at')::timestamptz, m, '\x3082')
$$;

-- Builds every case: its fiches, then its withdrawals, rectifications, death and amnesties.
create function pg_temp.build(c cases) returns void language plpgsql as $$
declare
    born date := coalesce((c.events ->> 'born')::date, '1970-01-01');
    spec jsonb;
    k text;
begin
    for spec in select * from jsonb_array_elements(c.fiches) loop
        perform pg_temp.send(pg_temp.msg(c.case_no, 'fiche_signed', spec, 1, born));
    end loop;
    for k, spec in select * from jsonb_each(coalesce(c.events -> 'rectify', '{}')) loop
        perform pg_temp.send(pg_temp.msg(c.case_no, 'fiche_rectified',
            (select f from jsonb_array_elements(c.fiches) f where f ->> 'k' = k) || spec, 2, born));
    end loop;
    for k in select * from jsonb_array_elements_text(coalesce(c.events -> 'withdraw', '[]')) loop
        perform pg_temp.send(pg_temp.msg(c.case_no, 'fiche_withdrawn',
            (select f from jsonb_array_elements(c.fiches) f where f ->> 'k' = k), 1, born));
    end loop;
    if c.events ? 'death' then
        perform cjn.record_death((select person_id from registry.fiche where niu = pg_temp.niu(c.case_no, 'A') limit 1),
                                 (c.events ->> 'death')::date, 'Acte de décès n°' || c.case_no);
    end if;
    for k, spec in select * from jsonb_each(coalesce(c.events -> 'amnesty', '{}')) loop
        perform cjn.record_amnesty(pg_temp.niu(c.case_no, k), (spec #>> '{}')::date, 'Loi n°2017/014 portant amnistie');
    end loop;
end
$$;
select pg_temp.build(c) from cases c order by case_no;

-- What a case expects, and what the CJN decides, in the same words.
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
-- The same, from the bulletins themselves (the set-returning function an extract uses).
create function pg_temp.listed(c cases) returns text language sql as $$
    select string_agg(format('n°%s %s', k, case when exists (
               select from cjn.bulletin((select person_id from registry.fiche where niu = pg_temp.niu(c.case_no, 'A') limit 1), k, c.as_of) b
                where b.niu = pg_temp.niu(c.case_no, 'A')) then 'oui' else 'non' end), ', ' order by k)
      from generate_series(1, 3) k
$$;

select is(pg_temp.decided(c), pg_temp.expected(c), format('cas %s (%s) : %s', c.case_no, c.as_of, c.label))
  from cases c order by c.case_no;
select is(pg_temp.listed(c), format('n°1 %s, n°2 %s, n°3 %s', case when c.b1 then 'oui' else 'non' end,
                                    case when c.b2 then 'oui' else 'non' end, case when c.b3 then 'oui' else 'non' end),
          format('cas %s : le bulletin calculé suit la décision', c.case_no))
  from cases c order by c.case_no;

-- The reasons name the rule, in French.
select matches((select reason from cjn.bulletin_decision(pg_temp.niu(9, 'A'), '2019-02-20') where bulletin = 2),
    '^Sursis non avenu le 20/02/2019', 'the reason for a lapsed suspension says so, with its date');
select matches((select reason from cjn.bulletin_decision(pg_temp.niu(2, 'A'), '2015-09-15') where bulletin = 2),
    '^Réhabilitation légale acquise le 15/09/2015 \(condamnation unique à 6 mois d''emprisonnement : délai de 5 ans',
    'the reason for a rehabilitation names the delay and its rule');
select is((select reason from cjn.bulletin_decision(pg_temp.niu(27, 'A'), '2016-01-01') where bulletin = 2),
    'Exclusion du bulletin n°2 ordonnée par la juridiction.', 'a court-ordered exclusion is named');
select matches((select reason from cjn.bulletin_decision(pg_temp.niu(42, 'A'), '2020-06-01') where bulletin = 1),
    'décès', 'an erasure by death is named');
select is((select array_agg(distinct version) from cjn.bulletin_decision(pg_temp.niu(40, 'A'), '2016-01-01')), array[2],
    'a rectified fiche is decided on its new version');
select is((select array_agg(version) from cjn.bulletin((select person_id from registry.fiche where niu = pg_temp.niu(40, 'A') limit 1), 1, '2016-01-01')),
    array[2], 'only the new version of a rectified fiche is listed');
select throws_ok($$select * from cjn.bulletin_decision('99999999999999999')$$, 'XJ004', null, 'an unknown NIU is refused');

-- Events recorded by operators are checked, and a mistaken one can be cancelled.
select throws_ok(format('select cjn.record_death(%s, current_date + 1, ''Acte'')',
    (select person_id from registry.fiche where niu = pg_temp.niu(1, 'A'))), 'XJ001', null, 'a death in the future is refused');
select throws_ok(format('select cjn.record_death(%s, ''2020-01-01'', ''Acte bis'')',
    (select person_id from registry.fiche where niu = pg_temp.niu(42, 'A'))), 'XJ003', null, 'a second death is refused');
select cjn.cancel_record_event('death', (select person_death_id from registry.person_death d join registry.fiche f using (person_id)
                                          where f.niu = pg_temp.niu(42, 'A')), 'Erreur de saisie : homonyme');
select is((select appears from cjn.bulletin_decision(pg_temp.niu(42, 'A'), '2020-06-01') where bulletin = 1), true,
    'once the mistaken death is cancelled, the fiche is back on n°1');
select throws_ok($$select cjn.record_amnesty('12345678901234567', '2020-01-01', 'Loi')$$, 'XJ004', null,
    'an amnesty of an unknown NIU is refused');

-- Settings: a country adapts the law; the change is logged; a wrong value is refused in French.
select cjn.set_law_setting('b3.custodial_min_months', '12', 'Loi n°2026/001 : n°3 dès 12 mois fermes');
select is((select appears from cjn.bulletin_decision(pg_temp.niu(30, 'A'), '2016-01-01') where bulletin = 3), true,
    'with the threshold of n°3 set to 12 months, 24 months fermes now appear on n°3');
select is((select old_value || ' → ' || new_value from registry.law_setting_change where setting_key = 'b3.custodial_min_months'),
    '24 → 12', 'the change of a setting is logged');
select cjn.set_law_setting('b2.rehab_start', 'conviction', 'Le délai court de la condamnation');
select is((select changes_on from cjn.bulletin_decision(pg_temp.niu(16, 'A'), '2015-01-01') where bulletin = 2), '2020-01-01'::date,
    'with the delay counted from the conviction, 13 months of 2010-01-01 are rehabilitated on 2020-01-01');
select throws_ok($$select cjn.set_law_setting('b2.rehab_start', 'release', 'essai')$$, 'XJ001',
    'Valeur « release » invalide pour b2.rehab_start (unité : sentence_end ou conviction).', 'an unknown choice is refused');
select throws_ok($$select cjn.set_law_setting('b1.max_age_years', 'cent', 'essai')$$, 'XJ001', null,
    'a setting that is not a number is refused');
select throws_ok($$select cjn.set_law_setting('b9.nothing', '1', 'essai')$$, 'XJ004', null, 'an unknown setting is refused');

select * from finish();
rollback;
