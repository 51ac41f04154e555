-- Extracts of the criminal record: a court's staff ask the CJN for a person's bulletin n°1, n°2
-- or n°3; the listener sends the request and stores the CJN's signed answer.
-- Who may ask for which bulletin is data: court.extract_permission.

-- The permission row of a bulletin, refusing an unknown bulletin number.
create function juris._extract_permission(bulletin integer) returns court.extract_permission
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    p court.extract_permission;
begin
    select * into p from court.extract_permission x where x.bulletin = _extract_permission.bulletin;
    if not found then
        raise exception 'Bulletin n°% inconnu : 1, 2 ou 3.', coalesce(bulletin::text, '(vide)')
            using errcode = 'XJ001', column = 'bulletin';
    end if;
    return p;
end
$$;

-- Asks the CJN for a person's bulletin. `person`: surname, given_names, birth_date (required),
-- birth_place, father, mother, niu (optional); `purpose`: why (logged here and at the CJN).
-- Returns the request's id; the answer arrives through the listener (juris.get_extract).
create function juris.request_extract(person jsonb, bulletin integer, purpose text) returns bigint
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    perm court.extract_permission := juris._extract_permission(bulletin);
    me court.app_user := juris._require(perm.min_privilege, format('Demander un bulletin n°%s', bulletin));
    who jsonb;
    niu text;
    id bigint;
