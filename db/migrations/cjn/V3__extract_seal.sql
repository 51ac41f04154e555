-- The seal of each extract the CJN issued (its QR text and the short verification code printed
-- on it), kept with the consultation so that anyone may have an extract checked by its number and
-- code. Append-only, like the consultation log. This file never changes once landed.

set local role cjn_owner;

create table registry.extract_seal (
    extract_number text primary key
        constraint extract_seal_consultation_fkey references registry.consultation (extract_number),
    verification_code text not null
        constraint extract_seal_code_format check (verification_code ~ '^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$'),
    qr_text text not null constraint extract_seal_qr_prefix check (qr_text like 'XMJ1:%'),
    -- SHA-256 (hex) of the content's canonical encoding, as sealed.
    content_digest text not null constraint extract_seal_digest_format check (content_digest ~ '^[0-9a-f]{64}$'),
    sealed_at timestamptz not null default now()
);

reset role;

create trigger extract_seal_no_update_delete before update or delete on registry.extract_seal
    for each row execute function registry._append_only();
create trigger extract_seal_no_truncate before truncate on registry.extract_seal
    for each statement execute function registry._append_only();
