-- Issue 15 at the court: minority checked against the dates at entry, bans with their own dates,
-- dated events after signature (each with its guardrails, signed, transmitted, never changed),
-- and the personal-data-free statistics of the court's own activity.
begin;
select plan(61);
\ir setup.psql

create function pg_temp.with(doc jsonb, part text, field text, value jsonb) returns jsonb language sql as $$
    select jsonb_set(doc, array[part, field], value)
$$;
-- A refusal as "SQLSTATE column" (the column the GUI marks), or "accepté".
create function pg_temp.refusal(sql text) returns text language plpgsql as $$
declare
    st text;
    col text;
begin
    execute sql;
    return 'accepté';
exception when others then
    get stacked diagnostics st = returned_sqlstate, col = column_name;
    return st || ' ' || coalesce(col, '');
end
$$;
create function pg_temp.save(doc jsonb) returns text language sql as $$
    select pg_temp.refusal(format('select juris.save_fiche(%L)', doc))
$$;
-- A sample fiche of someone born on `born`, offences on 2017-09-15.
create function pg_temp.born(born text, minor boolean default false, decided boolean default false) returns jsonb
    language sql as $$
    select pg_temp.with(pg_temp.with(pg_temp.with(pg_temp.sample_fiche(), 'justiciable', 'birth_date', to_jsonb(born)),
                                     'condamnation', 'minor', to_jsonb(minor)),
                        'condamnation', 'minor_decided', to_jsonb(decided))
$$;
create function pg_temp.ban(fields jsonb) returns jsonb language sql as $$
    select jsonb_set(pg_temp.sample_fiche(), '{condamnation}', (pg_temp.sample_fiche() -> 'condamnation')
                     || '{"ban": "Interdiction de séjour à Ebolowa"}' || fields)
$$;
create function pg_temp.event(id bigint, e jsonb) returns text language sql as $$
    select pg_temp.refusal(format('select juris.record_sentence_event(%s, %L)', id, e))
$$;

-- Minority from the dates (Code pénal, art. 80: 18 years, court.setting.majority_age_years).
set session authorization tg_agent;
select is(pg_temp.save(pg_temp.born('2001-01-01')), 'XJ001 minor',
    'someone 16 at the offence entered as an adult is refused, at the field « mineur »');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.born('2001-01-01')), 'XJ001',
    'D''après les dates de naissance (01/01/2001) et des faits (15/09/2017), la personne avait 16 ans : elle était mineure (moins de 18 ans). Cochez « mineur au moment des faits », ou « minorité fixée par la juridiction » si le jugement en a décidé autrement.',
    'and told why, in French');
select is(pg_temp.save(pg_temp.born('2001-01-01', true)), 'accepté', 'entered as a minor, it is accepted');
select is(pg_temp.save(pg_temp.born('1987-04-17', true)), 'XJ001 minor', 'an adult entered as a minor is refused');
select is(pg_temp.save(pg_temp.born('1987-04-17', true, true)), 'accepté',
    'unless the court decided minority (minor_decided)');
select is(pg_temp.save(pg_temp.born('2001-01-01', false, true)), 'accepté', 'or decided the person an adult');
select is(pg_temp.save(pg_temp.born('1999-09-15')), 'accepté', '18 on the day of the offence: an adult');
select is(pg_temp.save(pg_temp.born('1999-09-16')), 'XJ001 minor', '18 the day after: a minor');
reset session authorization;
update court.setting set majority_age_years = 21;
set session authorization tg_agent;
select is(pg_temp.save(pg_temp.born('1997-01-01')), 'XJ001 minor', 'the age of majority is a setting of the court');
reset session authorization;
update court.setting set majority_age_years = 18;
select pg_temp.fiche_at(0, pg_temp.born('1987-04-17', true, true)) as decided \gset
select is((select minor_decided from court.fiche where fiche_id = :decided), true, 'the court''s decision is kept on the fiche');

-- Bans with their own dates.
set session authorization tg_agent;
select is(pg_temp.save(pg_temp.with(pg_temp.sample_fiche(), 'condamnation', 'ban_start', '"2019-01-01"')), 'XJ001 ban',
    'a ban''s start without a ban is refused');
