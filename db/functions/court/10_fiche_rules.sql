-- The fiche's guardrails, as triggers: they hold for every client (GUI, psql, listener).

-- French name of a fiche field, for messages.
create function juris._field_label(field text) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return case field
    when 'reference' then 'référence'
    when 'surname' then 'nom'
    when 'given_names' then 'prénoms'
    when 'birth_date' then 'date de naissance'
    when 'birth_place' then 'lieu de naissance'
    when 'sex' then 'sexe'
    when 'father' then 'nom du père'
    when 'mother' then 'nom de la mère'
    when 'profession' then 'profession'
    when 'civil_status' then 'état civil'
    when 'domicile' then 'domicile'
    when 'nationality' then 'nationalité'
    when 'conviction_date' then 'date de condamnation'
    when 'offence_date' then 'date de commission des infractions'
    when 'offence_nature' then 'nature des infractions'
    when 'offence_category' then 'catégorie d''infraction'
    when 'offence_class' then 'qualification (crime, délit, contravention)'
    when 'warrants' then 'date et nature des mandats'
    when 'road_traffic' then 'circulation routière'
    when 'sentence_type' then 'type de peine'
    when 'sentence_months' then 'durée de la peine (mois)'
    when 'suspended_months' then 'dont sursis (mois)'
    when 'fine_amount' then 'amende'
    when 'legal_recidivism' then 'récidive légale'
    when 'minor' then 'mineur au moment des faits'
    when 'excluded_b2' then 'exclusion du bulletin n°2'
    when 'excluded_b3' then 'exclusion du bulletin n°3'
    when 'b3_ordered' then 'inscription au bulletin n°3 ordonnée'
    when 'ban' then 'interdictions, déchéances ou incapacités'
    when 'ban_months' then 'durée des interdictions (mois)'
    when 'ban_suspended' then 'interdictions avec sursis'
    when 'revoked_suspension_niu' then 'NIU de la condamnation dont le sursis est révoqué'
    when 'minor_decided' then 'minorité fixée par la juridiction'
    when 'ban_start' then 'début des interdictions'
    when 'ban_end' then 'fin des interdictions'
    when 'ban_from_release' then 'interdictions à compter de la libération'
    when 'return_comment' then 'commentaire de renvoi'
    when 'rectification_motive' then 'motif de la rectification'
    when 'withdrawal_motive' then 'motif du déclassement'
    else field
end;

-- The longest text each field of a fiche may hold, in characters. One home: the named CHECK
-- constraints `fiche_<field>_length` of court.fiche (migrations), read from the catalog, so the
-- French refusals, the entry form's limits and the protocol's worst-case test all follow them.
create function juris.field_limits() returns table (field text, max_length integer)
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select m[1], m[2]::integer
      from pg_catalog.pg_constraint c,
           regexp_match(pg_catalog.pg_get_constraintdef(c.oid), 'length\((\w+)\) <= (\d+)') m
     where c.conrelid = 'court.fiche'::regclass and c.contype = 'c' and c.conname ~ '^fiche_\w+_length$'
       and m is not null
     order by 1;
end;

-- Refuses a text longer than its field's limit, in French, at the field.
create function juris._check_length(value text, field text) returns void
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    limit_chars integer;
begin
    if value is null then
        return;
    end if;
    select l.max_length into limit_chars from juris.field_limits() l where l.field = _check_length.field;
    if limit_chars is not null and length(value) > limit_chars then
        raise exception 'Texte trop long pour « % » : % caractères, au plus %.', juris._field_label(field),
            length(value), limit_chars
            using errcode = 'XJ001', column = field;
    end if;
end
$$;

-- The content of a fiche (what is signed and transmitted), in the JSON shape of save_fiche.
create function juris._fiche_content(f court.fiche) returns jsonb
    language sql stable
    set search_path = pg_catalog, pg_temp
