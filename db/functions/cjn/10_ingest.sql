-- The CJN's API: registering courts, ingesting messages (idempotent, in order), people.
-- Error codes as at the courts (SQLSTATE class XJ).

-- pg_trgm's settings exist once its library is loaded in the session; until then a non-superuser
-- (cjn_owner, who creates these functions) may not name one in a function's SET clause
-- (cjn.ingest_envelope, cjn.find_person). A migration that builds a trigram index loads it; a
-- rebuild of the functions alone, in a new session, must load it first.
select ext.similarity('', '');

-- Search key of a name: unaccented, lower-case, punctuation as spaces, single spaces.
-- Inlined where it is called (a standard SQL body, resolved when created, so no SET clause;
-- stable, as ext.unaccent is: an immutable function calling it would not be inlined). Once
-- every run of characters other than [a-z0-9] is one space, spaces are single: the former
-- second pass (`\s+` → ' ') changed nothing.
create function cjn._norm(t text) returns text
    language sql stable parallel safe
return pg_catalog.btrim(pg_catalog.regexp_replace(
    pg_catalog.lower(ext.unaccent('ext.unaccent'::regdictionary, coalesce(t, ''))), '[^a-z0-9]+', ' ', 'g'));

-- Registers a court (or updates its identity): the CJN operator, before its enrollment.
create function cjn.register_court(code text, name text, region text, departement text, arrondissement text)
    returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if code is null or code !~ '^[0-9]{5}$' then
        raise exception 'Code de juridiction invalide : « % » (5 chiffres).', code using errcode = 'XJ001';
    end if;
    insert into registry.court as c (code, name, region, departement, arrondissement)
    values (code, btrim(name), btrim(region), btrim(departement), btrim(arrondissement))
    on conflict on constraint court_pkey do update
        set name = excluded.name, region = excluded.region, departement = excluded.departement,
            arrondissement = excluded.arrondissement, updated_at = now();
end
$$;

-- The person a justiciable is: the same normalised identity (names, birth date and place,
-- parents) is the same person; a near match (same birth date, similar names) is a new person
-- with a candidate link proposed to an operator — never merged silently.
-- Called by cjn._apply under cjn.ingest's search_path (no SET clause of its own: each one costs
-- a configuration change and its undoing per call); names outside pg_catalog are qualified.
create function cjn._person_for(j jsonb) returns bigint
    language plpgsql
as $$
declare
    key text;
    found_id bigint;
    names text := cjn._norm(concat_ws(' ', j ->> 'surname', j ->> 'given_names'));
    born date := (j ->> 'birth_date')::date;
begin
    key := concat_ws('|', cjn._norm(j ->> 'surname'), cjn._norm(j ->> 'given_names'), born::text,
                     cjn._norm(j ->> 'birth_place'), cjn._norm(j ->> 'father'), cjn._norm(j ->> 'mother'));
    select p.person_id into found_id from registry.person p where p.identity_key = key;
    if found then
        return found_id;
    end if;
    insert into registry.person (surname, given_names, birth_date, birth_place, sex, father, mother, identity_key, name_norm)
    values (j ->> 'surname', j ->> 'given_names', born, j ->> 'birth_place', j ->> 'sex', j ->> 'father',
            j ->> 'mother', key, names)
    on conflict on constraint person_identity_key_unique do nothing
    returning person_id into found_id;
    if found_id is null then
        select p.person_id into found_id from registry.person p where p.identity_key = key;
        return found_id;
    end if;
    -- Near matches: names alike by trigrams (`%`, pg_trgm.similarity_threshold as
    -- cjn.ingest_envelope sets it, just under 0.4), born the same day: read from
    -- person_birth_trgm, not by comparing every person born that day.
    insert into registry.person_candidate (person_a, person_b, score)
    select least(p.person_id, found_id), greatest(p.person_id, found_id), ext.similarity(p.name_norm, names)
      from registry.person p
     where p.birth_date = born and p.name_norm operator(ext.%) names and p.person_id <> found_id
       and ext.similarity(p.name_norm, names) >= 0.4
    on conflict do nothing;
    return found_id;
end
$$;

