-- A court restored from a backup recovers from the CJN what it signed after that backup (the
-- CJN is its off-site copy). While a recovery is open the court takes no new fiche number, NIU
-- or message number (juris._next refuses), so that none is reused with other content.

set local role juris_owner;

create table court.recovery (
    recovery_id bigint generated always as identity primary key,
    reason text not null constraint recovery_reason_present check (btrim(reason) <> ''),
    started_at timestamptz not null default now(),
    started_by text not null,
    -- The highest message number the court held when the recovery began.
    after_seq bigint not null constraint recovery_after_seq_positive check (after_seq >= 0),
    -- The listener's last request to the CJN, and the CJN's last answer.
    requested_at timestamptz,
    answered_at timestamptz,
    cjn_last_seq bigint,
    -- Messages restored from the CJN's copy.
    restored integer not null default 0,
    finished_at timestamptz,
    -- Why the last answer could not be applied (an operator is needed).
    problem text
);
-- One open recovery at a time.
create unique index recovery_one_open on court.recovery ((true)) where finished_at is null;

reset role;
