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