-- Applies a dated event of a sentence (fine paid, sentence served, suspension revoked, ban
-- lifted, pardon, cancellation of an earlier event), signed by the court that pronounced it.
-- Never raises: a message applied in order must not block the court's later ones (they wait
-- behind it), so an event the registry cannot take (a fiche of another court or unknown, a date
-- before the conviction or after the event was recorded, a remission outside a pardon or a
-- pardon without one, a cancellation of an unknown or cancelled event) raises an alarm for the
-- operator instead (the court's database refuses them all at entry: only a tampered court sends them),
-- and the message stays stored with its signed bytes.
create function cjn._apply_sentence_event(message_id uuid, court_code text, payload jsonb) returns void
    language plpgsql
as $$
declare
    problem text;
begin
    if not exists (select from registry.fiche x
                    where x.niu = payload ->> 'niu' and x.court_code = _apply_sentence_event.court_code) then
        problem := format('Événement %s pour une fiche (NIU %s) que le CJN ne tient pas de la juridiction %s : non appliqué.',
                          payload ->> 'event_id', payload ->> 'niu', court_code);
    elsif (payload ->> 'event_date')::date < (select min(x.conviction_date) from registry.fiche x
                                               where x.niu = payload ->> 'niu')
          or (payload ->> 'event_date')::date > (payload ->> 'recorded_at')::timestamptz::date + 1 then
        problem := format('Événement %s daté du %s, avant la condamnation ou après son enregistrement : non appliqué.',
                          payload ->> 'event_id', payload ->> 'event_date');
    elsif (payload ->> 'event_kind' = 'pardon') = ((payload ->> 'remitted_months') is null
                                                    and not coalesce((payload ->> 'total')::boolean, false))
          or (payload ->> 'event_kind' <> 'pardon'
              and ((payload ->> 'remitted_months') is not null or coalesce((payload ->> 'total')::boolean, false))) then
        problem := format('Événement %s : une remise de peine n''appartient qu''à une grâce, et une grâce en a une : non appliqué.',
                          payload ->> 'event_id');
    elsif payload ->> 'event_kind' = 'cancellation' and not exists (
            select from registry.sentence_event x
             where x.event_id = (payload ->> 'cancels')::uuid and x.niu = payload ->> 'niu' and x.cancelled_by is null
               and x.event_kind <> 'cancellation') then
        problem := format('Annulation %s d''un événement (%s) inconnu, déjà annulé ou d''une autre fiche : non appliquée.',
                          payload ->> 'event_id', payload ->> 'cancels');
    end if;
    if problem is null then
        begin
            insert into registry.sentence_event (event_id, niu, version, court_code, event_kind, event_date,
                                                 remitted_months, total, cancels, reference, note, recorded_by,
                                                 recorded_at, message_id)
            values ((payload ->> 'event_id')::uuid, payload ->> 'niu', (payload ->> 'version')::integer,
                    _apply_sentence_event.court_code, payload ->> 'event_kind', (payload ->> 'event_date')::date,
                    (payload ->> 'remitted_months')::integer, coalesce((payload ->> 'total')::boolean, false),
                    (payload ->> 'cancels')::uuid, payload ->> 'reference', payload ->> 'note',
                    payload ->> 'recorded_by', (payload ->> 'recorded_at')::timestamptz,
                    _apply_sentence_event.message_id);
            if payload ->> 'event_kind' = 'cancellation' then
                update registry.sentence_event x
                   set cancelled_by = (payload ->> 'event_id')::uuid, cancelled_on = (payload ->> 'event_date')::date
                 where x.event_id = (payload ->> 'cancels')::uuid;
            end if;
            return;
        exception when others then
            problem := format('Événement %s refusé par le registre (%s) : non appliqué.', payload ->> 'event_id', sqlerrm);
        end;
    end if;
    insert into registry.alarm (kind, court_code, message_id, detail)
    values ('invalid_event', court_code, message_id, problem);
end
$$;

-- Applies one stored message to the registry (in sequence order; see ingest, which marks the
-- message applied). Takes the message's fields, not its row: a row would carry the signed bytes,
-- read back from TOAST and decompressed for nothing. Under cjn.ingest's search_path.
create function cjn._apply(message_id uuid, court_code text, kind text, created_at timestamptz, payload jsonb)
    returns void
    language plpgsql
as $$
declare
    f jsonb := payload -> 'fiche';
    c jsonb := payload -> 'fiche' -> 'condamnation';
    fiche_niu text := payload ->> 'niu';
    ver integer := (payload ->> 'version')::integer;
begin
    if kind in ('fiche_signed', 'fiche_rectified') then
        -- versions start at 1: a version 1 supersedes nothing
        if ver > 1 then
            update registry.fiche x set state = 'superseded' where x.niu = fiche_niu and x.version < ver and x.state = 'active';
        end if;
        insert into registry.fiche (niu, version, court_code, person_id, content, sex, birth_date, conviction_date,
            offence_date, offence_category, offence_class, sentence_type, sentence_months, suspended_months,
            fine_amount, minor, message_id, signed_at)
        values (fiche_niu, ver, _apply.court_code, cjn._person_for(f -> 'justiciable'), f, f -> 'justiciable' ->> 'sex',
            (f -> 'justiciable' ->> 'birth_date')::date, (c ->> 'conviction_date')::date, (c ->> 'offence_date')::date,
            c ->> 'offence_category', c ->> 'offence_class', c ->> 'sentence_type',
            (c ->> 'sentence_months')::integer, (c ->> 'suspended_months')::integer, (c ->> 'fine_amount')::numeric,
            coalesce((c ->> 'minor')::boolean, false), _apply.message_id, (f ->> 'signed_at')::timestamptz)
        on conflict on constraint fiche_pkey do nothing;
        insert into registry.fiche_event (niu, version, kind, motive, message_id)
        values (fiche_niu, ver, case _apply.kind when 'fiche_signed' then 'signed' else 'rectified' end,
                payload ->> 'motive', _apply.message_id);
    elsif kind = 'sentence_event' then
        perform cjn._apply_sentence_event(message_id, court_code, payload);
    else
        update registry.fiche x set state = 'withdrawn', withdrawn_at = _apply.created_at,
               withdrawal_motive = payload ->> 'motive'
         where x.niu = fiche_niu and x.state = 'active';
        insert into registry.fiche_event (niu, version, kind, motive, message_id)
        values (fiche_niu, ver, 'withdrawn', payload ->> 'motive', _apply.message_id);
    end if;
end
$$;

-- Refuses a fiche event whose texts exceed the courts' limits (court migration V6, the
-- constraints `fiche_<field>_length`; the same figures here, the CJN being another trust domain).
-- One expression over the payload (no query per field: this runs for every fiche ingested);
-- only a payload over a limit is looked at field by field, for the message.
create function cjn._check_text_limits(payload jsonb) returns void
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    lim record;
    value text;
    f jsonb := payload -> 'fiche';
    j jsonb := payload -> 'fiche' -> 'justiciable';
    c jsonb := payload -> 'fiche' -> 'condamnation';
