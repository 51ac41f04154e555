-- The fiche workflow: 0 brouillon -> 1 soumise -> 2 vérifiée -> 3 signée -> 4 archivée, and 5 déclassée.

-- A text field of a JSON object: trimmed, null when absent or empty; refused if not a string.
create function juris._text(obj jsonb, field text) returns text
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
begin
    if obj is null or obj -> field is null or jsonb_typeof(obj -> field) = 'null' then
        return null;
    end if;
    if jsonb_typeof(obj -> field) not in ('string', 'number') then
        raise exception 'Valeur invalide pour « % » : texte attendu.', juris._field_label(field)
            using errcode = 'XJ001', column = field;
    end if;
    return nullif(btrim(obj ->> field), '');
end
$$;

-- A date field (ISO 8601, YYYY-MM-DD), refused with a clear message when it is not a real date.
create function juris._date(obj jsonb, field text) returns date
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    t text := juris._text(obj, field);
begin
    if t is null then
        return null;
    end if;
    if t !~ '^\d{4}-\d{2}-\d{2}$' then
        raise exception 'Date invalide pour « % » : « % » (format attendu AAAA-MM-JJ).', juris._field_label(field), t
            using errcode = 'XJ001', column = field;
    end if;
    return t::date;
exception
    when datetime_field_overflow or invalid_datetime_format then
        raise exception 'Date invalide pour « % » : « % » n''existe pas.', juris._field_label(field), t
            using errcode = 'XJ001', column = field;
end
$$;

-- A whole number or decimal field.
create function juris._number(obj jsonb, field text) returns numeric
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    t text := juris._text(obj, field);
begin
    return t::numeric;
exception
    when invalid_text_representation then
        raise exception 'Nombre invalide pour « % » : « % ».', juris._field_label(field), t
            using errcode = 'XJ001', column = field;
end
$$;

create function juris._integer(obj jsonb, field text) returns integer
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    n numeric := juris._number(obj, field);
begin
    if n is not null and (n <> trunc(n) or n < 0 or n > 1200) then
        raise exception 'Nombre entier de 0 à 1200 attendu pour « % » : %.', juris._field_label(field), n
            using errcode = 'XJ001', column = field;
    end if;
    return n::integer;
end
$$;

-- An amount of money: whole francs (the protocol carries whole units, u64), from 0 to
-- 999 999 999 999, given as a JSON number or a string of digits (spaces between thousands
-- allowed). Cents, NaN, Infinity, exponents and signs are refused.
create function juris._amount(obj jsonb, field text) returns bigint
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    t text := juris._text(obj, field);
    digits text;
    n numeric;
begin
    if t is null then
        return null;
    end if;
    digits := regexp_replace(t, '[ \u00a0\u202f]', '', 'g');
    if jsonb_typeof(obj -> field) = 'number' and digits ~ '^[0-9]+(\.0+)?$' then
        digits := split_part(digits, '.', 1);
    end if;
    if digits !~ '^[0-9]{1,12}$' then
        raise exception 'Montant invalide pour « % » : « % » (un nombre entier de francs, sans centimes, au plus 999 999 999 999).',
            juris._field_label(field), left(t, 40)
            using errcode = 'XJ001', column = field;
    end if;
    n := digits::numeric;
    return n::bigint;
end
$$;

create function juris._boolean(obj jsonb, field text) returns boolean
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
begin
    if obj is null or obj -> field is null or jsonb_typeof(obj -> field) = 'null' then
        return false;
    end if;
    if jsonb_typeof(obj -> field) <> 'boolean' then
        raise exception 'Valeur invalide pour « % » : oui ou non attendu (true/false).', juris._field_label(field)
            using errcode = 'XJ001', column = field;
    end if;
    return (obj -> field)::boolean;
end
$$;

-- A value of an enumerated type (sexe, état civil...), refused with the accepted values.
create function juris._choice(obj jsonb, field text, type regtype) returns text
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    t text := juris._text(obj, field);
begin
    if t is not null and not exists (select from pg_catalog.pg_enum e where e.enumtypid = type and e.enumlabel = t) then
        raise exception 'Valeur invalide pour « % » : « % » (valeurs admises : %).', juris._field_label(field), t,
            (select string_agg(e.enumlabel, ', ' order by e.enumsortorder) from pg_catalog.pg_enum e where e.enumtypid = type)
            using errcode = 'XJ001', column = field;
    end if;
    return t;
end
$$;

