-- Dated events after signature (issue 15): what happened to a sentence after the judgment and
-- changes a bulletin — the fine paid, the sentence served (release, early or not), the suspension
-- revoked, the ban lifted (relèvement), a pardon (grâce: some months or the whole sentence
-- remitted) — and the cancellation of an event recorded by mistake. The greffier records and
-- signs each one (court.sentence_event, never changed); it travels to the CJN like a
-- rectification (outbox kind `sentence_event`), where the rules use its date instead of an
-- assumption (docs/law.md).

-- French name of an event kind.
create function juris._event_label(kind text) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return case kind
    when 'fine_paid' then 'amende payée'
    when 'sentence_served' then 'peine exécutée (libération)'
    when 'suspension_revoked' then 'sursis révoqué'
    when 'ban_lifted' then 'interdiction levée (relèvement)'
    when 'pardon' then 'grâce (remise de peine)'
    when 'cancellation' then 'annulation d''un événement enregistré par erreur'
end;

-- The events of a fiche still in force (not cancelled by a later event).
create function juris._active_events(id bigint) returns setof court.sentence_event
    language sql stable
    set search_path = pg_catalog, pg_temp
begin atomic
    select e.* from court.sentence_event e
     where e.fiche_id = _active_events.id and e.event_kind <> 'cancellation'
       and not exists (select from court.sentence_event c where c.cancels = e.event_id);
end;

-- Refuses a second event of the same kind in force, naming the first one.
create function juris._refuse_second_event(id bigint, kind text) returns void
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    earlier court.sentence_event;
begin
    select * into earlier from juris._active_events(id) e where e.event_kind = kind order by e.event_date limit 1;
    if found then
        raise exception 'Événement « % » déjà enregistré pour cette fiche (le %) : annulez-le d''abord s''il est erroné.',
            juris._event_label(kind), to_char(earlier.event_date, 'DD/MM/YYYY')
            using errcode = 'XJ003', column = 'kind';
    end if;
end
$$;

-- Records a dated event of a signed fiche and its message to the CJN, in one transaction; the
-- greffier only. `event`: {"kind": fine_paid | sentence_served | suspension_revoked | ban_lifted |
-- pardon | cancellation, "date": "YYYY-MM-DD" (the day it happened: payment, release, decision,
-- decree; for a cancellation, today if absent), "reference": the document (receipt, release
-- order, decision, decree: required), "note": optional, "remitted_months" or "total": true (a
-- pardon), "cancels": the event_id cancelled}. Returns the event's id.
create function juris.record_sentence_event(id bigint, event jsonb) returns uuid
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
    c court.court;
    e court.sentence_event;
    kind text;
    unsuspended integer;
    revoked boolean;
    remitted integer;
    cancelled court.sentence_event;
    msg_seq bigint;
    msg_id uuid := gen_random_uuid();
