-- Searching fiches, their history, and the proof that the audit trail was not rewritten.

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
    q text;
    conditions text[] := array['true'];
    score_expr text := '1::real';
    word text;
    similar_words text[];
begin
    perform juris._require(1, 'Rechercher des fiches');
    -- Bounded input: a name is a few words (each looked up in the dictionary); checked before
    -- anything costly is done with it.
    if length(by_name) > 200 then
        raise exception 'Nom à rechercher trop long : au plus 200 caractères et 12 mots.'
            using errcode = 'XJ001', column = 'name';
    end if;
    q := nullif(juris._norm(by_name), '');
    if cardinality(string_to_array(q, ' ')) > 12 then
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
    end if;
    if by_reference is not null and btrim(by_reference) <> '' then
        conditions := array_append(conditions, 'lower(f.reference) = lower(btrim($3))');
    end if;
    if by_birth_date is not null then
        conditions := array_append(conditions, 'f.birth_date = $4');
    end if;
    if by_status is not null then
        if by_status not between 0 and 5 then
            raise exception 'Statut invalide : % (0 à 5).', by_status using errcode = 'XJ001', column = 'status';
        end if;
        conditions := array_append(conditions, 'f.status = (enum_range(null::court.fiche_status))[$5 + 1]');
    end if;
    if q is not null then
        score_expr := 'greatest(ext.similarity(f.name_norm, $1), ext.word_similarity($1, f.name_norm))';
        if by_birth_date is not null then
            -- Anchored on the birth date (btree): a looser likeness is enough.
            conditions := array_append(conditions, ('(' || score_expr || ') >= 0.25'));
        else
            -- Each word of the query must match a word of the names, exactly or by likeness:
            -- similar words are looked up in the small dictionary (trigram index), then the
            -- fiches holding one of them (GIN index on the words of each fiche's names).
            foreach word in array string_to_array(q, ' ') loop
                select array_agg(t.token) into similar_words
                  from court.name_token t
                 where t.token = word or (length(word) >= 3 and ext.similarity(t.token, word) >= 0.4
                                          and t.token operator(ext.%) word);
                if similar_words is null then
                    return;
                end if;
                conditions := array_append(conditions, format('f.name_tokens && %L::text[]', similar_words));
            end loop;
        end if;
    end if;
    if cardinality(conditions) = 1 and max_rows > 1000 then
        max_rows := 1000;
    end if;
    return query execute format(
        'select f.fiche_id, f.number, juris._status_number(f.status), juris._status_label(f.status), f.niu,
                f.version, f.reference, f.surname, f.given_names, f.birth_date, f.birth_place,
                f.conviction_date, (%s)::real as score
           from court.fiche f
          where %s
          order by score desc, f.number desc
          limit $6', score_expr, array_to_string(conditions, ' and '))
    using q, btrim(by_niu), by_reference, by_birth_date, by_status, greatest(1, least(coalesce(max_rows, 50), 10000));
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
