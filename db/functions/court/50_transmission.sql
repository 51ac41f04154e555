-- The listener's API (role juris_listener): read the outbox, record what the CJN answered.
-- And, for the staff, the transmission state of each fiche.

-- Creates (or resets the password of) this court's listener login, a member of juris_listener,
-- registered in court.listener_login and allowed to connect to this database only.
-- `password`: a SCRAM-SHA-256 verifier. For the database administrator only (granted to no role).
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
    perform juris._require_verifier(password);
    if exists (select from pg_catalog.pg_roles r where r.rolname = login) then
        if not exists (select from court.listener_login l where l.login = create_listener_login.login)
           and not pg_has_role(login, 'juris_listener', 'member') then
            raise exception 'Le rôle « % » existe déjà et n''est pas un démon de transmission.', login using errcode = 'XJ001';
        end if;
        execute format('alter role %I login password %L', login, password);
    else
        execute format('create role %I login password %L', login, password);
    end if;
    execute format('grant juris_listener to %I', login);
    execute format('grant connect on database %I to %I', current_database(), login);
    insert into court.listener_login (login) values (login) on conflict do nothing;
end
$$;

-- Refuses a caller that is not this court's listener (juris_listener is cluster-wide: in a
-- shared cluster another court's listener is a member too).
create function juris._require_listener() returns void
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
begin
    if not exists (select from court.listener_login l where l.login = session_user)
       and not (select r.rolsuper from pg_catalog.pg_roles r where r.rolname = session_user) then
        raise exception 'Le compte « % » n''est pas le démon de transmission de cette juridiction.', session_user
            using errcode = 'XJ002';
    end if;
end
$$;

-- Messages still to transmit: requests for extracts first (someone waits at the counter), then
-- fiche events, oldest first. Both are resent until the CJN answers.
create function juris.outbox_pending(max_rows integer)
    returns table (message_id uuid, seq bigint, kind text, payload jsonb, attempts integer, sent_at timestamptz)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require_listener();
    return query
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
end
$$;

-- Records that these messages were published (once more); a defect recorded earlier is cleared
-- (a corrected listener could send the message after all).
create function juris.outbox_mark_sent(message_ids uuid[]) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require_listener();
    update court.outbox o set sent_at = now(), attempts = o.attempts + 1, defect = null, defect_at = null
     where o.message_id = any (message_ids) and o.state = 'pending';
    update court.extract_request r set sent_at = now(), attempts = r.attempts + 1
     where r.message_id = any (message_ids) and r.state = 'pending';
    -- Wakes the staff's screens (a wake-up only; PostgreSQL sends it once per transaction).
    notify xmjuris_transmission;
end
$$;

-- Records why the listener cannot transmit a message as it stands (its payload is refused by the
-- protocol, or it would seal past the CJN's size limit). The message stays pending: its sequence
-- number must still reach the CJN. The greffier sees the defect on the fiche (fiche_transmissions)
-- and the operator in the status (transmission_status.defective). A request for an extract is
-- refused instead (state rejected, code `defect`). Returns true when newly recorded.
create function juris.outbox_mark_defective(message_id uuid, defect text) returns boolean
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require_listener();
    if coalesce(btrim(defect), '') = '' then
        raise exception 'Le défaut d''un message doit être décrit.' using errcode = 'XJ001', column = 'defect';
    end if;
    update court.outbox o set defect = left(btrim(outbox_mark_defective.defect), 2000), defect_at = now()
     where o.message_id = outbox_mark_defective.message_id and o.state = 'pending'
       and o.defect is distinct from left(btrim(outbox_mark_defective.defect), 2000);
    if found then
        notify xmjuris_transmission;
        return true;
    end if;
    if exists (select from court.outbox o where o.message_id = outbox_mark_defective.message_id) then
        return false;
    end if;
    -- A request for an extract that cannot be sent is refused here (its own counter has no gap
    -- to fill at the CJN): the staff see why and may ask again.
    update court.extract_request r set state = 'rejected', rejected_at = now(), rejection_code = 'defect',
           rejection_reason = 'Demande impossible à transmettre en l''état : ' || left(btrim(outbox_mark_defective.defect), 1900)
     where r.message_id = outbox_mark_defective.message_id and r.state = 'pending';
    if found then
        notify xmjuris_transmission;
        return true;
    end if;
    if not exists (select from court.extract_request r where r.message_id = outbox_mark_defective.message_id) then
        raise exception 'Message inconnu : %.', message_id using errcode = 'XJ004';
    end if;
    return false;
end
$$;

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
    perform juris._require_listener();
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
    -- The receipt must be the CJN's for this very message (the listener verified its signature;
    -- this keeps a careless or hostile caller from archiving a fiche with anything).
    if receipt ->> 'message_id' is distinct from o.message_id::text
       or (receipt ->> 'seq') is distinct from o.seq::text
       or (receipt ->> 'niu') is distinct from o.niu
       or (receipt ->> 'version') is distinct from o.version::text
       or coalesce(receipt ->> 'signed_hash', '') !~* '^[0-9a-f]{64}$' then
        raise exception 'Accusé de réception qui ne correspond pas au message % (numéro, NIU, version ou empreinte).', o.seq
            using errcode = 'XJ001';
    end if;
    update court.outbox x set state = 'acknowledged', acknowledged_at = now(), receipt = store_receipt.receipt,
           receipt_sealed = sealed, rejection_code = null, rejection_reason = null, rejected_at = null
     where x.outbox_id = o.outbox_id;
    if o.kind in ('fiche_signed', 'fiche_rectified') then
        update court.fiche f set status = 'archivee', archived_at = now()
         where f.fiche_id = o.fiche_id and f.status = 'signee' and f.version = o.version;
    end if;
    notify xmjuris_transmission;
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
    perform juris._require_listener();
    select * into o from court.outbox x where x.message_id = store_rejection.message_id for update;
    if not found then
        -- A refused request for an extract.
        update court.extract_request r set state = 'rejected', rejected_at = now(),
               rejection_code = coalesce(nullif(btrim(reason_code), ''), 'inconnu'),
               rejection_reason = coalesce(nullif(btrim(reason), ''), 'Refus du CJN sans motif.'),
               answer_sealed = sealed
         where r.message_id = store_rejection.message_id and r.state = 'pending';
        if found then
            notify xmjuris_transmission;
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
    -- The CJN holds another message of this court under this number: the court was restored
    -- from an old backup. It stops taking numbers and takes back from the CJN what it lacks
    -- (57_recovery.sql); this message is for an operator.
    if reason_code = 'sequence_reused' then
        perform juris._begin_recovery(format(
            'Le CJN a refusé le message n° %s : ce numéro est déjà pris au CJN par un autre message de la juridiction (base restaurée depuis une ancienne sauvegarde ?).',
            o.seq));
    end if;
    notify xmjuris_transmission;
    return true;