select is(pg_temp.save(pg_temp.ban('{"ban_end": "2020-01-01", "ban_months": 12}')), 'XJ001 ban_end',
    'an end and a duration are refused together');
select is(pg_temp.save(pg_temp.ban('{"ban_start": "2019-01-01", "ban_from_release": true, "ban_months": 12}')),
    'XJ001 ban_start', 'a start and « from the release » are refused together');
select is(pg_temp.save(pg_temp.ban('{"ban_from_release": true}')), 'XJ001 ban_months',
    'a ban from the release needs a duration');
select is(pg_temp.save(jsonb_set(pg_temp.ban('{"ban_from_release": true, "ban_months": 12}'), '{condamnation,sentence_type}',
                                 '"amende"')), 'XJ001 ban_from_release', 'a ban from the release needs a prison term');
select is(pg_temp.save(pg_temp.ban('{"ban_start": "2018-01-01"}')), 'XJ001 ban_start',
    'a ban cannot start before the conviction');
select is(pg_temp.save(pg_temp.ban('{"ban_start": "2019-01-01", "ban_end": "2019-01-01"}')), 'XJ001 ban_end',
    'a ban ends after it starts');
select is(pg_temp.save(pg_temp.ban('{"ban_start": "2019-01-01", "ban_end": "2021-01-01"}')), 'accepté',
    'a ban with a start and an end is accepted');
reset session authorization;
select pg_temp.fiche_at(0, pg_temp.ban('{"ban_from_release": true, "ban_months": 24}')) as from_release \gset
select is((select jsonb_build_object('s', ban_start, 'e', ban_end, 'r', ban_from_release, 'm', ban_months)
             from court.fiche where fiche_id = :from_release),
    '{"e": null, "m": 24, "r": true, "s": null}'::jsonb, 'a ban of 24 months from the release is kept as entered');
select throws_ok(format($$update court.fiche set ban_end = '2017-01-01' where fiche_id = %s$$,
                        pg_temp.fiche_at(0, pg_temp.ban('{"ban_start": "2019-01-01"}'))),
    'XJ001', null, 'the same rules hold for a direct UPDATE');

-- Dated events after signature. A signed fiche: 24 months of which 12 suspended, a fine.
select pg_temp.fiche_at(3) as signed \gset
select pg_temp.fiche_at(2) as verified \gset
set session authorization tg_secretaire;
select is(pg_temp.event(:signed, '{"kind": "fine_paid", "date": "2019-01-10", "reference": "Quittance n° 12"}'),
    '42501 ', 'only the greffier records an event (the function is not even granted to others)');
reset session authorization;
set session authorization tg_greffier;
select is(pg_temp.event(:verified, '{"kind": "fine_paid", "date": "2019-01-10", "reference": "Quittance n° 12"}'),
    'XJ003 ', 'only on a signed fiche');
select is(pg_temp.event(:signed, '{"kind": "paid", "date": "2019-01-10", "reference": "Q"}'), 'XJ001 kind',
    'an unknown kind is refused');
select is(pg_temp.event(:signed, format('{"kind": "fine_paid", "date": "%s", "reference": "Q"}', current_date + 1)::jsonb),
    'XJ001 date', 'a date in the future is refused');
select is(pg_temp.event(:signed, '{"kind": "fine_paid", "date": "2018-06-17", "reference": "Q"}'), 'XJ001 date',
    'a date before the conviction is refused');
select is(pg_temp.event(:signed, '{"kind": "fine_paid", "date": "2019-01-10"}'), 'XJ001 reference',
    'the document''s reference is required');
select is(pg_temp.event(:signed, '{"kind": "fine_paid", "date": "2019-01-10", "reference": "Q", "total": true}'),
    'XJ001 remitted_months', 'a remission belongs to a pardon only');
select is(pg_temp.event(:signed, '{"kind": "fine_paid", "date": "2019-01-10", "reference": "Q", "amount": 5}'),
    'XJ001 ', 'an unknown field is refused');
select juris.record_sentence_event(:signed, '{"kind": "fine_paid", "date": "2019-01-10", "reference": "Quittance n° 12"}')
    as paid \gset
