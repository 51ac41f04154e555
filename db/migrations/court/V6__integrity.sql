-- Integrity of what a court holds and sends (issue 11): money as whole francs, a length limit on
-- every text field, who changed a fiche's content and rectifications proposed then verified
-- (four-eyes rule), transmission defects the greffier sees, the right to connect given per login
-- rather than per group role, and no failed statement (personal data) in the server's log.
-- This file never changes once landed.

-- The API schema depends on court.fiche's columns (SQL-standard function bodies) and holds the
-- triggers: drop it here; `migrate` rebuilds it from db/functions/court right after.
drop schema if exists juris cascade;
delete from court.functions_applied;

-- Fines were numeric(14, 2), which the protocol cannot carry (it sends whole francs): refuse to
-- convert anything but whole amounts, and say which fiches a DBA must correct.
do $$
declare
    bad text;
begin
    select string_agg('n° ' || f.number, ', ' order by f.number) into bad
      from court.fiche f
     where f.fine_amount is not null
       and (f.fine_amount = 'NaN'::numeric or f.fine_amount <> trunc(f.fine_amount)
            or f.fine_amount > 999999999999);
    if bad is not null then
        raise exception 'Amendes non entières (centimes, NaN ou plus de 12 chiffres) sur les fiches %: corrigez-les avant la mise à jour.', bad
            using errcode = 'XJ001';
    end if;
end
$$;

-- Proposals of rectification are audited like fiches (the audit table has its own owner).
alter table court.audit drop constraint audit_entity_known,
    add constraint audit_entity_known
        check (entity in ('fiche', 'user', 'court', 'extract_request', 'rectification'));

set local role juris_owner;

alter table court.fiche
    drop constraint fiche_fine_amount_positive,
    alter column fine_amount type bigint using fine_amount::bigint,
    add constraint fiche_fine_amount_range check (fine_amount between 0 and 999999999999);

-- Who changed the content (not the state) of the current version: none of them may verify it
-- (four eyes). Kept by the write trigger from `session_user`, never taken from the caller;
-- filled here from the audit trail (every author of the content since the version began).
alter table court.fiche
    add column content_by text,
    add column content_editors text[];
update court.fiche f
   set content_by = coalesce(e.editors[cardinality(e.editors)], f.created_by),
       content_editors = coalesce(e.editors, array[f.created_by])
  from (select x.fiche_id,
               (select array_agg(a.actor order by a.seq)
                  from (select distinct on (a.actor) a.actor, a.seq
                          from court.audit a
                         where a.entity = 'fiche' and a.entity_id = x.fiche_id::text
                           and a.action in ('create', 'update', 'rectify')
                           and (a.data ->> 'version')::integer = x.version
                         order by a.actor, a.seq desc) a) as editors
          from court.fiche x) e
 where e.fiche_id = f.fiche_id;
alter table court.fiche
    alter column content_by set not null,
    alter column content_editors set not null;

-- A limit on every free text of a fiche, so that any signed fiche seals far under the CJN's size
-- limit (listener/tests/roundtrip.rs builds the largest fiche from these limits). A row already
-- past a limit when this migration runs keeps its text for that version (`limits_exempt_version`):
-- a signed record is never rewritten, and it can still be archived or withdrawn; a new version
-- (rectification) must fit. The write trigger also refuses a changed text past its limit.
alter table court.fiche add column limits_exempt_version integer;
update court.fiche f set limits_exempt_version = f.version
 where length(f.reference) > 64 or length(f.surname) > 200 or length(f.given_names) > 200
    or length(f.birth_place) > 200 or length(f.father) > 200 or length(f.mother) > 200
    or length(f.profession) > 200 or length(f.domicile) > 500 or length(f.nationality) > 100
    or length(f.offence_nature) > 2000 or length(f.warrants) > 2000 or length(f.road_traffic) > 1000
    or length(f.ban) > 2000 or length(f.return_comment) > 2000 or length(f.rectification_motive) > 2000
    or length(f.withdrawal_motive) > 2000;
alter table court.fiche
    drop constraint fiche_reference_length,
    drop constraint fiche_surname_length,
    drop constraint fiche_given_names_length,
    drop constraint fiche_offence_nature_length,
    drop constraint fiche_ban_length;
alter table court.fiche
    add constraint fiche_reference_length check (length(reference) <= 64 or limits_exempt_version = version),
    add constraint fiche_surname_length check (length(surname) <= 200 or limits_exempt_version = version),
    add constraint fiche_given_names_length check (length(given_names) <= 200 or limits_exempt_version = version),
    add constraint fiche_birth_place_length check (length(birth_place) <= 200 or limits_exempt_version = version),
    add constraint fiche_father_length check (length(father) <= 200 or limits_exempt_version = version),
    add constraint fiche_mother_length check (length(mother) <= 200 or limits_exempt_version = version),
    add constraint fiche_profession_length check (length(profession) <= 200 or limits_exempt_version = version),
    add constraint fiche_domicile_length check (length(domicile) <= 500 or limits_exempt_version = version),
    add constraint fiche_nationality_length check (length(nationality) <= 100 or limits_exempt_version = version),
    add constraint fiche_offence_nature_length check (length(offence_nature) <= 2000 or limits_exempt_version = version),
    add constraint fiche_warrants_length check (length(warrants) <= 2000 or limits_exempt_version = version),
    add constraint fiche_road_traffic_length check (length(road_traffic) <= 1000 or limits_exempt_version = version),
    add constraint fiche_ban_length check (length(ban) <= 2000 or limits_exempt_version = version),
    add constraint fiche_return_comment_length check (length(return_comment) <= 2000 or limits_exempt_version = version),
    add constraint fiche_rectification_motive_length
        check (length(rectification_motive) <= 2000 or limits_exempt_version = version),
    add constraint fiche_withdrawal_motive_length
        check (length(withdrawal_motive) <= 2000 or limits_exempt_version = version);

