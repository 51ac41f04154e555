-- Issue 12: the desktop application's Chercher pages and sorts the results in the database
-- (juris.search_fiches_page). This file never changes once landed.
-- Each column the results sort by has an index in that order, ending with the fiche number
-- (the tie-break, so that a page never repeats or skips a fiche): the first page of a broad
-- search (a status, a range of conviction dates, nothing at all) reads a page's worth of index
-- entries instead of sorting the whole register. The conviction dates' index also serves the
-- range of dates as a criterion.

set local role juris_owner;

create index fiche_conviction_date on court.fiche (conviction_date, number);
create index fiche_name_order on court.fiche (name_norm, number);
create index fiche_status_number on court.fiche (status, number);
-- The status and number index serves everything the status index did.
drop index court.fiche_status;

reset role;
