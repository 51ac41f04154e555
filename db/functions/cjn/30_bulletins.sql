-- Bulletins n°1, n°2 and n°3: the law as SQL reading its settings (registry.law_setting), the
-- identity of the person asked, the extract and its consultation log, and the operator's acts
-- the rules need (a death, an amnesty, a change of a setting).
--
-- How a decision is made. For each fiche (its current version) the rules compute dates, once,
-- from the person's whole record as known on the date asked (convictions pronounced after it
-- are ignored, as if not yet pronounced): when it is erased from n°1, whether n°2 excludes it
-- for ever (minor, contravention, court's order), when its suspension lapses, when the person
-- is rehabilitated by law, from when and until when it belongs on n°3. Each bulletin is then
-- a set of intervals [from, until) of dates: the fiche appears on the date asked if the date
-- lies in one, and the decision changes at the interval's end (or the next one's start).
-- "Changes on" therefore assumes nothing new happens: no new conviction, death or amnesty.
-- The API functions run with jit = off: their queries touch a few rows, but the planner's
-- estimates on the JSON expression indexes may exceed jit_above_cost, and compiling then costs
-- tens of milliseconds per call.
-- Small SQL helpers carry no SET clause so that the planner inlines them (a SET clause
-- prevents it, and an SQL function that is not inlined is planned again at every call from
-- PL/pgSQL); they are called only from functions whose search_path is pinned.
-- Dates are inclusive of the day the rule takes effect: a fiche erased 3 years after a
-- conviction of 2020-03-10 still appears on 2023-03-09 and no longer on 2023-03-10.

-- The law's settings, as a JSON object {key: value} read once per computation.
-- The law's settings, as a JSON object {key: value} read once per computation, with the
-- rehabilitation tiers under "_tiers" ([{kind, max_months, years}], registry.rehab_tier).
create function cjn._law() returns jsonb
    language sql stable
    set search_path = pg_catalog, pg_temp
return (select jsonb_object_agg(s.setting_key, s.value) from registry.law_setting s)
    || jsonb_build_object('_tiers', (select coalesce(jsonb_agg(jsonb_build_object('kind', t.kind, 'max_months', t.max_months,
                                                                                  'years', t.years)
                                                               order by t.kind, t.max_months), '[]')
                                       from registry.rehab_tier t));

-- A whole number of years or months from the settings.
create function cjn._law_int(law jsonb, key text) returns integer
    language sql immutable
return (law ->> key)::integer;

-- d + n years (29 February + 1 year = 28 February), 'infinity' stays 'infinity'.
create function cjn._plus_years(d date, n integer) returns date
    language sql immutable
return case when d is null or n is null then null when isfinite(d) then (d + make_interval(years => n))::date else d end;

create function cjn._plus_months(d date, n integer) returns date
    language sql immutable
return case when d is null or n is null then null when isfinite(d) then (d + make_interval(months => n))::date else d end;

-- A date as the French read it.
create function cjn._fr(d date) returns text
    language sql immutable
return case when d is null then '?' when isfinite(d) then to_char(d, 'DD/MM/YYYY') else 'jamais' end;

-- Custodial sentences with a term in months; life imprisonment and death are custodial without one.
create function cjn._is_prison_term(sentence_type text) returns boolean
    language sql immutable
return coalesce(sentence_type in ('emprisonnement', 'emprisonnement_amende'), false);

-- Sentences with a fine.
create function cjn._has_fine(sentence_type text) returns boolean
    language sql immutable
return coalesce(sentence_type in ('amende', 'emprisonnement_amende'), false);

-- A wholly suspended prison term (sursis sur toute la peine).
create function cjn._wholly_suspended(sentence_type text, sentence_months integer, suspended_months integer) returns boolean
    language sql immutable
return cjn._is_prison_term(sentence_type) and coalesce(sentence_months, 0) > 0
       and coalesce(suspended_months, 0) >= sentence_months;

-- Rule "suspension lapsed" (n°2): a wholly suspended term is deemed non avenue
-- b2.suspension_lapse_years_<crime|delit> years after the conviction, unless it was revoked
-- within that delay (by a conviction naming it, or by an event recorded by the court). The date
-- it lapses, or null.
create function cjn._suspension_lapse(law jsonb, offence_class text, conviction_date date) returns date
    language sql immutable
return cjn._plus_years(conviction_date, cjn._law_int(law,
    case when offence_class = 'crime' then 'b2.suspension_lapse_years_crime' else 'b2.suspension_lapse_years_delit' end));

-- The rehabilitation tier of `kind` for `months` (registry.rehab_tier): the smallest tier that
-- fits. found = false: beyond the last tier (or no tier of that kind); years null: a tier
-- without delay. Either way, no rehabilitation by law.
create function cjn._tier(law jsonb, kind text, months integer, out found boolean, out years integer, out max_months integer)
    language sql immutable
as $$
    select t is not null, (t ->> 'years')::integer, (t ->> 'max_months')::integer
      from (select null::jsonb) dummy
      left join lateral (
          select x.t from jsonb_array_elements(law -> '_tiers') x(t)
           where x.t ->> 'kind' = kind
             and (kind = 'fine' or (x.t ->> 'max_months')::integer >= coalesce(months, 0))
           order by (x.t ->> 'max_months')::integer nulls first
           limit 1) y(t) on true;
$$;

-- Rule "rehabilitation by law", its delay (n°2), for convictions that count together (a
-- conviction pronounced before the delay of the earlier ones ended joins them), from the tiers
-- (registry.rehab_tier): fines alone (kind fine); a single prison term (single_prison, by its
-- pronounced months); several prison terms (several_prison, by their months added up); the
-- longest applies when they are mixed. No rehabilitation by law for life imprisonment, death,
-- a term beyond the last tier, a tier without delay, or any other sentence (travail d'intérêt
-- général, autre: no tier has a source for them). Multiplied by b2.recidivism_factor when one
-- of them was pronounced in legal recidivism. Returns the years (null: never) and the rule in
-- French.
create function cjn._rehab_delay(law jsonb, sentence_types text[], sentence_months integer[], recidivism boolean[],
                                 out years integer, out rule text)
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    prison_count integer := 0;
    prison_total integer := 0;
    never text;
    i integer;
    base integer := 0;
    factor integer := cjn._law_int(law, 'b2.recidivism_factor');
    tier record;
    kind text;
begin
    for i in 1 .. coalesce(cardinality(sentence_types), 0) loop
        if sentence_types[i] in ('perpetuite', 'mort') then
            never := case sentence_types[i] when 'mort' then 'peine de mort' else 'réclusion à perpétuité' end;
        elsif cjn._is_prison_term(sentence_types[i]) and coalesce(sentence_months[i], 0) > 0 then
            prison_count := prison_count + 1;
            prison_total := prison_total + sentence_months[i];
        elsif sentence_types[i] = 'amende' then
            tier := cjn._tier(law, 'fine', null);
            if not tier.found or tier.years is null then
                never := coalesce(never, 'amende : aucun délai fixé');
            else
                base := greatest(base, tier.years);
                rule := coalesce(rule, 'amende');
            end if;
        else
            never := coalesce(never, format('%s : aucun délai de réhabilitation légale',
                case sentence_types[i] when 'travaux_interet_general' then 'travail d''intérêt général'
                                       else 'autre peine que l''emprisonnement ou l''amende' end));
        end if;
    end loop;
    if never is null and prison_count > 0 then
        kind := case when prison_count = 1 then 'single_prison' else 'several_prison' end;
        tier := cjn._tier(law, kind, prison_total);
        if not tier.found then
            never := case when prison_count = 1 then format('emprisonnement de %s mois, au-delà du dernier palier', prison_total)
                          else format('%s condamnations à l''emprisonnement, %s mois au total, au-delà du dernier palier',
                                      prison_count, prison_total) end;
        elsif tier.years is null then
            never := case when prison_count = 1 then format('emprisonnement de %s mois : aucun délai fixé', prison_total)
                          else format('%s condamnations à l''emprisonnement, %s mois au total : aucun délai fixé',
                                      prison_count, prison_total) end;
        else
            base := greatest(base, tier.years);
            rule := case when prison_count = 1 then format('condamnation unique à %s mois d''emprisonnement', prison_total)
                         else format('%s condamnations à l''emprisonnement, %s mois au total', prison_count, prison_total) end;
        end if;
    end if;
    if never is not null then
        years := null;
        rule := format('pas de réhabilitation légale (%s)', never);
        return;
    end if;
    years := base;
    rule := format('%s : délai de %s ans', rule, base);
    if true = any (recidivism) and factor <> 1 then
        years := base * factor;
        rule := format('%s, multiplié par %s pour récidive légale (%s ans)', rule, factor, years);
    end if;
end
$$;