return jsonb_build_object(
    'number', f.number,
    'reference', f.reference,
    'justiciable', jsonb_build_object(
        'surname', f.surname, 'given_names', f.given_names,
        'birth_date', f.birth_date, 'birth_place', f.birth_place, 'sex', f.sex,
        'father', f.father, 'mother', f.mother, 'profession', f.profession,
        'civil_status', f.civil_status, 'domicile', f.domicile, 'nationality', f.nationality),
    'condamnation', jsonb_build_object(
        'conviction_date', f.conviction_date, 'offence_date', f.offence_date,
        'offence_nature', f.offence_nature, 'offence_category', f.offence_category,
        'offence_class', f.offence_class, 'warrants', f.warrants, 'road_traffic', f.road_traffic,
        'sentence_type', f.sentence_type, 'sentence_months', f.sentence_months,
        'suspended_months', f.suspended_months, 'fine_amount', f.fine_amount,
        'legal_recidivism', f.legal_recidivism, 'minor', f.minor,
        'excluded_b2', f.excluded_b2, 'excluded_b3', f.excluded_b3,
        'b3_ordered', f.b3_ordered, 'ban', f.ban, 'ban_months', f.ban_months,
        'ban_suspended', f.ban_suspended, 'revoked_suspension_niu', f.revoked_suspension_niu,
        'minor_decided', f.minor_decided, 'ban_start', f.ban_start, 'ban_end', f.ban_end,
        'ban_from_release', f.ban_from_release));

-- The content of a fiche as the CJN and the court compare it (xmjuris reconcile): the fields
-- added by issue 15 are left out while they hold their default (false or null), so that a fiche
-- signed before them has the same digest on both sides (the CJN stored it without them).
-- The same function exists at the CJN (cjn._comparable_content).
create function juris._comparable_content(content jsonb) returns jsonb
    language sql immutable
    set search_path = pg_catalog, pg_temp
return jsonb_set(content, '{condamnation}', (content -> 'condamnation')
    - array(select k from unnest(array['minor_decided', 'ban_start', 'ban_end', 'ban_from_release']) k
             where coalesce(content -> 'condamnation' -> k, 'null'::jsonb) in ('null'::jsonb, 'false'::jsonb)));