-- Refuses keys that are not fields of a fiche (a typo must not silently lose data).
create function juris._check_keys(obj jsonb, allowed text[], what text) returns void
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
declare
    unknown text;
begin
    if obj is null then
        return;
    end if;
    if jsonb_typeof(obj) <> 'object' then
        raise exception '% : objet JSON attendu.', what using errcode = 'XJ001';
    end if;
    select string_agg(k, ', ') into unknown from jsonb_object_keys(obj) k where k <> all (allowed);
    if unknown is not null then
        raise exception 'Champ(s) inconnu(s) dans % : %.', what, unknown using errcode = 'XJ001';
    end if;
end
$$;

-- Copies the fields of a fiche given as JSON (the shape of juris.get_fiche) into a row.
create function juris._fiche_from_json(f court.fiche, doc jsonb) returns court.fiche
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    j jsonb := doc -> 'justiciable';
    c jsonb := doc -> 'condamnation';
    category text;
begin
    perform juris._check_keys(doc, array['id', 'number', 'reference', 'justiciable', 'condamnation',
        'status', 'status_label', 'niu', 'version', 'workflow'], 'la fiche');
    perform juris._check_keys(j, array['surname', 'given_names', 'birth_date', 'birth_place', 'sex', 'father',
        'mother', 'profession', 'civil_status', 'domicile', 'nationality'], 'le justiciable');
    perform juris._check_keys(c, array['conviction_date', 'offence_date', 'offence_nature', 'offence_category',
        'offence_category_label', 'offence_class', 'warrants', 'road_traffic', 'sentence_type', 'sentence_months',
        'suspended_months', 'fine_amount', 'legal_recidivism', 'minor', 'excluded_b2', 'excluded_b3',
        'b3_ordered', 'ban', 'ban_months', 'ban_suspended', 'revoked_suspension_niu', 'minor_decided',
        'ban_start', 'ban_end', 'ban_from_release'],
        'la condamnation');
    f.reference := juris._text(doc, 'reference');
    f.surname := juris._text(j, 'surname');
    f.given_names := juris._text(j, 'given_names');
    f.birth_date := juris._date(j, 'birth_date');
    f.birth_place := juris._text(j, 'birth_place');
    f.sex := juris._choice(j, 'sex', 'court.sex')::court.sex;
    f.father := juris._text(j, 'father');
    f.mother := juris._text(j, 'mother');
    f.profession := juris._text(j, 'profession');
    f.civil_status := juris._choice(j, 'civil_status', 'court.civil_status')::court.civil_status;
    f.domicile := juris._text(j, 'domicile');
    f.nationality := juris._text(j, 'nationality');
    f.conviction_date := juris._date(c, 'conviction_date');
    f.offence_date := juris._date(c, 'offence_date');
    f.offence_nature := juris._text(c, 'offence_nature');
    category := juris._text(c, 'offence_category');
    if category is not null and not exists (select from court.offence_category o where o.code = category) then
        raise exception 'Catégorie d''infraction inconnue : « % » (voir juris.offence_categories()).', category
            using errcode = 'XJ001', column = 'offence_category';
    end if;
    f.offence_category := category;
    f.offence_class := juris._choice(c, 'offence_class', 'court.offence_class')::court.offence_class;
    f.warrants := juris._text(c, 'warrants');
    f.road_traffic := juris._text(c, 'road_traffic');
    f.sentence_type := juris._choice(c, 'sentence_type', 'court.sentence_type')::court.sentence_type;
    f.sentence_months := juris._integer(c, 'sentence_months');
    f.suspended_months := juris._integer(c, 'suspended_months');
    f.fine_amount := juris._amount(c, 'fine_amount');
    f.legal_recidivism := juris._boolean(c, 'legal_recidivism');
    f.minor := juris._boolean(c, 'minor');
    f.excluded_b2 := juris._boolean(c, 'excluded_b2');
    f.excluded_b3 := juris._boolean(c, 'excluded_b3');
    f.b3_ordered := juris._boolean(c, 'b3_ordered');
    f.ban := juris._text(c, 'ban');
    f.ban_months := juris._integer(c, 'ban_months');
    f.ban_suspended := juris._boolean(c, 'ban_suspended');
    f.revoked_suspension_niu := juris._text(c, 'revoked_suspension_niu');
    f.minor_decided := juris._boolean(c, 'minor_decided');
    f.ban_start := juris._date(c, 'ban_start');
    f.ban_end := juris._date(c, 'ban_end');
    f.ban_from_release := juris._boolean(c, 'ban_from_release');
    return f;