-- The fiches (current versions) of a set of people, with every date the rules give them,
-- computed from their record as known on `known` (convictions after it are ignored).
create type cjn.fiche_facts as (
    niu text,
    version integer,
    court_code text,
    person_id bigint,
    withdrawn boolean,
    withdrawn_at timestamptz,
    withdrawal_motive text,
    conviction_date date,
    offence_class text,
    sentence_type text,
    sentence_months integer,
    suspended_months integer,
    -- n°1: from the conviction until this date (exclusive; 'infinity' if never), and why.
    b1_until date,
    b1_rule text,
    b1_note text,
    -- n°2: the rule that excludes it for ever (b2.minor, b2.contravention, b2.excluded), or null.
    b2_excluded_rule text,
    -- Minority as the rules hold it (from the dates, or decided by the court), and why.
    minor_note text,
    lapse_on date,
    revoked_on date,
    revoked_by text,
    rehab_on date,
    rehab_note text,
    -- n°2: until this date, and why (b1 rules, b2.lapse, b2.rehabilitation).
    b2_until date,
    b2_rule text,
    -- n°3.
    b3_excluded boolean,
    custodial_from date,
    custodial_note text,
    ban text,
    ban_from date,
    ban_until date,
    ban_note text,
    ban_suspended boolean
);

-- What the rules read of a fiche (its current version) and of its events, in one row.
create type cjn._fiche_row as (
    niu text, version integer, court_code text, person_id bigint, state text, withdrawn_at timestamptz,
    withdrawal_motive text, birth_date date, offence_date date, conviction_date date, offence_class text,
    sentence_type text, sentence_months integer, suspended_months integer, minor boolean, minor_decided boolean,
    recidivism boolean, excluded_b2 boolean, excluded_b3 boolean, b3_ordered boolean, ban text, ban_months integer,
    ban_suspended boolean, ban_start date, ban_end date, ban_from_release boolean,
    amnesty_date date, law_reference text, revoked_by text, revoked_on date,
    -- Events recorded by the court (registry.sentence_event), not cancelled: facts with their own
    -- dates, applied from them whatever the date asked (like a death or an amnesty).
    fine_paid_on date, served_on date, revoked_event_on date, revoked_event_ref text, ban_lifted_on date,
    remitted_months integer, pardon_total_on date
);

-- When a conviction was executed, for the delay of rehabilitation (Code pénal, art. 70 (4) and
-- (5)) and a ban counted from the release: the end of the custodial part (a total pardon's
-- date; else the release recorded; else the expected end: conviction + unsuspended months, or
-- after a revocation its date + the whole term, less the months a pardon remitted), the payment
-- of the fine (a total pardon's date; else the payment recorded; else the conviction date,
-- assumed), and the later of the two: the start of the delay, with what it rests on in French.
-- b2.rehab_start = 'conviction' runs every delay from the conviction date.
create function cjn._execution(law jsonb, f cjn._fiche_row, out prison_end date, out prison_note text,
                               out rehab_start date, out start_note text)
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    fine_on date;
    fine_note text;
    term integer;
begin
    if cjn._is_prison_term(f.sentence_type) then
        if f.pardon_total_on is not null then
            prison_end := f.pardon_total_on;
            prison_note := format('remise totale de la peine par grâce le %s', cjn._fr(f.pardon_total_on));
        elsif f.served_on is not null then
            prison_end := f.served_on;
            prison_note := format('libération enregistrée le %s', cjn._fr(f.served_on));
        else
            term := case when f.revoked_on is not null then f.sentence_months
                         else greatest(f.sentence_months - f.suspended_months, 0) end;
            prison_end := cjn._plus_months(coalesce(f.revoked_on, f.conviction_date), greatest(term - f.remitted_months, 0));
            prison_note := format('fin de peine supposée le %s (%s + %s mois%s ; aucune libération enregistrée)',
                                  cjn._fr(prison_end),
                                  case when f.revoked_on is not null then format('révocation du sursis le %s', cjn._fr(f.revoked_on))
                                       else format('condamnation du %s', cjn._fr(f.conviction_date)) end,
                                  term,
                                  case when f.remitted_months > 0 then format(' - %s mois remis par grâce', f.remitted_months)
                                       else '' end);
        end if;
    end if;
    if cjn._has_fine(f.sentence_type) then
        if f.pardon_total_on is not null then
            fine_on := f.pardon_total_on;
            fine_note := format('remise totale de la peine par grâce le %s', cjn._fr(f.pardon_total_on));
        elsif f.fine_paid_on is not null then
            fine_on := f.fine_paid_on;
            fine_note := format('amende payée le %s', cjn._fr(f.fine_paid_on));
        else
            fine_on := f.conviction_date;
            fine_note := format('paiement de l''amende non enregistré : date de la condamnation, %s, supposée',
                                cjn._fr(f.conviction_date));
        end if;
    end if;
    if law ->> 'b2.rehab_start' = 'conviction' then
        rehab_start := f.conviction_date;
        start_note := format('date de la condamnation, %s (b2.rehab_start = conviction)', cjn._fr(f.conviction_date));
    elsif prison_end is not null and (fine_on is null or prison_end >= fine_on) then
        rehab_start := prison_end;
        start_note := prison_note;
    elsif fine_on is not null then
        rehab_start := fine_on;
        start_note := fine_note;
    else
        rehab_start := f.conviction_date;
        start_note := format('date de la condamnation, %s', cjn._fr(f.conviction_date));
    end if;
end
$$;

-- A conviction that makes the delay of rehabilitation run again (b2.rehab_reset): any crime or
-- délit ('any_conviction'), or only a conviction to imprisonment ('prison_conviction': Code
-- pénal, art. 70 (1)); the others are rehabilitated with the group without restarting it.
create function cjn._resets_delay(law jsonb, sentence_type text, sentence_months integer) returns boolean
    language sql immutable
return law ->> 'b2.rehab_reset' is distinct from 'prison_conviction'
    or sentence_type in ('perpetuite', 'mort')
    or (cjn._is_prison_term(sentence_type) and coalesce(sentence_months, 0) > 0);

create function cjn._fiche_facts(person_ids bigint[], known date) returns setof cjn.fiche_facts
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
    set jit = off
as $$
declare
    law jsonb := cjn._law();
    majority integer := cjn._law_int(law, 'b2.majority_age_years');
    f cjn._fiche_row;
    fs cjn._fiche_row[];
    r cjn.fiche_facts;
    died date;
    counting integer[] := '{}';
    -- chains of convictions for n°1 (40 years) and rehabilitation groups for n°2
    chain integer[] := '{}';
    chain_end date;
    grp integer[] := '{}';
    grp_end date;
    grp_note text;
    end_note text;
    candidate date;
    alone record;
    delay record;
    ex record;
    erase_on date[];
    rehab_on date[];
    rehab_note text[];
    start_on date[];
    start_note text[];
    prison_end date[];
    prison_note text[];
    age_years integer;
    minor boolean;
    i integer;
    j integer;
    n integer;