-- Names of the staff and of the court: they are printed and sent in every message.
alter table court.app_user
    add constraint app_user_full_name_length check (length(full_name) <= 200) not valid;
alter table court.court
    add constraint court_name_length check (length(name) <= 200) not valid,
    add constraint court_region_length check (length(region) <= 100) not valid,
    add constraint court_departement_length check (length(departement) <= 100) not valid,
    add constraint court_arrondissement_length check (length(arrondissement) <= 100) not valid;

-- A correction of a signed fiche is proposed, verified by another person, then applied by the
-- greffier as a new version (four eyes, as for the first version): the signed record does not
-- change until then. At most one open proposal per fiche.
create table court.rectification (
    rectification_id bigint generated always as identity primary key,
    fiche_id bigint not null constraint rectification_fiche_fkey references court.fiche (fiche_id),
    -- The version it corrects; applying it makes version + 1.
    from_version integer not null,
    -- The proposed content, as juris._fiche_content gives it (validated when proposed).
    content jsonb not null constraint rectification_content_object check (jsonb_typeof(content) = 'object'),
    motive text not null
        constraint rectification_motive_present check (btrim(motive) <> '' and length(motive) <= 2000),
    state text not null default 'proposee'
        constraint rectification_state_known check (state in ('proposee', 'verifiee', 'appliquee', 'renvoyee')),
    proposed_by text not null,
    proposed_at timestamptz not null default now(),
    verified_by text,
    verified_at timestamptz,
    applied_by text,
    applied_at timestamptz,
    returned_by text,
    returned_at timestamptz,
    return_comment text constraint rectification_return_comment_length check (length(return_comment) <= 2000),
    constraint rectification_verified_by_another check (verified_by is null or verified_by <> proposed_by)
);
create unique index rectification_one_open on court.rectification (fiche_id) where state in ('proposee', 'verifiee');

-- A message the listener cannot transmit as it stands (the protocol refuses its payload, or it
-- would seal past the CJN's size limit): it stays pending — its sequence number must reach the
-- CJN — and the greffier and the operator see why, until a corrected listener sends it.
alter table court.outbox
    add column defect text constraint outbox_defect_length check (length(defect) <= 2000),
    add column defect_at timestamptz,
    add constraint outbox_defect_dated check ((defect is null) = (defect_at is null));

-- Messages written before this migration carry fines as numeric(14, 2) (`50000.00`), which the
-- protocol refuses: rewrite those still to send as whole francs (nothing is sealed before it is
-- sent, so no signature is invalidated). Fractional fines were refused above.
update court.outbox o
   set payload = jsonb_set(o.payload, '{fiche,condamnation,fine_amount}',
                           to_jsonb((o.payload #>> '{fiche,condamnation,fine_amount}')::numeric::bigint))
 where o.state = 'pending'
   and jsonb_typeof(o.payload #> '{fiche,condamnation,fine_amount}') = 'number';

-- The listener logins of THIS court (roles are cluster-wide: membership of juris_listener alone
-- would let one court's listener act on another court's database in a shared cluster).
create table court.listener_login (
    login text primary key constraint listener_login_format check (login ~ '^[a-z][a-z0-9_]{1,62}$'),
    created_at timestamptz not null default now()
);

reset role;

-- An installation being upgraded (its identity is set) keeps its listener when the cluster has
-- exactly one (one court per cluster in production). In a cluster shared by several courts,
-- nobody can tell here whose listener is whose: none is registered, and the DBA runs
-- juris.create_listener_login for this court's (the listener is refused until then, loudly).
do $$
declare
    members text[];
begin
    if not exists (select from court.court) then
        return;
    end if;
    select array_agg(r.rolname) into members
      from pg_catalog.pg_auth_members m
      join pg_catalog.pg_roles r on r.oid = m.member
      join pg_catalog.pg_roles g on g.oid = m.roleid
     where g.rolname = 'juris_listener';
    if cardinality(members) = 1 and members[1] ~ '^[a-z][a-z0-9_]{1,62}$' then
        insert into court.listener_login (login) values (members[1]);
    elsif cardinality(members) > 1 then
        raise warning 'Plusieurs démons de transmission dans ce cluster (%) : aucun n''est enregistré pour la base %. Exécutez select juris.create_listener_login(<nom>, <empreinte SCRAM>) pour celui de cette juridiction.',
            array_to_string(members, ', '), current_database();
    end if;
end
$$;

-- CONNECT per login: only this court's staff and listener may connect to its database. The
-- functions' owner grants it to each login it creates.
do $$
declare
    login text;
begin
    execute format('revoke connect on database %I from agent, secretaire, greffier, juris_listener',
                   current_database());
    execute format('grant connect on database %I to juris_owner with grant option', current_database());
    for login in
        select u.login from court.app_user u
        union
        select l.login from court.listener_login l
    loop
        if exists (select from pg_catalog.pg_roles r where r.rolname = login) then
            execute format('grant connect on database %I to %I', current_database(), login);
        end if;
    end loop;
end
$$;

-- A failed statement is not written to the server's log: it may hold a person's data (a
-- refused fiche) or a password sent in clear against the rules (refused by the API, but the
-- refusal alone would log it). Errors themselves are still logged, without the statement.
do $$
begin
    execute format('alter database %I set log_min_error_statement = panic', current_database());
end
$$;