begin
    if coalesce(length(f ->> 'reference') > 64 or length(j ->> 'surname') > 200 or length(j ->> 'given_names') > 200
                or length(j ->> 'birth_place') > 200 or length(j ->> 'father') > 200 or length(j ->> 'mother') > 200
                or length(j ->> 'profession') > 200 or length(j ->> 'domicile') > 500
                or length(j ->> 'nationality') > 100 or length(c ->> 'offence_nature') > 2000
                or length(c ->> 'warrants') > 2000 or length(c ->> 'road_traffic') > 1000 or length(c ->> 'ban') > 2000
                or length(f ->> 'signed_by_name') > 200 or length(payload ->> 'motive') > 2000, false) is false then
        return;
    end if;
    for lim in
        select * from (values
            ('{fiche,reference}', 64), ('{fiche,justiciable,surname}', 200), ('{fiche,justiciable,given_names}', 200),
            ('{fiche,justiciable,birth_place}', 200), ('{fiche,justiciable,father}', 200),
            ('{fiche,justiciable,mother}', 200), ('{fiche,justiciable,profession}', 200),
            ('{fiche,justiciable,domicile}', 500), ('{fiche,justiciable,nationality}', 100),
            ('{fiche,condamnation,offence_nature}', 2000), ('{fiche,condamnation,warrants}', 2000),
            ('{fiche,condamnation,road_traffic}', 1000), ('{fiche,condamnation,ban}', 2000),
            ('{fiche,signed_by_name}', 200), ('{motive}', 2000)) l(path, max_length)
    loop
        value := payload #>> lim.path::text[];
        if length(value) > lim.max_length then
            raise exception 'Texte trop long (% caractères, au plus %) : %.', length(value), lim.max_length, lim.path
                using errcode = 'XJ001';
        end if;
    end loop;
end
$$;

-- The receipt of a stored message, as cjn.ingest returned it when it stored it: made again
-- from the message's row for a duplicate (CJN migration V8: receipts are not stored).
create function cjn._receipt(message_id uuid, seq bigint, niu text, version integer, stored_at timestamptz,
                             signed_hash bytea) returns jsonb
    language sql stable
return pg_catalog.jsonb_build_object('message_id', message_id, 'seq', seq, 'niu', niu, 'version', version,
                                     'stored_at', stored_at, 'signed_hash', pg_catalog.encode(signed_hash, 'hex'));

