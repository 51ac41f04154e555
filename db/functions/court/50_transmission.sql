-- The listener's API (role juris_listener): read the outbox, record what the CJN answered.
-- And, for the staff, the transmission state of each fiche.

-- Creates (or resets the password of) the listener's login, a member of juris_listener.
-- For the database administrator only (granted to no role).
create function juris.create_listener_login(login text, password text) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if login is null or login !~ '^[a-z][a-z0-9_]{1,62}$' then
        raise exception 'Nom de connexion invalide : « % ».', login using errcode = 'XJ001';
    end if;
    if exists (select from court.app_user u where u.login = create_listener_login.login)
       or login in ('agent', 'secretaire', 'greffier', 'juris_listener', 'juris_owner', 'juris_audit_owner') then
        raise exception 'Le nom « % » est celui d''un utilisateur ou d''un rôle de XMJuris.', login using errcode = 'XJ001';
    end if;
    if exists (select from pg_catalog.pg_roles r where r.rolname = login) then
        execute format('alter role %I login password %L', login, password);
    else
        execute format('create role %I login password %L', login, password);
    end if;
    execute format('grant juris_listener to %I', login);
end
$$;

-- Messages still to transmit: requests for extracts first (someone waits at the counter), then
-- fiche events, oldest first. Both are resent until the CJN answers.
create function juris.outbox_pending(max_rows integer)
    returns table (message_id uuid, seq bigint, kind text, payload jsonb, attempts integer, sent_at timestamptz)
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select m.message_id, m.seq, m.kind, m.payload, m.attempts, m.sent_at
      from (select r.message_id, r.seq, 'extract_request' as kind, juris._extract_request_payload(r) as payload,
                   r.attempts, r.sent_at, 0 as rank
              from court.extract_request r
             where r.state = 'pending'
            union all
            select o.message_id, o.seq, o.kind, o.payload, o.attempts, o.sent_at, 1 as rank
              from court.outbox o
             where o.state = 'pending') m
     order by m.rank, m.seq
     limit greatest(1, least(max_rows, 10000));
end;

-- Records that these messages were published (once more).
create function juris.outbox_mark_sent(message_ids uuid[]) returns void
    language sql security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    update court.outbox o set sent_at = now(), attempts = o.attempts + 1
     where o.message_id = any (message_ids) and o.state = 'pending';
    update court.extract_request r set sent_at = now(), attempts = r.attempts + 1
     where r.message_id = any (message_ids) and r.state = 'pending';
end;

-- Stores the CJN's signed receipt for a message (already verified by the listener), which
-- leaves the pending set; archives the fiche (status 4) when the receipt is for its current
-- signed version. A duplicate receipt changes nothing and returns false.
create function juris.store_receipt(message_id uuid, receipt jsonb, sealed bytea) returns boolean
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    o court.outbox;
begin
    if receipt is null or sealed is null then
        raise exception 'Accusé de réception vide.' using errcode = 'XJ001';
    end if;
    select * into o from court.outbox x where x.message_id = store_receipt.message_id for update;
    if not found then
        raise exception 'Accusé de réception pour un message inconnu : %.', message_id using errcode = 'XJ004';
    end if;
    if o.state = 'acknowledged' then
        return false;
    end if;
    update court.outbox x set state = 'acknowledged', acknowledged_at = now(), receipt = store_receipt.receipt,
           receipt_sealed = sealed, rejection_code = null, rejection_reason = null, rejected_at = null
     where x.outbox_id = o.outbox_id;
    if o.kind in ('fiche_signed', 'fiche_rectified') then
        update court.fiche f set status = 'archivee', archived_at = now()
         where f.fiche_id = o.fiche_id and f.status = 'signee' and f.version = o.version;
    end if;
    return true;
end
$$;

