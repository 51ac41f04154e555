-- What the desktop application reads besides the fiche API: the court's transmissions page by
-- page, the bulletins a user may ask for, a fiche by its number, and a CJN receipt as printed.
-- Grants are at the end of this file (its functions only).

-- An outbox message's transmission state: a stable code and its French label, in the words
-- of juris.fiche_transmissions. A defect outranks "sent": the message cannot go as it stands.
create function juris._transmission_state(o court.outbox, out code text, out label text)
    language sql immutable
    set search_path = pg_catalog, pg_temp
begin atomic
    select case when o.state = 'acknowledged' then 'archived'
                when o.state = 'rejected' then 'refused'
                when o.defect is not null then 'blocked'
                when o.sent_at is null then 'waiting'
                else 'sent' end,
           case when o.state = 'acknowledged' then 'archivé au CJN'
                when o.state = 'rejected' then 'refusé par le CJN'
                when o.defect is not null then 'bloqué : ne peut pas être transmis en l''état (voir le défaut)'
                when o.sent_at is null then 'en attente'
                else 'envoyé, en attente de l''accusé de réception' end;
end;

-- The court's transmissions to the CJN, newest first, a page at a time: each message with its
-- fiche (number, NIU, names), its state (`state`: waiting, sent, archived, refused, blocked;
-- `state_label` in French), when it was sent and how often, and the CJN's answer (receipt time,
-- or refusal code and reason) or the listener's defect. `which`: all (null), pending (waiting,
-- sent or blocked: the backlog), refused, blocked, archived. The next page starts below the
-- last `seq` shown (`before_seq`): the unique index on seq serves any page at the same cost.
-- Every staff member, as for one fiche (juris.fiche_transmissions).
create function juris.transmissions(which text default null, before_seq bigint default null,
                                    max_rows integer default 50)
    returns table (seq bigint, message_id uuid, kind text, fiche_id bigint, fiche_number bigint, niu text,
                   version integer, surname text, given_names text, state text, state_label text,
                   created_at timestamptz, sent_at timestamptz, attempts integer, acknowledged_at timestamptz,
                   rejection_code text, rejection_reason text, defect text, defect_at timestamptz)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(1, 'Consulter les transmissions');
    if which is not null and which not in ('all', 'pending', 'refused', 'blocked', 'archived') then
        raise exception 'Filtre de transmission inconnu : « % » (all, pending, refused, blocked, archived).', which
            using errcode = 'XJ001', column = 'which';
    end if;
    return query
    select o.seq, o.message_id, o.kind, o.fiche_id, f.number, o.niu, o.version, f.surname, f.given_names,
           (juris._transmission_state(o)).code, (juris._transmission_state(o)).label,
           o.created_at, o.sent_at, o.attempts, o.acknowledged_at, o.rejection_code, o.rejection_reason,
           o.defect, o.defect_at
      from court.outbox o
      join court.fiche f on f.fiche_id = o.fiche_id
     where (before_seq is null or o.seq < before_seq)
       and case coalesce(which, 'all')
               when 'all' then true
               when 'pending' then o.state = 'pending'
               when 'blocked' then o.state = 'pending' and o.defect is not null
               when 'refused' then o.state = 'rejected'
               when 'archived' then o.state = 'acknowledged'
           end
     order by o.seq desc
     limit greatest(1, least(coalesce(max_rows, 50), 500));
end
$$;

-- The bulletins of court.extract_permission, whether the caller may ask for (and read) each,
-- and to whom it is delivered: what the request form offers.
create function juris.extract_permissions()
    returns table (bulletin smallint, min_privilege smallint, delivered_to text, allowed boolean)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user := juris._require(1, 'Consulter les bulletins');
begin
    return query
    select p.bulletin, p.min_privilege, p.delivered_to, p.min_privilege <= me.privilege
      from court.extract_permission p
     order by p.bulletin;
end
$$;

-- The id of the fiche of this number in the court ("Fiche N° 19"), or null.
create function juris.fiche_id_by_number(number bigint) returns bigint
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(1, 'Rechercher une fiche');
    return (select f.fiche_id from court.fiche f where f.number = fiche_id_by_number.number);
end
$$;

-- The CJN's receipt of the message `seq` as the template recu-cjn prints it: the court, and what
-- the CJN acknowledged (message, NIU, version, subject, reference, when it stored it) with the
-- SHA-256 of the sealed receipt the court keeps, which ties the paper to the stored bytes.
-- Refused for a message without a receipt yet.
create function juris.receipt_document(seq bigint) returns jsonb
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    o court.outbox;
begin
    perform juris._require(1, 'Imprimer un accusé de réception');
    select * into o from court.outbox x where x.seq = receipt_document.seq;
    if not found then
        raise exception 'Message n° % inconnu.', seq using errcode = 'XJ004', column = 'seq';
    end if;
    if o.state <> 'acknowledged' then
        raise exception 'Le message n° % n''a pas d''accusé de réception du CJN (%).', seq, (juris._transmission_state(o)).label
            using errcode = 'XJ003', column = 'seq';
    end if;
    return jsonb_build_object(
        'court', (select jsonb_build_object('code', c.code, 'name', c.name, 'region', c.region,
                                            'departement', c.departement, 'arrondissement', c.arrondissement)
                    from court.court c),
        'receipt', jsonb_build_object(
            'message_id', o.message_id,
            'seq', o.seq,
            'niu', o.niu,
            'version', o.version,
            'subject', case o.kind when 'fiche_signed' then 'fiche' when 'fiche_rectified' then 'rectification'
                                   else 'declassement' end,
            'reference', (select f.reference from court.fiche f where f.fiche_id = o.fiche_id),
            'received_at', coalesce(o.receipt ->> 'stored_at', juris._iso(o.acknowledged_at)),
            'acknowledged_at', juris._iso(o.acknowledged_at),
            'signature_digest', encode(pg_catalog.sha256(o.receipt_sealed), 'hex'),
            'digest_algorithm', 'SHA-256'));
end
$$;

revoke all on function
    juris._transmission_state(court.outbox),
    juris.transmissions(text, bigint, integer),
    juris.extract_permissions(),
    juris.fiche_id_by_number(bigint),
    juris.receipt_document(bigint)
from public;
grant execute on function
    juris.transmissions(text, bigint, integer),
    juris.extract_permissions(),
    juris.fiche_id_by_number(bigint),
    juris.receipt_document(bigint)
to agent, secretaire, greffier;