begin
    select min(d.death_date) into died
      from registry.person_death d
     where d.person_id = any (person_ids) and d.cancelled_at is null;

    -- The current version of each fiche, in conviction order, with what the rules read.
    select array_agg(row(x.*)::cjn._fiche_row order by x.conviction_date, x.niu) into fs
      from (select fi.niu, fi.version, fi.court_code, fi.person_id, fi.state::text, fi.withdrawn_at, fi.withdrawal_motive,
                   fi.birth_date, fi.offence_date, fi.conviction_date, fi.offence_class, fi.sentence_type,
                   coalesce(fi.sentence_months, 0) as sentence_months, coalesce(fi.suspended_months, 0) as suspended_months,
                   fi.minor,
                   coalesce((fi.content -> 'condamnation' ->> 'minor_decided')::boolean, false) as minor_decided,
                   coalesce((fi.content -> 'condamnation' ->> 'legal_recidivism')::boolean, false) as recidivism,
                   coalesce((fi.content -> 'condamnation' ->> 'excluded_b2')::boolean, false) as excluded_b2,
                   coalesce((fi.content -> 'condamnation' ->> 'excluded_b3')::boolean, false) as excluded_b3,
                   coalesce((fi.content -> 'condamnation' ->> 'b3_ordered')::boolean, false) as b3_ordered,
                   nullif(btrim(fi.content -> 'condamnation' ->> 'ban'), '') as ban,
                   (fi.content -> 'condamnation' ->> 'ban_months')::integer as ban_months,
                   coalesce((fi.content -> 'condamnation' ->> 'ban_suspended')::boolean, false) as ban_suspended,
                   (fi.content -> 'condamnation' ->> 'ban_start')::date as ban_start,
                   (fi.content -> 'condamnation' ->> 'ban_end')::date as ban_end,
                   coalesce((fi.content -> 'condamnation' ->> 'ban_from_release')::boolean, false) as ban_from_release,
                   a.amnesty_date, a.law_reference,
                   -- A revocation: by a later conviction naming this fiche or by an event the court
                   -- recorded, within the suspension's delay; the earlier of the two.
                   case when rv.conviction_date is not null
                             and (ev.revoked_event_on is null or rv.conviction_date <= ev.revoked_event_on)
                        then rv.niu
                        when ev.revoked_event_on is not null
                        then format('décision du %s (%s)', cjn._fr(ev.revoked_event_on), ev.revoked_event_ref) end
                       as revoked_by,
                   least(rv.conviction_date, ev.revoked_event_on) as revoked_on,
                   ev.fine_paid_on, ev.served_on, ev.revoked_event_on, ev.revoked_event_ref, ev.ban_lifted_on,
                   ev.remitted_months, ev.pardon_total_on
              from registry.fiche fi
              left join registry.fiche_amnesty a on a.niu = fi.niu and a.cancelled_at is null
              left join lateral (
                  select v.niu, v.conviction_date
                    from registry.fiche v
                   where v.content -> 'condamnation' ->> 'revoked_suspension_niu' = fi.niu
                     and v.state = 'active' and v.niu <> fi.niu
                     and v.conviction_date >= fi.conviction_date and v.conviction_date <= known
                     and v.conviction_date < cjn._suspension_lapse(law, fi.offence_class, fi.conviction_date)
                   order by v.conviction_date, v.niu
                   limit 1) rv on cjn._wholly_suspended(fi.sentence_type, fi.sentence_months, fi.suspended_months)
              cross join lateral (
                  select min(e.event_date) filter (where e.event_kind = 'fine_paid') as fine_paid_on,
                         min(e.event_date) filter (where e.event_kind = 'sentence_served') as served_on,
                         min(e.event_date) filter (where e.event_kind = 'suspension_revoked'
                                                     and cjn._wholly_suspended(fi.sentence_type, fi.sentence_months,
                                                                               fi.suspended_months)
                                                     and e.event_date < cjn._suspension_lapse(law, fi.offence_class,
                                                                                              fi.conviction_date))
                             as revoked_event_on,
                         min(e.reference) filter (where e.event_kind = 'suspension_revoked') as revoked_event_ref,
                         min(e.event_date) filter (where e.event_kind = 'ban_lifted') as ban_lifted_on,
                         coalesce(sum(e.remitted_months) filter (where e.event_kind = 'pardon'), 0)::integer as remitted_months,
                         min(e.event_date) filter (where e.event_kind = 'pardon' and e.total) as pardon_total_on
                    from registry.sentence_event e
                   where e.niu = fi.niu and e.event_kind <> 'cancellation' and e.cancelled_by is null) ev
             where fi.person_id = any (person_ids) and fi.state <> 'superseded') x;
    n := coalesce(cardinality(fs), 0);
    if n = 0 then
        return;
    end if;
    erase_on := array_fill(null::date, array[n]);
    rehab_on := array_fill(null::date, array[n]);
    rehab_note := array_fill(null::text, array[n]);
    start_on := array_fill(null::date, array[n]);
    start_note := array_fill(null::text, array[n]);
    prison_end := array_fill(null::date, array[n]);
    prison_note := array_fill(null::text, array[n]);

    -- The convictions that count for the chains: crimes and délits, not withdrawn, pronounced by
    -- `known`, not amnestied by then. And when each one was executed.
    for i in 1 .. n loop
        f := fs[i];
        if f.state = 'active' and f.offence_class in ('crime', 'delit') and f.conviction_date <= known
           and (f.amnesty_date is null or f.amnesty_date > known) then
            counting := counting || i;
        end if;
        ex := cjn._execution(law, f);
        start_on[i] := ex.rehab_start;
        start_note[i] := ex.start_note;
        prison_end[i] := ex.prison_end;
        prison_note[i] := ex.prison_note;
    end loop;

    -- n°1, rule b1.erasure_years: a chain of convictions each pronounced within 40 years of the
    -- previous one is erased 40 years after the last.
    foreach i in array counting || 0 loop
        if i = 0 or (cardinality(chain) > 0 and (fs[i]).conviction_date >= chain_end) then
            foreach j in array chain loop
                erase_on[j] := chain_end;
            end loop;
            chain := '{}';
        end if;
        exit when i = 0;
        chain := chain || i;
        chain_end := cjn._plus_years((fs[i]).conviction_date, cjn._law_int(law, 'b1.erasure_years'));
    end loop;

    -- n°2, rehabilitation by law: a conviction pronounced before the delay of the group ended
    -- joins it. The group's delay (its tier, from all its convictions) runs from the start of
    -- each conviction that makes it run again (b2.rehab_reset); one that does not ends its own
    -- delay, alone, from its own start; the group is rehabilitated when the last of them ends,
    -- all together (Code pénal, art. 69 (2)); never if any is never.
    grp := '{}';
    foreach i in array counting || 0 loop
        if i = 0 or (cardinality(grp) > 0 and grp_end is not null and (fs[i]).conviction_date >= grp_end) then
            foreach j in array grp loop
                rehab_on[j] := grp_end;
                rehab_note[j] := grp_note;
            end loop;
            grp := '{}';
        end if;
        exit when i = 0;
        grp := grp || i;
        select * into delay from cjn._rehab_delay(law,
            array(select (fs[g.m]).sentence_type from unnest(grp) g(m)),
            array(select (fs[g.m]).sentence_months from unnest(grp) g(m)),
            array(select (fs[g.m]).recidivism from unnest(grp) g(m)));
        grp_end := null;
        end_note := null;
        grp_note := delay.rule;
        if delay.years is not null then
            foreach j in array grp loop
                if cjn._resets_delay(law, (fs[j]).sentence_type, (fs[j]).sentence_months) then
                    candidate := cjn._plus_years(start_on[j], delay.years);
                else
                    alone := cjn._rehab_delay(law, array[(fs[j]).sentence_type], array[(fs[j]).sentence_months],
                                              array[(fs[j]).recidivism]);
                    candidate := cjn._plus_years(start_on[j], alone.years);
                    if candidate is null then
                        grp_end := null;
                        grp_note := alone.rule;
                        exit;
                    end if;
                end if;
                if grp_end is null or candidate > grp_end then
                    grp_end := candidate;
                    end_note := start_note[j];
                end if;
            end loop;
            if grp_end is not null then
                grp_note := format('%s, courant depuis : %s', delay.rule, end_note);
            end if;
        end if;
        grp_note := grp_note
            || case when cardinality(grp) > 1 then format(' ; %s condamnations comptées ensemble', cardinality(grp)) else '' end;
    end loop;

    for i in 1 .. n loop
        f := fs[i];
        r := null;
        r.niu := f.niu;
        r.version := f.version;
        r.court_code := f.court_code;
        r.person_id := f.person_id;
        r.withdrawn := f.state = 'withdrawn';
        r.withdrawn_at := f.withdrawn_at;
        r.withdrawal_motive := f.withdrawal_motive;
        r.conviction_date := f.conviction_date;
        r.offence_class := f.offence_class;
        r.sentence_type := f.sentence_type;
        r.sentence_months := f.sentence_months;
        r.suspended_months := f.suspended_months;

        -- n°1: the first erasure that applies.
        r.b1_until := 'infinity';
        if died is not null and died < r.b1_until then
            r.b1_until := died; r.b1_rule := 'b1.death'; r.b1_note := 'décès de la personne';
        end if;
        if cjn._plus_years(f.birth_date, cjn._law_int(law, 'b1.max_age_years')) < r.b1_until then
            r.b1_until := cjn._plus_years(f.birth_date, cjn._law_int(law, 'b1.max_age_years'));
            r.b1_rule := 'b1.max_age_years';
            r.b1_note := format('%s ans après la naissance, le %s', law ->> 'b1.max_age_years', cjn._fr(f.birth_date));
        end if;
        if f.amnesty_date is not null and f.amnesty_date < r.b1_until then
            r.b1_until := f.amnesty_date; r.b1_rule := 'b1.amnesty';
            r.b1_note := format('amnistie : %s', f.law_reference);
        end if;
        if f.offence_class = 'contravention' then
            if cjn._plus_years(f.conviction_date, cjn._law_int(law, 'b1.contravention_years')) < r.b1_until then
                r.b1_until := cjn._plus_years(f.conviction_date, cjn._law_int(law, 'b1.contravention_years'));
                r.b1_rule := 'b1.contravention_years';
                r.b1_note := format('contravention, %s ans après la condamnation', law ->> 'b1.contravention_years');
            end if;
        elsif coalesce(erase_on[i], cjn._plus_years(f.conviction_date, cjn._law_int(law, 'b1.erasure_years'))) < r.b1_until then
            r.b1_until := coalesce(erase_on[i], cjn._plus_years(f.conviction_date, cjn._law_int(law, 'b1.erasure_years')));
            r.b1_rule := 'b1.erasure_years';
            r.b1_note := format('%s ans sans nouvelle condamnation pour crime ou délit', law ->> 'b1.erasure_years');
        end if;

        -- Minority (b2.majority_age_years): from the birth and offence dates, unless the court
        -- decided it (minor_decided); the fiche's flag alone only when a date is missing.
        if f.minor_decided then
            minor := f.minor;
            r.minor_note := case when f.minor then 'minorité fixée par la juridiction'
                                 else 'majorité fixée par la juridiction' end;
        elsif f.birth_date is not null and f.offence_date is not null and f.offence_date > f.birth_date then
            age_years := extract(year from age(f.offence_date, f.birth_date))::integer;
            minor := age_years < majority;
            r.minor_note := format('%s ans au moment des faits d''après les dates de naissance et des faits', age_years)
                || case when minor and not f.minor then ', bien que la fiche ne l''indique pas'
                        when f.minor and not minor then format(' ; l''indication « mineur » de la fiche, contredite par les dates, n''est pas retenue (majorité à %s ans)', majority)
                        else '' end;
        else
            minor := f.minor;
            r.minor_note := case when f.minor then 'mineur selon la fiche (dates incomplètes)' end;
        end if;

        -- n°2: exclusions for ever, then the dates it leaves.
        r.b2_excluded_rule := case
            when minor then 'b2.minor'
            when f.offence_class = 'contravention' then 'b2.contravention'
            when f.excluded_b2 then 'b2.excluded'
        end;
        r.revoked_on := f.revoked_on;
        r.revoked_by := f.revoked_by;
        if cjn._wholly_suspended(f.sentence_type, f.sentence_months, f.suspended_months) and f.revoked_on is null then
            r.lapse_on := cjn._suspension_lapse(law, f.offence_class, f.conviction_date);
        end if;
        r.rehab_on := case when array_position(counting, i) is null then null else coalesce(rehab_on[i], 'infinity') end;
        r.rehab_note := rehab_note[i];
        r.b2_until := r.b1_until;
        r.b2_rule := r.b1_rule;
        if r.lapse_on < r.b2_until then
            r.b2_until := r.lapse_on; r.b2_rule := 'b2.lapse';
        end if;
        if r.rehab_on < r.b2_until then
            r.b2_until := r.rehab_on; r.b2_rule := 'b2.rehabilitation';
        end if;

        -- n°3: custodial sentences and bans.
        r.b3_excluded := f.excluded_b3;
        if f.offence_class in ('crime', 'delit') then
            if f.sentence_type in ('perpetuite', 'mort') then
                r.custodial_from := f.conviction_date;
                r.custodial_note := case f.sentence_type when 'mort' then 'peine de mort' else 'réclusion à perpétuité' end;
            elsif cjn._is_prison_term(f.sentence_type) then
                if f.sentence_months - f.suspended_months > cjn._law_int(law, 'b3.custodial_min_months') then
                    r.custodial_from := f.conviction_date;
                    r.custodial_note := format('emprisonnement ferme de %s mois, plus de %s',
                                               f.sentence_months - f.suspended_months, law ->> 'b3.custodial_min_months');
                elsif f.b3_ordered and f.sentence_months - f.suspended_months > 0 then
                    r.custodial_from := f.conviction_date;
                    r.custodial_note := format('emprisonnement ferme de %s mois, inscription ordonnée par la juridiction',
                                               f.sentence_months - f.suspended_months);
                elsif f.revoked_on is not null
                      and (f.sentence_months > cjn._law_int(law, 'b3.custodial_min_months') or f.b3_ordered) then
                    r.custodial_from := f.revoked_on;
                    r.custodial_note := format('emprisonnement de %s mois dont le sursis a été révoqué le %s',
                                               f.sentence_months, cjn._fr(f.revoked_on));
                end if;
            end if;
            -- A ban runs from its own start (ban_start), from the release (ban_from_release: the
            -- release recorded, or the expected end of the term), or from the conviction; until
            -- its end (ban_end), for its duration (ban_months), or for life; a lifting recorded by
            -- the court ends it.
            if f.ban is not null then
                r.ban := f.ban;
                r.ban_suspended := f.ban_suspended;
                if f.ban_start is not null then
                    r.ban_from := f.ban_start;
                    r.ban_note := format('depuis le %s', cjn._fr(f.ban_start));
                elsif f.ban_from_release and prison_end[i] is not null then
                    r.ban_from := prison_end[i];
                    r.ban_note := format('depuis la libération : %s', prison_note[i]);
                else
                    r.ban_from := f.conviction_date;
                    r.ban_note := format('depuis la condamnation du %s', cjn._fr(f.conviction_date));
                end if;
                r.ban_until := case when f.ban_end is not null then f.ban_end
                                    when f.ban_months is not null then cjn._plus_months(r.ban_from, f.ban_months)
                                    else 'infinity'::date end;
                if f.ban_lifted_on is not null and f.ban_lifted_on < r.ban_until then
                    r.ban_until := f.ban_lifted_on;
                    r.ban_note := format('%s ; levée par décision de la juridiction le %s', r.ban_note, cjn._fr(f.ban_lifted_on));
                end if;
            end if;
        end if;
        return next r;
    end loop;