end
$$;

-- Locks a fiche for a transition, refusing an unknown one.
create function juris._lock_fiche(id bigint) returns court.fiche
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
declare
    f court.fiche;
begin
    select * into f from court.fiche where fiche_id = id for update;
    if not found then
        raise exception 'Fiche introuvable : %.', id using errcode = 'XJ004';
    end if;
    return f;
end
$$;

-- Why `me` may not do `action` to fiche `f` now, as {SQLSTATE, French message}; null when
-- allowed. The one statement of who may do what to whose fiche (ARCHITECTURE.md, "Who may do
-- what"): each action function checks it, and juris.fiche_actions shows it to the GUI.
-- Actions: save, submit, verify, return, sign, print, withdraw, rectify (propose a rectification),
-- verify_rectification, return_rectification, apply_rectification, erase, record_event (a dated
-- event after signature: 35_sentence_events.sql).
create function juris._action_refusal(action text, f court.fiche, me court.app_user) returns text[]
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    what text := case action
        when 'save' then 'Modifier la fiche' when 'submit' then 'Soumettre' when 'verify' then 'Vérifier'
        when 'return' then 'Renvoyer' when 'sign' then 'Signer' when 'print' then 'Imprimer'
        when 'withdraw' then 'Déclasser' when 'rectify' then 'Proposer une rectification'
        when 'verify_rectification' then 'Vérifier la rectification'
        when 'return_rectification' then 'Renvoyer la rectification'
        when 'apply_rectification' then 'Appliquer la rectification'
        when 'erase' then 'Effacer' when 'record_event' then 'Enregistrer un événement' end;
    min_privilege integer := case action
        when 'verify' then 2 when 'return' then 2 when 'sign' then 3 when 'withdraw' then 3
        when 'verify_rectification' then 2 when 'return_rectification' then 2
        when 'apply_rectification' then 3 when 'record_event' then 3 else 1 end;
    allowed court.fiche_status[] := case action
        when 'save' then '{brouillon}' when 'submit' then '{brouillon}' when 'erase' then '{brouillon}'
        when 'verify' then '{soumise}' when 'return' then '{soumise,verifiee}' when 'sign' then '{verifiee}'
        when 'withdraw' then '{signee,archivee}' when 'rectify' then '{signee,archivee}'
        when 'verify_rectification' then '{signee,archivee}' when 'return_rectification' then '{signee,archivee}'
        when 'apply_rectification' then '{signee,archivee}' when 'record_event' then '{signee,archivee}' end;
    proposal court.rectification;
begin
    if what is null then
        raise exception 'Action inconnue : « % ».', action using errcode = 'XJ001';
    end if;
    if me.privilege < min_privilege then
        return array['XJ002', format('%s : action réservée %s.', what,
            case min_privilege when 3 then 'au greffier' else 'aux secrétaires et au greffier' end)];
    end if;
    if allowed is not null and f.status <> all (allowed) then
        return array['XJ003', format('%s : impossible, la fiche n° %s est %s (statut %s).', what, f.number,
            juris._status_label(f.status), juris._status_number(f.status))];
    end if;
    -- An agent works on the drafts he entered; secrétaires and the greffier may correct any draft
    -- (and then may not verify it).
    if action in ('save', 'submit', 'erase') and me.privilege = 1 and f.created_by <> me.login then
        return array['XJ002', format('%s : un agent ne travaille que sur les fiches qu''il a saisies (celle-ci : %s).',
            what, coalesce(juris._full_name(f.created_by), f.created_by))];
    end if;
    -- Four eyes: neither the author nor whoever last changed the content verifies it.
    if action = 'verify' and f.content_by = me.login then
        return array['XJ002', 'Vérifier : vous avez modifié cette fiche en dernier ; une autre personne doit la vérifier.'];
    end if;
    if action = 'verify' and me.login = any (f.content_editors) then
        return array['XJ002', 'Vérifier : vous avez modifié cette fiche ; une autre personne doit la vérifier.'];
    end if;
    if action = 'verify' and f.created_by = me.login then
        return array['XJ002', 'Vérifier : vous ne pouvez pas vérifier une fiche que vous avez saisie.'];
    end if;
    -- A correction of a signed fiche: proposed, verified by another person, applied by the greffier.
    if action in ('rectify', 'verify_rectification', 'return_rectification', 'apply_rectification') then
        select * into proposal from court.rectification r
         where r.fiche_id = f.fiche_id and r.state in ('proposee', 'verifiee');
        if action = 'rectify' and proposal.rectification_id is not null then
            return array['XJ003', format('%s : une rectification de la fiche n° %s est déjà en cours (%s).', what,
                f.number, case proposal.state when 'proposee' then 'à vérifier' else 'à appliquer' end)];
        end if;
        if action <> 'rectify' and proposal.rectification_id is null then
            return array['XJ003', format('%s : aucune rectification en cours pour la fiche n° %s.', what, f.number)];
        end if;
        if action = 'verify_rectification' and proposal.state <> 'proposee' then
            return array['XJ003', format('%s : elle est déjà vérifiée.', what)];
        end if;
        if action = 'verify_rectification' and proposal.proposed_by = me.login then
            return array['XJ002', format('%s : vous l''avez proposée ; une autre personne doit la vérifier.', what)];
        end if;
        if action = 'apply_rectification' and proposal.state <> 'verifiee' then
            return array['XJ003', format('%s : elle doit d''abord être vérifiée par une autre personne que son auteur.', what)];
        end if;
    end if;
    return null;
end
$$;

-- Raises the refusal of juris._action_refusal, if any.
create function juris._check_action(action text, f court.fiche, me court.app_user) returns void
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    refusal text[] := juris._action_refusal(action, f, me);
begin
    if refusal is not null then
        raise exception using errcode = refusal[1], message = refusal[2];
    end if;
end
$$;

-- What the session's user may do to a fiche now: one row per action (save, submit, verify,
-- return, sign, print, withdraw, rectify, verify_rectification, return_rectification,
-- apply_rectification, erase, record_event), with the French reason when not. For the GUI,
-- which enables its buttons from it; the action functions check the same rules.
create function juris.fiche_actions(id bigint) returns table (action text, allowed boolean, reason text)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
    probe court.fiche;
    a text;
    refusal text[];
