-- What the CJN needs to compute bulletins n°2 and n°3 that only the judgment says:
-- the court ordering a short custodial sentence onto bulletin n°3, the bans (interdictions,
-- déchéances, incapacités) pronounced and their duration, and the revocation of an earlier
-- suspension (sursis) by this conviction. This file never changes once landed.

alter table court.fiche
    add column b3_ordered boolean not null default false,
    add column ban text constraint fiche_ban_length check (length(ban) <= 2000),
    add column ban_months integer constraint fiche_ban_months_range check (ban_months between 1 and 1200),
    add column ban_suspended boolean not null default false,
    add column revoked_suspension_niu text
        constraint fiche_revoked_suspension_niu_format check (revoked_suspension_niu ~ '^[0-9]{17}$'),
    add constraint fiche_ban_consistent check (ban is not null or (ban_months is null and not ban_suspended));
