-- Searching fiches, their history, and the proof that the audit trail was not rewritten.

-- The criteria of a search as a condition on `court.fiche f` and the likeness score of its
-- names, for a query built with the parameters $1 the names (normalised), $2 the NIU, $3 the
-- reference, $4 the birth date, $5 the status (0 to 5), $6 and $7 the first and last
-- conviction dates. `condition` is null when a word of the names is like no known word: nothing
-- can match. `selective` when a criterion has an index that finds few fiches (names, NIU,
-- reference, birth date). Refuses (XJ001, at the field) a mistyped NIU, an oversized name or
-- reference, an unknown status, a range of dates that ends before it starts.
create function juris._search_filter(
    by_name text, by_niu text, by_reference text, by_birth_date date, by_status integer,
    convicted_from date, convicted_to date,
    out name_query text, out condition text, out score text, out selective boolean)
    language plpgsql stable
    set search_path = pg_catalog, ext, pg_temp
as $$
declare
    conditions text[] := array['true'];
    word text;
    similar_words text[];
begin
    score := '1::real';
    selective := false;
    -- Bounded input: a name is a few words (each looked up in the dictionary); checked before
    -- anything costly is done with it.
    if length(by_name) > 200 then
        raise exception 'Nom à rechercher trop long : au plus 200 caractères et 12 mots.'
            using errcode = 'XJ001', column = 'name';
    end if;
    name_query := nullif(juris._norm(by_name), '');
    if cardinality(string_to_array(name_query, ' ')) > 12 then
        raise exception 'Nom à rechercher trop long : au plus 200 caractères et 12 mots.'
            using errcode = 'XJ001', column = 'name';
    end if;
    if length(by_reference) > 64 then
        raise exception 'Référence à rechercher trop longue : au plus 64 caractères.'
            using errcode = 'XJ001', column = 'reference';
    end if;
    if by_niu is not null and btrim(by_niu) <> '' then
        if not juris.niu_valid(btrim(by_niu)) then
            raise exception 'NIU invalide : « % » (17 chiffres dont une clé de contrôle) ; vérifiez la saisie.', by_niu
                using errcode = 'XJ001', column = 'niu';
        end if;
        conditions := array_append(conditions, 'f.niu = $2');
        selective := true;
    end if;
    if by_reference is not null and btrim(by_reference) <> '' then
        conditions := array_append(conditions, 'lower(f.reference) = lower(btrim($3))');
        selective := true;
    end if;
    if by_birth_date is not null then
        conditions := array_append(conditions, 'f.birth_date = $4');
        selective := true;
    end if;
    if by_status is not null then
        if by_status not between 0 and 5 then
            raise exception 'Statut invalide : % (0 à 5).', by_status using errcode = 'XJ001', column = 'status';
        end if;
        conditions := array_append(conditions, 'f.status = (enum_range(null::court.fiche_status))[$5 + 1]');
    end if;
    if convicted_from > convicted_to then
        raise exception 'Période de condamnation inversée : le % est après le %.',
            to_char(convicted_from, 'DD/MM/YYYY'), to_char(convicted_to, 'DD/MM/YYYY')
            using errcode = 'XJ001', column = 'convicted_to';
    end if;
    if convicted_from is not null then
        conditions := array_append(conditions, 'f.conviction_date >= $6');
    end if;
    if convicted_to is not null then
        conditions := array_append(conditions, 'f.conviction_date <= $7');
    end if;
    if name_query is not null then
        selective := true;
        score := 'greatest(ext.similarity(f.name_norm, $1), ext.word_similarity($1, f.name_norm))';
        if by_birth_date is not null then
            -- Anchored on the birth date (btree): a looser likeness is enough.
            conditions := array_append(conditions, ('(' || score || ') >= 0.25'));
        else
            -- Each word of the query must match a word of the names, exactly or by likeness:
            -- similar words are looked up in the small dictionary (trigram index), then the
            -- fiches holding one of them (GIN index on the words of each fiche's names).
            foreach word in array string_to_array(name_query, ' ') loop
                select array_agg(t.token) into similar_words
                  from court.name_token t
                 where t.token = word or (length(word) >= 3 and ext.similarity(t.token, word) >= 0.4
                                          and t.token operator(ext.%) word);
                if similar_words is null then
                    condition := null;
                    return;
                end if;
                conditions := array_append(conditions, format('f.name_tokens && %L::text[]', similar_words));
            end loop;
        end if;
    end if;
    condition := array_to_string(conditions, ' and ');
end
$$;

-- Finds fiches by NIU, court reference, names (accent-, case- and spelling-tolerant), birth date
-- and status; every criterion given must hold. Ranked by name likeness, then newest first.
-- A mistyped NIU is refused, never matched to another fiche.
create function juris.search_fiches(
    by_name text default null,
    by_niu text default null,
    by_reference text default null,
    by_birth_date date default null,
    by_status integer default null,
    max_rows integer default 50)
    returns table (
        fiche_id bigint, number bigint, status integer, status_label text, niu text, version integer,
        reference text, surname text, given_names text, birth_date date, birth_place text,
        conviction_date date, score real)
    language plpgsql stable security definer
    set search_path = pg_catalog, ext, pg_temp
as $$
declare
    filter record;
begin
    perform juris._require(1, 'Rechercher des fiches');
    select * into filter from juris._search_filter(by_name, by_niu, by_reference, by_birth_date, by_status, null, null);
    if filter.condition is null then
        return;
    end if;
    if filter.condition = 'true' and max_rows > 1000 then
        max_rows := 1000;
    end if;
    return query execute format(
        'select f.fiche_id, f.number, juris._status_number(f.status), juris._status_label(f.status), f.niu,
                f.version, f.reference, f.surname, f.given_names, f.birth_date, f.birth_place,
                f.conviction_date, (%s)::real as score
           from court.fiche f
          where %s
          order by score desc, f.number desc
          limit $8', filter.score, filter.condition)
    using filter.name_query, btrim(by_niu), by_reference, by_birth_date, by_status, null::date, null::date,
          greatest(1, least(coalesce(max_rows, 50), 10000));
end
$$;

-- One page of the fiches a search finds (the criteria of search_fiches, plus a range of
-- conviction dates), sorted in the database by `sort_by` — relevance (name likeness, then
-- newest), number, status, name, birth_date or conviction_date; ties by number — and the
-- number of fiches found, counted up to 10 000 (`total_exact` false beyond: the search should
-- be narrowed). Pages reach the 10 000th fiche at most. Names, a NIU, a reference or a birth
-- date find few fiches through their indexes: those are found first, then sorted and counted
-- in one pass. Otherwise (a status, a range of dates, nothing) the page is read along the
-- index of its sort (V9) and the count stops at the limit: no search reads the whole register.
create function juris.search_fiches_page(
    by_name text default null,
    by_niu text default null,
    by_reference text default null,
    by_birth_date date default null,
    by_status integer default null,
    convicted_from date default null,
    convicted_to date default null,
    sort_by text default 'relevance',
    descending boolean default true,
    page_size integer default 25,
    page_offset integer default 0)
    returns table (
        fiche_id bigint, number bigint, status integer, status_label text, niu text, version integer,
        reference text, surname text, given_names text, birth_date date, birth_place text,
        conviction_date date, score real, total bigint, total_exact boolean)
    language plpgsql stable security definer
    set search_path = pg_catalog, ext, pg_temp
as $$
declare
    count_limit constant integer := 10000;
    filter record;
    direction text := case when descending then ' desc' else '' end;
    ordering text;
    found_count bigint;
begin
    perform juris._require(1, 'Rechercher des fiches');
    select * into filter
      from juris._search_filter(by_name, by_niu, by_reference, by_birth_date, by_status,
                                convicted_from, convicted_to);
    if filter.condition is null then
        return;
    end if;
    ordering := case sort_by
        when 'relevance' then
            case when filter.name_query is null then 'f.number' || direction
                 else 'score' || direction || ', f.number' || direction end
        when 'number' then 'f.number' || direction
        when 'status' then 'f.status' || direction || ', f.number' || direction
        when 'name' then 'f.name_norm' || direction || ', f.number' || direction
        when 'birth_date' then 'f.birth_date' || direction || ', f.number' || direction
        when 'conviction_date' then 'f.conviction_date' || direction || ', f.number' || direction
    end;
    if ordering is null then
        raise exception 'Tri inconnu : « % » (relevance, number, status, name, birth_date, conviction_date).', sort_by
            using errcode = 'XJ001', column = 'sort_by';
    end if;
    page_size := greatest(1, least(coalesce(page_size, 25), 200));
    page_offset := greatest(0, least(coalesce(page_offset, 0), count_limit - page_size));
    if filter.selective then
        -- Few fiches: found once (materialised, so that no index of the sort order tempts the
        -- planner into walking the register), then counted, sorted and cut.
        return query execute format(
            'with found as materialized (
                 select f.fiche_id, f.number, f.status, f.niu, f.version, f.reference, f.surname,
                        f.given_names, f.birth_date, f.birth_place, f.conviction_date, f.name_norm,
                        (%s)::real as score
                   from court.fiche f
                  where %s)
             select f.fiche_id, f.number, juris._status_number(f.status), juris._status_label(f.status),
                    f.niu, f.version, f.reference, f.surname, f.given_names, f.birth_date, f.birth_place,
                    f.conviction_date, f.score, least(count(*) over (), $10), count(*) over () <= $10
               from found f
              order by %s
              limit $8 offset $9', filter.score, filter.condition, ordering)
        using filter.name_query, btrim(by_niu), by_reference, by_birth_date, by_status, convicted_from,
              convicted_to, page_size, page_offset, count_limit::bigint;
        return;
    end if;
    -- Broad: counted apart from the page and only up to the limit; the page then stops after a
    -- page's worth of rows of the index in its order.
    execute format('select count(*) from (select from court.fiche f where %s limit %s) s',
                   filter.condition, count_limit + 1)
       into found_count
      using filter.name_query, btrim(by_niu), by_reference, by_birth_date, by_status, convicted_from, convicted_to;
    if found_count = 0 then
        return;
    end if;
    return query execute format(
        'select f.fiche_id, f.number, juris._status_number(f.status), juris._status_label(f.status), f.niu,
                f.version, f.reference, f.surname, f.given_names, f.birth_date, f.birth_place,
                f.conviction_date, (%s)::real as score, $10, $11
           from court.fiche f
          where %s
          order by %s
          limit $8 offset $9', filter.score, filter.condition, ordering)
    using filter.name_query, btrim(by_niu), by_reference, by_birth_date, by_status, convicted_from, convicted_to,
          page_size, page_offset, least(found_count, count_limit)::bigint, found_count <= count_limit;
end
$$;

-- Every change of a fiche: when, who (login and name), what, the state after it, and the
-- comment or motive that came with it.
create function juris.fiche_history(id bigint)
    returns table (seq bigint, at timestamptz, actor text, actor_name text, action text, status integer,
                   status_label text, version integer, detail text)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(1, 'Consulter l''historique d''une fiche');
    return query
    select a.seq, a.at, a.actor, juris._full_name(a.actor), a.action,
           juris._status_number((a.data ->> 'status')::court.fiche_status),
           juris._status_label((a.data ->> 'status')::court.fiche_status),
           (a.data ->> 'version')::integer,
           case a.action
               when 'return' then a.data ->> 'return_comment'
               when 'rectify' then a.data ->> 'rectification_motive'
               when 'withdraw' then a.data ->> 'withdrawal_motive'
               when 'sign' then 'NIU ' || (a.data ->> 'niu')
           end
      from court.audit a
     where a.entity = 'fiche' and a.entity_id = id::text
    union all
    -- Proposals of rectification of this fiche: proposed, verified, applied or returned.
    select a.seq, a.at, a.actor, juris._full_name(a.actor), a.action, null::integer, null::text,
           (a.data ->> 'from_version')::integer,
           case a.action when 'rectification_return' then a.data ->> 'return_comment' else a.data ->> 'motive' end
      from court.audit a
     where a.entity = 'rectification' and a.data ->> 'fiche_id' = id::text
     order by 1;
end
$$;

-- Checks the whole audit chain: consecutive sequence numbers, each row's link to the previous
-- hash, and each hash against the row's content. Names the first broken link, if any.
create function juris.audit_verify()
    returns table (ok boolean, rows_checked bigint, first_broken_seq bigint, problem text)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    zero bytea := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    total bigint;
    broken_seq bigint;
    broken text;
begin
    if not pg_has_role(session_user, 'pg_read_all_data', 'member')
       and not (select rolsuper from pg_catalog.pg_roles where rolname = session_user) then
        perform juris._require(3, 'Vérifier le journal d''audit');
    end if;
    select count(*) into total from court.audit;
    with chain as (
        select a.*, lag(a.seq) over w as prev_seq, lag(a.hash) over w as prev_row_hash
          from court.audit a
        window w as (order by a.seq)
    )
    select c.seq,
           case
               when c.prev_seq is null and c.seq <> 1 then
                   format('Les lignes 1 à %s ont disparu (supprimées).', c.seq - 1)
               when c.prev_seq is not null and c.seq <> c.prev_seq + 1 then
                   format('Les lignes %s à %s ont disparu (supprimées).', c.prev_seq + 1, c.seq - 1)
               when c.prev_hash <> coalesce(c.prev_row_hash, zero) then
                   'Le lien vers la ligne précédente est rompu (ligne insérée, ou ligne précédente remplacée).'
               when c.hash <> sha256(c.prev_hash || juris._audit_canonical(
                        c.seq, c.at, c.actor, c.action, c.entity, c.entity_id, c.data)) then
                   'Le contenu de la ligne a été modifié (empreinte incorrecte).'
           end
      into broken_seq, broken
      from chain c
     where (c.prev_seq is null and c.seq <> 1)
        or (c.prev_seq is not null and c.seq <> c.prev_seq + 1)
        or c.prev_hash <> coalesce(c.prev_row_hash, zero)
        or c.hash <> sha256(c.prev_hash || juris._audit_canonical(
               c.seq, c.at, c.actor, c.action, c.entity, c.entity_id, c.data))
     order by c.seq
     limit 1;
    -- The chain holds; now its meaning. A fiche's content changes only by creation, edition of a
    -- draft or rectification (never by a submission, verification, signature, archive...). The
    -- rows of a dated event (`event`) and of a restoration from the CJN (`restore`) name a fiche
    -- without being a picture of it: they are left out of these two checks.
    if broken is null then
        select x.seq, format('Le contenu de la fiche n° %s a changé lors d''une action « %s » : modifié hors de l''application.',
                             x.number, x.action)
          into broken_seq, broken
          from (select a.seq, a.action, a.data ->> 'number' as number,
                       juris._fiche_content(jsonb_populate_record(null::court.fiche, a.data)) as content,
                       lag(juris._fiche_content(jsonb_populate_record(null::court.fiche, a.data)))
                           over (partition by a.entity_id order by a.seq) as previous
                  from court.audit a
                 where a.entity = 'fiche' and a.action not in ('erase', 'event', 'restore')) x
         where x.previous is not null and x.action not in ('create', 'update', 'rectify')
           and x.content is distinct from x.previous
         order by x.seq
         limit 1;
    end if;
    -- And each fiche as it stands is what its last audit row recorded: a change made behind the
    -- triggers (a superuser's) left no row.
    if broken is null then
        select a.seq, format('La fiche n° %s diffère de sa dernière trace au journal (ligne %s) : modifiée hors de l''application.',
                             f.number, a.seq)
          into broken_seq, broken
          from court.fiche f
          join lateral (select l.seq, l.data from court.audit l
                         where l.entity = 'fiche' and l.entity_id = f.fiche_id::text
                           and l.action not in ('event', 'restore')
                         order by l.seq desc limit 1) a on true
         where not ((to_jsonb(f) - 'name_norm' - 'name_tokens') @> a.data)
         order by f.fiche_id
         limit 1;
        if broken is null then
            select null::bigint, format('La fiche n° %s n''a aucune trace au journal : insérée hors de l''application.', f.number)
              into broken_seq, broken
              from court.fiche f
             where not exists (select from court.audit l where l.entity = 'fiche' and l.entity_id = f.fiche_id::text)
             limit 1;
        end if;
    end if;
    return query select broken is null, total, broken_seq, broken;
end
$$;