begin
    if person is null or jsonb_typeof(person) <> 'object' then
        raise exception 'Personne attendue sous forme d''objet JSON.' using errcode = 'XJ001';
    end if;
    perform juris._check_keys(person, array['surname', 'given_names', 'birth_date', 'birth_place', 'father',
        'mother', 'niu'], 'la personne');
    -- The same limits as a fiche's identity (the CJN keeps the request for ever).
    perform juris._check_length(juris._text(person, k), k)
       from unnest(array['surname', 'given_names', 'birth_place', 'father', 'mother']) k;
    who := jsonb_strip_nulls(jsonb_build_object(
        'surname', juris._text(person, 'surname'),
        'given_names', juris._text(person, 'given_names'),
        'birth_date', juris._date(person, 'birth_date'),
        'birth_place', juris._text(person, 'birth_place'),
        'father', juris._text(person, 'father'),
        'mother', juris._text(person, 'mother')));
    if who ->> 'surname' is null or who ->> 'given_names' is null or who ->> 'birth_date' is null then
        raise exception 'Demande incomplète : nom, prénoms et date de naissance de la personne sont obligatoires.'
            using errcode = 'XJ001',
                  column = case when who ->> 'surname' is null then 'surname'
                                when who ->> 'given_names' is null then 'given_names' else 'birth_date' end;
    end if;
    if (who ->> 'birth_date')::date > current_date then
        raise exception 'La date de naissance (%) est dans le futur.', to_char((who ->> 'birth_date')::date, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'birth_date';
    end if;
    niu := juris._text(person, 'niu');
    if niu is not null then
        if not juris.niu_valid(niu) then
            raise exception 'NIU invalide : « % » (17 chiffres, clé MOD 97).', niu using errcode = 'XJ001', column = 'niu';
        end if;
        who := who || jsonb_build_object('niu', niu);
    end if;
    if purpose is null or btrim(purpose) = '' then
        raise exception 'Le motif de la demande est obligatoire (il est consigné au CJN).'
            using errcode = 'XJ001', column = 'purpose';
    end if;
    if length(purpose) > 500 then
        raise exception 'Motif trop long (% caractères, 500 au plus).', length(purpose) using errcode = 'XJ001', column = 'purpose';
    end if;
    insert into court.extract_request (seq, bulletin, person, purpose, requested_by)
    values (juris._next('extract_request', 0), bulletin, who, btrim(purpose), me.login)
    returning extract_request_id into id;
    perform juris._audit_append('extract_request', 'extract_request', id::text,
        jsonb_build_object('bulletin', bulletin, 'purpose', btrim(purpose), 'person', who));
    notify xmjuris_outbox;
    return id;
end
$$;

-- Cancels a request not yet answered (its author or the greffier): the listener stops sending
-- it. An answer the CJN gives anyway is still stored (the consultation happened there).
create function juris.cancel_extract_request(id bigint) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user := juris._require(1, 'Annuler une demande d''extrait');
    r court.extract_request;
begin
    select * into r from court.extract_request x where x.extract_request_id = id for update;
    if not found then
        raise exception 'Demande d''extrait introuvable : %.', id using errcode = 'XJ004';
    end if;
    if r.requested_by <> me.login and me.privilege < 3 then
        raise exception 'Seuls l''auteur de la demande et le greffier peuvent l''annuler.' using errcode = 'XJ002';
    end if;
    if r.state <> 'pending' then
        raise exception 'La demande n° % n''est plus en attente : elle ne peut pas être annulée.', id using errcode = 'XJ003';
    end if;
    update court.extract_request x set state = 'rejected', rejected_at = now(), rejection_code = 'annulee',
           rejection_reason = format('Demande annulée par %s.', me.full_name)
     where x.extract_request_id = id;
    perform juris._audit_append('extract_request_cancel', 'extract_request', id::text,
        jsonb_build_object('cancelled_by', me.login));
end
$$;

-- The French label of a request's state.
create function juris._extract_state_label(r court.extract_request) returns text
    language sql immutable
    set search_path = pg_catalog, pg_temp
return case
    when r.state = 'answered' and r.entries_count = 0 then 'reçu : néant'
    when r.state = 'answered' then format('reçu : %s condamnation(s)', r.entries_count)
    when r.state = 'rejected' then 'refusé par le CJN'
    when r.sent_at is null then 'en attente d''envoi'
    else 'envoyé, en attente de la réponse du CJN' end;

-- The court's requests, newest first (what the GUI lists), with their state in French.
create function juris.extract_requests(max_rows integer default 100)
    returns table (id bigint, bulletin smallint, surname text, given_names text, birth_date date, purpose text,
                   requested_by text, requested_at timestamptz, state text, state_label text, sent_at timestamptz,
                   attempts integer, answered_at timestamptz, extract_number text, entries_count integer,
                   near_matches_count integer, rejection_reason text)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
begin
    me := juris._require(1, 'Consulter les demandes d''extraits');
    -- Only the bulletins the caller may ask for (and so read: juris.get_extract).
    return query
    select r.extract_request_id, r.bulletin, r.person ->> 'surname', r.person ->> 'given_names',
           (r.person ->> 'birth_date')::date, r.purpose, r.requested_by, r.requested_at, r.state,
           juris._extract_state_label(r), r.sent_at, r.attempts, r.answered_at, r.extract_number,
           r.entries_count, r.near_matches_count, r.rejection_reason
      from court.extract_request r
      join court.extract_permission p on p.bulletin = r.bulletin
     where p.min_privilege <= me.privilege
     order by r.requested_at desc, r.extract_request_id desc
     limit greatest(1, least(max_rows, 10000));
end
$$;

-- One request and, once received, the CJN's answer; only for staff who may ask for that bulletin.
create function juris.get_extract(id bigint) returns jsonb
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    r court.extract_request;
begin
    select * into r from court.extract_request x where x.extract_request_id = id;
    if not found then
        raise exception 'Demande d''extrait introuvable : %.', id using errcode = 'XJ004';
    end if;
    perform juris._require((juris._extract_permission(r.bulletin)).min_privilege,
        format('Consulter un bulletin n°%s', r.bulletin));
    return jsonb_build_object(
        'id', r.extract_request_id, 'bulletin', r.bulletin, 'person', r.person, 'purpose', r.purpose,
        'requested_by', r.requested_by, 'requested_at', r.requested_at, 'state', r.state,
        'state_label', juris._extract_state_label(r), 'sent_at', r.sent_at, 'attempts', r.attempts,
        'answered_at', r.answered_at, 'extract_number', r.extract_number,
        'verification_code', r.verification_code, 'entries_count', r.entries_count,
        'near_matches_count', r.near_matches_count, 'rejection_code', r.rejection_code,
        'rejection_reason', r.rejection_reason, 'answer', r.answer);
end
$$;

-- The JSON a pending request travels as (protocol's ExtractRequestPayload).
create function juris._extract_request_payload(r court.extract_request) returns jsonb
    language sql stable
    set search_path = pg_catalog, pg_temp
return jsonb_build_object(
    'message_id', r.message_id,
    'kind', 'extract_request',
    'court_code', (select c.code from court.court c),
    'seq', r.seq,
    'created_at', juris._iso(r.requested_at),
    'request', jsonb_build_object(
        'bulletin', 'b' || r.bulletin,
        'surname', r.person ->> 'surname',
        'given_names', r.person ->> 'given_names',
        'birth_date', r.person ->> 'birth_date',
        'birth_place', r.person ->> 'birth_place',
        'father', r.person ->> 'father',
        'mother', r.person ->> 'mother',
        'niu', r.person ->> 'niu',
        'purpose', r.purpose,
        'requested_by', r.requested_by));

-- Stores the CJN's answer to a request (verified by the listener: signature, seal of the
-- extract). A duplicate answer changes nothing and returns false.
create function juris.store_extract_answer(message_id uuid, answer jsonb, sealed bytea) returns boolean
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    r court.extract_request;
begin
    perform juris._require_listener();
    if answer is null or sealed is null or jsonb_typeof(answer) <> 'object' then
        raise exception 'Réponse du CJN vide.' using errcode = 'XJ001';
    end if;
    if answer ->> 'extract_number' is null or jsonb_typeof(answer -> 'entries') <> 'array' then
        raise exception 'Réponse du CJN incomplète : numéro d''extrait ou inscriptions manquants.' using errcode = 'XJ001';
    end if;
    select * into r from court.extract_request x where x.message_id = store_extract_answer.message_id for update;
    if not found then
        raise exception 'Réponse du CJN pour une demande inconnue : %.', message_id using errcode = 'XJ004';
    end if;
    if r.state = 'answered' then
        return false;
    end if;
    update court.extract_request x set state = 'answered', answered_at = now(), answer = store_extract_answer.answer,
           answer_sealed = sealed, extract_number = store_extract_answer.answer ->> 'extract_number',
           verification_code = store_extract_answer.answer ->> 'verification_code',
           entries_count = jsonb_array_length(store_extract_answer.answer -> 'entries'),
           near_matches_count = coalesce(jsonb_array_length(
               case when jsonb_typeof(store_extract_answer.answer -> 'near_matches') = 'array'
                    then store_extract_answer.answer -> 'near_matches' end), 0),
           rejection_code = null, rejection_reason = null, rejected_at = null
     where x.extract_request_id = r.extract_request_id;
    notify xmjuris_transmission;
    return true;
end
$$;