end
$$;

-- [a, b) as a range, empty when b is not after a.
create function cjn._span(a date, b date) returns daterange
    language sql immutable
return case when a < b then daterange(a, b) else 'empty'::daterange end;

-- The intervals [from, until) of dates on which a fiche appears on bulletin k, merged.
create function cjn._intervals(x cjn.fiche_facts, k integer) returns daterange[]
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    parts daterange[] := '{}';
    merged daterange[] := '{}';
    p daterange;
begin
    if x.withdrawn then
        return merged;
    end if;
    if k = 1 then
        parts := array[cjn._span(x.conviction_date, x.b1_until)];
    elsif k = 2 then
        if x.b2_excluded_rule is null then
            parts := array[cjn._span(x.conviction_date, x.b2_until)];
        end if;
    elsif x.b2_excluded_rule is null and not x.b3_excluded then
        if x.custodial_from is not null then
            parts := parts || cjn._span(x.custodial_from, x.b2_until);
        end if;
        if x.ban is not null and not x.ban_suspended then
            parts := parts || cjn._span(greatest(x.ban_from, x.conviction_date), least(x.ban_until, x.b2_until));
        end if;
    end if;
    for p in select u from unnest(parts) u where not isempty(u) order by lower(u) loop
        if cardinality(merged) > 0 and (merged[cardinality(merged)] && p or merged[cardinality(merged)] -|- p) then
            merged[cardinality(merged)] := merged[cardinality(merged)] + p;
        else
            merged := merged || p;
        end if;
    end loop;
    return merged;
end
$$;

-- One decision: does the fiche appear on bulletin k on `at`, why (the rule's key and a French
-- sentence for the clerk), and on which date the decision changes (null: never).
create function cjn._decide(x cjn.fiche_facts, k integer, at date,
                            out appears boolean, out rule text, out reason text, out changes_on date)
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    spans daterange[] := cjn._intervals(x, k);
    s daterange;
    b1 record;
    b2 record;
    basis text[];
begin
    appears := false;
    foreach s in array spans loop
        if at <@ s then
            appears := true;
            changes_on := nullif(upper(s), 'infinity');
            exit;
        elsif lower(s) > at then
            changes_on := lower(s);
            exit;
        end if;
    end loop;

    if x.withdrawn then
        rule := 'withdrawn';
        reason := format('Fiche retirée du casier (annulation) le %s : %s.', cjn._fr(x.withdrawn_at::date),
                         coalesce(x.withdrawal_motive, 'motif non précisé'));
        return;
    end if;
    if at < x.conviction_date then
        rule := 'not_yet';
        reason := format('Condamnation prononcée le %s, après la date demandée.', cjn._fr(x.conviction_date));
        return;
    end if;

    if k = 1 then
        if appears then
            rule := 'b1.recorded';
            reason := 'Condamnation inscrite au casier, non effacée'
                || case when isfinite(x.b1_until) then format(' ; effacement le %s (%s).', cjn._fr(x.b1_until), x.b1_note)
                        else '.' end;
        else
            rule := x.b1_rule;
            reason := format('Effacée le %s : %s.', cjn._fr(x.b1_until), x.b1_note);
        end if;
        return;
    end if;

    if x.b2_excluded_rule is not null or not at < x.b1_until then
        select * into b1 from cjn._decide(x, 1, at);
        rule := coalesce(x.b2_excluded_rule, b1.rule);
        reason := case x.b2_excluded_rule
            when 'b2.minor' then format('Condamnation d''un mineur (%s) : exclue du bulletin n°2.', x.minor_note)
            when 'b2.contravention' then 'Contravention : exclue du bulletin n°2.'
            when 'b2.excluded' then 'Exclusion du bulletin n°2 ordonnée par la juridiction.'
            else format('Absente du bulletin n°1. %s', b1.reason)
        end;
        if k = 3 and x.b2_excluded_rule is not null then
            reason := format('Absente du bulletin n°2. %s', reason);
        end if;
        return;
    end if;

    if k = 2 then
        if appears then
            rule := 'b2.recorded';
            reason := 'Inscrite au bulletin n°2'
                || case when x.revoked_on is not null
                        then format(' (sursis révoqué le %s par %s)', cjn._fr(x.revoked_on),
                                    case when x.revoked_by ~ '^[0-9]{17}$' then 'la condamnation ' || x.revoked_by
                                         else 'la ' || x.revoked_by end)
                        else '' end
                || case when x.minor_note like '%n''est pas retenue%' then format(' (%s)', x.minor_note) else '' end
                || case x.b2_rule
                       when 'b2.lapse' then format(' ; retrait le %s : sursis non avenu faute de révocation.',
                                                   cjn._fr(x.b2_until))
                       when 'b2.rehabilitation' then format(' ; retrait le %s par réhabilitation légale (%s).',
                                                            cjn._fr(x.b2_until), x.rehab_note)
                       else case when isfinite(x.b2_until)
                                 then format(' ; effacement le %s (%s)', cjn._fr(x.b2_until), x.b1_note) else '' end
                            || case when not isfinite(x.rehab_on) then ' ; ' || x.rehab_note else '' end
                            || '.'
                   end;
        else
            rule := x.b2_rule;
            reason := case x.b2_rule
                when 'b2.lapse' then format('Sursis non avenu le %s (aucune révocation dans le délai) : retirée du bulletin n°2.',
                                            cjn._fr(x.b2_until))
                when 'b2.rehabilitation' then format('Réhabilitation légale acquise le %s (%s) : retirée du bulletin n°2.',
                                                     cjn._fr(x.b2_until), x.rehab_note)
            end;
        end if;
        return;
    end if;

    -- k = 3
    if not at < x.b2_until then
        select * into b2 from cjn._decide(x, 2, at);
        rule := b2.rule;
        reason := format('Absente du bulletin n°2. %s', b2.reason);
        return;
    end if;
    if x.b3_excluded then
        rule := 'b3.excluded';
        reason := 'Exclusion du bulletin n°3 ordonnée par la juridiction.';
        return;
    end if;
    if x.custodial_from is not null and at >= x.custodial_from then
        basis := basis || (upper(left(x.custodial_note, 1)) || substr(x.custodial_note, 2));
    end if;
    if x.ban is not null and not x.ban_suspended and at >= x.ban_from and at < x.ban_until then
        basis := basis || format('Interdiction en cours (%s), %s, %s', x.ban, x.ban_note,
                                 case when isfinite(x.ban_until) then 'jusqu''au ' || cjn._fr(x.ban_until)
                                      else 'à titre définitif' end);
    end if;
    if appears then
        rule := case when x.custodial_from is not null and at >= x.custodial_from then 'b3.custodial' else 'b3.ban' end;
        reason := array_to_string(basis, ' ; ')
            || case when changes_on is null then '.' else format(' ; absente du bulletin n°3 à partir du %s.', cjn._fr(changes_on)) end;
    else
        rule := 'b3.not_applicable';
        reason := 'Ni emprisonnement ferme de plus de ' || (cjn._law() ->> 'b3.custodial_min_months')
            || ' mois, ni inscription ordonnée par la juridiction, ni interdiction en cours'
            || case when x.ban is not null and x.ban_suspended then format(' (interdiction « %s » avec sursis)', x.ban)
                    when x.ban is not null and at < x.ban_from
                    then format(' (interdiction « %s » à partir du %s, %s)', x.ban, cjn._fr(x.ban_from), x.ban_note)
                    when x.ban is not null then format(' (interdiction « %s » terminée le %s, %s)', x.ban,
                                                       cjn._fr(x.ban_until), x.ban_note)
                    else '' end
            || ' : absente du bulletin n°3.';
    end if;