reset session authorization;
select results_eq(format($$select kind, niu = (select niu from court.fiche where fiche_id = %s), payload ->> 'event_kind',
                                  payload ->> 'event_date', payload ->> 'reference', payload ->> 'event_id'
                             from court.outbox where seq = (select max(seq) from court.outbox)$$, :signed),
    format($$values ('sentence_event', true, 'fine_paid', '2019-01-10', 'Quittance n° 12', %L)$$, :'paid'),
    'the event is signed into the outbox in the same transaction, for the CJN');
select is((select action from court.audit order by seq desc limit 1), 'event', 'and appended to the audit chain');
set session authorization tg_greffier;
select is(pg_temp.event(:signed, '{"kind": "fine_paid", "date": "2019-02-10", "reference": "Q"}'), 'XJ003 kind',
    'a second payment is refused while the first stands');
select is(pg_temp.event(:signed, format('{"kind": "cancellation", "cancels": "%s", "reference": "Erreur de saisie"}', :'paid')::jsonb),
    'accepté', 'a mistaken event is cancelled by a new one');
select is(pg_temp.event(:signed, format('{"kind": "cancellation", "cancels": "%s", "reference": "Erreur"}', :'paid')::jsonb),
    'XJ003 cancels', 'an event is cancelled once');
select is(pg_temp.event(:signed, format('{"kind": "cancellation", "cancels": "%s", "reference": "Erreur"}', gen_random_uuid())::jsonb),
    'XJ004 cancels', 'an unknown event cannot be cancelled');
select is(pg_temp.event(:signed, '{"kind": "cancellation", "cancels": "pas-un-uuid", "reference": "Erreur"}'),
    'XJ001 cancels', 'a malformed event id is refused');
select is(pg_temp.event(:signed, '{"kind": "fine_paid", "date": "2019-02-10", "reference": "Quittance n° 13"}'), 'accepté',
    'once cancelled, the payment can be recorded again');
select is(pg_temp.event(:signed, '{"kind": "pardon", "date": "2019-03-01", "reference": "Décret n° 2019/1", "remitted_months": 2, "total": true}'),
    'XJ001 remitted_months', 'a pardon remits months or the whole sentence, not both');
select is(pg_temp.event(:signed, '{"kind": "pardon", "date": "2019-03-01", "reference": "Décret n° 2019/1", "remitted_months": 13}'),
    'XJ001 remitted_months', 'a pardon cannot remit more than the 12 months to serve');
select is(pg_temp.event(:signed, '{"kind": "pardon", "date": "2019-03-01", "reference": "Décret n° 2019/1", "remitted_months": 6}'),
    'accepté', 'a pardon of 6 months is recorded');
select is(pg_temp.event(:signed, '{"kind": "pardon", "date": "2020-03-01", "reference": "Décret n° 2020/1", "remitted_months": 7}'),
    'XJ001 remitted_months', 'pardons add up: 6 + 7 months is more than 12');
select is(pg_temp.event(:signed, '{"kind": "ban_lifted", "date": "2019-03-01", "reference": "Jugement de relèvement"}'),
    'XJ001 kind', 'no ban to lift');
select is(pg_temp.event(:signed, '{"kind": "sentence_served", "date": "2019-01-02", "reference": "Billet de sortie n° 5"}'),
    'accepté', 'a release is recorded');
select is(pg_temp.event(:signed, '{"kind": "suspension_revoked", "date": "2019-05-02", "reference": "Jugement n° 8"}'),
    'accepté', 'a revocation of the suspension is recorded');
reset session authorization;
select pg_temp.fiche_at(3, pg_temp.with(pg_temp.with(pg_temp.sample_fiche(), 'condamnation', 'suspended_months', '24'),
                                        'condamnation', 'sentence_type', '"emprisonnement"')) as suspended \gset
select pg_temp.fiche_at(3, pg_temp.ban('{"ban_suspended": true}')) as ban_suspended \gset
set session authorization tg_greffier;
select is(pg_temp.event(:suspended, '{"kind": "sentence_served", "date": "2019-01-02", "reference": "B"}'), 'XJ003 kind',
    'nothing to serve while a whole suspension stands');
select is(pg_temp.event(:suspended, '{"kind": "fine_paid", "date": "2019-01-02", "reference": "Q"}'), 'XJ001 kind',
    'no fine to pay');
