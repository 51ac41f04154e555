-- Internal helpers of the court API (prefixed `_`, executable by no staff role).
-- Error codes (SQLSTATE class XJ): XJ001 invalid data, XJ002 not allowed, XJ003 wrong state,
-- XJ004 not found, XJ005 limit reached, XJ006 immutable record, XJ007 court not initialised.

-- Search key of a name: unaccented, lower-case, punctuation as spaces, single spaces.
create function juris._norm(t text) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, ext, pg_temp
return btrim(regexp_replace(
    regexp_replace(lower(ext.unaccent('ext.unaccent'::regdictionary, coalesce(t, ''))), '[^a-z0-9]+', ' ', 'g'),
    '\s+', ' ', 'g'));

-- French label of a workflow state, as the users know it.
create function juris._status_label(s court.fiche_status) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return case s
    when 'brouillon' then 'brouillon'
    when 'soumise' then 'soumise'
    when 'verifiee' then 'vérifiée'
    when 'signee' then 'signée'
    when 'archivee' then 'archivée'
    when 'declassee' then 'déclassée'
end;

-- Status number 0..5 of a workflow state.
create function juris._status_number(s court.fiche_status) returns integer
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return array_position(enum_range(null::court.fiche_status), s) - 1;

-- The staff member behind this session (by `session_user`), refused if unknown or suspended,
-- or below the privilege asked. `what` names the action in the message.
create function juris._require(min_privilege integer, what text) returns court.app_user
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    u court.app_user;
begin
    select * into u from court.app_user where login = session_user;
    if not found then
        raise exception 'Utilisateur inconnu dans cette juridiction : « % ».', session_user
            using errcode = 'XJ002';
    end if;
    if u.privilege = 0 then
        raise exception 'Le compte « % » est suspendu.', u.login using errcode = 'XJ002';
    end if;
    if u.privilege < min_privilege then
        raise exception '% : action réservée %.', what,
            case min_privilege when 3 then 'au greffier' when 2 then 'aux secrétaires et au greffier'
                               else 'au personnel de la juridiction' end
            using errcode = 'XJ002';
    end if;
    return u;
end
$$;

-- Next value of a gapless counter (the row stays locked until commit; a rollback leaves no hole).
-- Refused for fiche numbers, NIUs and message numbers while a recovery is open (court.recovery:
-- the court was restored from a backup and takes back from the CJN what it signed since; a
-- number taken now could be one the CJN already holds with other content).
create function juris._next(counter_name text, counter_year integer) returns bigint
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
declare
    v bigint;
begin
    if counter_name in ('fiche', 'niu', 'message')
       and exists (select from court.recovery r where r.finished_at is null) then
        raise exception 'Restauration en cours : la base de la juridiction a été restaurée depuis une sauvegarde et le démon de transmission récupère auprès du CJN les fiches signées depuis. Aucune fiche ne peut être créée, signée, rectifiée ou déclassée avant la fin de la restauration (état : juris.recovery_state()).'
            using errcode = 'XJ003';
    end if;
    insert into court.counter as c (name, year, value) values (counter_name, counter_year, 1)
    on conflict (name, year) do update set value = c.value + 1
    returning value into v;
    return v;
end
$$;

-- ISO 7064 MOD 97-10 check digits of a number given as digits.
create function juris._mod97_check(digits text) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return lpad((98 - ((digits::numeric * 100) % 97))::text, 2, '0');

-- True when `niu` is 17 digits whose MOD 97-10 check holds: a mistyped NIU is told apart.
create function juris.niu_valid(niu text) returns boolean
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return coalesce(niu ~ '^[0-9]{17}$' and (niu::numeric % 97) = 1, false);

-- The fiche with this NIU (refused if the NIU is mistyped or unknown).
create function juris.fiche_id_by_niu(niu text) returns bigint
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    found_id bigint;
begin
    perform juris._require(1, 'Consulter une fiche');
    if not juris.niu_valid(niu) then
        raise exception 'NIU invalide : « % » (17 chiffres dont une clé de contrôle) ; vérifiez la saisie.', niu
            using errcode = 'XJ001', column = 'niu';
    end if;
    select f.fiche_id into found_id from court.fiche f where f.niu = fiche_id_by_niu.niu;
    if not found then
        raise exception 'Aucune fiche ne porte le NIU %.', niu using errcode = 'XJ004';
    end if;
    return found_id;
end
$$;

-- Canonical text of an audit row, the input of its hash (independent of the session's settings).
create function juris._audit_canonical(
    seq bigint, at timestamptz, actor text, action text, entity text, entity_id text, data jsonb)
    returns bytea
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return convert_to(
    seq::text || '|' || to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || actor
        || '|' || action || '|' || entity || '|' || entity_id || '|' || data::text,
    'UTF8');

-- Appends one row to the audit chain. Appends are serialised by a transaction lock, so
-- concurrent writers never fork the chain; hash = sha256(previous hash || canonical row).
create function juris._audit_append(action text, entity text, entity_id text, data jsonb) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    last court.audit;
    new_seq bigint;
    new_at timestamptz := clock_timestamp();
    prev bytea;
begin
    perform pg_advisory_xact_lock(7036582001);
    select * into last from court.audit order by seq desc limit 1;
    new_seq := coalesce(last.seq, 0) + 1;
    prev := coalesce(last.hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    insert into court.audit (seq, at, actor, action, entity, entity_id, data, prev_hash, hash)
    values (new_seq, new_at, session_user, action, entity, entity_id, data, prev,
            sha256(prev || juris._audit_canonical(new_seq, new_at, session_user, action, entity, entity_id, data)));
end
$$;

-- The head of the audit chain (sequence number and hash), carried by every message to the CJN.
create function juris._audit_head() returns jsonb
    language sql stable
    set search_path = pg_catalog, pg_temp
return coalesce(
    (select jsonb_build_object('seq', a.seq, 'hash', encode(a.hash, 'hex'))
       from court.audit a order by a.seq desc limit 1),
    jsonb_build_object('seq', 0, 'hash', repeat('0', 64)));

-- ISO 8601 UTC text of a time, as the messages carry it.
create function juris._iso(t timestamptz) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