begin
    me := juris._require(1, 'Consulter une fiche');
    select * into f from court.fiche t where t.fiche_id = id;
    if not found then
        raise exception 'Fiche introuvable : %.', id using errcode = 'XJ004';
    end if;
    foreach a in array array['save', 'submit', 'verify', 'return', 'sign', 'print', 'withdraw', 'rectify',
                             'verify_rectification', 'return_rectification', 'apply_rectification', 'erase',
                             'record_event'] loop
        refusal := juris._action_refusal(a, f, me);
        if refusal is null and a = 'submit' then
            -- Completeness, as the write trigger will check it at submission.
            probe := f;
            probe.status := 'soumise';
            begin
                perform juris._fiche_validate(probe);
            exception when sqlstate 'XJ001' then
                refusal := array['XJ001', 'Soumettre : ' || sqlerrm];
            end;
        end if;
        if refusal is null and a = 'sign' and not exists (select from court.court) then
            refusal := array['XJ007', 'Signer : la juridiction n''est pas initialisée (xmjuris court init).'];
        end if;
        action := a;
        allowed := refusal is null;
        reason := refusal[2];
        return next;
    end loop;
end
$$;

-- Writes the content of `f` into fiche `id`: a draft's new content, or, when `rectified_by` is
-- given, a signed fiche's new version (version + 1, signed again by `rectified_by`).
create function juris._store_content(id bigint, f court.fiche, rectified_by text, motive text) returns court.fiche
    language sql
    set search_path = pg_catalog, pg_temp
begin atomic
    update court.fiche t set
        reference = f.reference, surname = f.surname, given_names = f.given_names,
        birth_date = f.birth_date, birth_place = f.birth_place, sex = f.sex, father = f.father,
        mother = f.mother, profession = f.profession, civil_status = f.civil_status,
        domicile = f.domicile, nationality = f.nationality, conviction_date = f.conviction_date,
        offence_date = f.offence_date, offence_nature = f.offence_nature,
        offence_category = f.offence_category, offence_class = f.offence_class, warrants = f.warrants,
        road_traffic = f.road_traffic, sentence_type = f.sentence_type,
        sentence_months = f.sentence_months, suspended_months = f.suspended_months,
        fine_amount = f.fine_amount, legal_recidivism = f.legal_recidivism, minor = f.minor,
        excluded_b2 = f.excluded_b2, excluded_b3 = f.excluded_b3, b3_ordered = f.b3_ordered,
        ban = f.ban, ban_months = f.ban_months, ban_suspended = f.ban_suspended,
        revoked_suspension_niu = f.revoked_suspension_niu, minor_decided = f.minor_decided,
        ban_start = f.ban_start, ban_end = f.ban_end, ban_from_release = f.ban_from_release,
        status = case when rectified_by is null then t.status else 'signee' end,
        version = t.version + case when rectified_by is null then 0 else 1 end,
        rectification_motive = case when rectified_by is null then t.rectification_motive else motive end,
        signed_by = coalesce(rectified_by, t.signed_by),
        signed_at = case when rectified_by is null then t.signed_at else now() end,
        verified_by = case when rectified_by is null then t.verified_by end,
        verified_at = case when rectified_by is null then t.verified_at end,
        archived_at = case when rectified_by is null then t.archived_at end
     where t.fiche_id = id
    returning *;
