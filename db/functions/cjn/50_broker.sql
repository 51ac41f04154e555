-- The broker's accounts (`xmjuris broker config`): which courts have one.

-- The active registered courts, by code: each gets a broker account (user name = its code);
-- an inactive court loses its account at the next `xmjuris broker config`.
create function cjn.broker_courts() returns table (code text)
    language sql stable security definer
    set search_path = pg_catalog, pg_temp
begin atomic
    select c.code from registry.court c where c.active order by c.code;
end;

revoke all on function cjn.broker_courts() from public;
grant execute on function cjn.broker_courts() to cjn_operator, cjn_auditor;