-- Stores the CJN's refusal of a message, with its reason code and its French reason for the
-- greffier; the message leaves the pending set. Returns false if the message was already settled.
create function juris.store_rejection(message_id uuid, reason_code text, reason text, sealed bytea) returns boolean
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    o court.outbox;
begin
    select * into o from court.outbox x where x.message_id = store_rejection.message_id for update;
    if not found then
        -- A refused request for an extract.
        update court.extract_request r set state = 'rejected', rejected_at = now(),
               rejection_code = coalesce(nullif(btrim(reason_code), ''), 'inconnu'),
               rejection_reason = coalesce(nullif(btrim(reason), ''), 'Refus du CJN sans motif.'),
               answer_sealed = sealed
         where r.message_id = store_rejection.message_id and r.state = 'pending';
        if found then
            return true;
        end if;
        if exists (select from court.extract_request r where r.message_id = store_rejection.message_id) then
            return false;
        end if;
        raise exception 'Rejet pour un message inconnu : %.', message_id using errcode = 'XJ004';
    end if;
    if o.state <> 'pending' then
        return false;
    end if;
    update court.outbox x set state = 'rejected', rejected_at = now(),
           rejection_code = coalesce(nullif(btrim(reason_code), ''), 'inconnu'),
           rejection_reason = coalesce(nullif(btrim(reason), ''), 'Refus du CJN sans motif.'),
           receipt_sealed = sealed
     where x.outbox_id = o.outbox_id;
    return true;
end
$$;

-- Keeps what came from the broker and did not open, or was not understood; never applied.
create function juris.quarantine(topic text, payload bytea, reason text) returns void
    language sql security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    insert into court.quarantine (topic, payload, reason) values (topic, payload, reason);
end;

-- The broker accepted the listener's connection now.
create function juris.record_broker_contact() returns void
    language sql security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    update court.transmission_state set last_contact = now();
end;

-- Counts for the operator's status line.
create function juris.transmission_status() returns jsonb
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select jsonb_build_object(
        'pending', count(*) filter (where o.state = 'pending' and o.sent_at is null),
        'sent', count(*) filter (where o.state = 'pending' and o.sent_at is not null),
        'acknowledged', count(*) filter (where o.state = 'acknowledged'),
        'rejected', count(*) filter (where o.state = 'rejected'),
        'quarantined', (select count(*) from court.quarantine),
        'last_contact', (select t.last_contact from court.transmission_state t),
        'oldest_pending', min(o.created_at) filter (where o.state = 'pending'),
        'extract_requests_pending', (select count(*) from court.extract_request r where r.state = 'pending'))
      from court.outbox o;
end;

-- The transmissions of a fiche, for the staff: each message, its state in French, when it was
-- sent and how many times, and the CJN's answer (receipt time, or refusal and its reason).
create function juris.fiche_transmissions(id bigint)
    returns table (seq bigint, kind text, version integer, state text, created_at timestamptz,
                   sent_at timestamptz, attempts integer, acknowledged_at timestamptz,
                   rejection_code text, rejection_reason text)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(1, 'Consulter les transmissions');
    return query
    select o.seq, o.kind, o.version,
           case when o.state = 'acknowledged' then 'archivé au CJN'
                when o.state = 'rejected' then 'refusé par le CJN'
                when o.sent_at is null then 'en attente'
                else 'envoyé, en attente de l''accusé de réception' end,
           o.created_at, o.sent_at, o.attempts, o.acknowledged_at, o.rejection_code, o.rejection_reason
      from court.outbox o
     where o.fiche_id = id
     order by o.seq;
end
$$;

revoke all on all functions in schema juris from public;
grant usage on schema juris to juris_listener;
grant execute on function
    juris.outbox_pending(integer),
    juris.outbox_mark_sent(uuid[]),
    juris.store_receipt(uuid, jsonb, bytea),
    juris.store_rejection(uuid, text, text, bytea),
    juris.store_extract_answer(uuid, jsonb, bytea),
    juris.quarantine(text, bytea, text),
    juris.record_broker_contact(),
    juris.transmission_status()
to juris_listener;
grant execute on function juris.fiche_transmissions(bigint) to agent, secretaire, greffier;
grant execute on function juris.transmission_status() to greffier;