-- Stores the messages of one envelope that cjn-ingest opened and verified (its court's
-- signature checked), in one call: `messages` is a JSON array of objects {message_id, seq, kind,
-- created_at, payload}, in the envelope's order; the answer is a JSON array with, for each
-- message in the same order, its receipt or {"conflict": true, "reason": ..., ...}.
-- - The envelope's signed bytes are stored once (registry.envelope, by their SHA-256), and
--   every message points to them.
-- - Idempotent on the message id: a duplicate (same court, sequence number and payload) gets
--   its receipt again; the same id with other content raises an alarm (conflicting_duplicate)
--   and leaves the original untouched; another message with a sequence number already held
--   raises one too (reused_sequence) and names the message that holds it.
-- - Messages are applied in each court's sequence order: the next one in order is applied at
--   once (stored already applied, without its payload), the others wait with their payload,
--   every missing number below the highest received is a gap (registry.sequence_gap) until it
--   arrives, and a message that fills one applies those that waited for it.
-- - The court's row is locked for the call (one court's messages are stored one envelope at a
--   time) and updated once.
-- Raises, and the caller's transaction is lost, when a text exceeds the courts' limits
-- (cjn._check_text_limits) or the court is unknown (XJ004); cjn-ingest then stores the envelope
-- again with cjn.ingest, a message at a time under savepoints, so that only that message is
-- refused. Costs per statement: bench/cjn-ingest.sql, bench/RESULTS.md § Ingest database CPU.
create function cjn.ingest_envelope(court_code text, signed bytea, messages jsonb) returns jsonb
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
    set pg_trgm.similarity_threshold = 0.39
as $$
declare
    hash bytea := sha256(signed);
    court_last bigint;     -- the court's highest sequence number received so far
    court_applied bigint;  -- and the highest applied in order
    court_audit_seq bigint;
    court_audit_hash text;
    stored boolean := false;
    results jsonb[] := '{}';
    m record;
    existing record;
    next_message record;
    payload_hash bytea;
    niu text;
    ver integer;
    in_order boolean;