end
$$;

-- Identity ----------------------------------------------------------------------------------

-- Plausible typing mistakes in a birth date: one digit changed, two adjacent digits swapped,
-- day and month swapped (valid dates only).
create function cjn._date_typos(d date) returns date[]
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    s text := to_char(d, 'YYYYMMDD');
    t text;
    candidates text[] := '{}';
    result date[] := '{}';
    i integer;
    c integer;
    y integer;
    m integer;
    dd integer;
    last_day integer;
begin
    for i in 1 .. 8 loop
        for c in 0 .. 9 loop
            if substr(s, i, 1) <> c::text then
                candidates := candidates || overlay(s placing c::text from i for 1);
            end if;
        end loop;
    end loop;
    for i in 1 .. 7 loop
        if substr(s, i, 1) <> substr(s, i + 1, 1) then
            candidates := candidates || overlay(s placing substr(s, i + 1, 1) || substr(s, i, 1) from i for 2);
        end if;
    end loop;
    candidates := candidates || (substr(s, 1, 4) || substr(s, 7, 2) || substr(s, 5, 2));
    foreach t in array candidates loop
        y := substr(t, 1, 4)::integer;
        m := substr(t, 5, 2)::integer;
        dd := substr(t, 7, 2)::integer;
        last_day := case when m = 2 and ((y % 4 = 0 and y % 100 <> 0) or y % 400 = 0) then 29
                         when m = 2 then 28 when m in (4, 6, 9, 11) then 30 else 31 end;
        if t <> s and y >= 1 and m between 1 and 12 and dd between 1 and last_day
           and not make_date(y, m, dd) = any (result) then
            result := result || make_date(y, m, dd);
        end if;
    end loop;
    return result;
end
$$;

-- Two values of an identity field, as registry.words_key gives them, contradict when both are
-- given and their words differ.
create function cjn._contradicts(a text, b text) returns boolean
    language sql immutable
return a <> '' and b <> '' and a <> b;

-- The people an operator decided are the same as these (transitively), these included.
create function cjn._same_people(ids bigint[]) returns bigint[]
    language sql stable
    set search_path = pg_catalog, pg_temp
return (
    with recursive linked(person_id) as (
        select unnest(ids)
        union
        select x.id
          from linked l
         cross join lateral (
             select c.person_b as id from registry.person_candidate c where c.person_a = l.person_id and c.decision = 'same'
             union all
             select c.person_a from registry.person_candidate c where c.person_b = l.person_id and c.decision = 'same') x
    )
    select coalesce(array_agg(person_id order by person_id), '{}') from linked);

-- Finds the people an identity names. 'exact': the same names (whatever the accents, case,
-- punctuation and word order) and birth date, with no contradiction on the birth place or the
-- parents where both the request and the registry give them; plus the people an operator
-- decided are the same. 'near': spelling variants of the names born the same day (trigram
-- likeness or a few letters apart), the same names with a birth date differing by a typing
-- mistake, and the same names and birth date with a different birth place or parents. When
-- the exact matches contradict each other (namesakes with other parents, or people an operator
-- decided are different), none is exact: they are all listed as near, reason 'homonym', and
-- the identity must be made precise. Near matches are never merged into an extract.
create type cjn._match as (person_id bigint, match text, reason_code text, reason text, score real);

create function cjn.find_person(identity jsonb)
    returns table (person_id bigint, match text, reason_code text, reason text, score real,
                   surname text, given_names text, birth_date date, birth_place text, father text, mother text)
    language plpgsql stable security definer
    set search_path = pg_catalog, ext, pg_temp
    set jit = off
    set pg_trgm.similarity_threshold = 0.29
as $$
declare
    law jsonb := cjn._law();
    q_key text;
    q_norm text;
    q_birth date;
    typos date[];
    q_place text;
    q_father text;
    q_mother text;
    pair record;
    found_ cjn._match[];
    more cjn._match[];
    exact_ids bigint[];
    ambiguous boolean;
