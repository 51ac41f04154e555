-- A court restored from a backup asks the CJN for its own messages after the last sequence
-- number it holds (the CJN is the court's off-site copy): cjn-ingest answers with the signed
-- envelopes as the court sent them, which the court verifies before restoring anything.

-- The distinct signed envelopes holding the court's messages above `after_seq`, in sequence
-- order, up to about `max_bytes` (at least one envelope), each with the highest sequence number
-- it holds of that court; and whether they reach the highest number the CJN holds. With
-- nothing above `after_seq`, one row without an envelope.
create function cjn.court_recovery(court_code text, after_seq bigint, max_bytes integer)
    returns table (signed bytea, max_seq bigint, last_seq bigint, complete boolean)
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    court_last bigint;
    total bigint := 0;
    env record;
begin
    select coalesce(max(m.seq), 0) into court_last from registry.message m
     where m.court_code = court_recovery.court_code;
    if not exists (select from registry.court c where c.code = court_recovery.court_code) then
        raise exception 'Juridiction inconnue du CJN : %.', court_code using errcode = 'XJ004';
    end if;
    for env in
        select e.signed, h.max_seq
          from (select m.signed_hash, min(m.seq) as min_seq, max(m.seq) as max_seq
                  from registry.message m
                 where m.court_code = court_recovery.court_code and m.seq > after_seq
                 group by m.signed_hash) h
          join registry.envelope e on e.signed_hash = h.signed_hash
         order by h.min_seq
    loop
        exit when total > 0 and total + length(env.signed) > max_bytes;
        total := total + length(env.signed);
        signed := env.signed;
        max_seq := env.max_seq;
        last_seq := court_last;
        complete := env.max_seq >= court_last;
        return next;
    end loop;
    if total = 0 then
        -- Nothing above `after_seq`: one row without an envelope, to say so.
        signed := null;
        max_seq := null;
        last_seq := court_last;
        complete := true;
        return next;
    end if;
end
$$;

revoke all on function cjn.court_recovery(text, bigint, integer) from public;
grant execute on function cjn.court_recovery(text, bigint, integer) to cjn_ingest, cjn_operator;