end;

-- Creates a draft (no `id`) or replaces the content of a draft (`id` given). Returns the fiche id.
create function juris.save_fiche(fiche jsonb) returns bigint
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
    id bigint;
begin
    me := juris._require(1, 'Enregistrer une fiche');
    if fiche is null or jsonb_typeof(fiche) <> 'object' then
        raise exception 'Fiche attendue sous forme d''objet JSON.' using errcode = 'XJ001';
    end if;
    if fiche ? 'id' and jsonb_typeof(fiche -> 'id') <> 'null' then
        id := (fiche ->> 'id')::bigint;
        f := juris._lock_fiche(id);
        perform juris._check_action('save', f, me);
        f := juris._fiche_from_json(f, fiche);
        perform juris._store_content(id, f, null, null);
        return id;
    end if;
    f := juris._fiche_from_json(f, fiche);
    insert into court.fiche (
        number, reference, surname, given_names, birth_date, birth_place, sex, father, mother,
        profession, civil_status, domicile, nationality, conviction_date, offence_date, offence_nature,
        offence_category, offence_class, warrants, road_traffic, sentence_type, sentence_months,
        suspended_months, fine_amount, legal_recidivism, minor, excluded_b2, excluded_b3,
        b3_ordered, ban, ban_months, ban_suspended, revoked_suspension_niu,
        minor_decided, ban_start, ban_end, ban_from_release,
        created_by, updated_by)
    values (
        juris._next('fiche', 0), f.reference, f.surname, f.given_names, f.birth_date, f.birth_place, f.sex,
        f.father, f.mother, f.profession, f.civil_status, f.domicile, f.nationality, f.conviction_date,
        f.offence_date, f.offence_nature, f.offence_category, f.offence_class, f.warrants, f.road_traffic,
        f.sentence_type, f.sentence_months, f.suspended_months, f.fine_amount, f.legal_recidivism, f.minor,
        f.excluded_b2, f.excluded_b3, f.b3_ordered, f.ban, f.ban_months, f.ban_suspended,
        f.revoked_suspension_niu, f.minor_decided, f.ban_start, f.ban_end, f.ban_from_release, me.login, me.login)
    returning fiche_id into id;
    return id;
end
$$;

-- 0 -> 1: the draft is complete and goes to verification.
create function juris.submit_fiche(id bigint) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
begin
    me := juris._require(1, 'Soumettre une fiche');
    f := juris._lock_fiche(id);
    perform juris._check_action('submit', f, me);
    update court.fiche t set status = 'soumise', submitted_by = me.login, submitted_at = now()
     where t.fiche_id = id;
end
$$;

-- 1 -> 2: a secrétaire (or the greffier) other than the author checks the fiche.
create function juris.verify_fiche(id bigint) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
begin
    me := juris._require(2, 'Vérifier une fiche');
    f := juris._lock_fiche(id);
    perform juris._check_action('verify', f, me);
    update court.fiche t set status = 'verifiee', verified_by = me.login, verified_at = now(),
           first_verified_by = coalesce(t.first_verified_by, me.login)
     where t.fiche_id = id;
end
$$;

-- 1 or 2 -> 0: back to the author for correction, with a comment.
create function juris.return_fiche(id bigint, comment text) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
begin
    me := juris._require(2, 'Renvoyer une fiche');
    if coalesce(btrim(comment), '') = '' then
        raise exception 'Un commentaire est requis pour renvoyer une fiche en correction.'
            using errcode = 'XJ001', column = 'comment';
    end if;
    perform juris._check_length(btrim(comment), 'return_comment');
    f := juris._lock_fiche(id);
    perform juris._check_action('return', f, me);
    update court.fiche t set status = 'brouillon', returned_by = me.login, returned_at = now(),
           return_comment = btrim(comment), verified_by = null, verified_at = null
     where t.fiche_id = id;
end
$$;

