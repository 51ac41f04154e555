-- The identity keys of V2, same results, cheaper: registry.name_key is the expression of the
-- index person_name_key, so it runs on every new person, and registry.words_key for each person
-- an extract compares. As SQL functions with a SET clause they were never inlined and were
-- parsed and planned again on each evaluation (~200 µs a person at ingest). Now:
-- - words_key is PL/pgSQL (compiled once per session) without a SET clause: every name in it is
--   schema-qualified (functions, operators, types, collation), so the caller's search_path
--   plays no part; the words are sorted by an insertion sort in byte order (collation "C"),
--   what `order by w collate "C"` did (the words are few; equal words are equal strings);
-- - name_key is an inlinable SQL function (standard body, resolved when created; no SET; only
--   immutable parts): the index expression and the queries that use it become the call of
--   words_key, which the planner matches as before (both sides are inlined alike).
-- Results are identical for every input (db/tests/cjn/07_identity_keys.sql compares them with
-- the V2 definitions): that is what keeps person_name_key valid without a rebuild — an index
-- stays correct across CREATE OR REPLACE only if the function gives what it gave.
-- name_key no longer calls concat_ws (stable, which forbids inlining an immutable function):
-- coalesce(surname || ' ', '') || coalesce(given_names, '') differs from concat_ws(' ', surname,
-- given_names) only by a trailing space when given_names is null, and words_key ignores spaces
-- at either end (they become part of the run of non-alphanumerics it turns into one space and
-- trims). This file never changes once landed.

set local role cjn_owner;

create or replace function registry.words_key(t text) returns text
    language plpgsql immutable parallel safe
as $$
declare
    -- unaccented, lower-case, runs of anything but [a-z0-9] as one space, trimmed: the words
    -- split on single spaces, none empty (the empty text gives no word)
    w pg_catalog.text[] := pg_catalog.string_to_array(pg_catalog.btrim(pg_catalog.regexp_replace(
        pg_catalog.lower(ext.unaccent('ext.unaccent'::pg_catalog.regdictionary, coalesce(t, ''))),
        '[^a-z0-9]+', ' ', 'g')), ' ');
    n pg_catalog.int4 := pg_catalog.cardinality(w);
    x pg_catalog.text;
    j pg_catalog.int4;
begin
    if n operator(pg_catalog.<=) 1 then
        return coalesce(w[1], '');
    end if;
    for i in 2 .. n loop
        x := w[i];
        j := i operator(pg_catalog.-) 1;
        while j operator(pg_catalog.>=) 1 and w[j] operator(pg_catalog.>) x collate pg_catalog."C" loop
            w[j operator(pg_catalog.+) 1] := w[j];
            j := j operator(pg_catalog.-) 1;
        end loop;
        w[j operator(pg_catalog.+) 1] := x;
    end loop;
    return pg_catalog.array_to_string(w, ' ');
end
$$;

create or replace function registry.name_key(surname text, given_names text) returns text
    language sql immutable parallel safe
return registry.words_key(coalesce(surname operator(pg_catalog.||) ' ', '') operator(pg_catalog.||) coalesce(given_names, ''));

reset role;