begin
    me := juris._require(3, 'Enregistrer un événement');
    select * into c from court.court;
    if not found then
        raise exception 'La juridiction n''est pas initialisée (xmjuris court init).' using errcode = 'XJ007';
    end if;
    if event is null or jsonb_typeof(event) <> 'object' then
        raise exception 'Événement attendu sous forme d''objet JSON.' using errcode = 'XJ001';
    end if;
    perform juris._check_keys(event, array['kind', 'date', 'reference', 'note', 'remitted_months', 'total', 'cancels'],
                              'l''événement');
    f := juris._lock_fiche(id);
    perform juris._check_action('record_event', f, me);

    kind := juris._text(event, 'kind');
    if kind is null or juris._event_label(kind) is null then
        raise exception 'Type d''événement inconnu : « % » (amende payée : fine_paid, libération : sentence_served, sursis révoqué : suspension_revoked, interdiction levée : ban_lifted, grâce : pardon, annulation : cancellation).',
            coalesce(kind, '') using errcode = 'XJ001', column = 'kind';
    end if;
    e.event_id := gen_random_uuid();
    e.fiche_id := f.fiche_id;
    e.niu := f.niu;
    e.fiche_version := f.version;
    e.event_kind := kind;
    e.event_date := juris._date(event, 'date');
    if e.event_date is null and kind = 'cancellation' then
        e.event_date := current_date;
    end if;
    if e.event_date is null then
        raise exception 'La date de l''événement est obligatoire.' using errcode = 'XJ001', column = 'date';
    end if;
    if e.event_date > current_date then
        raise exception 'La date de l''événement (%) est dans le futur.', to_char(e.event_date, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'date';
    end if;
    if e.event_date < f.conviction_date then
        raise exception 'L''événement (%) ne peut pas précéder la condamnation (%).',
            to_char(e.event_date, 'DD/MM/YYYY'), to_char(f.conviction_date, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'date';
    end if;
    e.reference := juris._text(event, 'reference');
    if e.reference is null then
        raise exception 'La référence de la pièce (quittance, billet de sortie, décision, décret) est obligatoire.'
            using errcode = 'XJ001', column = 'reference';
    end if;
    if length(e.reference) > 200 then
        raise exception 'Texte trop long pour « référence » : % caractères, au plus 200.', length(e.reference)
            using errcode = 'XJ001', column = 'reference';
    end if;
    e.note := juris._text(event, 'note');
    if length(e.note) > 2000 then
        raise exception 'Texte trop long pour « observation » : % caractères, au plus 2000.', length(e.note)
            using errcode = 'XJ001', column = 'note';
    end if;
    e.remitted_months := juris._integer(event, 'remitted_months');
    e.total := juris._boolean(event, 'total');
    if kind <> 'pardon' and (e.remitted_months is not null or e.total) then
        raise exception 'Une remise de peine (mois remis ou remise totale) ne s''indique que pour une grâce.'
            using errcode = 'XJ001', column = 'remitted_months';
    end if;
    if kind <> 'cancellation' and juris._text(event, 'cancels') is not null then
        raise exception 'Seule une annulation désigne un autre événement.' using errcode = 'XJ001', column = 'cancels';
    end if;

    unsuspended := greatest(coalesce(f.sentence_months, 0) - coalesce(f.suspended_months, 0), 0);
    -- The suspension is revoked by an event, or by a later conviction of this court naming it.
    revoked := exists (select from juris._active_events(f.fiche_id) x where x.event_kind = 'suspension_revoked')
               or exists (select from court.fiche v
                           where v.revoked_suspension_niu = f.niu and v.status in ('signee', 'archivee'));
    if kind = 'fine_paid' then
        if coalesce(f.fine_amount, 0) = 0 or f.sentence_type not in ('amende', 'emprisonnement_amende') then
            raise exception 'La condamnation ne comporte pas d''amende : pas de paiement à enregistrer.'
                using errcode = 'XJ001', column = 'kind';
        end if;
        perform juris._refuse_second_event(f.fiche_id, kind);
    elsif kind = 'sentence_served' then
        if f.sentence_type not in ('emprisonnement', 'emprisonnement_amende') or coalesce(f.sentence_months, 0) = 0 then
            raise exception 'La condamnation ne comporte pas de peine d''emprisonnement à temps : pas de libération à enregistrer.'
                using errcode = 'XJ001', column = 'kind';
        end if;
        if unsuspended = 0 and not revoked then
            raise exception 'La peine est entièrement assortie du sursis : rien à exécuter tant que le sursis n''est pas révoqué (enregistrez d''abord la révocation).'
                using errcode = 'XJ003', column = 'kind';
        end if;
        perform juris._refuse_second_event(f.fiche_id, kind);
    elsif kind = 'suspension_revoked' then
        if coalesce(f.suspended_months, 0) = 0 then
            raise exception 'La condamnation ne comporte pas de sursis : rien à révoquer.'
                using errcode = 'XJ001', column = 'kind';
        end if;
        perform juris._refuse_second_event(f.fiche_id, kind);
    elsif kind = 'ban_lifted' then
        if f.ban is null then
            raise exception 'La condamnation ne comporte pas d''interdiction : rien à lever.'
                using errcode = 'XJ001', column = 'kind';
        end if;
        if f.ban_suspended then
            raise exception 'L''interdiction est assortie du sursis : elle ne court pas, rien à lever.'
                using errcode = 'XJ003', column = 'kind';
        end if;
        if e.event_date < f.ban_start then
            raise exception 'L''interdiction ne commence que le % : elle ne peut pas être levée avant.',
                to_char(f.ban_start, 'DD/MM/YYYY') using errcode = 'XJ001', column = 'date';
        end if;
        if e.event_date >= f.ban_end then
            raise exception 'L''interdiction a pris fin le % : rien à lever après.',
                to_char(f.ban_end, 'DD/MM/YYYY') using errcode = 'XJ003', column = 'date';
        end if;
        perform juris._refuse_second_event(f.fiche_id, kind);
    elsif kind = 'pardon' then
        if (e.remitted_months is not null) = e.total then
            raise exception 'Une grâce remet soit un nombre de mois d''emprisonnement, soit toute la peine (remise totale) : indiquez l''un des deux.'
                using errcode = 'XJ001', column = 'remitted_months';
        end if;
        if exists (select from juris._active_events(f.fiche_id) x where x.event_kind = 'pardon' and x.total) then
            raise exception 'Une remise totale de la peine est déjà enregistrée : annulez-la d''abord si elle est erronée.'
                using errcode = 'XJ003', column = 'kind';
        end if;
        if f.sentence_type in ('mort', 'perpetuite') and not e.total then
            raise exception 'Une peine de mort ou de réclusion à perpétuité n''a pas de mois à remettre : enregistrez une remise totale, ou rectifiez la fiche si la grâce commue la peine.'
                using errcode = 'XJ001', column = 'remitted_months';
        end if;
        if e.remitted_months is not null then
            select coalesce(sum(x.remitted_months), 0) into remitted
              from juris._active_events(f.fiche_id) x where x.event_kind = 'pardon';
            if f.sentence_type not in ('emprisonnement', 'emprisonnement_amende')
               or remitted + e.remitted_months > (case when revoked then f.sentence_months else unsuspended end) then
                raise exception 'La remise (% mois, % déjà remis) dépasse l''emprisonnement à exécuter (% mois).',
                    e.remitted_months, remitted,
                    case when f.sentence_type in ('emprisonnement', 'emprisonnement_amende')
                         then case when revoked then f.sentence_months else unsuspended end else 0 end
                    using errcode = 'XJ001', column = 'remitted_months';
            end if;
        end if;
    elsif kind = 'cancellation' then
        begin
            e.cancels := juris._text(event, 'cancels')::uuid;
        exception when invalid_text_representation then
            raise exception 'Identifiant d''événement invalide : « % ».', juris._text(event, 'cancels')
                using errcode = 'XJ001', column = 'cancels';
        end;
        if e.cancels is null then
            raise exception 'Une annulation désigne l''événement annulé (cancels).' using errcode = 'XJ001', column = 'cancels';
        end if;
        select * into cancelled from court.sentence_event x where x.event_id = e.cancels and x.fiche_id = f.fiche_id;
        if not found then
            raise exception 'Aucun événement % sur cette fiche.', e.cancels using errcode = 'XJ004', column = 'cancels';
        end if;
        if cancelled.event_kind = 'cancellation' then
            raise exception 'Une annulation ne s''annule pas : enregistrez de nouveau l''événement.'
                using errcode = 'XJ003', column = 'cancels';
        end if;
        if exists (select from court.sentence_event x where x.cancels = e.cancels) then
            raise exception 'Cet événement est déjà annulé.' using errcode = 'XJ003', column = 'cancels';
        end if;
    end if;

    e.recorded_by := me.login;
    e.recorded_at := now();
    insert into court.sentence_event (event_id, fiche_id, niu, fiche_version, event_kind, event_date, remitted_months,
                                      total, cancels, reference, note, recorded_by, recorded_at)
    values (e.event_id, e.fiche_id, e.niu, e.fiche_version, e.event_kind, e.event_date, e.remitted_months, e.total,
            e.cancels, e.reference, e.note, e.recorded_by, e.recorded_at)
    returning * into e;
    perform juris._audit_append('event', 'fiche', f.fiche_id::text, to_jsonb(e));

    msg_seq := juris._next('message', 0);
    insert into court.outbox (message_id, seq, kind, fiche_id, niu, version, payload)
    values (msg_id, msg_seq, 'sentence_event', f.fiche_id, f.niu, f.version, jsonb_build_object(
        'message_id', msg_id,
        'kind', 'sentence_event',
        'court_code', c.code,
        'seq', msg_seq,
        'created_at', juris._iso(clock_timestamp()),
        'event_id', e.event_id,
        'niu', f.niu,
        'version', f.version,
        'event_kind', e.event_kind,
        'event_date', e.event_date,
        'remitted_months', e.remitted_months,
        'total', e.total,
        'cancels', e.cancels,
        'reference', e.reference,
        'note', e.note,
        'recorded_by', me.login,
        'recorded_by_name', me.full_name,
        'recorded_at', juris._iso(e.recorded_at),
        'audit_head', juris._audit_head()));
    notify xmjuris_outbox;
    return e.event_id;
end
$$;

-- The events of a fiche for the staff: kind (code and French), date, remission, reference,
-- note, who recorded it and when, whether a later event cancelled it, and the state of its
-- transmission to the CJN.
create function juris.sentence_events(id bigint)
    returns table (event_id uuid, kind text, kind_label text, event_date date, remitted_months integer, total boolean,
                   cancels uuid, reference text, note text, recorded_by text, recorded_at timestamptz,
                   cancelled_by uuid, transmission text)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(1, 'Consulter les événements d''une fiche');
    if not exists (select from court.fiche f where f.fiche_id = id) then
        raise exception 'Fiche introuvable : %.', id using errcode = 'XJ004';
    end if;
    return query
    select e.event_id, e.event_kind, juris._event_label(e.event_kind), e.event_date, e.remitted_months, e.total,
           e.cancels, e.reference, e.note, e.recorded_by, e.recorded_at,
           (select x.event_id from court.sentence_event x where x.cancels = e.event_id),
           (select case when o.state = 'acknowledged' then 'archivé au CJN'
                        when o.state = 'rejected' then 'refusé par le CJN : ' || o.rejection_reason
                        when o.defect is not null then 'bloqué : ' || o.defect
                        when o.sent_at is null then 'en attente'
                        else 'envoyé, en attente de l''accusé de réception' end
              from court.outbox o
             where o.kind = 'sentence_event' and o.payload ->> 'event_id' = e.event_id::text)
      from court.sentence_event e
     where e.fiche_id = id
     order by e.event_date, e.sentence_event_id;
end
$$;

-- The events are never changed nor deleted; each one has its message to the CJN (checked at
-- commit, like the signed fiches: fiche_transition_transmitted).
create function juris._sentence_event_immutable() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
begin
    raise exception 'Un événement enregistré ne change plus : annulez-le par un nouvel événement.'
        using errcode = 'XJ006';
end
$$;

create function juris._sentence_event_transmitted() returns trigger
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if not exists (select from court.outbox o
                    where o.kind = 'sentence_event' and o.payload ->> 'event_id' = new.event_id::text) then
        raise exception 'L''événement % est enregistré sans message au CJN : refusé.', new.event_id
            using errcode = 'XJ006';
    end if;
    return null;
end
$$;

create trigger sentence_event_immutable before update or delete on court.sentence_event
    for each row execute function juris._sentence_event_immutable();
create trigger sentence_event_no_truncate before truncate on court.sentence_event
    for each statement execute function juris._sentence_event_immutable();
create constraint trigger sentence_event_transmitted after insert on court.sentence_event
    deferrable initially deferred
    for each row execute function juris._sentence_event_transmitted();
