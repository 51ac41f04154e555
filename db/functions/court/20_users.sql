-- Staff management: each user is a PostgreSQL login role in the group of its privilege.

-- Group role of a privilege (0: none, the user is suspended).
create function juris._group_of(privilege integer) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return case privilege when 1 then 'agent' when 2 then 'secretaire' when 3 then 'greffier' end;

-- Refuses a privilege whose quota of active users is reached (setting max_agents / max_secretaires).
create function juris._check_quota(privilege integer, excluding text) returns void
    language plpgsql stable
    set search_path = pg_catalog, pg_temp
as $$
declare
    s court.setting;
    active integer;
    quota integer;
begin
    select * into s from court.setting;
    quota := case privilege when 1 then s.max_agents when 2 then s.max_secretaires end;
    if quota is null then
        return;
    end if;
    select count(*) into active from court.app_user u
     where u.privilege = _check_quota.privilege and u.login is distinct from excluding;
    if active >= quota then
        raise exception 'La juridiction compte déjà % % : c''est le maximum.', active,
            case privilege when 1 then 'agents' else 'secrétaires' end
            using errcode = 'XJ005';
    end if;
end
$$;

-- Refuses anything but a SCRAM-SHA-256 verifier computed by the client: a clear password sent
-- to the server lands in its log whenever the statement fails (log_min_error_statement).
create function juris._require_verifier(password text) returns void
    language plpgsql immutable
    set search_path = pg_catalog, pg_temp
as $$
begin
    if password is null
       or password !~ '^SCRAM-SHA-256\$[0-9]{4,7}:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}$' then
        raise exception 'Mot de passe attendu sous forme d''empreinte SCRAM-SHA-256, calculée par le client (xmjuris court add-user, l''application, ou \password dans psql) : un mot de passe en clair finirait dans le journal du serveur.'
            using errcode = 'XJ001', column = 'password';
    end if;
end
$$;

-- Creates the PostgreSQL role of a user and its row (no privilege check: callers check).
create function juris._create_user(login text, full_name text, password text, privilege integer) returns void
    language plpgsql
    set search_path = pg_catalog, pg_temp
as $$
begin
    if login is null or login !~ '^[a-z][a-z0-9_]{1,62}$' then
        raise exception 'Nom d''utilisateur invalide : « % » (2 à 63 caractères : minuscules non accentuées, chiffres, _ ; commence par une lettre).', login
            using errcode = 'XJ001', column = 'login';
    end if;
    if privilege is null or privilege not between 0 and 3 then
        raise exception 'Privilège invalide : % (0 suspendu, 1 agent, 2 secrétaire, 3 greffier).', privilege
            using errcode = 'XJ001', column = 'privilege';
    end if;
    if coalesce(btrim(full_name), '') = '' then
        raise exception 'Le nom complet de l''utilisateur est requis.' using errcode = 'XJ001', column = 'full_name';
    end if;
    if length(full_name) > 200 then
        raise exception 'Nom complet trop long : % caractères, au plus 200.', length(full_name)
            using errcode = 'XJ001', column = 'full_name';
    end if;
    perform juris._require_verifier(password);
    if privilege = 3 and exists (select from court.app_user u where u.privilege = 3) then
        raise exception 'La juridiction a déjà un greffier.' using errcode = 'XJ005';
    end if;
    perform juris._check_quota(privilege, null);
    if exists (select from pg_catalog.pg_roles r where r.rolname = login) then
        raise exception 'Le nom d''utilisateur « % » est déjà pris.', login using errcode = 'XJ001', column = 'login';
    end if;
    if privilege = 0 then
        execute format('create role %I nologin password %L', login, password);
    else
        execute format('create role %I login password %L in role %I', login, password, juris._group_of(privilege));
    end if;
    execute format('grant connect on database %I to %I', current_database(), login);
    insert into court.app_user (login, full_name, privilege) values (login, btrim(full_name), privilege);
end
$$;

-- Creates a staff member (greffier only). `password` is a SCRAM-SHA-256 verifier computed by
-- the client (a clear password is refused: no log ever holds it).
create function juris.create_user(login text, full_name text, password text, privilege integer) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(3, 'Créer un utilisateur');
    if privilege = 3 then
        raise exception 'La juridiction a déjà un greffier.' using errcode = 'XJ005';
    end if;
    perform juris._create_user(login, full_name, password, privilege);
