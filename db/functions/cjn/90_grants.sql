-- Who may call or read what at the CJN.
revoke all on all functions in schema cjn from public;
revoke all on all tables in schema cjn from public;
grant usage on schema cjn to cjn_ingest, cjn_operator, cjn_statistician, cjn_auditor;

-- The daemon: ingest and quarantine, nothing else.
grant execute on function
    cjn.ingest(uuid, text, bigint, text, timestamptz, jsonb, bytea),
    cjn.ingest_envelope(text, bytea, jsonb),
    cjn.quarantine(text, text, text, text, bytea)
to cjn_ingest;

grant execute on function
    cjn.register_court(text, text, text, text, text),
    cjn.decide_person_candidate(bigint, bigint, boolean)
to cjn_operator;

-- The first statistics view (issue 6), kept; the statistician's schema is `stat` (50_statistics.sql).
grant select on cjn.stat_conviction to cjn_statistician, cjn_operator, cjn_auditor;
grant select on cjn.court_health, cjn.person_candidates to cjn_operator, cjn_auditor;

-- The auditor reads the registry itself, and changes nothing.
grant usage on schema registry to cjn_auditor;
grant select on all tables in schema registry to cjn_auditor;

-- Bulletins (30_bulletins.sql): the daemon answers the courts' requests for extracts and
-- explanations; operators look people up, explain, record deaths and amnesties, adapt the law's
-- settings and produce a person's consultation history; the auditor reads.
grant execute on function
    cjn.extract(text, text, jsonb, integer, text, date, text),
    cjn.bulletin_decision(text, date)
to cjn_ingest;
grant execute on function
    cjn.find_person(jsonb),
    cjn.bulletin_decision(text, date),
    cjn.bulletin(bigint, integer, date),
    cjn.consultations_of(bigint),
    cjn.record_death(bigint, date, text),
    cjn.record_amnesty(text, date, text),
    cjn.cancel_record_event(text, bigint, text),
    cjn.set_law_setting(text, text, text),
    cjn.set_law_setting(text, text, text, text),
    cjn.set_rehab_tiers(jsonb, text),
    cjn.apply_law_preset(text, text),
    cjn.set_stat_min_people(integer),
    cjn.set_offence_category(text, text, text, text, text)
to cjn_operator;
grant execute on function
    cjn.find_person(jsonb),
    cjn.bulletin_decision(text, date),
    cjn.bulletin(bigint, integer, date),
    cjn.consultations_of(bigint)
to cjn_auditor;
grant select on cjn.law_settings, cjn.rehab_tiers, cjn.law_presets, cjn.law_setting_changes to cjn_operator, cjn_auditor;

-- cjn-ingest's bookkeeping (15_daemon.sql): its trust store, revocations, audit checkpoints.
grant execute on function
    cjn.court_registered(text),
    cjn.record_certificate(text, text, text, timestamptz, timestamptz, bytea),
    cjn.court_certificates(text),
    cjn.record_revocations(text[], timestamptz[]),
    cjn.record_audit_checkpoint(text, uuid, bigint, text, timestamptz),
    cjn.ingest_status(),
    cjn.gap_alarms()
to cjn_ingest;
grant execute on function cjn.court_certificates(text), cjn.ingest_status(), cjn.gap_alarms()
    to cjn_operator, cjn_auditor;
grant execute on function cjn.set_gap_alarm_after(interval) to cjn_operator;
grant execute on function cjn.alarms(boolean) to cjn_operator, cjn_auditor;
grant execute on function cjn.acknowledge_alarm(bigint), cjn.set_court_active(text, boolean) to cjn_operator;