-- Writes the message to transmit to the CJN, in the caller's transaction, and wakes the listener.
create function juris._enqueue(f court.fiche, kind text, motive text) returns void
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
declare
    c court.court;
    msg_seq bigint;
    msg_id uuid := gen_random_uuid();
    signer court.app_user;
begin
    select * into c from court.court;
    select * into signer from court.app_user u where u.login = session_user;
    msg_seq := juris._next('message', 0);
    insert into court.outbox (message_id, seq, kind, fiche_id, niu, version, payload)
    values (msg_id, msg_seq, kind, f.fiche_id, f.niu, f.version, jsonb_build_object(
        'message_id', msg_id,
        'kind', kind,
        'court_code', c.code,
        'seq', msg_seq,
        'created_at', juris._iso(clock_timestamp()),
        'niu', f.niu,
        'version', f.version,
        'motive', motive,
        'audit_head', juris._audit_head(),
        'fiche', juris._fiche_content(f) || jsonb_build_object(
            'signed_by', session_user,
            'signed_by_name', signer.full_name,
            'signed_at', juris._iso(coalesce(f.signed_at, now())))));
    -- One wake-up per transaction (identical notifications are folded), never a data carrier.
    notify xmjuris_outbox;
end
$$;

-- 2 -> 3: the greffier signs; the fiche gets its NIU and its message to the CJN. Returns the NIU.
create function juris.sign_fiche(id bigint) returns text
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
    c court.court;
    sign_year integer := extract(year from current_date);
    niu_seq bigint;
    base text;
begin
    me := juris._require(3, 'Signer une fiche');
    select * into c from court.court;
    if not found then
        raise exception 'La juridiction n''est pas initialisée (xmjuris court init).' using errcode = 'XJ007';
    end if;
    f := juris._lock_fiche(id);
    perform juris._check_action('sign', f, me);
    niu_seq := juris._next('niu', sign_year);
    if niu_seq > 999999 then
        raise exception 'Plus d''un million de fiches signées cette année : le NIU ne peut plus être attribué.'
            using errcode = 'XJ005';
    end if;
    base := c.code || sign_year::text || lpad(niu_seq::text, 6, '0');
    update court.fiche t set status = 'signee', niu = base || juris._mod97_check(base),
           signed_by = me.login, signed_at = now(), first_signed_by = coalesce(t.first_signed_by, me.login)
     where t.fiche_id = id
    returning * into f;
    perform juris._enqueue(f, 'fiche_signed', null);
    return f.niu;
end
$$;

-- 3 or 4 -> 5 (déclasser): the greffier withdraws a signed fiche, with a motive; transmitted.
create function juris.withdraw_fiche(id bigint, motive text) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
begin
    me := juris._require(3, 'Déclasser une fiche');
    if coalesce(btrim(motive), '') = '' then
        raise exception 'Le motif du déclassement est requis.' using errcode = 'XJ001', column = 'motive';
    end if;
    perform juris._check_length(btrim(motive), 'withdrawal_motive');
    f := juris._lock_fiche(id);
    perform juris._check_action('withdraw', f, me);
    update court.rectification r set state = 'renvoyee', returned_by = me.login, returned_at = now(),
           return_comment = 'Fiche déclassée : ' || left(btrim(withdraw_fiche.motive), 1900)
     where r.fiche_id = id and r.state in ('proposee', 'verifiee');
    update court.fiche t set status = 'declassee', withdrawn_by = me.login, withdrawn_at = now(),
           withdrawal_motive = btrim(motive)
     where t.fiche_id = id
    returning * into f;
    perform juris._enqueue(f, 'fiche_withdrawn', btrim(motive));
end
$$;

-- Proposes a correction of a signed or archived fiche (any staff member): the new content, in
-- save_fiche's shape, and the motive. Validated as a complete fiche now; the signed record does
-- not change until another person verified it and the greffier applied it. Returns its id.
create function juris.propose_rectification(id bigint, fiche jsonb, motive text) returns bigint
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
    proposed court.fiche;
    rid bigint;