begin
    if jsonb_typeof(identity) is distinct from 'object' then
        raise exception 'Identité demandée absente ou mal formée (objet JSON attendu).' using errcode = 'XJ001';
    end if;
    if registry.words_key(identity ->> 'surname') = '' then
        raise exception 'Le nom de la personne demandée est obligatoire.' using errcode = 'XJ001', column = 'surname';
    end if;
    begin
        q_birth := (identity ->> 'birth_date')::date;
    exception when others then
        raise exception 'Date de naissance invalide : « % » (AAAA-MM-JJ).', identity ->> 'birth_date'
            using errcode = 'XJ001', column = 'birth_date';
    end;
    if q_birth is null then
        raise exception 'La date de naissance de la personne demandée est obligatoire.'
            using errcode = 'XJ001', column = 'birth_date';
    end if;
    q_key := registry.name_key(identity ->> 'surname', identity ->> 'given_names');
    q_norm := cjn._norm(concat_ws(' ', identity ->> 'surname', identity ->> 'given_names'));
    typos := cjn._date_typos(q_birth);
    q_place := registry.words_key(identity ->> 'birth_place');
    q_father := registry.words_key(identity ->> 'father');
    q_mother := registry.words_key(identity ->> 'mother');

    -- Same names, same birth date (the index on the name key): exact, or near when the birth
    -- place or a parent differs.
    found_ := array(
        select row(p.person_id,
                   case when c.contra is null then 'exact' else 'near' end,
                   case when c.contra is null then 'identity' else 'filiation' end,
                   case when c.contra is null then 'Mêmes nom, prénoms et date de naissance.'
                        else format('Mêmes nom, prénoms et date de naissance, mais %s différent(s).', c.contra) end,
                   1)::cjn._match
          from registry.person p
         cross join lateral (select nullif(concat_ws(', ',
                    case when cjn._contradicts(registry.words_key(p.birth_place), q_place) then 'lieu de naissance' end,
                    case when cjn._contradicts(registry.words_key(p.father), q_father) then 'père' end,
                    case when cjn._contradicts(registry.words_key(p.mother), q_mother) then 'mère' end), '') as contra) c
         where registry.name_key(p.surname, p.given_names) = q_key and p.birth_date = q_birth
         order by p.person_id);
    exact_ids := array(select m.person_id from unnest(found_) m where m.match = 'exact');

    -- Namesakes who contradict each other, or whom an operator decided are different, and are
    -- not linked as the same: the identity is ambiguous.
    ambiguous := false;
    if cardinality(exact_ids) > 1 then
        for pair in
            with k as (select p.person_id, registry.words_key(p.birth_place) as place, registry.words_key(p.father) as father,
                              registry.words_key(p.mother) as mother
                         from registry.person p where p.person_id = any (exact_ids))
            select a.person_id as a, b.person_id as b
              from k a join k b on a.person_id < b.person_id
             where cjn._contradicts(a.place, b.place) or cjn._contradicts(a.father, b.father)
                   or cjn._contradicts(a.mother, b.mother)
                   or exists (select from registry.person_candidate c
                               where c.person_a = a.person_id and c.person_b = b.person_id and c.decision = 'different')
        loop
            if not pair.b = any (cjn._same_people(array[pair.a])) then
                ambiguous := true;
                exit;
            end if;
        end loop;
    end if;
    if ambiguous then
        found_ := array(
            select case when m.match = 'exact'
                        then row(m.person_id, 'near', 'homonym',
                                 'Homonyme : plusieurs personnes portent ces nom, prénoms et date de naissance ; '
                                 || 'préciser le lieu de naissance et la filiation.', m.score)::cjn._match
                        else m end
              from unnest(found_) m);
    elsif cardinality(exact_ids) > 0 then
        -- The people an operator linked to them are the same person (whatever their identity).
        more := array(
            select row(s.id, 'exact', 'decision', 'Même personne selon la décision d''un opérateur du CJN.', 1)::cjn._match
              from unnest(cjn._same_people(exact_ids)) s(id)
             where not s.id = any (exact_ids));
        found_ := array(select m from unnest(found_) m where not m.person_id = any (array(select x.person_id from unnest(more) x)))
                  || more;
    end if;

    -- Spelling variants born the same day: names alike by trigrams, or a few letters apart once
    -- in the same word order (computed only for the loosely alike, so the cost stays with the
    -- few). The loosely alike (similarity 0.3 or more: `%` under this function's
    -- pg_trgm.similarity_threshold, just below) come from person_birth_trgm, the index on (birth
    -- date, names' trigrams): not every person born that day (~2 300 on a 1 January at 5 000 000
    -- people) compared one by one. The name key is the words of name_norm, sorted.
    more := array(
        select row(p.person_id, 'near', 'spelling',
                   format('Nom ou prénoms voisins, même date de naissance (ressemblance %s).', round(p.sim::numeric, 2)),
                   p.sim)::cjn._match
          from (select x.person_id, x.name_norm, ext.similarity(x.name_norm, q_norm) as sim
                  from registry.person x
                 where x.birth_date = q_birth and x.name_norm % q_norm
                offset 0) p
         where p.sim >= 0.3
           and not p.person_id = any (array(select x.person_id from unnest(found_) x))
           and (p.sim >= (law ->> 'identity.near_similarity')::real
                -- levenshtein takes at most 255 characters (longer names: the likeness alone)
                or (length(registry.words_key(p.name_norm)) <= 255 and length(q_key) <= 255
                    and ext.levenshtein_less_equal(registry.words_key(p.name_norm), q_key,
                                                   cjn._law_int(law, 'identity.near_letters'))
                        <= cjn._law_int(law, 'identity.near_letters'))));
    found_ := found_ || more;

    -- The same names with a birth date one typing mistake away (the index on the name key).
    more := array(
        select row(p.person_id, 'near', 'birth_date',
                   format('Mêmes nom et prénoms, date de naissance voisine (%s).', cjn._fr(p.birth_date)), 0.9)::cjn._match
          from registry.person p
         where registry.name_key(p.surname, p.given_names) = q_key
           and p.birth_date = any (typos));
    found_ := found_ || array(select m from unnest(more) m
                               where not m.person_id = any (array(select x.person_id from unnest(found_) x)));

    return query
    select m.person_id, m.match, m.reason_code, m.reason, m.score,
           p.surname, p.given_names, p.birth_date, p.birth_place, p.father, p.mother
      from unnest(found_) m
      join registry.person p on p.person_id = m.person_id
     order by m.match, m.score desc, m.person_id
     limit (select count(*) from unnest(found_) x where x.match = 'exact') + cjn._law_int(law, 'identity.near_max');
end
$$;

-- The people a fiche's person is, for the rules: those who match its identity exactly (see
-- find_person), or, when that is ambiguous, the person and those an operator linked to it.
create function cjn._person_set(id bigint) returns bigint[]
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
    set jit = off
as $$
declare
    p registry.person;
    ids bigint[];
begin
    select * into p from registry.person x where x.person_id = id;
    if not found then
        return '{}';
    end if;
    ids := array(select m.person_id from cjn.find_person(jsonb_build_object(
                     'surname', p.surname, 'given_names', p.given_names, 'birth_date', p.birth_date,
                     'birth_place', p.birth_place, 'father', p.father, 'mother', p.mother)) m
                  where m.match = 'exact');
    if not id = any (ids) then
        ids := cjn._same_people(array[id]);
    end if;
    return ids;
end
$$;

-- Decisions and bulletins ------------------------------------------------------------------

-- The "explain" of a fiche for clerks: for bulletins 1, 2 and 3, whether its current version
-- appears on `as_of`, the rule (its key) and the reason in French, and the date the decision
-- changes (null: never, if nothing new happens — a new conviction, a death or an amnesty).
create function cjn.bulletin_decision(niu text, as_of date default current_date)
    returns table (bulletin integer, appears boolean, rule text, reason text, changes_on date, version integer)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
    set jit = off
as $$
declare
    owner_id bigint;
    x cjn.fiche_facts;
    d record;
    k integer;
begin
    if as_of is null then
        raise exception 'Date de la décision absente.' using errcode = 'XJ001';
    end if;
    select f.person_id into owner_id from registry.fiche f
     where f.niu = bulletin_decision.niu and f.state <> 'superseded';
    if not found then
        raise exception 'Aucune fiche de NIU « % » au CJN.', niu using errcode = 'XJ004';
    end if;
    select * into x from cjn._fiche_facts(cjn._person_set(owner_id), as_of) f where f.niu = bulletin_decision.niu;
    for k in 1 .. 3 loop
        select * into d from cjn._decide(x, k, as_of);
        bulletin := k;
        appears := d.appears;
        rule := d.rule;
        reason := d.reason;
        changes_on := d.changes_on;
        version := x.version;
        return next;
    end loop;
end
$$;