end
$$;

-- Changes a user's privilege (greffier only); 0 suspends: no more logins, open sessions ended.
create function juris.set_privilege(login text, privilege integer) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
    target court.app_user;
    old_group text;
    new_group text;
begin
    me := juris._require(3, 'Changer un privilège');
    select * into target from court.app_user u where u.login = set_privilege.login for update;
    if not found then
        raise exception 'Utilisateur inconnu : « % ».', login using errcode = 'XJ004';
    end if;
    if target.login = me.login then
        raise exception 'Le greffier ne peut pas changer son propre privilège.' using errcode = 'XJ002';
    end if;
    if privilege is null or privilege not between 0 and 2 then
        raise exception 'Privilège invalide : % (0 suspendu, 1 agent, 2 secrétaire ; la juridiction a un seul greffier).', privilege
            using errcode = 'XJ001', column = 'privilege';
    end if;
    if privilege = target.privilege then
        return;
    end if;
    perform juris._check_quota(privilege, target.login);
    old_group := juris._group_of(target.privilege);
    new_group := juris._group_of(privilege);
    if old_group is not null then
        execute format('revoke %I from %I', old_group, target.login);
    end if;
    if new_group is not null then
        execute format('grant %I to %I', new_group, target.login);
        execute format('alter role %I login', target.login);
    else
        execute format('alter role %I nologin', target.login);
        perform pg_terminate_backend(a.pid) from pg_catalog.pg_stat_activity a
         where a.usename = target.login and a.pid <> pg_backend_pid();
    end if;
    update court.app_user u set privilege = set_privilege.privilege, updated_at = now()
     where u.login = target.login;
end
$$;

-- The staff of the court (greffier only).
create function juris.list_users()
    returns table (login text, full_name text, privilege integer, created_at timestamptz, updated_at timestamptz)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(3, 'Lister les utilisateurs');
    return query select u.login, u.full_name, u.privilege::integer, u.created_at, u.updated_at
                   from court.app_user u order by u.privilege desc, u.login;
end
$$;

-- Who am I: login, full name, privilege, and the court (every staff member).
create function juris.whoami() returns jsonb
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    me court.app_user;
begin
    me := juris._require(1, 'Se connecter');
    return jsonb_build_object('login', me.login, 'full_name', me.full_name, 'privilege', me.privilege,
        'court', (select jsonb_build_object('code', c.code, 'name', c.name, 'region', c.region,
                      'departement', c.departement, 'arrondissement', c.arrondissement) from court.court c));
end
$$;

-- Sets the court's identity and creates its greffier (run by the database administrator, through
-- `xmjuris court init`; granted to no staff role). The court code cannot change once fiches are signed.
create function juris.init_court(
    code text, name text, region text, departement text, arrondissement text,
    greffier_login text, greffier_name text, greffier_password text) returns void
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    existing court.court;
begin
    if code is null or code !~ '^[0-9]{5}$' then
        raise exception 'Code de juridiction invalide : « % » (5 chiffres).', code using errcode = 'XJ001', column = 'code';
    end if;
    if length(name) > 200 or length(region) > 100 or length(departement) > 100 or length(arrondissement) > 100 then
        raise exception 'Nom de juridiction trop long (200 caractères au plus ; région, département, arrondissement : 100).'
            using errcode = 'XJ001', column = 'name';
    end if;
    select * into existing from court.court for update;
    if found and existing.code <> code and exists (select from court.fiche f where f.niu is not null) then
        raise exception 'Le code de la juridiction (%) ne peut plus changer : des fiches sont signées.', existing.code
            using errcode = 'XJ006';
    end if;
    insert into court.court as c (code, name, region, departement, arrondissement)
    values (code, btrim(name), btrim(region), btrim(departement), btrim(arrondissement))
    on conflict (court_id) do update
        set code = excluded.code, name = excluded.name, region = excluded.region,
            departement = excluded.departement, arrondissement = excluded.arrondissement, updated_at = now();
    if not exists (select from court.app_user u where u.privilege = 3) then
        perform juris._create_user(greffier_login, greffier_name, greffier_password, 3);
    elsif not exists (select from court.app_user u where u.privilege = 3 and u.login = greffier_login) then
        raise exception 'La juridiction a déjà un greffier, qui n''est pas « % ».', greffier_login using errcode = 'XJ005';
    end if;
end
$$;