begin
    me := juris._require(1, 'Proposer une rectification');
    if coalesce(btrim(motive), '') = '' then
        raise exception 'Le motif de la rectification est requis.' using errcode = 'XJ001', column = 'motive';
    end if;
    perform juris._check_length(btrim(motive), 'rectification_motive');
    f := juris._lock_fiche(id);
    perform juris._check_action('rectify', f, me);
    if fiche is null or jsonb_typeof(fiche) <> 'object' then
        raise exception 'Fiche attendue sous forme d''objet JSON.' using errcode = 'XJ001';
    end if;
    proposed := juris._fiche_from_json(f, fiche);
    proposed.status := 'soumise';
    perform juris._fiche_validate(proposed, f);
    if juris._fiche_content(proposed) = juris._fiche_content(f) then
        raise exception 'La rectification ne change rien à la fiche n° %.', f.number using errcode = 'XJ001';
    end if;
    insert into court.rectification (fiche_id, from_version, content, motive, proposed_by)
    values (id, f.version, juris._fiche_content(proposed), btrim(motive), me.login)
    returning rectification_id into rid;
    return rid;
end
$$;

-- Verifies the open proposal of rectification of a fiche: a secrétaire or the greffier other than
-- its author.
create function juris.verify_rectification(id bigint) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
begin
    me := juris._require(2, 'Vérifier une rectification');
    f := juris._lock_fiche(id);
    perform juris._check_action('verify_rectification', f, me);
    update court.rectification r set state = 'verifiee', verified_by = me.login, verified_at = now()
     where r.fiche_id = id and r.state = 'proposee';
end
$$;

-- Refuses the open proposal of rectification of a fiche, with a comment (secrétaire or greffier).
create function juris.return_rectification(id bigint, comment text) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
begin
    me := juris._require(2, 'Renvoyer une rectification');
    if coalesce(btrim(comment), '') = '' then
        raise exception 'Un commentaire est requis pour renvoyer une rectification.'
            using errcode = 'XJ001', column = 'comment';
    end if;
    perform juris._check_length(btrim(comment), 'return_comment');
    f := juris._lock_fiche(id);
    perform juris._check_action('return_rectification', f, me);
    update court.rectification r set state = 'renvoyee', returned_by = me.login, returned_at = now(),
           return_comment = btrim(comment)
     where r.fiche_id = id and r.state in ('proposee', 'verifiee');
end
$$;

-- Applies the verified rectification of a fiche (greffier): its content becomes version + 1 (same
-- NIU), signed again by the greffier and transmitted to the CJN. Returns the new version.
create function juris.apply_rectification(id bigint) returns integer
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
    r court.rectification;
begin
    me := juris._require(3, 'Appliquer une rectification');
    f := juris._lock_fiche(id);
    perform juris._check_action('apply_rectification', f, me);
    select * into r from court.rectification x where x.fiche_id = id and x.state = 'verifiee' for update;
    if r.from_version <> f.version then
        raise exception 'La rectification portait sur la version %, la fiche est en version %.', r.from_version, f.version
            using errcode = 'XJ003';
    end if;
    f := juris._fiche_from_json(f, r.content);
    f := juris._store_content(id, f, me.login, r.motive);
    perform juris._enqueue(f, 'fiche_rectified', r.motive);
    update court.rectification x set state = 'appliquee', applied_by = me.login, applied_at = now()
     where x.rectification_id = r.rectification_id;
    return f.version;
end
$$;

-- AFTER every change of a proposal of rectification: one audit row.
create function juris._rectification_audit() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._audit_append(
        case new.state when 'proposee' then 'rectification_propose' when 'verifiee' then 'rectification_verify'
                       when 'appliquee' then 'rectification_apply' else 'rectification_return' end,
        'rectification', new.rectification_id::text, to_jsonb(new));
    return null;
end
$$;

create trigger rectification_audit after insert or update on court.rectification
    for each row execute function juris._rectification_audit();

-- Erases a draft (its author, a secrétaire or the greffier). Signed records are never deleted.
create function juris.erase_fiche(id bigint) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    f court.fiche;
begin
    me := juris._require(1, 'Effacer une fiche');
    f := juris._lock_fiche(id);
    perform juris._check_action('erase', f, me);
    delete from court.fiche t where t.fiche_id = id;
end
$$;

