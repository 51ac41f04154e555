-- Who may call what. Nothing is executable by PUBLIC; each role gets exactly its functions.
-- The functions also check the caller's privilege themselves (defence in depth).

revoke all on all functions in schema juris from public;
grant usage on schema juris to agent, secretaire, greffier;

-- Every staff member.
grant execute on function
    juris.save_fiche(jsonb),
    juris.submit_fiche(bigint),
    juris.erase_fiche(bigint),
    juris.get_fiche(bigint),
    juris.fiche_actions(bigint),
    juris.propose_rectification(bigint, jsonb, text),
    juris.field_limits(),
    juris.fiche_document(bigint),
    juris.fiche_list_document(date, date),
    juris.fiche_id_by_niu(text),
    juris.search_fiches(text, text, text, date, integer, integer),
    juris.search_fiches_page(text, text, text, date, integer, date, date, text, boolean, integer, integer),
    juris.fiche_history(bigint),
    juris.offence_categories(),
    juris.niu_valid(text),
    juris.whoami(),
    -- Each checks the bulletin's permission (court.extract_permission) itself.
    juris.request_extract(jsonb, integer, text),
    juris.extract_requests(integer),
    juris.get_extract(bigint),
    juris.cancel_extract_request(bigint),
    -- Dated events after signature (35_sentence_events.sql), read by all.
    juris.sentence_events(bigint),
    -- The court's own statistics (60_statistics.sql): counts and delays, no personal data.
    juris.stat_fiches_by_month(date, date),
    juris.stat_offences(date, date),
    juris.stat_delays(date, date)
to agent, secretaire, greffier;

-- Secrétaires and the greffier.
grant execute on function
    juris.verify_fiche(bigint),
    juris.return_fiche(bigint, text),
    juris.verify_rectification(bigint),
    juris.return_rectification(bigint, text)
to secretaire, greffier;

-- The greffier alone.
grant execute on function
    juris.sign_fiche(bigint),
    juris.withdraw_fiche(bigint, text),
    juris.apply_rectification(bigint),
    juris.record_sentence_event(bigint, jsonb),
    juris.create_user(text, text, text, integer),
    juris.set_privilege(text, integer),
    juris.list_users(),
    juris.audit_verify()
to greffier;
