-- The identity keys rewritten for speed (V5__identity_keys_plan_cached.sql, cjn._norm in
-- 10_ingest.sql) give exactly what the former definitions gave, on names with accents, case,
-- punctuation, other scripts, spaces of all kinds, empty and null: the index person_name_key
-- and every identity_key / name_norm stored before stay valid. The former definitions are
-- copied here as they were (V2__bulletins.sql and 10_ingest.sql before V5).
begin;
select plan(13);

create function pg_temp.old_words_key(t text) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, ext, pg_temp
return array_to_string(array(
    select w from unnest(string_to_array(btrim(regexp_replace(
        lower(ext.unaccent('ext.unaccent'::regdictionary, coalesce(t, ''))), '[^a-z0-9]+', ' ', 'g')), ' ')) w
     where w <> '' order by w collate "C"), ' ');
create function pg_temp.old_name_key(surname text, given_names text) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, pg_temp
return pg_temp.old_words_key(concat_ws(' ', surname, given_names));
create function pg_temp.old_norm(t text) returns text
    language sql immutable parallel safe
    set search_path = pg_catalog, ext, pg_temp
return btrim(regexp_replace(
    regexp_replace(lower(ext.unaccent('ext.unaccent'::regdictionary, coalesce(t, ''))), '[^a-z0-9]+', ' ', 'g'),
    '\s+', ' ', 'g'));

-- Names written by hand, then 10 000 drawn from a pool of letters, accented and not, other
-- scripts, digits, punctuation and spaces of every sort (deterministic: setseed).
create temporary table sample (t text);
insert into sample values (null), (''), (' '), ('   '), (E'\t'), (E'\n \r'), ('-'), ('''’'), ('É'), ('é'), ('e'),
    ('Kobila'), ('Mangué'), ('MBARGA Eloundou Jean Pierre'), ('Mbarga Jean-Pierre Éloundou'), ('N''Diaye Jean-Pierre'),
    ('jean pierre ndiaye'), ('Ngo Nkoumou épouse Essomba-Mvondo'), ('Marie-Thérèse Béatrice Aïssatou'),
    ('Nkoumou Ateba Jean-Baptiste (décédé)'), ('  Zambo   Kenneth  '), ('zambo kenneth'), ('KENNETH ZAMBO'),
    ('Eto''o Fils'), ('Eto’o fils'), ('Ékotto-Ébodé'), ('Œdipe Cœur'), ('Straße'), ('Ærø Ångström'), ('ﬁlle ﬂeur'),
    ('İstanbul Iğdır'), ('Ñandú'), ('Ça va'), (E'e\u0301le\u0300ve'), (E'Jean\u00a0Pierre'), (E'Jean\u2009Pierre'),
    (E'Jean\u3000Pierre'), ('Ἀθῆναι'), ('Москва Иван'), ('محمد علي'), ('李 小龙'), ('😀 Paul'), ('Paul 😀'),
    ('Jean2 Paul10'), ('10 2 1'), ('a a a'), ('b a b a'), ('Zz zZ Aa'), ('x_y'), ('x.y,z;w'), ('ÀÁÂÃÄÅàáâãäå'),
    ('ÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿ'), ('Ðð Þþ Łł Đđ Ħħ'), (repeat('Mvondo-', 40)),
    (repeat('x', 300) || ' ' || repeat('é', 100));
select setseed(0.42);
insert into sample
select string_agg(substr(pool, 1 + floor(random() * length(pool))::int, 1), '' order by k)
  from (select g, k from generate_series(1, 10000) g, generate_series(1, 1 + (hashint4(g) & 31)) k) x,
       (select 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789àâäéèêëîïôöùûüçÿÀÂÄÉÈÊËÎÏÔÖÙÛÜÇŸ'
               || 'ãñõáíóúıİœŒæÆøØßåÅłŁđĐ'' ’-_.,;:!?()/\"«»' || E'    \t\n\u00a0\u2009\u3000\u0301\u0300'
               || 'αβγδΑΒΓ ЖжЯя ءبت 中文 😀' as pool) p
 group by g;

select is((select count(*) from sample), 10055::bigint, 'the sample: 55 names by hand and 10 000 drawn');
select is((select count(*) from sample where registry.words_key(t) is distinct from pg_temp.old_words_key(t)), 0::bigint,
    'words_key: the same key for every name');
select is((select count(*) from sample where cjn._norm(t) is distinct from pg_temp.old_norm(t)), 0::bigint,
    'cjn._norm: the same text for every name');
select is((select count(*) from (select t from sample limit 500) a, (select t from sample order by t nulls first limit 20) b
            where registry.name_key(a.t, b.t) is distinct from pg_temp.old_name_key(a.t, b.t)
               or registry.name_key(b.t, a.t) is distinct from pg_temp.old_name_key(b.t, a.t)), 0::bigint,
    'name_key: the same key for every pair of surname and given names, either null');
select is(registry.name_key(null, null), pg_temp.old_name_key(null, null), 'name_key of nothing');
select is(registry.name_key('Mbarga Jean-Pierre', 'Éloundou'), 'eloundou jean mbarga pierre',
    'name_key: words unaccented, lower-case, sorted');
select is(registry.words_key('b a b a'), 'a a b b', 'words_key keeps repeated words');

-- The caller's search_path plays no part (no SET clause any more: everything is qualified).
set local search_path = pg_temp;
select count(*) filter (where registry.words_key(t) is distinct from pg_temp.old_words_key(t)
                           or registry.name_key(t, t) is distinct from pg_temp.old_name_key(t, t)
                           or cjn._norm(t) is distinct from pg_temp.old_norm(t)) as differ_without_path
  from pg_temp.sample \gset
reset search_path;
select is(:differ_without_path::bigint, 0::bigint, 'the same keys with nothing but pg_temp on the search_path');

-- Inlined or plan-cached, and the index is still used by the queries that ask for name_key.
select is((select proconfig from pg_proc where oid = 'registry.name_key(text, text)'::regprocedure), null,
    'name_key has no SET clause (inlinable)');
select is((select proconfig from pg_proc where oid = 'cjn._norm(text)'::regprocedure), null,
    'cjn._norm has no SET clause (inlinable)');
select is((select prolang from pg_proc where oid = 'registry.words_key(text)'::regprocedure),
          (select oid from pg_language where lanname = 'plpgsql'), 'words_key is PL/pgSQL (plans kept per session)');
set local enable_seqscan = off;
create function pg_temp.plan(q text) returns text language plpgsql as $$
declare r text; s text := '';
begin
    for r in execute 'explain ' || q loop s := s || r || E'\n'; end loop;
    return s;
end $$;
select matches(pg_temp.plan($$select person_id from registry.person p
                              where registry.name_key(p.surname, p.given_names) = 'jean kobila' and p.birth_date = '1987-04-17'$$),
    'person_name_key', 'the lookup by name key and birth date uses the index person_name_key');
insert into registry.person (surname, given_names, birth_date, identity_key, name_norm)
values ('Mbarga Éloundou', 'Jean-Pierre', '1990-01-02', 'test|07', 'mbarga eloundou jean pierre');
select is((select count(*) from registry.person p
            where registry.name_key(p.surname, p.given_names) = 'eloundou jean mbarga pierre' and p.birth_date = '1990-01-02'),
          1::bigint, 'a person inserted is found through the index');

select * from finish();
rollback;