select is(pg_temp.event(:suspended, '{"kind": "suspension_revoked", "date": "2019-01-02", "reference": "J"}'), 'accepté',
    'the suspension revoked');
select is(pg_temp.event(:suspended, '{"kind": "sentence_served", "date": "2021-01-02", "reference": "B"}'), 'accepté',
    'then the release can be recorded');
select is(pg_temp.event(:ban_suspended, '{"kind": "ban_lifted", "date": "2019-01-02", "reference": "J"}'), 'XJ003 kind',
    'a suspended ban does not run: nothing to lift');
select results_eq(format('select kind, kind_label, cancelled_by is not null, transmission from juris.sentence_events(%s)', :signed),
    $$values ('sentence_served', 'peine exécutée (libération)', false, 'en attente'),
             ('fine_paid', 'amende payée', true, 'en attente'),
             ('fine_paid', 'amende payée', false, 'en attente'),
             ('pardon', 'grâce (remise de peine)', false, 'en attente'),
             ('suspension_revoked', 'sursis révoqué', false, 'en attente'),
             ('cancellation', 'annulation d''un événement enregistré par erreur', false, 'en attente')$$,
    'the staff see each event, in French, with its transmission');
select is((select allowed from juris.fiche_actions(:signed) where action = 'record_event'), true,
    'fiche_actions offers the greffier to record an event on a signed fiche');
select juris.withdraw_fiche(:suspended, 'Annulation en appel');
select is(pg_temp.event(:suspended, '{"kind": "pardon", "date": "2021-01-02", "reference": "D", "total": true}'), 'XJ003 ',
    'not on a withdrawn fiche');
reset session authorization;

-- Never changed, never deleted, never without its message.
select throws_ok(format($$update court.sentence_event set event_date = '2019-01-01' where event_id = %L$$, :'paid'),
    'XJ006', null, 'even a superuser cannot change an event');
select throws_ok(format($$delete from court.sentence_event where event_id = %L$$, :'paid'), 'XJ006', null,
    'nor delete it');
create function pg_temp.insert_event_alone(id bigint) returns void language plpgsql as $$
begin
    insert into court.sentence_event (fiche_id, niu, fiche_version, event_kind, event_date, reference, recorded_by)
    select f.fiche_id, f.niu, f.version, 'fine_paid', '2019-01-10', 'Q', 'x' from court.fiche f where f.fiche_id = id;
    set constraints court.sentence_event_transmitted immediate;
end
$$;
select throws_ok(format('select pg_temp.insert_event_alone(%s)', :signed), 'XJ006', null,
    'an event inserted without its message to the CJN is refused at commit');

-- Statistics of the court's activity: counts and delays, no personal data.
set session authorization tg_agent;
select ok((select sum(fiches) from juris.stat_fiches_by_month()) >= 8, 'fiches per month by status, for every staff member');
select is((select fiches from juris.stat_fiches_by_month() where status = 5), 1::bigint, 'the withdrawn fiche, status 5');
select results_eq($$select offence_category, offence_class, fiches from juris.stat_offences('2018-01-01', '2018-12-31')$$,
    $$values ('ATT_BIENS_PUBLICS', 'delit', 2::bigint)$$, 'signed convictions by category and class (the withdrawn one apart)');
select is((select awaiting_cjn from juris.stat_delays()), 3::bigint, 'three signatures await the CJN''s receipt');
reset session authorization;
update court.outbox set receipt = jsonb_build_object('stored_at', created_at + interval '90 minutes')
 where kind = 'fiche_signed' and fiche_id = :signed;
set session authorization tg_agent;
select results_eq($$select fiches, signature_to_cjn_median_hours, awaiting_cjn from juris.stat_delays()$$,
    $$values (3::bigint, 1.50, 2::bigint)$$, 'from signature to the CJN''s receipt, in hours');
select is((select conviction_to_signature_median_days > 2000 from juris.stat_delays()), true,
    'from the conviction (2018) to the signature (today), in days');
reset session authorization;
select is((select count(*) from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'juris' and p.proname like 'stat\_%'
              and pg_get_function_result(p.oid) ~ '(surname|given_names|niu|reference|birth)'), 0::bigint,
    'no statistics function returns a name, a NIU, a reference or a birth date');

select * from finish();
rollback;
