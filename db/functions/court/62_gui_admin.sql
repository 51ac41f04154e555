-- What the desktop application's Utilisateurs and Saisie screens read besides the rest of the
-- API: the staff limits of the court with how many users use them, and how many fiches of the
-- court concern the person of a fiche. Grants are at the end of this file (its functions only).

-- The court's staff by privilege (greffier only): how many users are active at each privilege,
-- and the most the court may have (court.setting: max_agents, max_secretaires; one greffier).
-- Suspended users (privilege 0) count against no limit; `maximum` is null for them.
create function juris.user_quotas()
    returns table (privilege integer, label text, active integer, maximum integer)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    s court.setting;
begin
    perform juris._require(3, 'Consulter les limites du personnel');
    select * into s from court.setting;
    return query
    select p.privilege, p.label,
           (select count(*)::integer from court.app_user u where u.privilege = p.privilege),
           p.maximum
      from (values (3, 'greffier', 1), (2, 'secrétaires', s.max_secretaires), (1, 'agents', s.max_agents),
                   (0, 'suspendus', null::integer)) as p (privilege, label, maximum)
     order by p.privilege desc;
end
$$;

-- How many fiches of the court concern the person of fiche `id` (itself included): the same
-- birth date and the same words of the names in any order, accents and case aside (the search
-- key of juris.search_fiches). Null while the fiche has no birth date or no names. Every staff
-- member (the entry form shows it, like the paper form's "nombre de fiches").
create function juris.person_fiche_count(id bigint) returns integer
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    f court.fiche;
    n integer;
begin
    perform juris._require(1, 'Consulter une fiche');
    select * into f from court.fiche t where t.fiche_id = id;
    if not found then
        raise exception 'Fiche introuvable : %.', id using errcode = 'XJ004';
    end if;
    if f.birth_date is null or cardinality(f.name_tokens) = 0 then
        return null;
    end if;
    select count(*)::integer into n
      from court.fiche o
     where o.birth_date = f.birth_date
       and o.name_tokens @> f.name_tokens and o.name_tokens <@ f.name_tokens;
    return n;
end
$$;

revoke all on function
    juris.user_quotas(),
    juris.person_fiche_count(bigint)
from public;
grant execute on function juris.person_fiche_count(bigint) to agent, secretaire, greffier;
grant execute on function juris.user_quotas() to greffier;