-- A fiche as JSON (the shape save_fiche takes, plus its workflow), for the GUI and psql.
create function juris.get_fiche(id bigint) returns jsonb
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    f court.fiche;
begin
    perform juris._require(1, 'Consulter une fiche');
    select * into f from court.fiche t where t.fiche_id = id;
    if not found then
        raise exception 'Fiche introuvable : %.', id using errcode = 'XJ004';
    end if;
    return juris._fiche_content(f) || jsonb_build_object(
        'id', f.fiche_id, 'status', juris._status_number(f.status), 'status_label', juris._status_label(f.status),
        'niu', f.niu, 'version', f.version,
        'workflow', jsonb_build_object(
            'created_by', f.created_by, 'created_at', f.created_at, 'updated_by', f.updated_by,
            'updated_at', f.updated_at, 'submitted_by', f.submitted_by, 'submitted_at', f.submitted_at,
            'returned_by', f.returned_by, 'returned_at', f.returned_at, 'return_comment', f.return_comment,
            'verified_by', f.verified_by, 'verified_at', f.verified_at, 'first_verified_by', f.first_verified_by,
            'signed_by', f.signed_by, 'signed_at', f.signed_at, 'first_signed_by', f.first_signed_by,
            'archived_at', f.archived_at, 'rectification_motive', f.rectification_motive,
            'withdrawn_by', f.withdrawn_by, 'withdrawn_at', f.withdrawn_at,
            'withdrawal_motive', f.withdrawal_motive, 'content_by', f.content_by),
        'rectification', (select jsonb_build_object('id', r.rectification_id, 'state', r.state,
                              'motive', r.motive, 'proposed_by', r.proposed_by, 'proposed_at', r.proposed_at,
                              'verified_by', r.verified_by, 'verified_at', r.verified_at, 'content', r.content)
                            from court.rectification r
                           where r.fiche_id = f.fiche_id and r.state in ('proposee', 'verifiee')));
end
$$;

-- Full name of a staff login (null-safe).
create function juris._full_name(login text) returns text
    language sql stable
    set search_path = pg_catalog, pg_temp
return (select u.full_name from court.app_user u where u.login = _full_name.login);

-- Everything the printed fiche shows (forms/README.md documents the shape).
create function juris.fiche_document(id bigint) returns jsonb
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    f court.fiche;
    content jsonb;
begin
    perform juris._require(1, 'Imprimer une fiche');
    select * into f from court.fiche t where t.fiche_id = id;
    if not found then
        raise exception 'Fiche introuvable : %.', id using errcode = 'XJ004';
    end if;
    content := juris._fiche_content(f);
    return jsonb_build_object(
        'court', (select jsonb_build_object('code', c.code, 'name', c.name, 'region', c.region,
                      'departement', c.departement, 'arrondissement', c.arrondissement) from court.court c),
        'fiche', jsonb_build_object('id', f.fiche_id, 'number', f.number, 'status', juris._status_number(f.status),
            'status_label', juris._status_label(f.status), 'niu', f.niu, 'version', f.version,
            'reference', f.reference, 'created_at', f.created_at, 'signed_at', f.signed_at),
        'justiciable', content -> 'justiciable',
        'condamnation', (content -> 'condamnation') || jsonb_build_object('offence_category_label',
            (select o.label from court.offence_category o where o.code = f.offence_category)),
        'staff', jsonb_build_object(
            'author', juris._full_name(f.created_by),
            'secretaire_initial', juris._full_name(f.first_verified_by),
            'greffier_initial', juris._full_name(f.first_signed_by),
            'secretaire', case when f.version > 1 or f.verified_by is distinct from f.first_verified_by
                               then juris._full_name(f.verified_by) end,
            'greffier', case when f.version > 1 then juris._full_name(f.signed_by) end));
end
$$;

-- The court's fiches whose conviction date falls in a period, for the printed list.
create function juris.fiche_list_document(from_date date, to_date date) returns jsonb
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(1, 'Imprimer la liste des fiches');
    if from_date is null or to_date is null or from_date > to_date then
        raise exception 'Période invalide : du % au %.', from_date, to_date using errcode = 'XJ001';
    end if;
    return jsonb_build_object(
        'court', (select jsonb_build_object('code', c.code, 'name', c.name, 'region', c.region,
                      'departement', c.departement, 'arrondissement', c.arrondissement) from court.court c),
        'period', jsonb_build_object('from', from_date, 'to', to_date),
        'fiches', coalesce((select jsonb_agg(jsonb_build_object(
                'number', f.number, 'niu', f.niu, 'reference', f.reference, 'surname', f.surname,
                'given_names', f.given_names, 'birth_date', f.birth_date, 'conviction_date', f.conviction_date,
                'offence_nature', f.offence_nature, 'status', juris._status_number(f.status),
                'status_label', juris._status_label(f.status)) order by f.conviction_date, f.number)
            from court.fiche f where f.conviction_date between from_date and to_date), '[]'::jsonb));
end
$$;

-- The offence categories (code, label), for the entry form.
create function juris.offence_categories() returns table (code text, label text)
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select o.code, o.label from court.offence_category o order by o.label;
end;
