-- Settings of the CJN's operation (one row), apart from the law's: how long a gap in a court's
-- sequence numbers may stay open before it is an alarm (the court's later messages are held
-- unapplied meanwhile); an operator changes it with cjn.set_gap_alarm_after. And fines in whole
-- francs, as the courts keep them and the protocol carries them (value for value).
-- This file never changes once landed.

-- The API schema's views depend on registry.fiche's columns: drop it; `migrate` rebuilds it
-- from db/functions/cjn right after.
drop schema if exists cjn cascade;
delete from registry.functions_applied;

set local role cjn_owner;

create table registry.operation_setting (
    operation_setting_id boolean primary key default true
        constraint operation_setting_single_row check (operation_setting_id),
    gap_alarm_after interval not null default '1 hour'
        constraint operation_setting_gap_alarm_after_range check (gap_alarm_after between '1 minute' and '30 days'),
    updated_by text,
    updated_at timestamptz not null default now()
);
insert into registry.operation_setting default values;

-- Every fine arrived as a whole number (the protocol's u64): the conversion loses nothing.
alter table registry.fiche
    alter column fine_amount type bigint using fine_amount::bigint,
    add constraint fiche_fine_amount_range check (fine_amount >= 0);

reset role;
