-- What this court transmitted to the CJN, for `xmjuris reconcile`: one row per fiche event
-- (signature, rectification, withdrawal), its state, and the digest the CJN's receipt names.

create function juris.transmission_manifest()
    returns table (court_code text, seq bigint, message_id uuid, kind text, niu text, version integer,
                   state text, created_at timestamptz, receipt_signed_hash text)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(3, 'Rapprocher les transmissions avec le CJN');
    return query
    select (select c.code from court.court c), o.seq, o.message_id, o.kind, o.niu, o.version, o.state,
           o.created_at, o.receipt ->> 'signed_hash'
      from court.outbox o
     order by o.seq;
end
$$;

revoke all on function juris.transmission_manifest() from public;
grant execute on function juris.transmission_manifest() to greffier;

-- Each signed fiche as the court holds it now, for `xmjuris reconcile`: NIU, version, state,
-- whether a message about it is still on its way to the CJN, and the digest of its content
-- (SHA-256 of the canonical jsonb of juris._fiche_content, the content the CJN holds value for
-- value, less issue 15's fields at their default: juris._comparable_content). An archived fiche
-- whose digest differs from the CJN's was
-- changed at the court after its receipt, by a path that bypassed the triggers.
create function juris.fiche_manifest()
    returns table (niu text, version integer, status text, content_digest text, in_transit boolean)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    perform juris._require(3, 'Rapprocher les fiches avec le CJN');
    return query
    select f.niu, f.version, f.status::text,
           encode(sha256(convert_to(juris._comparable_content(juris._fiche_content(f))::text, 'UTF8')), 'hex'),
           exists (select from court.outbox o where o.fiche_id = f.fiche_id and o.state = 'pending')
      from court.fiche f
     where f.niu is not null
     order by f.niu;
end
$$;

revoke all on function juris.fiche_manifest() from public;
grant execute on function juris.fiche_manifest() to greffier;
