-- Transmission to the CJN: the state of each outbox message (pending, acknowledged by the CJN's
-- signed receipt, or rejected with its reason), the quarantine of what did not open, and the
-- listener's last contact with the broker.

set local role juris_owner;

alter table court.outbox
    add column state text not null default 'pending'
        constraint outbox_state_known check (state in ('pending', 'acknowledged', 'rejected')),
    add column receipt jsonb,
    add column receipt_sealed bytea,
    add column rejection_code text,
    add column rejection_reason text,
    add column rejected_at timestamptz,
    add constraint outbox_acknowledged_has_receipt
        check (state <> 'acknowledged' or (receipt is not null and receipt_sealed is not null and acknowledged_at is not null)),
    add constraint outbox_rejected_has_reason
        check (state <> 'rejected' or (rejection_code is not null and rejection_reason is not null));

drop index court.outbox_pending;
create index outbox_pending on court.outbox (seq) where state = 'pending';

-- Messages from the broker that did not open or were not understood: kept, never applied.
create table court.quarantine (
    quarantine_id bigint generated always as identity primary key,
    received_at timestamptz not null default now(),
    topic text not null,
    payload bytea not null,
    reason text not null constraint quarantine_reason_present check (btrim(reason) <> '')
);

-- The listener's last contact with the broker (one row).
create table court.transmission_state (
    transmission_state_id boolean primary key default true
        constraint transmission_state_single_row check (transmission_state_id),
    last_contact timestamptz
);
insert into court.transmission_state default values;

reset role;