-- The entries of bulletin k of a set of people on `as_of` (the fiches' current versions).
create function cjn._bulletin(person_ids bigint[], k integer, as_of date)
    returns table (niu text, version integer, court_code text, court_name text, conviction_date date,
                   content jsonb, rule text, reason text, changes_on date)
    language sql stable
    set search_path = pg_catalog, pg_temp
begin atomic
    select x.niu, x.version, x.court_code, c.name, x.conviction_date, f.content, d.rule, d.reason, d.changes_on
      from cjn._fiche_facts(person_ids, as_of) x
     cross join lateral cjn._decide(x, k, as_of) d
      join registry.fiche f on f.niu = x.niu and f.version = x.version
      join registry.court c on c.code = x.court_code
     where d.appears
     order by x.conviction_date, x.niu;
end;

-- Bulletin n°k of a person (and of those who are the same person) on a date, for operators.
create function cjn.bulletin(person_id bigint, bulletin_no integer, as_of date default current_date)
    returns table (niu text, version integer, court_code text, court_name text, conviction_date date,
                   content jsonb, rule text, reason text, changes_on date)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
    set jit = off
as $$
begin
    if bulletin_no is null or bulletin_no not between 1 and 3 then
        raise exception 'Bulletin inconnu : % (1, 2 ou 3).', bulletin_no using errcode = 'XJ001';
    end if;
    if not exists (select from registry.person p where p.person_id = bulletin.person_id) then
        raise exception 'Personne inconnue au CJN : %.', person_id using errcode = 'XJ004';
    end if;
    return query select * from cjn._bulletin(cjn._person_set(bulletin.person_id), bulletin_no, coalesce(as_of, current_date));
end
$$;

-- Extracts ----------------------------------------------------------------------------------

-- An extract number: year of issue (4) + sequence (9) + ISO 7064 MOD 97-10 check (2).
create function cjn._extract_number(issued date, seq bigint) returns text
    language sql immutable
    set search_path = pg_catalog, pg_temp
return to_char(issued, 'YYYY') || lpad(seq::text, 9, '0')
    || lpad((98 - ((to_char(issued, 'YYYY') || lpad(seq::text, 9, '0'))::numeric * 100 % 97))::text, 2, '0');

-- Answers a court's request for bulletin n°k of a person: finds the person (exact matches
-- only; near matches listed apart, without their convictions; an ambiguous identity gets no
-- bulletin), computes the bulletin's entries, gives a unique extract number, logs the
-- consultation and returns the answer. The CJN trusts the court's authenticated request for
-- the bulletin (who may ask for which is the court's rule) and logs it. Idempotent on the
-- court's request id: the same request again gets the same answer.
create function cjn.extract(requester_court text, requested_by text, identity jsonb, bulletin integer, purpose text,
                            as_of date default current_date, request_id text default null) returns jsonb
    language plpgsql volatile security definer
    set search_path = pg_catalog, pg_temp
    set jit = off
as $$
declare
    court registry.court;
    previous registry.consultation;
    matches jsonb;
    exact_ids bigint[];
    near_ids bigint[];
    ambiguous boolean;
    entries jsonb := '[]';
    outcome text;
    number text;
    answer jsonb;
    message text;
begin
    if bulletin is null or bulletin not between 1 and 3 then
        raise exception 'Bulletin inconnu : % (1, 2 ou 3).', bulletin using errcode = 'XJ001', column = 'bulletin';
    end if;
    if coalesce(btrim(purpose), '') = '' then
        raise exception 'Le motif de la demande est obligatoire.' using errcode = 'XJ001', column = 'purpose';
    end if;
    if coalesce(btrim(requested_by), '') = '' then
        raise exception 'L''auteur de la demande est obligatoire.' using errcode = 'XJ001', column = 'requested_by';
    end if;
    -- The courts' limits (a consultation is kept for ever): names and places of 200 characters.
    if length(identity ->> 'surname') > 200 or length(identity ->> 'given_names') > 200
       or length(identity ->> 'birth_place') > 200 or length(identity ->> 'father') > 200
       or length(identity ->> 'mother') > 200 or length(purpose) > 500 or length(requested_by) > 200 then
        raise exception 'Demande refusée : un texte dépasse sa limite (noms, lieu, filiation : 200 caractères ; motif : 500).'
            using errcode = 'XJ001';
    end if;
    if as_of is null or as_of > current_date then
        raise exception 'Date de l''extrait invalide : % (au plus aujourd''hui).', as_of using errcode = 'XJ001', column = 'as_of';
    end if;
    select * into court from registry.court c where c.code = requester_court;
    if not found then
        raise exception 'Juridiction inconnue du CJN : %.', requester_court using errcode = 'XJ004';
    end if;
    if not court.active then
        raise exception 'Juridiction % désactivée : demande refusée.', requester_court using errcode = 'XJ002';
    end if;
    if request_id is not null then
        select * into previous from registry.consultation c
         where c.requester_court = extract.requester_court and c.request_id = extract.request_id;
        if found then
            if previous.bulletin <> extract.bulletin or previous.identity <> extract.identity then
                raise exception 'Demande % de la juridiction % déjà reçue avec un autre contenu.', request_id, requester_court
                    using errcode = 'XJ001';
            end if;
            return previous.answer;
        end if;
    end if;

    select coalesce(jsonb_agg(to_jsonb(m) order by m.match, m.score desc, m.person_id), '[]') into matches
      from cjn.find_person(identity) m;
    exact_ids := array(select (m ->> 'person_id')::bigint from jsonb_array_elements(matches) m where m ->> 'match' = 'exact');
    near_ids := array(select (m ->> 'person_id')::bigint from jsonb_array_elements(matches) m where m ->> 'match' = 'near');
    ambiguous := exists (select from jsonb_array_elements(matches) m where m ->> 'reason_code' = 'homonym');

    if not ambiguous and cardinality(exact_ids) > 0 then
        select coalesce(jsonb_agg(jsonb_build_object('niu', b.niu, 'version', b.version, 'court_code', b.court_code,
                                                     'court_name', b.court_name, 'conviction_date', b.conviction_date,
                                                     'fiche', b.content, 'rule', b.rule, 'reason', b.reason)
                                  order by b.conviction_date, b.niu), '[]')
          into entries
          from cjn._bulletin(exact_ids, bulletin, as_of) b;
    end if;
    outcome := case when ambiguous then 'identite_a_preciser'
                    when jsonb_array_length(entries) > 0 then 'inscriptions'
                    else 'neant' end;
    message := case outcome
        when 'identite_a_preciser' then
            'Identité à préciser : plusieurs personnes portent ces nom, prénoms et date de naissance. '
            || 'Indiquer le lieu de naissance et la filiation ; aucun bulletin n''est délivré.'
        when 'neant' then 'Néant.'
        else format('%s condamnation(s) inscrite(s) au bulletin n°%s.', jsonb_array_length(entries), bulletin)
    end;
    if outcome <> 'identite_a_preciser' and cardinality(near_ids) > 0 then
        message := message || ' Des personnes d''identité proche sont listées à part : elles ne figurent pas sur '
            || 'cet extrait ; un agent vérifie qu''aucune n''est la personne demandée.';
    end if;

    number := cjn._extract_number(current_date, nextval('registry.extract_seq'));
    answer := jsonb_build_object(
        'extract_number', number,
        'bulletin', bulletin,
        'as_of', as_of,
        'issued_at', now(),
        'requester', jsonb_build_object('court_code', court.code, 'court_name', court.name, 'requested_by', requested_by),
        'request_id', request_id,
        'purpose', purpose,
        'identity', identity,
        'outcome', outcome,
        'neant', outcome = 'neant',
        'message', message,
        'verification_required', ambiguous or cardinality(near_ids) > 0,
        'persons', (select coalesce(jsonb_agg(m - 'score' - 'match' order by m ->> 'person_id'), '[]')
                      from jsonb_array_elements(matches) m where m ->> 'match' = 'exact'),
        'entries', entries,
        'near_matches', (select coalesce(jsonb_agg(m - 'score' - 'match' order by (m ->> 'score')::real desc), '[]')
                           from jsonb_array_elements(matches) m where m ->> 'match' = 'near'));
    begin
        insert into registry.consultation (extract_number, requester_court, requested_by, request_id, bulletin, purpose,
                                           identity, as_of, outcome, person_ids, near_person_ids, entries, answer,
                                           answer_digest, called_by)
        values (number, requester_court, btrim(requested_by), request_id, bulletin, btrim(purpose), identity, as_of,
                outcome, exact_ids, near_ids,
                (select coalesce(jsonb_agg(jsonb_build_object('niu', e ->> 'niu', 'version', (e ->> 'version')::integer)), '[]')
                   from jsonb_array_elements(entries) e),
                answer, sha256(convert_to(answer::text, 'UTF8')), session_user);
    exception when unique_violation then
        -- The same request, answered meanwhile by another session (two daemons, a re-sent
        -- message): the first answer stands.
        select c.answer into answer from registry.consultation c
         where c.requester_court = extract.requester_court and c.request_id = extract.request_id;
        if not found then
            raise;
        end if;
    end;
    return answer;
end
$$;

-- A person's own consultation history (and of the people an operator linked to them): who
-- asked for which bulletin, why, when and what was answered; also where they were only listed
-- as a near match. For operators.
create function cjn.consultations_of(person_id bigint)
    returns table (asked_at timestamptz, extract_number text, requester_court text, court_name text,
                   requested_by text, bulletin smallint, purpose text, outcome text, listed_as text, entries jsonb)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
    set jit = off
as $$
declare
    ids bigint[];
begin
    if not exists (select from registry.person p where p.person_id = consultations_of.person_id) then
        raise exception 'Personne inconnue au CJN : %.', person_id using errcode = 'XJ004';
    end if;
    ids := cjn._same_people(array[person_id]);
    return query
    select c.asked_at, c.extract_number, c.requester_court, ct.name, c.requested_by, c.bulletin, c.purpose, c.outcome,
           case when c.person_ids && ids then 'personne demandée' else 'homonyme proche' end, c.entries
      from registry.consultation c
      join registry.court ct on ct.code = c.requester_court
     where c.person_ids && ids or c.near_person_ids && ids
     order by c.asked_at, c.consultation_id;
end
$$;

-- Operators' acts ---------------------------------------------------------------------------

-- Records a person's death (from a death certificate): every fiche is erased from that date.
create function cjn.record_death(person_id bigint, death_date date, reference text) returns bigint
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    p registry.person;
    id bigint;
begin
    select * into p from registry.person x where x.person_id = record_death.person_id;
    if not found then
        raise exception 'Personne inconnue au CJN : %.', person_id using errcode = 'XJ004';
    end if;
    if death_date is null or death_date > current_date or death_date < p.birth_date then
        raise exception 'Date de décès invalide : % (entre la naissance et aujourd''hui).', death_date
            using errcode = 'XJ001', column = 'death_date';
    end if;
    if coalesce(btrim(reference), '') = '' then
        raise exception 'La référence de l''acte de décès est obligatoire.' using errcode = 'XJ001', column = 'reference';
    end if;
    if exists (select from registry.person_death d where d.person_id = record_death.person_id and d.cancelled_at is null) then
        raise exception 'Un décès est déjà enregistré pour la personne % ; l''annuler d''abord.', person_id
            using errcode = 'XJ003';
    end if;
    insert into registry.person_death (person_id, death_date, reference, recorded_by)
    values (person_id, death_date, btrim(reference), session_user)
    returning person_death_id into id;
    return id;
end
$$;

-- Records the amnesty of a fiche by a law: the fiche is erased from that date.
create function cjn.record_amnesty(niu text, amnesty_date date, law_reference text) returns bigint
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    id bigint;
begin
    if not exists (select from registry.fiche f where f.niu = record_amnesty.niu) then
        raise exception 'Aucune fiche de NIU « % » au CJN.', niu using errcode = 'XJ004';
    end if;
    if amnesty_date is null then
        raise exception 'La date de l''amnistie est obligatoire.' using errcode = 'XJ001', column = 'amnesty_date';
    end if;
    if coalesce(btrim(law_reference), '') = '' then
        raise exception 'La référence de la loi d''amnistie est obligatoire.' using errcode = 'XJ001', column = 'law_reference';
    end if;
    if exists (select from registry.fiche_amnesty a where a.niu = record_amnesty.niu and a.cancelled_at is null) then
        raise exception 'Une amnistie est déjà enregistrée pour la fiche % ; l''annuler d''abord.', niu using errcode = 'XJ003';
    end if;
    insert into registry.fiche_amnesty (niu, amnesty_date, law_reference, recorded_by)
    values (niu, amnesty_date, btrim(law_reference), session_user)
    returning fiche_amnesty_id into id;
    return id;
end
$$;

-- Cancels a death or an amnesty recorded by mistake (kept, marked cancelled, with the motive).
create function cjn.cancel_record_event(kind text, event_id bigint, motive text) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if coalesce(btrim(motive), '') = '' then
        raise exception 'Le motif de l''annulation est obligatoire.' using errcode = 'XJ001', column = 'motive';
    end if;
    if kind = 'death' then
        update registry.person_death d set cancelled_at = now(), cancelled_by = session_user, cancel_motive = btrim(motive)
         where d.person_death_id = event_id and d.cancelled_at is null;
    elsif kind = 'amnesty' then
        update registry.fiche_amnesty a set cancelled_at = now(), cancelled_by = session_user, cancel_motive = btrim(motive)
         where a.fiche_amnesty_id = event_id and a.cancelled_at is null;
    else
        raise exception 'Type d''événement inconnu : « % » (death ou amnesty).', kind using errcode = 'XJ001', column = 'kind';
    end if;
    if not found then
        raise exception 'Aucun événement % n°% en vigueur.', kind, event_id using errcode = 'XJ004';
    end if;
end
$$;

-- Changes a setting of the law, naming its source (the article, the law, or the decision that
-- fixes it), logged with its motive: the CJN operator adapting the rules to the country's law.
create function cjn.set_law_setting(setting_key text, value text, motive text, source text) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    s registry.law_setting;
begin
    select * into s from registry.law_setting x where x.setting_key = set_law_setting.setting_key for update;
    if not found then
        raise exception 'Paramètre inconnu : « % ».', setting_key using errcode = 'XJ004', column = 'setting_key';
    end if;
    if coalesce(btrim(motive), '') = '' then
        raise exception 'Le motif du changement est obligatoire.' using errcode = 'XJ001', column = 'motive';
    end if;
    if coalesce(btrim(source), '') = '' then
        raise exception 'La source du paramètre (article de loi, texte ou décision) est obligatoire.'
            using errcode = 'XJ001', column = 'source';
    end if;
    begin
        update registry.law_setting x set value = btrim(set_law_setting.value), source = btrim(set_law_setting.source),
               updated_by = session_user, updated_at = now()
         where x.setting_key = set_law_setting.setting_key;
    exception when check_violation or not_null_violation then
        raise exception 'Valeur « % » invalide pour % (unité : %).', value, setting_key,
            case when s.unit = 'choice' then array_to_string(s.choices, ' ou ') else s.unit end
            using errcode = 'XJ001', column = 'value';
    end;
    insert into registry.law_setting_change (setting_key, old_value, new_value, motive, changed_by, new_source)
    values (setting_key, s.value, btrim(value), btrim(motive), session_user, btrim(source));
end
$$;

-- The same, the motive standing for the source (a law or decision named in the motive).
create function cjn.set_law_setting(setting_key text, value text, motive text) returns void
    language sql security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select cjn.set_law_setting(setting_key, value, motive, motive);
end;

-- The tiers as JSON text, for the log of changes.
create function cjn._tiers_text() returns text
    language sql stable
    set search_path = pg_catalog, pg_temp
return (select coalesce(jsonb_agg(jsonb_build_object('kind', t.kind, 'max_months', t.max_months, 'years', t.years)
                                  order by t.kind, t.max_months), '[]')::text
          from registry.rehab_tier t);

-- Replaces the tiers of rehabilitation by law (logged with its motive): `tiers` is a JSON array
-- of {"kind": fine | single_prison | several_prison, "max_months": N (none for fine),
-- "years": N (null: no delay, no rehabilitation by law), "source": the article}.
create function cjn.set_rehab_tiers(tiers jsonb, motive text) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    before text := cjn._tiers_text();
    t jsonb;
begin
    if coalesce(btrim(motive), '') = '' then
        raise exception 'Le motif du changement est obligatoire.' using errcode = 'XJ001', column = 'motive';
    end if;
    if jsonb_typeof(tiers) is distinct from 'array' or jsonb_array_length(tiers) = 0 then
        raise exception 'Paliers attendus sous forme de tableau JSON non vide.' using errcode = 'XJ001', column = 'tiers';
    end if;
    perform pg_catalog.pg_advisory_xact_lock(7036582015);
    delete from registry.rehab_tier;
    for t in select * from jsonb_array_elements(tiers) loop
        if jsonb_typeof(t) <> 'object' or exists (select from jsonb_object_keys(t) k
                                                   where k not in ('kind', 'max_months', 'years', 'source')) then
            raise exception 'Palier mal formé : % (kind, max_months, years, source).', t using errcode = 'XJ001', column = 'tiers';
        end if;
        if coalesce(btrim(t ->> 'source'), '') = '' then
            raise exception 'Chaque palier nomme sa source (article de loi) : %.', t using errcode = 'XJ001', column = 'source';
        end if;
        begin
            insert into registry.rehab_tier (kind, max_months, years, source)
            values (t ->> 'kind', (t ->> 'max_months')::integer, (t ->> 'years')::integer, btrim(t ->> 'source'));
        exception when check_violation or not_null_violation or unique_violation or invalid_text_representation
                       or numeric_value_out_of_range then
            raise exception 'Palier invalide : % (kind : fine, single_prison ou several_prison ; max_months de 1 à 1200, absent pour une amende ; years de 1 à 100 ou null ; un seul palier par borne).',
                t using errcode = 'XJ001', column = 'tiers';
        end;
    end loop;
    insert into registry.law_setting_change (setting_key, old_value, new_value, motive, changed_by, new_source)
    values ('b2.rehab_tiers', before, cjn._tiers_text(), btrim(motive), session_user,
            (select string_agg(distinct r.source, ' ; ') from registry.rehab_tier r));
end
$$;

-- Applies a named set of values and tiers (registry.law_preset): each setting that differs is
-- changed with its source and logged like any change, the tiers too. 'xmjuris_issue6' gives
-- the specification's figures (the defaults); 'cameroun_cp_2016' the Cameroonian Code pénal's
-- (art. 70 and 80). Returns how many settings changed (the tiers counting for one).
create function cjn.apply_law_preset(preset text, motive text) returns integer
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    v registry.law_preset_value;
    changed integer := 0;
    tiers jsonb;
begin
    if not exists (select from registry.law_preset p where p.preset_key = preset) then
        raise exception 'Jeu de paramètres inconnu : « % » (voir cjn.law_presets).', preset
            using errcode = 'XJ004', column = 'preset';
    end if;
    if coalesce(btrim(motive), '') = '' then
        raise exception 'Le motif du changement est obligatoire.' using errcode = 'XJ001', column = 'motive';
    end if;
    for v in select * from registry.law_preset_value x where x.preset_key = preset order by x.setting_key loop
        if exists (select from registry.law_setting s
                    where s.setting_key = v.setting_key and (s.value, s.source) is distinct from (v.value, v.source)) then
            perform cjn.set_law_setting(v.setting_key, v.value, format('%s (jeu « %s »)', btrim(motive), preset), v.source);
            changed := changed + 1;
        end if;
    end loop;
    select jsonb_agg(jsonb_build_object('kind', t.kind, 'max_months', t.max_months, 'years', t.years, 'source', t.source)
                     order by t.kind, t.max_months)
      into tiers from registry.law_preset_tier t where t.preset_key = preset;
    if tiers is not null and tiers is distinct from (
            select jsonb_agg(jsonb_build_object('kind', t.kind, 'max_months', t.max_months, 'years', t.years, 'source', t.source)
                             order by t.kind, t.max_months)
              from registry.rehab_tier t) then
        perform cjn.set_rehab_tiers(tiers, format('%s (jeu « %s »)', btrim(motive), preset));
        changed := changed + 1;
    end if;
    return changed;
end
$$;

-- The settings of the law, with their rules and sources, for operators and auditors.
create view cjn.law_settings as
select s.setting_key, s.value, s.unit, s.choices, s.rule, s.source, s.updated_by, s.updated_at
  from registry.law_setting s;

-- The tiers of rehabilitation by law in force, with their sources.
create view cjn.rehab_tiers as
select t.kind, t.max_months, t.years, t.source
  from registry.rehab_tier t;

-- The named sets of values (cjn.apply_law_preset), with what each sets.
create view cjn.law_presets as
select p.preset_key, p.label, p.description, 'setting' as item, v.setting_key as key, v.value, v.source
  from registry.law_preset p join registry.law_preset_value v using (preset_key)
union all
select p.preset_key, p.label, p.description, 'tier', t.kind || coalesce(' ≤ ' || t.max_months || ' mois', ''),
       coalesce(t.years::text || ' ans', 'aucun délai'), t.source
  from registry.law_preset p join registry.law_preset_tier t using (preset_key);

-- The history of changes of the law's settings and tiers.
create view cjn.law_setting_changes as
select c.setting_key, c.old_value, c.new_value, c.new_source, c.motive, c.changed_by, c.changed_at
  from registry.law_setting_change c;
