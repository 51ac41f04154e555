-- A court restored from a backup (57_recovery.sql): while a recovery is open no fiche number,
-- NIU or message number is taken; the court's own messages sent back by the CJN are re-created
-- (same NIU and numbers, counters advanced, audited), once; a number already taken is refused;
-- the CJN's "complete" answer ends it; a CJN refusal of a reused number opens one by itself;
-- messages are queued again after a CJN restore.
begin;
select plan(23);
\ir setup.psql

select juris.create_listener_login('tg_listener', pg_temp.pw());
select pg_temp.fiche_at(3) as a \gset
select pg_temp.fiche_at(2) as v \gset
select payload as pa from court.outbox where fiche_id = :a \gset

-- The CJN's copy of a message signed after the backup: fiche n° 99 (unknown here), NIU n° 7 of
-- the year, message number 5.
select substr(niu, 1, 9) as year_prefix from court.fiche where fiche_id = :a \gset
select :'year_prefix' || '000007' || juris._mod97_check(:'year_prefix' || '000007') as niu7 \gset
select jsonb_set(jsonb_set(jsonb_set(jsonb_set(:'pa'::jsonb,
           '{message_id}', '"6f1c1f0e-0000-4000-8000-000000000005"'), '{seq}', '5'),
           '{niu}', to_jsonb(:'niu7'::text)), '{fiche,number}', '99') as p5 \gset

select pg_temp.as_user('tg_greffier', format('select juris.record_sentence_event(%s, %L)', :a,
    '{"kind": "sentence_served", "date": "2022-06-01", "reference": "Billet de sortie 412"}'));
select is((select ok from juris.audit_verify()), true, 'a dated event keeps the audit trail verified');
select is((juris.recovery_state() ->> 'recovering')::boolean, false, 'no recovery at first');
select lives_ok($$select juris.begin_recovery('Base restaurée depuis une sauvegarde.')$$, 'the administrator opens a recovery');
select is((juris.recovery_state() ->> 'after_seq')::bigint, 2::bigint, 'after the highest message number held');

set session authorization tg_greffier;
select throws_like(format('select juris.sign_fiche(%s)', :v), 'Restauration en cours%', 'signing waits for the recovery');
select is((juris.recovery_state() ->> 'recovering')::boolean, true, 'the greffier sees the recovery');
reset session authorization;
set session authorization tg_agent;
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.sample_fiche()), 'XJ003', null, 'a new draft waits too (its number could be the CJN''s)');
reset session authorization;

set session authorization tg_listener;
select is(juris.recovery_request(), 2::bigint, 'the listener asks after message 2');
select is(juris.recovery_restore(:'p5'), 'restored', 'the CJN''s copy of a later signature is re-created');
select is(juris.recovery_restore(:'p5'), 'present', 'a second time changes nothing');
select throws_ok(format('select juris.recovery_restore(%L)',
                        jsonb_set(:'p5'::jsonb, '{message_id}', '"6f1c1f0e-0000-4000-8000-000000000006"')),
                 'XJ006', null, 'another message under a number the court holds is refused');
select throws_ok(format('select juris.recovery_restore(%L)', jsonb_set(:'p5'::jsonb, '{court_code}', '"54321"')),
                 'XJ001', null, 'a message of another court is refused');
reset session authorization;

select results_eq($$select number, status::text, niu, version from court.fiche where number = 99$$,
                  format($$values (99::bigint, 'signee', %L, 1)$$, :'niu7'),
                  'fiche n° 99 is back, signed, under its NIU');
select results_eq($$select state from court.outbox where seq = 5$$, $$values ('pending')$$,
                  'its message waits for the CJN''s receipt');
select results_eq($$select name, value from court.counter where name in ('fiche', 'message') and year = 0 order by name$$,
                  $$values ('fiche', 99::bigint), ('message', 5::bigint)$$, 'the counters are past the restored numbers');
select is((select value from court.counter where name = 'niu' and year = substr(:'niu7', 6, 4)::integer), 7::bigint,
          'the NIU counter too');
select is((select count(*) from court.audit where action = 'restore' and data ->> 'note' = 'restaurée depuis le CJN'),
          1::bigint, 'audited: restaurée depuis le CJN');
select is((select ok from juris.audit_verify()), true, 'the audit trail verifies with the restored fiche');

set session authorization tg_listener;
select is((juris.recovery_answered(5, true) ->> 'recovering')::boolean, false, 'the CJN''s complete answer ends it');
reset session authorization;
set session authorization tg_greffier;
select lives_ok(format('select juris.sign_fiche(%s)', :v), 'the court signs again');
reset session authorization;
select is((select seq from court.outbox where fiche_id = :v), 6::bigint, 'with the next message number');

-- A CJN restore lost messages 5 and 6: queued again (the fiches stay as they are).
update court.outbox set state = 'acknowledged', acknowledged_at = now(), receipt = '{}', receipt_sealed = '\x00'
 where state = 'pending';
select message_id as m6 from court.outbox where seq = 6 \gset
set session authorization tg_listener;
select is(juris.requeue_messages(5), 2, 'resend from message 5: two messages');
-- The CJN refuses a reused number: the court opens a recovery by itself.
select juris.store_rejection(:'m6', 'sequence_reused', 'Le CJN a refusé ce message.', '\x00');
select is((juris.recovery_state() ->> 'recovering')::boolean, true, 'a refused reused number opens a recovery');
reset session authorization;

select * from finish();
rollback;
