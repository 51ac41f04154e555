-- cjn-ingest's bookkeeping besides cjn.ingest: the courts' certificates (its trust store) and
-- their revocations, the courts' audit checkpoints, and the counts of its status line.

-- Whether a court is registered and active: cjn-ingest refuses to enroll any other.
create function cjn.court_registered(code text) returns boolean
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select exists (select from registry.court c where c.code = court_registered.code and c.active);
end;

-- Records a certificate issued to a court (enrollment, renewal, or found in the PKI directory).
-- Idempotent on the serial number: returns false when it was already recorded; the same serial
-- with another content or court is refused.
create function cjn.record_certificate(court_code text, serial text, subject_key_id text,
                                       not_before timestamptz, not_after timestamptz, der bytea)
    returns boolean
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    existing registry.court_certificate;
begin
    if serial is null or serial !~ '^[0-9a-f]{2,64}$' then
        raise exception 'Numéro de série de certificat invalide : « % ».', serial using errcode = 'XJ001';
    end if;
    if subject_key_id is null or subject_key_id !~ '^[0-9a-f]{2,128}$' then
        raise exception 'Identifiant de clé de certificat invalide.' using errcode = 'XJ001';
    end if;
    if der is null or octet_length(der) = 0 or not_before is null or not_after is null
       or not_after <= not_before then
        raise exception 'Certificat % incomplet ou de validité invalide.', serial using errcode = 'XJ001';
    end if;
    if not exists (select from registry.court c where c.code = record_certificate.court_code) then
        raise exception 'Juridiction inconnue du CJN : %.', court_code using errcode = 'XJ004';
    end if;
    select * into existing from registry.court_certificate c where c.serial = record_certificate.serial;
    if found then
        if existing.der <> record_certificate.der or existing.court_code <> record_certificate.court_code then
            raise exception 'Le certificat % est déjà enregistré avec un autre contenu.', serial using errcode = 'XJ006';
        end if;
        return false;
    end if;
    insert into registry.court_certificate (serial, court_code, subject_key_id, not_before, not_after, der)
    values (serial, court_code, subject_key_id, not_before, not_after, der)
    on conflict on constraint court_certificate_pkey do nothing;
    return found;
end
$$;

-- The certificates of one court, or of every court (null), oldest first: cjn-ingest's trust store.
create function cjn.court_certificates(court_code text default null)
    returns table (serial text, court_code text, der bytea, revoked_at timestamptz)
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select c.serial, c.court_code, c.der, c.revoked_at
      from registry.court_certificate c
     where court_certificates.court_code is null or c.court_code = court_certificates.court_code
     order by c.not_before, c.serial;
end;

-- Marks certificates revoked, as the CRL lists them (serials and revocation times, in step);
-- returns how many were not marked yet. Certificates the registry does not hold are ignored.
create function cjn.record_revocations(serials text[], revoked_at timestamptz[]) returns integer
    language sql security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    with r as (select u.serial, u.at from unnest(serials, revoked_at) as u(serial, at)),
         changed as (
             update registry.court_certificate c set revoked_at = coalesce(r.at, now())
               from r
              where c.serial = r.serial and c.revoked_at is null
             returning 1)
    select count(*)::integer from changed;
end;

-- Records the head of a court's audit chain from its checkpoint message. A newer head (higher
-- sequence) replaces the one the registry holds; the same sequence with another hash means the
-- court's history forked (rewritten): an alarm, and the recorded head stays. An older head is a
-- checkpoint overtaken in transit by newer messages: nothing changes. Returns
-- {"court_code", "audit_seq" (now recorded), "recorded": bool, "alarm": kind or null}.
create function cjn.record_audit_checkpoint(court_code text, message_id uuid, audit_seq bigint,
                                            audit_hash text, at timestamptz)
    returns jsonb
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    c registry.court;
    alarm text;
    recorded boolean := false;
begin
    if audit_seq is null or audit_seq < 0 or audit_hash is null or audit_hash !~ '^[0-9a-f]{64}$' then
        raise exception 'Point de contrôle d''audit invalide.' using errcode = 'XJ001';
    end if;
    select * into c from registry.court x where x.code = record_audit_checkpoint.court_code for update;
    if not found then
        raise exception 'Juridiction inconnue du CJN : %.', court_code using errcode = 'XJ004';
    end if;
    if c.audit_seq is null or record_audit_checkpoint.audit_seq > c.audit_seq then
        update registry.court x
           set audit_seq = record_audit_checkpoint.audit_seq, audit_hash = record_audit_checkpoint.audit_hash,
               last_message_at = now(), updated_at = now()
         where x.code = c.code;
        recorded := true;
    elsif record_audit_checkpoint.audit_seq = c.audit_seq and record_audit_checkpoint.audit_hash <> c.audit_hash then
        alarm := 'audit_fork';
        insert into registry.alarm (kind, court_code, message_id, detail)
        values (alarm, c.code, message_id,
                format('La chaîne d''audit de la juridiction %s a deux têtes différentes au numéro %s (point de contrôle du %s) : historique réécrit ?',
                       c.code, c.audit_seq, at));
    else
        update registry.court x set last_message_at = now() where x.code = c.code;
    end if;
    return jsonb_build_object('court_code', c.code,
        'audit_seq', case when recorded then record_audit_checkpoint.audit_seq else c.audit_seq end,
        'recorded', recorded, 'alarm', alarm);
