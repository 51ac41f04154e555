-- Integrity of what a court holds and sends (issue 11): money as whole francs, a length limit on
-- every text field, who last changed a fiche's content (four-eyes rule), transmission defects
-- the greffier sees, and the right to connect given per login rather than per group role.
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

set local role juris_owner;

alter table court.fiche
    drop constraint fiche_fine_amount_positive,
    alter column fine_amount type bigint using fine_amount::bigint,
    add constraint fiche_fine_amount_range check (fine_amount between 0 and 999999999999);

-- A limit on every free text of a fiche, so that any signed fiche seals far under the CJN's
-- size limit (protocol test `worst_case_fiche_seals_under_the_cjn_limit`). Existing rows are
-- not checked (NOT VALID): a signed record is never rewritten; new and changed rows are.
alter table court.fiche
    add constraint fiche_birth_place_length check (length(birth_place) <= 200) not valid,
    add constraint fiche_father_length check (length(father) <= 200) not valid,
    add constraint fiche_mother_length check (length(mother) <= 200) not valid,
    add constraint fiche_profession_length check (length(profession) <= 200) not valid,
    add constraint fiche_domicile_length check (length(domicile) <= 500) not valid,
    add constraint fiche_nationality_length check (length(nationality) <= 100) not valid,
    add constraint fiche_warrants_length check (length(warrants) <= 2000) not valid,
    add constraint fiche_road_traffic_length check (length(road_traffic) <= 1000) not valid,
    add constraint fiche_return_comment_length check (length(return_comment) <= 2000) not valid,
    add constraint fiche_rectification_motive_length check (length(rectification_motive) <= 2000) not valid,
    add constraint fiche_withdrawal_motive_length check (length(withdrawal_motive) <= 2000) not valid;

-- Who last changed the content (not the state) of the fiche: whoever did may not verify it.
-- Kept by the write trigger, never taken from the caller. Filled from the audit trail.
alter table court.fiche add column content_by text;
update court.fiche f
   set content_by = coalesce(
       (select a.actor from court.audit a
         where a.entity = 'fiche' and a.entity_id = f.fiche_id::text and a.action in ('create', 'update', 'rectify')
         order by a.seq desc limit 1),
       f.created_by);
alter table court.fiche alter column content_by set not null;

-- A message the listener cannot transmit as it stands (the protocol refuses its payload, or it
-- would seal past the CJN's size limit): it stays pending — its sequence number must reach the
-- CJN — and the greffier and the operator see why, until a corrected listener sends it.
alter table court.outbox
    add column defect text constraint outbox_defect_length check (length(defect) <= 2000),
    add column defect_at timestamptz,
    add constraint outbox_defect_dated check ((defect is null) = (defect_at is null));

-- The listener logins of THIS court (roles are cluster-wide: membership of juris_listener alone
-- would let one court's listener act on another court's database in a shared cluster).
create table court.listener_login (
    login text primary key constraint listener_login_format check (login ~ '^[a-z][a-z0-9_]{1,62}$'),
    created_at timestamptz not null default now()
);

reset role;

-- An installation being upgraded (its identity is set) keeps its listener: one court per
-- cluster in production, so every member of juris_listener is this court's. A new database
-- registers its listener with juris.create_listener_login.
insert into court.listener_login (login)
select r.rolname
  from pg_catalog.pg_auth_members m
  join pg_catalog.pg_roles r on r.oid = m.member
  join pg_catalog.pg_roles g on g.oid = m.roleid
 where g.rolname = 'juris_listener' and r.rolname ~ '^[a-z][a-z0-9_]{1,62}$'
   and exists (select from court.court);

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
