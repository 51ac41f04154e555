-- Backups and recovery (docs/backup.md). A court restored from a backup lacks what it signed
-- after that backup, which the CJN holds: the listener asks the CJN for the court's own signed
-- messages after the last number the court holds, verifies the court's signature on each, and
-- re-creates the fiches, versions and events here (same NIU, same numbers, counters advanced,
-- an audit entry « restaurée depuis le CJN »), their messages pending again so that the CJN
-- answers them with the receipts it gave (a duplicate gets the same receipt). Until the CJN says
-- it sent everything, the court takes no new fiche number, NIU or message number (juris._next).

-- The open recovery, if any.
create function juris._open_recovery() returns court.recovery
    language sql stable
    set search_path = pg_catalog, pg_temp
begin atomic
    select * from court.recovery r where r.finished_at is null;
end;

-- Opens a recovery (or returns the one open): signing stops until the CJN's copy is taken back.
create function juris._begin_recovery(reason text) returns bigint
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    r court.recovery;
    code text := (select c.code from court.court c);
begin
    r := juris._open_recovery();
    if r.recovery_id is not null then
        return r.recovery_id;
    end if;
    insert into court.recovery (reason, started_by, after_seq)
    values (btrim(reason), session_user, coalesce((select max(o.seq) from court.outbox o), 0))
    returning * into r;
    perform juris._audit_append('recovery_begin', 'court', coalesce(code, '-'),
        jsonb_build_object('recovery_id', r.recovery_id, 'reason', r.reason, 'after_seq', r.after_seq));
    notify xmjuris_transmission;
    return r.recovery_id;
end
$$;

-- After restoring a backup (`xmjuris backup restore-court` calls it): opens the recovery. For
-- the database administrator only (granted to no role).
create function juris.begin_recovery(reason text default 'Base restaurée depuis une sauvegarde.') returns bigint
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if coalesce(btrim(reason), '') = '' then
        raise exception 'Le motif de la restauration est requis.' using errcode = 'XJ001', column = 'reason';
    end if;
    return juris._begin_recovery(reason);
end
$$;

-- The state of the recovery, for the listener, the greffier and the database administrator:
-- {"recovering": false} or the open recovery's fields; the last one finished too.
create function juris.recovery_state() returns jsonb
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    r court.recovery;
    last court.recovery;
begin
    if not exists (select from court.listener_login l where l.login = session_user)
       and not (select x.rolsuper from pg_catalog.pg_roles x where x.rolname = session_user) then
        perform juris._require(3, 'Consulter l''état de la restauration');
    end if;
    r := juris._open_recovery();
    select * into last from court.recovery x where x.finished_at is not null order by x.recovery_id desc limit 1;
    return jsonb_build_object(
        'recovering', r.recovery_id is not null,
        'reason', r.reason, 'started_at', r.started_at, 'after_seq', r.after_seq,
        'requested_at', r.requested_at, 'answered_at', r.answered_at, 'cjn_last_seq', r.cjn_last_seq,
        'restored', r.restored, 'problem', r.problem,
        'held_seq', coalesce((select max(o.seq) from court.outbox o), 0),
        'label', case when r.recovery_id is null then 'aucune restauration en cours'
                      when r.problem is not null then 'restauration bloquée : ' || r.problem
                      else format('restauration en cours depuis le %s : %s message(s) repris du CJN ; signatures suspendues',
                                  to_char(r.started_at at time zone 'UTC', 'DD/MM/YYYY HH24:MI'), r.restored) end,
        'last_finished', case when last.recovery_id is null then null else jsonb_build_object(
            'started_at', last.started_at, 'finished_at', last.finished_at, 'restored', last.restored,
            'after_seq', last.after_seq, 'cjn_last_seq', last.cjn_last_seq) end);
end
$$;

-- The listener is about to ask the CJN: the number after which to ask (the highest message
-- number the court holds; below a number the CJN refused as reused), or null when no recovery
-- is open.
create function juris.recovery_request() returns bigint
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    r court.recovery;
begin
    perform juris._require_listener();
    r := juris._open_recovery();
    if r.recovery_id is null then
        return null;
    end if;
    update court.recovery x set requested_at = now() where x.recovery_id = r.recovery_id;
    -- Opened because the CJN refused a number it holds already: from that number on, so that
    -- the CJN's message under it comes back too (and the conflict is shown, not skipped).
    return coalesce(
        (select min(o.seq) - 1 from court.outbox o
          where o.state = 'rejected' and o.rejection_code = 'sequence_reused' and o.rejected_at >= r.started_at),
        (select max(o.seq) from court.outbox o),
        0);