end
$$;

-- Keeps what came from the broker and did not open, or was not understood; never applied.
create function juris.quarantine(topic text, payload bytea, reason text) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require_listener();
    insert into court.quarantine (topic, payload, reason) values (topic, payload, reason);
end
$$;

-- The broker accepted the listener's connection now.
create function juris.record_broker_contact() returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require_listener();
    update court.transmission_state set last_contact = now();
    notify xmjuris_transmission;
end
$$;

-- Counts for the operator's status line (the listener, or the greffier).
create function juris.transmission_status() returns jsonb
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if not exists (select from court.listener_login l where l.login = session_user) then
        perform juris._require(3, 'Consulter l''état de la transmission');
    end if;
    return (
    select jsonb_build_object(
        'pending', count(*) filter (where o.state = 'pending' and o.sent_at is null),
        'sent', count(*) filter (where o.state = 'pending' and o.sent_at is not null),
        'acknowledged', count(*) filter (where o.state = 'acknowledged'),
        'rejected', count(*) filter (where o.state = 'rejected'),
        'defective', count(*) filter (where o.state = 'pending' and o.defect is not null),
        'quarantined', (select count(*) from court.quarantine),
        'last_contact', (select t.last_contact from court.transmission_state t),
        'oldest_pending', min(o.created_at) filter (where o.state = 'pending'),
        'extract_requests_pending', (select count(*) from court.extract_request r where r.state = 'pending'))
      from court.outbox o);
end
$$;

-- The transmissions of a fiche, for the staff: each message, its state in French, when it was
-- sent and how many times, and the CJN's answer (receipt time, or refusal and its reason).
create function juris.fiche_transmissions(id bigint)
    returns table (seq bigint, kind text, version integer, state text, created_at timestamptz,
                   sent_at timestamptz, attempts integer, acknowledged_at timestamptz,
                   rejection_code text, rejection_reason text, defect text, defect_at timestamptz)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(1, 'Consulter les transmissions');
    return query
    select o.seq, o.kind, o.version,
           case when o.state = 'acknowledged' then 'archivé au CJN'
                when o.state = 'rejected' then 'refusé par le CJN'
                when o.defect is not null then 'bloqué : ne peut pas être transmis en l''état (voir le défaut)'
                when o.sent_at is null then 'en attente'
                else 'envoyé, en attente de l''accusé de réception' end,
           o.created_at, o.sent_at, o.attempts, o.acknowledged_at, o.rejection_code, o.rejection_reason,
           o.defect, o.defect_at
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
    juris.outbox_mark_defective(uuid, text),
    juris.store_receipt(uuid, jsonb, bytea),
    juris.store_rejection(uuid, text, text, bytea),
    juris.store_extract_answer(uuid, jsonb, bytea),
    juris.quarantine(text, bytea, text),
    juris.record_broker_contact(),
    juris.transmission_status()
to juris_listener;
grant execute on function juris.fiche_transmissions(bigint) to agent, secretaire, greffier;
grant execute on function juris.transmission_status() to greffier;