-- Age in whole years on `at` of someone born on `born` (29 February birthdays on 1 March in
-- common years, as PostgreSQL's age()).
create function juris._age_years(born date, at date) returns integer
    language sql immutable
    set search_path = pg_catalog, pg_temp
return extract(year from age(at, born))::integer;

-- Minority from the dates: refuses a `minor` flag the birth and offence dates contradict,
-- unless the court decided minority itself (minor_decided: an approximate birth date, offences
-- spanning the birthday, an age fixed by examination).
create function juris._check_minority(f court.fiche) returns void
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    majority integer := (select s.majority_age_years from court.setting s);
    age_years integer;
begin
    if f.minor_decided or f.birth_date is null or f.offence_date is null or f.birth_date >= f.offence_date then
        return;
    end if;
    age_years := juris._age_years(f.birth_date, f.offence_date);
    if age_years < majority and not f.minor then
        raise exception 'D''après les dates de naissance (%) et des faits (%), la personne avait % ans : elle était mineure (moins de % ans). Cochez « mineur au moment des faits », ou « minorité fixée par la juridiction » si le jugement en a décidé autrement.',
            to_char(f.birth_date, 'DD/MM/YYYY'), to_char(f.offence_date, 'DD/MM/YYYY'), age_years, majority
            using errcode = 'XJ001', column = 'minor';
    end if;
    if age_years >= majority and f.minor then
        raise exception 'D''après les dates de naissance (%) et des faits (%), la personne avait % ans : elle était majeure (% ans ou plus). « Mineur au moment des faits » ne se coche alors que si la juridiction a fixé la minorité (« minorité fixée par la juridiction »).',
            to_char(f.birth_date, 'DD/MM/YYYY'), to_char(f.offence_date, 'DD/MM/YYYY'), age_years, majority
            using errcode = 'XJ001', column = 'minor';
    end if;
end
$$;

-- Validates a fiche before it is written, with one clear French message per rule. `before`: the
-- row as it was (null for a new one); a text is checked against its limit only when it changes,
-- so a record written before the limits (V6) can still be archived or withdrawn.
create function juris._fiche_validate(f court.fiche, before court.fiche default null) returns void
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    s court.setting;
    missing text[];
    age_years integer;
    lim record;
    doc jsonb := to_jsonb(f);
    was jsonb := to_jsonb(before);
    value text;
begin
    select * into s from court.setting;
    for lim in select * from juris.field_limits() loop
        value := doc ->> lim.field;
        if length(value) > lim.max_length and value is distinct from was ->> lim.field then
            raise exception 'Texte trop long pour « % » : % caractères, au plus %.', juris._field_label(lim.field),
                length(value), lim.max_length
                using errcode = 'XJ001', column = lim.field;
        end if;
    end loop;
    if f.fine_amount is not null and f.fine_amount not between 0 and 999999999999 then
        raise exception 'Amende invalide : % (un nombre entier de francs, de 0 à 999 999 999 999).', f.fine_amount
            using errcode = 'XJ001', column = 'fine_amount';
    end if;
    if f.birth_date > current_date then
        raise exception 'La date de naissance (%) est dans le futur.', to_char(f.birth_date, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'birth_date';
    end if;
    if f.offence_date > current_date then
        raise exception 'La date de commission des infractions (%) est dans le futur.', to_char(f.offence_date, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'offence_date';
    end if;
    if f.conviction_date > current_date then
        raise exception 'La date de condamnation (%) est dans le futur.', to_char(f.conviction_date, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'conviction_date';
    end if;
    if f.offence_date > f.conviction_date then
        raise exception 'Les infractions (%) ne peuvent pas être postérieures à la condamnation (%).',
            to_char(f.offence_date, 'DD/MM/YYYY'), to_char(f.conviction_date, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'offence_date';
    end if;
    if f.birth_date >= f.offence_date then
        raise exception 'La date de naissance (%) doit précéder celle des infractions (%).',
            to_char(f.birth_date, 'DD/MM/YYYY'), to_char(f.offence_date, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'birth_date';
    end if;
    if f.birth_date is not null and f.offence_date is not null then
        age_years := extract(year from age(f.offence_date, f.birth_date));
        if age_years < s.min_age_years then
            raise exception 'Au moment des faits, la personne avait % ans : l''âge de la responsabilité pénale est de % ans.',
                age_years, s.min_age_years
                using errcode = 'XJ001', column = 'birth_date';
        end if;
    end if;
    if f.suspended_months > coalesce(f.sentence_months, 0) then
        raise exception 'Le sursis (% mois) dépasse la durée de la peine (% mois).', f.suspended_months, coalesce(f.sentence_months, 0)
            using errcode = 'XJ001', column = 'suspended_months';
    end if;
    if f.ban is null and (f.ban_months is not null or f.ban_suspended) then
        raise exception 'Une durée ou un sursis d''interdiction est indiqué sans la nature de l''interdiction.'
            using errcode = 'XJ001', column = 'ban';
    end if;
    if f.ban_months is not null and f.ban_months < 1 then
        raise exception 'La durée des interdictions doit être d''au moins un mois (laisser vide : à titre définitif).'
            using errcode = 'XJ001', column = 'ban_months';
    end if;
    if f.b3_ordered and f.sentence_type is not null
       and f.sentence_type not in ('emprisonnement', 'emprisonnement_amende') then
        raise exception 'L''inscription au bulletin n°3 ne s''ordonne que pour une peine d''emprisonnement.'
            using errcode = 'XJ001', column = 'b3_ordered';
    end if;
    if f.ban is null and (f.ban_start is not null or f.ban_end is not null or f.ban_from_release) then
        raise exception 'Un début, une fin ou un point de départ d''interdiction est indiqué sans la nature de l''interdiction.'
            using errcode = 'XJ001', column = 'ban';
    end if;
    if f.ban_end is not null and f.ban_months is not null then
        raise exception 'La fin des interdictions se donne par une date ou par une durée, pas les deux.'
            using errcode = 'XJ001', column = 'ban_end';
    end if;
    if f.ban_start is not null and f.ban_from_release then
        raise exception 'Les interdictions courent d''une date donnée ou de la libération, pas des deux.'
            using errcode = 'XJ001', column = 'ban_start';
    end if;
    if f.ban_from_release and f.ban_months is null then
        raise exception 'Des interdictions qui courent à compter de la libération doivent avoir une durée (mois).'
            using errcode = 'XJ001', column = 'ban_months';
    end if;
    if f.ban_from_release and f.sentence_type is not null
       and (f.sentence_type not in ('emprisonnement', 'emprisonnement_amende') or coalesce(f.sentence_months, 0) = 0) then
        raise exception 'Des interdictions à compter de la libération supposent une peine d''emprisonnement.'
            using errcode = 'XJ001', column = 'ban_from_release';
    end if;
    if f.ban_start < f.conviction_date then
        raise exception 'Les interdictions ne peuvent pas commencer (%) avant la condamnation (%).',
            to_char(f.ban_start, 'DD/MM/YYYY'), to_char(f.conviction_date, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'ban_start';
    end if;
    if f.ban_end <= coalesce(f.ban_start, f.conviction_date) then
        raise exception 'La fin des interdictions (%) doit suivre leur début (%).',
            to_char(f.ban_end, 'DD/MM/YYYY'), to_char(coalesce(f.ban_start, f.conviction_date), 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'ban_end';
    end if;
    if f.status < 'signee' then
        perform juris._check_minority(f);
    end if;
    if f.revoked_suspension_niu is not null and not juris.niu_valid(f.revoked_suspension_niu) then
        raise exception 'NIU de la condamnation dont le sursis est révoqué invalide : « % » (17 chiffres, clé MOD 97).',
            f.revoked_suspension_niu using errcode = 'XJ001', column = 'revoked_suspension_niu';
    end if;
    if f.revoked_suspension_niu is not null and f.revoked_suspension_niu = f.niu then
        raise exception 'Une condamnation ne peut pas révoquer son propre sursis.'
            using errcode = 'XJ001', column = 'revoked_suspension_niu';
    end if;
    if f.status <> 'brouillon' then
        missing := array_remove(array[
            case when f.reference is null then 'reference' end,
            case when f.surname is null then 'surname' end,
            case when f.given_names is null then 'given_names' end,
            case when f.birth_date is null then 'birth_date' end,
            case when f.birth_place is null then 'birth_place' end,
            case when f.sex is null then 'sex' end,
            case when f.conviction_date is null then 'conviction_date' end,
            case when f.offence_date is null then 'offence_date' end,
            case when f.offence_nature is null then 'offence_nature' end,
            case when f.offence_category is null then 'offence_category' end,
            case when f.offence_class is null then 'offence_class' end,
            case when f.sentence_type is null then 'sentence_type' end,
            case when f.sentence_type in ('emprisonnement', 'emprisonnement_amende', 'travaux_interet_general')
                      and f.sentence_months is null then 'sentence_months' end,
            case when f.sentence_type in ('amende', 'emprisonnement_amende') and f.fine_amount is null
                 then 'fine_amount' end], null);
        if cardinality(missing) > 0 then
            raise exception 'Fiche incomplète : % manquant(s).',
                (select string_agg(juris._field_label(m), ', ') from unnest(missing) m)
                using errcode = 'XJ001', column = missing[1];
        end if;
    end if;
end
$$;

-- BEFORE INSERT OR UPDATE: a signed fiche changes only through archiving, rectification or
-- withdrawal; otherwise the content is validated and the search key refreshed.
create function juris._fiche_before_write() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
declare
    content_same boolean;
begin
    if tg_op = 'UPDATE' and old.status >= 'signee' then
        content_same := juris._fiche_content(old) = juris._fiche_content(new)
            and old.niu is not distinct from new.niu
            and old.first_signed_by is not distinct from new.first_signed_by
            and old.first_verified_by is not distinct from new.first_verified_by
            and old.created_by = new.created_by and old.created_at = new.created_at;
        if not (
            -- archived: the CJN's receipt for the signed version is stored
            (old.status = 'signee' and new.status = 'archivee' and content_same
                and new.version = old.version)
            -- withdrawn (déclassée), from signed or archived
            or (old.status in ('signee', 'archivee') and new.status = 'declassee' and content_same
                and new.version = old.version)
            -- rectified: a new version, signed again, same NIU
            or (old.status in ('signee', 'archivee') and new.status = 'signee'
                and new.version = old.version + 1 and old.niu = new.niu
                and old.number = new.number and old.created_by = new.created_by)
            -- bookkeeping of the transmission of a withdrawal (no change of content or state)
            or (old.status = 'declassee' and new.status = 'declassee' and content_same
                and new.version = old.version)
        ) then
            raise exception 'Une fiche % ne peut être modifiée que par rectification ou déclassement, signés par le greffier.',
                juris._status_label(old.status)
                using errcode = 'XJ006';
        end if;
        if old.status = 'declassee' and (new.withdrawal_motive is distinct from old.withdrawal_motive
                or new.withdrawn_at is distinct from old.withdrawn_at) then
            raise exception 'Une fiche déclassée ne change plus.' using errcode = 'XJ006';
        end if;
    end if;
    if tg_op = 'INSERT' and new.status <> 'brouillon' then
        raise exception 'Une fiche est créée en brouillon.' using errcode = 'XJ003';
    end if;
    perform juris._fiche_validate(new, case when tg_op = 'UPDATE' then old end);
    -- A rectification is checked against the dates like an entry (a signed fiche is not checked
    -- again when only its state changes: it was when it was entered).
    if tg_op = 'UPDATE' and new.version > old.version then
        perform juris._check_minority(new);
    end if;
    new.name_norm := juris._norm(concat_ws(' ', new.surname, new.given_names));
    new.name_tokens := string_to_array(nullif(new.name_norm, ''), ' ');
    if new.name_tokens is null then
        new.name_tokens := '{}';
    else
        insert into court.name_token (token) select unnest(new.name_tokens) on conflict do nothing;
    end if;
    -- Who changed the content of this version: computed here, never taken from the statement.
    if tg_op = 'INSERT' or new.version <> old.version then
        new.content_by := session_user;
        new.content_editors := array[session_user::text];
    elsif juris._fiche_content(old) is distinct from juris._fiche_content(new) then
        new.content_by := session_user;
        new.content_editors := case when session_user = any (old.content_editors) then old.content_editors
                                    else old.content_editors || session_user::text end;
    else
        new.content_by := old.content_by;
        new.content_editors := old.content_editors;
    end if;
    new.limits_exempt_version := case when tg_op = 'UPDATE' then old.limits_exempt_version end;
    if tg_op = 'UPDATE' then
        new.updated_at := now();
        new.updated_by := session_user;
    end if;
    return new;
end
$$;

-- At commit (deferred): a fiche signed, rectified or withdrawn has the message that tells the
-- CJN, and an archived one the CJN's stored receipt for its version. Closes the path by which an
-- UPDATE alone (a superuser's, say) would change a signed record without anything transmitted.
-- SECURITY DEFINER: a deferred trigger runs at commit, outside the API function that queued it.
create function juris._fiche_transition_transmitted() returns trigger
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    f court.fiche;
begin
    -- The row as it stands at commit (later statements of the transaction may have changed it).
    select * into f from court.fiche x where x.fiche_id = new.fiche_id;
    if not found or f.status < 'signee' then
        return null;
    end if;
    if f.status = 'signee' and not exists (
            select from court.outbox o
             where o.fiche_id = f.fiche_id and o.version = f.version
               and o.kind in ('fiche_signed', 'fiche_rectified')) then
        raise exception 'La fiche n° % (version %) est signée sans message au CJN : refusé.', f.number, f.version
            using errcode = 'XJ006';
    end if;
    if f.status = 'archivee' and not exists (
            select from court.outbox o
             where o.fiche_id = f.fiche_id and o.version = f.version and o.state = 'acknowledged'
               and o.kind in ('fiche_signed', 'fiche_rectified')) then
        raise exception 'La fiche n° % (version %) est archivée sans accusé de réception du CJN : refusé.', f.number, f.version
            using errcode = 'XJ006';
    end if;
    if f.status = 'declassee' and not exists (
            select from court.outbox o where o.fiche_id = f.fiche_id and o.kind = 'fiche_withdrawn') then
        raise exception 'La fiche n° % est déclassée sans message au CJN : refusé.', f.number
            using errcode = 'XJ006';
    end if;
    return null;
end
$$;

-- BEFORE DELETE: only drafts can be erased.
create function juris._fiche_before_delete() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
begin
    if old.status <> 'brouillon' then
        raise exception 'Seule une fiche en brouillon peut être effacée (celle-ci est %).', juris._status_label(old.status)
            using errcode = 'XJ006';
    end if;
    return old;
end
$$;

-- AFTER every change: one audit row, whose action is told by the change itself.
create function juris._fiche_audit() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
declare
    act text;
begin
    if tg_op = 'INSERT' then
        act := 'create';
    elsif tg_op = 'DELETE' then
        act := 'erase';
    elsif new.version > old.version then
        act := 'rectify';
    elsif new.status = old.status then
        act := 'update';
    else
        act := case
            when new.status = 'soumise' then 'submit'
            when new.status = 'verifiee' then 'verify'
            when new.status = 'brouillon' then 'return'
            when new.status = 'signee' then 'sign'
            when new.status = 'archivee' then 'archive'
            when new.status = 'declassee' then 'withdraw'
        end;
    end if;
    perform juris._audit_append(act, 'fiche',
        (case when tg_op = 'DELETE' then old.fiche_id else new.fiche_id end)::text,
        to_jsonb(case when tg_op = 'DELETE' then old else new end) - 'name_norm' - 'name_tokens');
    return null;
end
$$;

create trigger fiche_before_write before insert or update on court.fiche
    for each row execute function juris._fiche_before_write();
create trigger fiche_before_delete before delete on court.fiche
    for each row execute function juris._fiche_before_delete();
create trigger fiche_audit after insert or update or delete on court.fiche
    for each row execute function juris._fiche_audit();
create constraint trigger fiche_transition_transmitted after update on court.fiche
    deferrable initially deferred
    for each row when (new.status >= 'signee'
                       and (old.status is distinct from new.status or old.version <> new.version))
    execute function juris._fiche_transition_transmitted();

-- Users are never deleted (suspend them with privilege 0); every change is audited.
create function juris._user_before_delete() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
begin
    raise exception 'Un utilisateur n''est jamais supprimé : suspendez-le (privilège 0).' using errcode = 'XJ006';
end
$$;

create function juris._user_audit() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._audit_append(
        case when tg_op = 'INSERT' then 'user_create'
             when new.privilege <> old.privilege then 'user_privilege'
             else 'user_update' end,
        'user', new.login, to_jsonb(new));
    return null;
end
$$;

create trigger app_user_before_delete before delete on court.app_user
    for each row execute function juris._user_before_delete();
create trigger app_user_audit after insert or update on court.app_user
    for each row execute function juris._user_audit();

create function juris._court_audit() returns trigger
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._audit_append(lower(tg_op), 'court', new.code, to_jsonb(new));
    return null;
end
$$;

create trigger court_audit after insert or update on court.court
    for each row execute function juris._court_audit();