begin
    select c.last_seq, c.applied_seq, c.audit_seq, c.audit_hash
      into court_last, court_applied, court_audit_seq, court_audit_hash
      from registry.court c where c.code = court_code for update;
    if not found then
        raise exception 'Juridiction inconnue du CJN : %.', court_code using errcode = 'XJ004';
    end if;
    insert into registry.envelope (signed_hash, signed) values (hash, signed) on conflict do nothing;
    for m in
        select (x ->> 'message_id')::uuid as message_id, (x ->> 'seq')::bigint as seq, x ->> 'kind' as kind,
               (x ->> 'created_at')::timestamptz as created_at, x -> 'payload' as payload
          from jsonb_array_elements(messages) with ordinality e(x, n)
         order by e.n
    loop
        payload_hash := sha256(convert_to(m.payload::text, 'UTF8'));
        niu := m.payload ->> 'niu';
        ver := (m.payload ->> 'version')::integer;
        select x.payload_hash, x.court_code, x.seq, x.niu, x.version, x.received_at, x.signed_hash into existing
          from registry.message x where x.message_id = m.message_id;
        if found then
            if existing.payload_hash = payload_hash and existing.court_code = ingest_envelope.court_code
               and existing.seq = m.seq then
                results := results || cjn._receipt(m.message_id, existing.seq, existing.niu, existing.version,
                                                   existing.received_at, existing.signed_hash);
            else
                insert into registry.alarm (kind, court_code, message_id, detail)
                values ('conflicting_duplicate', court_code, m.message_id,
                        format('Message %s reçu à nouveau avec un contenu différent ; l''original est conservé.',
                               m.message_id));
                results := results || jsonb_build_object('conflict', true, 'reason', 'conflicting_duplicate',
                                                         'message_id', m.message_id);
            end if;
            continue;
        end if;
        -- The courts' limits on every text (a court's own database enforces them; a court that
        -- does not is refused here rather than filling the registry, which keeps everything for
        -- ever). (Signatures and rectifications only: a withdrawal carries a fiche the CJN holds.)
        if m.kind in ('fiche_signed', 'fiche_rectified') then
            perform cjn._check_text_limits(m.payload);
        end if;
        if m.seq <= court_last then
            select x.message_id, x.niu, x.version into existing
              from registry.message x where x.court_code = ingest_envelope.court_code and x.seq = m.seq;
            if found then
                insert into registry.alarm (kind, court_code, message_id, detail)
                values ('reused_sequence', court_code, m.message_id,
                        format('Numéro de séquence %s déjà utilisé par un autre message de la juridiction %s.',
                               m.seq, court_code));
                -- What the court needs to know (its own message, no personal data): which message
                -- holds the number (a court restored from an old backup recovers it with a
                -- RecoveryRequest).
                results := results || jsonb_build_object('conflict', true, 'reason', 'reused_sequence',
                    'message_id', m.message_id, 'held_message_id', existing.message_id, 'held_niu', existing.niu,
                    'held_version', existing.version);
                continue;
            end if;
        end if;
        -- The next message in order is applied below, at once; the others wait with their payload.
        in_order := m.seq = court_applied + 1;
        insert into registry.message (message_id, court_code, seq, kind, created_at, niu, version, payload,
                                      payload_hash, signed_hash, applied_at)
        values (m.message_id, court_code, m.seq, m.kind, m.created_at, niu, ver,
                case when not in_order then m.payload end, payload_hash, hash, case when in_order then now() end);
        results := results || cjn._receipt(m.message_id, m.seq, niu, ver, now(), hash);
        stored := true;
        -- Gaps: every number between the highest received and this one is missing for now.
        if m.seq > court_last + 1 then
            insert into registry.sequence_gap (court_code, seq)
            select court_code, g from generate_series(court_last + 1, m.seq - 1) g
            on conflict do nothing;
        elsif m.seq <= court_last then
            update registry.sequence_gap g set filled_at = now()
             where g.court_code = ingest_envelope.court_code and g.seq = m.seq and g.filled_at is null;
        end if;
        -- The newest message (highest sequence) carries the court's latest audit head.
        if m.seq >= court_last then
            court_audit_seq := coalesce((m.payload -> 'audit_head' ->> 'seq')::bigint, court_audit_seq);
            court_audit_hash := coalesce(m.payload -> 'audit_head' ->> 'hash', court_audit_hash);
        end if;
        court_last := greatest(court_last, m.seq);
        -- Apply everything that is now in order: this message, then those that waited for it.
        if in_order then
            perform cjn._apply(m.message_id, court_code, m.kind, m.created_at, m.payload);
            court_applied := m.seq;
            while court_applied < court_last loop
                select x.message_id, x.kind, x.created_at, x.payload into next_message from registry.message x
                 where x.court_code = ingest_envelope.court_code and x.seq = court_applied + 1
                   and x.applied_at is null;
                exit when not found;
                perform cjn._apply(next_message.message_id, court_code, next_message.kind, next_message.created_at,
                                   next_message.payload);
                update registry.message x set applied_at = now(), payload = null
                 where x.message_id = next_message.message_id;
                court_applied := court_applied + 1;
            end loop;
        end if;
    end loop;
    if stored then
        update registry.court c set last_seq = court_last, last_message_at = now(), applied_seq = court_applied,
               audit_seq = court_audit_seq, audit_hash = court_audit_hash
         where c.code = court_code;
    end if;
    return to_jsonb(results);
end
$$;

-- One message of the court's sequence, as cjn.ingest_envelope stores those of an envelope (the
-- same guarantees; the signed bytes are the envelope's that holds it): its receipt, or
-- {"conflict": true, ...}. cjn-ingest calls it under a savepoint per message when the database
-- refused a message of an envelope, so that only that message is refused.
create function cjn.ingest(message_id uuid, court_code text, seq bigint, kind text, created_at timestamptz,
                           payload jsonb, signed bytea) returns jsonb
    language sql security definer
    set search_path = pg_catalog, pg_temp
return cjn.ingest_envelope(court_code, signed, jsonb_build_array(jsonb_build_object(
    'message_id', message_id, 'seq', seq, 'kind', kind, 'created_at', created_at, 'payload', payload))) -> 0;

-- Records a refused message (before anything touched the registry).
create function cjn.quarantine(topic text, claimed_court text, reason_code text, detail text, payload bytea)
    returns void
    language sql security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    insert into registry.quarantine (topic, claimed_court, reason_code, detail, payload)
    values (topic, claimed_court, reason_code, detail, payload);
end;

-- An operator's decision on a proposed link between two people.
create function cjn.decide_person_candidate(person_a bigint, person_b bigint, same boolean) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    update registry.person_candidate c
       set decision = case when same then 'same' else 'different' end, decided_by = session_user, decided_at = now()
     where c.person_a = least(decide_person_candidate.person_a, decide_person_candidate.person_b)
       and c.person_b = greatest(decide_person_candidate.person_a, decide_person_candidate.person_b);
    if not found then
        raise exception 'Aucune proposition de rapprochement entre % et %.', person_a, person_b using errcode = 'XJ004';
    end if;
end
$$;
