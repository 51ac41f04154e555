-- Requests for extracts of the criminal record (bulletins n°1, n°2, n°3) sent to the CJN, and
-- the CJN's answers; who may ask for which bulletin, as data. This file never changes once landed.

-- Requests for extracts are audited like fiches (the audit table has its own owner).
alter table court.audit drop constraint audit_entity_known,
    add constraint audit_entity_known check (entity in ('fiche', 'user', 'court', 'extract_request'));

set local role juris_owner;

-- Who may ask for which bulletin: the lowest privilege (1 agent, 2 secrétaire, 3 greffier) and,
-- in words, for whom the bulletin is delivered. A country adapts it with UPDATE (administrator).
create table court.extract_permission (
    bulletin smallint primary key constraint extract_permission_bulletin_range check (bulletin between 1 and 3),
    min_privilege smallint not null constraint extract_permission_privilege_range check (min_privilege between 1 and 3),
    delivered_to text not null constraint extract_permission_delivered_to_present check (btrim(delivered_to) <> '')
);
insert into court.extract_permission (bulletin, min_privilege, delivered_to) values
    -- n°1: the whole record; judicial authorities only (magistrats, through the greffe).
    (1, 3, 'autorités judiciaires (magistrats), par le greffier'),
    -- n°2: administrations and authorities the law names (recruitment, licences...).
    (2, 2, 'administrations et autorités habilitées par la loi'),
    -- n°3: the person concerned, in person, on proof of identity.
    (3, 1, 'la personne concernée, sur présentation de sa pièce d''identité');

alter table court.counter drop constraint counter_name_known,
    add constraint counter_name_known check (name in ('fiche', 'niu', 'message', 'extract_request'));

create table court.extract_request (
    extract_request_id bigint generated always as identity primary key,
    message_id uuid not null default gen_random_uuid() constraint extract_request_message_id_unique unique,
    -- Its own gapless counter: fiche events keep theirs without holes for the CJN's gap detection.
    seq bigint not null constraint extract_request_seq_unique unique,
    bulletin smallint not null constraint extract_request_bulletin_range check (bulletin between 1 and 3),
    -- The person asked for: surname, given_names, birth_date (required), birth_place, father, mother,
    -- niu (optional).
    person jsonb not null constraint extract_request_person_object check (jsonb_typeof(person) = 'object'),
    purpose text not null constraint extract_request_purpose_length check (btrim(purpose) <> '' and length(purpose) <= 500),
    requested_by text not null,
    requested_at timestamptz not null default now(),
    state text not null default 'pending'
        constraint extract_request_state_known check (state in ('pending', 'answered', 'rejected')),
    sent_at timestamptz,
    attempts integer not null default 0,
    -- The CJN's answer (verified by the listener), as signed and sealed.
    answer jsonb,
    answer_sealed bytea,
    answered_at timestamptz,
    extract_number text constraint extract_request_extract_number_unique unique,
    verification_code text,
    entries_count integer,
    near_matches_count integer,
    rejection_code text,
    rejection_reason text,
    rejected_at timestamptz,
    constraint extract_request_answered_has_answer
        check (state <> 'answered' or (answer is not null and answer_sealed is not null and answered_at is not null
                                       and extract_number is not null and entries_count is not null)),
    constraint extract_request_rejected_has_reason
        check (state <> 'rejected' or (rejection_code is not null and rejection_reason is not null))
);
create index extract_request_pending on court.extract_request (seq) where state = 'pending';
create index extract_request_recent on court.extract_request (requested_at desc);

reset role;