end
$$;

-- The counts of cjn-ingest's status line.
create function cjn.ingest_status() returns jsonb
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select jsonb_build_object(
        'courts', (select count(*) from registry.court),
        'certificates', (select count(*) from registry.court_certificate),
        'revoked_certificates', (select count(*) from registry.court_certificate c where c.revoked_at is not null),
        'messages', (select count(*) from registry.message),
        'waiting_for_order', (select count(*) from registry.message m where m.applied_at is null),
        'quarantined', (select count(*) from registry.quarantine),
        'open_alarms', (select count(*) from registry.alarm a where a.acknowledged_at is null),
        'open_gaps', (select count(*) from registry.sequence_gap g where g.filled_at is null),
        -- Courts with a gap open for longer than the operation setting: an operator is needed.
        'gap_alarms', (select count(distinct g.court_code) from registry.sequence_gap g
                        where g.filled_at is null
                          and g.detected_at < now() - (select s.gap_alarm_after from registry.operation_setting s)),
        'gap_alarm_after_secs', (select extract(epoch from s.gap_alarm_after)::bigint from registry.operation_setting s),
        'last_message_at', (select max(c.last_message_at) from registry.court c));
end;

-- The courts whose sequence gap is open for longer than the operation setting, with the
-- missing sequence numbers (the daemon logs them as errors; the operator's dashboard shows them).
create function cjn.gap_alarms()
    returns table (court_code text, missing_seqs bigint[], oldest_gap_at timestamptz, held_messages bigint)
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select g.court_code, array_agg(g.seq order by g.seq), min(g.detected_at),
           (select count(*) from registry.message m where m.court_code = g.court_code and m.applied_at is null)
      from registry.sequence_gap g
     where g.filled_at is null
     group by g.court_code
    having min(g.detected_at) < now() - (select s.gap_alarm_after from registry.operation_setting s)
     order by 1;
end;

-- Sets how long a gap may stay open before it is an alarm (operator).
create function cjn.set_gap_alarm_after(delay interval) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if delay is null or delay not between '1 minute'::interval and '30 days'::interval then
        raise exception 'Délai d''alarme invalide : % (entre 1 minute et 30 jours).', delay
            using errcode = 'XJ001', column = 'gap_alarm_after';
    end if;
    update registry.operation_setting set gap_alarm_after = delay, updated_by = session_user, updated_at = now();
end
$$;

-- The alarms the CJN raised (sequence conflicts, audit forks, ...), newest first: those not yet
-- acknowledged, or all of them (operator, auditor).
create function cjn.alarms(include_acknowledged boolean default false)
    returns table (alarm_id bigint, raised_at timestamptz, kind text, court_code text, message_id uuid,
                   detail text, acknowledged_by text, acknowledged_at timestamptz)
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select a.alarm_id, a.raised_at, a.kind, a.court_code, a.message_id, a.detail, a.acknowledged_by, a.acknowledged_at
      from registry.alarm a
     where include_acknowledged or a.acknowledged_at is null
     order by a.raised_at desc, a.alarm_id desc;
end;

-- An operator acknowledges an alarm once he has dealt with it: who and when are kept, the
-- alarm itself never changes nor goes away.
create function cjn.acknowledge_alarm(alarm bigint) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    by_whom text;
begin
    select a.acknowledged_by into by_whom from registry.alarm a where a.alarm_id = acknowledge_alarm.alarm for update;
    if not found then
        raise exception 'Alarme inconnue : %.', alarm using errcode = 'XJ004', column = 'alarm_id';
    end if;
    if by_whom is not null then
        raise exception 'Alarme % déjà prise en compte par %.', alarm, by_whom using errcode = 'XJ003', column = 'alarm_id';
    end if;
    update registry.alarm a set acknowledged_by = session_user, acknowledged_at = now()
     where a.alarm_id = acknowledge_alarm.alarm;
end
$$;

-- Closes (or reopens) a court: a closed court gets no broker account at the next
-- `xmjuris broker config` (cjn.broker_courts()) and no new enrollment; what it sent stays.
create function cjn.set_court_active(code text, active boolean) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if active is null then
        raise exception 'Préciser si la juridiction est active (true) ou fermée (false).'
            using errcode = 'XJ001', column = 'active';
    end if;
    update registry.court c set active = set_court_active.active, updated_at = now() where c.code = set_court_active.code;
    if not found then
        raise exception 'Juridiction inconnue : « % ».', code using errcode = 'XJ004', column = 'court_code';
    end if;
end
$$;