end
$$;

-- Advances a counter to at least `v` (restored numbers are never given again).
create function juris._counter_at_least(counter_name text, counter_year integer, v bigint) returns void
    language sql
    set search_path = pg_catalog, pg_temp
begin atomic
    insert into court.counter as c (name, year, value) values (counter_name, counter_year, v)
    on conflict (name, year) do update set value = greatest(c.value, excluded.value);
end;

-- Re-creates at the court one of its own messages that the CJN sent back (the listener verified
-- the court's signature on it): `message` is the outbox payload (protocol::outbox_json). A fiche
-- signed, rectified or withdrawn, or a sentence event, is written back as it was signed, its
-- message pending again (the CJN answers it with the receipt it gave: the fiche is archived
-- then). Returns 'restored', or 'present' when the court holds the message already.
create function juris.recovery_restore(message jsonb) returns text
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    r court.recovery;
    c court.court;
    msg_id uuid := (message ->> 'message_id')::uuid;
    msg_seq bigint := (message ->> 'seq')::bigint;
    kind text := message ->> 'kind';
    msg_niu text := message ->> 'niu';
    ver integer := (message ->> 'version')::integer;
    doc jsonb := message -> 'fiche';
    f court.fiche;
    g court.fiche;
    signer text;
    signed_time timestamptz;
    e jsonb;
begin
    perform juris._require_listener();
    r := juris._open_recovery();
    if r.recovery_id is null then
        raise exception 'Aucune restauration en cours : message % du CJN non repris.', msg_id using errcode = 'XJ003';
    end if;
    select * into c from court.court;
    if message ->> 'court_code' is distinct from c.code then
        raise exception 'Le message % est d''une autre juridiction (%).', msg_id, message ->> 'court_code'
            using errcode = 'XJ001';
    end if;
    if exists (select from court.outbox o where o.message_id = msg_id) then
        return 'present';
    end if;
    if exists (select from court.outbox o where o.seq = msg_seq) then
        raise exception 'Le numéro de message % est déjà pris à la juridiction par un autre message que celui du CJN (%) : restauration impossible sans l''administrateur (docs/backup.md).', msg_seq, msg_id
            using errcode = 'XJ006';
    end if;
    if msg_niu is null or not juris.niu_valid(msg_niu) or substr(msg_niu, 1, 5) <> c.code then
        raise exception 'NIU invalide dans le message % : %.', msg_id, msg_niu using errcode = 'XJ001';
    end if;
    if kind in ('fiche_signed', 'fiche_rectified') then
        signer := doc ->> 'signed_by';
        signed_time := (doc ->> 'signed_at')::timestamptz;
        select * into f from court.fiche x where x.number = (doc ->> 'number')::bigint for update;
        if found and f.niu is distinct from msg_niu and f.niu is not null then
            raise exception 'La fiche n° % porte le NIU % à la juridiction, % au CJN : restauration impossible sans l''administrateur.',
                f.number, f.niu, msg_niu using errcode = 'XJ006';
        end if;
        if not found then
            if exists (select from court.fiche x where x.niu = msg_niu) then
                raise exception 'Le NIU % est porté par une autre fiche à la juridiction.', msg_niu using errcode = 'XJ006';
            end if;
            -- A fiche created after the backup: a draft first (the only way a fiche is born).
            insert into court.fiche (number, created_by, updated_by) values ((doc ->> 'number')::bigint, signer, signer)
            returning * into f;
        end if;
        g := juris._fiche_from_json(f, doc - 'signed_by' - 'signed_by_name' - 'signed_at');
        if f.status < 'signee' then
            if kind <> 'fiche_signed' or ver <> 1 then
                raise exception 'Le message % (version %) rectifie une fiche que la juridiction ne tient pas signée.', msg_id, ver
                    using errcode = 'XJ003';
            end if;
            perform juris._store_content(f.fiche_id, g, null, null);
            update court.fiche t set status = 'signee', niu = msg_niu, version = 1, signed_by = signer, signed_at = signed_time,
                   first_signed_by = coalesce(t.first_signed_by, signer)
             where t.fiche_id = f.fiche_id
            returning * into f;
        else
            if kind <> 'fiche_rectified' or ver <> f.version + 1 then
                raise exception 'Le message % (version %) ne suit pas la version % de la fiche n° %.', msg_id, ver, f.version, f.number
                    using errcode = 'XJ003';
            end if;
            -- As juris.apply_rectification wrote it, with the signature's login and time.
            update court.fiche t set
                reference = g.reference, surname = g.surname, given_names = g.given_names,
                birth_date = g.birth_date, birth_place = g.birth_place, sex = g.sex, father = g.father,
                mother = g.mother, profession = g.profession, civil_status = g.civil_status,
                domicile = g.domicile, nationality = g.nationality, conviction_date = g.conviction_date,
                offence_date = g.offence_date, offence_nature = g.offence_nature,
                offence_category = g.offence_category, offence_class = g.offence_class, warrants = g.warrants,
                road_traffic = g.road_traffic, sentence_type = g.sentence_type,
                sentence_months = g.sentence_months, suspended_months = g.suspended_months,
                fine_amount = g.fine_amount, legal_recidivism = g.legal_recidivism, minor = g.minor,
                excluded_b2 = g.excluded_b2, excluded_b3 = g.excluded_b3, b3_ordered = g.b3_ordered,
                ban = g.ban, ban_months = g.ban_months, ban_suspended = g.ban_suspended,
                revoked_suspension_niu = g.revoked_suspension_niu, minor_decided = g.minor_decided,
                ban_start = g.ban_start, ban_end = g.ban_end, ban_from_release = g.ban_from_release,
                status = 'signee', version = ver, rectification_motive = message ->> 'motive',
                signed_by = signer, signed_at = signed_time, verified_by = null, verified_at = null, archived_at = null
             where t.fiche_id = f.fiche_id
            returning * into f;
        end if;
        perform juris._counter_at_least('fiche', 0, f.number);
    elsif kind = 'fiche_withdrawn' then
        select * into f from court.fiche x where x.niu = msg_niu for update;
        if not found or f.status not in ('signee', 'archivee') or f.version <> ver then
            raise exception 'Le message % déclasse une fiche (NIU %, version %) que la juridiction ne tient pas signée.', msg_id, msg_niu, ver
                using errcode = 'XJ003';
        end if;
        update court.fiche t set status = 'declassee', withdrawn_by = doc ->> 'signed_by',
               withdrawn_at = (message ->> 'created_at')::timestamptz, withdrawal_motive = message ->> 'motive'
         where t.fiche_id = f.fiche_id
        returning * into f;
    elsif kind = 'sentence_event' then
        select * into f from court.fiche x where x.niu = msg_niu;
        if not found then
            raise exception 'Le message % porte sur une fiche (NIU %) que la juridiction ne tient pas.', msg_id, msg_niu
                using errcode = 'XJ003';
        end if;
        e := message;
    else
        raise exception 'Message % d''un genre que la restauration ne connaît pas : %.', msg_id, kind using errcode = 'XJ001';
    end if;
    insert into court.outbox (message_id, seq, kind, fiche_id, niu, version, payload, created_at)
    values (msg_id, msg_seq, kind, f.fiche_id, msg_niu, ver, message, (message ->> 'created_at')::timestamptz);
    if e is not null then
        insert into court.sentence_event (event_id, fiche_id, niu, fiche_version, event_kind, event_date, remitted_months,
                                          total, cancels, reference, note, recorded_by, recorded_at)
        values ((e ->> 'event_id')::uuid, f.fiche_id, msg_niu, ver, e ->> 'event_kind', (e ->> 'event_date')::date,
                (e ->> 'remitted_months')::integer, coalesce((e ->> 'total')::boolean, false), (e ->> 'cancels')::uuid,
                e ->> 'reference', e ->> 'note', e ->> 'recorded_by', (e ->> 'recorded_at')::timestamptz);
    end if;
    perform juris._audit_append('restore', 'fiche', f.fiche_id::text, jsonb_build_object(
        'note', 'restaurée depuis le CJN', 'message_id', msg_id, 'seq', msg_seq, 'kind', kind, 'niu', msg_niu,
        'version', ver, 'recovery_id', r.recovery_id));
    perform juris._counter_at_least('message', 0, msg_seq);
    perform juris._counter_at_least('niu', substr(msg_niu, 6, 4)::integer, substr(msg_niu, 10, 6)::bigint);
    update court.recovery x set restored = x.restored + 1 where x.recovery_id = r.recovery_id;
    notify xmjuris_outbox;
    return 'restored';
end
$$;

-- Records the CJN's answer: the highest number it holds of this court, and whether it sent
-- everything; once it did, the recovery ends (the counters are at least the CJN's numbers) and
-- the court signs again. `problem`: why the answer could not be applied (the recovery stays
-- open, an operator is needed). Returns the state (juris.recovery_state()).
create function juris.recovery_answered(cjn_last_seq bigint, complete boolean, problem text default null)
    returns jsonb
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    r court.recovery;
begin
    perform juris._require_listener();
    r := juris._open_recovery();
    if r.recovery_id is null then
        return juris.recovery_state();
    end if;
    update court.recovery x set answered_at = now(), cjn_last_seq = recovery_answered.cjn_last_seq,
           problem = nullif(btrim(recovery_answered.problem), '')
     where x.recovery_id = r.recovery_id;
    if complete and problem is null then
        perform juris._counter_at_least('message', 0, cjn_last_seq);
        update court.recovery x set finished_at = now() where x.recovery_id = r.recovery_id
        returning * into r;
        perform juris._audit_append('recovery_end', 'court', (select c.code from court.court c),
            jsonb_build_object('recovery_id', r.recovery_id, 'restored', r.restored, 'cjn_last_seq', cjn_last_seq));
    end if;
    notify xmjuris_transmission;
    return juris.recovery_state();
end
$$;

-- Closes the open recovery by the database administrator's decision (granted to no role),
-- after acting on what stopped it (docs/backup.md, « Base restaurée à la main »): the court
-- signs again. The counters are left past every number the court holds.
create function juris.end_recovery(note text) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    r court.recovery;
begin
    if coalesce(btrim(note), '') = '' then
        raise exception 'Le motif de la clôture est requis.' using errcode = 'XJ001', column = 'note';
    end if;
    r := juris._open_recovery();
    if r.recovery_id is null then
        raise exception 'Aucune restauration en cours.' using errcode = 'XJ003';
    end if;
    update court.recovery x set finished_at = now() where x.recovery_id = r.recovery_id;
    perform juris._audit_append('recovery_end', 'court', (select c.code from court.court c),
        jsonb_build_object('recovery_id', r.recovery_id, 'restored', r.restored, 'problem', r.problem,
                           'closed_by_administrator', btrim(note)));
    notify xmjuris_transmission;
end
$$;

-- After the CJN was restored from its own backup and lost the court's last messages
-- (`xmjuris reconcile` lists them): the messages from number `from_seq` on that the CJN had
-- receipted are sent again (pending once more; the fiches stay archived). Returns how many.
-- For the listener (`xmjuris-listener resend --from-seq N`) and the database administrator.
create function juris.requeue_messages(from_seq bigint) returns integer
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    n integer;
begin
    perform juris._require_listener();
    if from_seq is null or from_seq < 1 then
        raise exception 'Numéro de message invalide : %.', from_seq using errcode = 'XJ001', column = 'from_seq';
    end if;
    update court.outbox o set state = 'pending', sent_at = null, defect = null, defect_at = null
     where o.seq >= from_seq and o.state = 'acknowledged';
    get diagnostics n = row_count;
    perform juris._audit_append('resend', 'court', (select c.code from court.court c),
        jsonb_build_object('from_seq', from_seq, 'messages', n));
    notify xmjuris_outbox;
    return n;
end
$$;

revoke all on function juris._open_recovery(), juris._begin_recovery(text), juris.begin_recovery(text),
    juris.end_recovery(text),
    juris.recovery_state(), juris.recovery_request(), juris._counter_at_least(text, integer, bigint),
    juris.recovery_restore(jsonb), juris.recovery_answered(bigint, boolean, text),
    juris.requeue_messages(bigint) from public;
grant execute on function juris.recovery_state(), juris.recovery_request(), juris.recovery_restore(jsonb),
    juris.recovery_answered(bigint, boolean, text), juris.requeue_messages(bigint) to juris_listener;
grant execute on function juris.recovery_state() to greffier;
