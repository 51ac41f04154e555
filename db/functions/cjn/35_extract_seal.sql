-- The seals of extracts: recorded by cjn-ingest in the transaction that logged the consultation,
-- and checked by an operator for whoever calls with an extract's number and verification code.

-- Records the seal of an extract; if the extract was already sealed (the same request answered
-- again), the first seal stands and is returned, so the court always gets the same code.
create function cjn.record_extract_seal(extract_number text, verification_code text, qr_text text,
                                        content_digest text)
    returns table (stored_code text, stored_qr_text text)
    language plpgsql security definer
    set search_path = pg_catalog, pg_temp
as $$
begin
    if not exists (select from registry.consultation c where c.extract_number = record_extract_seal.extract_number) then
        raise exception 'Extrait inconnu du journal des consultations : %.', extract_number using errcode = 'XJ004';
    end if;
    insert into registry.extract_seal as s (extract_number, verification_code, qr_text, content_digest)
    values (extract_number, verification_code, qr_text, content_digest)
    on conflict on constraint extract_seal_pkey do nothing;
    return query
    select s.verification_code, s.qr_text from registry.extract_seal s
     where s.extract_number = record_extract_seal.extract_number;
end
$$;

-- Checks an extract by its number and the code printed on it (any case, with or without
-- dashes; O for 0, I or L for 1): what the CJN issued under that number, for an operator to
-- read to the caller; `genuine` false when the number is unknown or the code does not match.
create function cjn.check_extract(extract_number text, verification_code text) returns jsonb
    language plpgsql stable security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    s registry.extract_seal;
    c registry.consultation;
    typed text := translate(upper(regexp_replace(coalesce(verification_code, ''), '[\s-]', '', 'g')), 'OIL', '011');
begin
    select * into s from registry.extract_seal x where x.extract_number = btrim(check_extract.extract_number);
    if not found or replace(s.verification_code, '-', '') <> typed then
        return jsonb_build_object('genuine', false, 'extract_number', extract_number,
            'message', 'Aucun extrait délivré par le CJN ne porte ce numéro avec ce code de vérification.');
    end if;
    select * into c from registry.consultation x where x.extract_number = s.extract_number;
    return jsonb_build_object(
        'genuine', true, 'extract_number', c.extract_number, 'bulletin', c.bulletin, 'issued_at', c.asked_at,
        'requester_court', c.requester_court, 'identity', c.identity, 'outcome', c.outcome,
        'entries', jsonb_array_length(c.entries),
        'message', format('Extrait authentique : bulletin n°%s délivré le %s, %s.', c.bulletin,
                          to_char(c.asked_at at time zone 'UTC', 'DD/MM/YYYY'),
                          case c.outcome when 'neant' then 'néant'
                                         else jsonb_array_length(c.entries) || ' condamnation(s) inscrite(s)' end));
end
$$;

revoke all on function cjn.record_extract_seal(text, text, text, text), cjn.check_extract(text, text) from public;
grant execute on function cjn.record_extract_seal(text, text, text, text) to cjn_ingest;
grant execute on function cjn.check_extract(text, text) to cjn_operator, cjn_auditor;
