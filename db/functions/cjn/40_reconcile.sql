-- A fiche's content as the court and the CJN compare it: the fields added by issue 15 are left out
-- while they hold their default (false or null), so that a fiche stored before them has the same
-- digest on both sides. The same function exists at the court (juris._comparable_content).
create function cjn._comparable_content(content jsonb) returns jsonb
    language sql immutable
    set search_path = pg_catalog, pg_temp
return jsonb_set(content, '{condamnation}', (content -> 'condamnation')
    - array(select k from unnest(array['minor_decided', 'ban_start', 'ban_end', 'ban_from_release']) k
             where coalesce(content -> 'condamnation' -> k, 'null'::jsonb) in ('null'::jsonb, 'false'::jsonb)));

-- What the CJN holds of one court, for `xmjuris reconcile` (compared with the court's own
-- manifest, juris.transmission_manifest at the court).

create function cjn.court_manifest(court_code text)
    returns table (seq bigint, message_id uuid, kind text, niu text, version integer, signed_hash text,
                   received_at timestamptz, applied boolean)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if not exists (select from registry.court c where c.code = court_manifest.court_code) then
        raise exception 'Juridiction inconnue du CJN : %.', court_code using errcode = 'XJ004';
    end if;
    return query
    select m.seq, m.message_id, m.kind, m.niu, m.version,
           encode(m.signed_hash, 'hex'), m.received_at, m.applied_at is not null
      from registry.message m
     where m.court_code = court_manifest.court_code
     order by m.seq;
end
$$;

revoke all on function cjn.court_manifest(text) from public;
grant execute on function cjn.court_manifest(text) to cjn_operator, cjn_auditor;

-- The latest version the CJN holds of each fiche of one court, for `xmjuris reconcile`: NIU,
-- version, state and the digest of its content as the court signed it (the fiche less the
-- signature's login, name and time), comparable with juris.fiche_manifest at the court.
create function cjn.court_fiches(court_code text)
    returns table (niu text, version integer, state text, content_digest text)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if not exists (select from registry.court c where c.code = court_fiches.court_code) then
        raise exception 'Juridiction inconnue du CJN : %.', court_code using errcode = 'XJ004';
    end if;
    return query
    select distinct on (f.niu) f.niu, f.version, f.state::text,
           encode(sha256(convert_to(cjn._comparable_content(f.content - 'signed_by' - 'signed_by_name' - 'signed_at')::text,
                                     'UTF8')), 'hex')
      from registry.fiche f
     where f.court_code = court_fiches.court_code
     order by f.niu, f.version desc;
end
$$;

revoke all on function cjn.court_fiches(text) from public;
grant execute on function cjn.court_fiches(text) to cjn_operator, cjn_auditor;
