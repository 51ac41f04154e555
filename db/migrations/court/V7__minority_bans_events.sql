-- Issue 15: what the fiche could not express. This file never changes once landed.
-- - Minority from the dates: the age of majority (a setting, 18 by default: Code pénal, art. 80)
--   and whether the court decided minority itself (when the dates cannot: an approximate birth
--   date, offences spanning the birthday, an age fixed by examination).
-- - Bans with their own dates: a start (another date than the conviction), an end, or a
--   duration counted from the release.
-- - Dated events after signature (fine paid, sentence served, suspension revoked, ban lifted,
--   pardon, cancellation of an event recorded by mistake), signed by the greffier and sent to the
--   CJN like a rectification (outbox kind `sentence_event`).

-- The API schema depends on court.fiche's columns (SQL-standard function bodies) and holds the
-- triggers: drop it here; `migrate` rebuilds it from db/functions/court right after.
drop schema if exists juris cascade;
delete from court.functions_applied;

set local role juris_owner;

alter table court.setting
    add column majority_age_years integer not null default 18
        constraint setting_majority_age_range check (majority_age_years between 10 and 25);

alter table court.fiche
    add column minor_decided boolean not null default false,
    add column ban_start date,
    add column ban_end date,
    add column ban_from_release boolean not null default false,
    add constraint fiche_ban_dates_need_ban
        check (ban is not null or (ban_start is null and ban_end is null and not ban_from_release)),
    add constraint fiche_ban_end_or_months check (ban_end is null or ban_months is null),
    add constraint fiche_ban_start_or_release check (ban_start is null or not ban_from_release),
    add constraint fiche_ban_release_has_months check (not ban_from_release or ban_months is not null),
    add constraint fiche_ban_start_not_before_conviction check (ban_start >= conviction_date),
    add constraint fiche_ban_end_after_start check (ban_end > coalesce(ban_start, conviction_date));

alter table court.outbox drop constraint outbox_kind_known,
    add constraint outbox_kind_known
        check (kind in ('fiche_signed', 'fiche_rectified', 'fiche_withdrawn', 'sentence_event'));

-- What happened after a signed conviction, recorded and signed by the greffier: never changed
-- or deleted (a mistake is cancelled by a later event of kind `cancellation`).
create table court.sentence_event (
    sentence_event_id bigint generated always as identity primary key,
    event_id uuid not null default gen_random_uuid() constraint sentence_event_event_id_unique unique,
    fiche_id bigint not null constraint sentence_event_fiche_fkey references court.fiche (fiche_id),
    niu text not null constraint sentence_event_niu_format check (niu ~ '^[0-9]{17}$'),
    -- The fiche's version when the event was recorded.
    fiche_version integer not null constraint sentence_event_fiche_version_positive check (fiche_version >= 1),
    event_kind text not null constraint sentence_event_kind_known
        check (event_kind in ('fine_paid', 'sentence_served', 'suspension_revoked', 'ban_lifted', 'pardon',
                              'cancellation')),
    event_date date not null,
    -- A pardon: months of imprisonment remitted, or the whole sentence (total).
    remitted_months integer constraint sentence_event_remitted_months_range check (remitted_months between 1 and 1200),
    total boolean not null default false,
    cancels uuid constraint sentence_event_cancels_fkey references court.sentence_event (event_id),
    reference text not null
        constraint sentence_event_reference_length check (btrim(reference) <> '' and length(reference) <= 200),
    note text constraint sentence_event_note_length check (length(note) <= 2000),
    recorded_by text not null,
    recorded_at timestamptz not null default now(),
    constraint sentence_event_cancellation_names_one check ((event_kind = 'cancellation') = (cancels is not null)),
    constraint sentence_event_pardon_says_what check (
        event_kind = 'pardon' and (remitted_months is not null) <> total
        or event_kind <> 'pardon' and remitted_months is null and not total)
);
create index sentence_event_fiche on court.sentence_event (fiche_id, event_date);

reset role;
