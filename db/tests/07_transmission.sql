-- The listener's API: pending messages, receipts (archiving), rejections, quarantine; and what
-- the listener's role may not do.
begin;
select plan(22);
\ir setup.psql

select juris.create_listener_login('tg_listener', pg_temp.pw());
select ok(pg_has_role('tg_listener', 'juris_listener', 'member'), 'create_listener_login makes a member of juris_listener');
select pg_temp.fiche_at(3) as a \gset
select pg_temp.fiche_at(3) as b \gset
select message_id as ma from court.outbox where fiche_id = :a \gset
select message_id as mb from court.outbox where fiche_id = :b \gset
-- The CJN's receipt for an outbox message, as the listener stores it once verified.
create function pg_temp.receipt(id uuid) returns jsonb language sql as $$
    select jsonb_build_object('message_id', o.message_id, 'seq', o.seq, 'niu', o.niu, 'version', o.version,
                              'stored_at', now(), 'signed_hash', repeat('ab', 32))
      from court.outbox o where o.message_id = id
$$;
select pg_temp.receipt(:'ma') as ra \gset
select pg_temp.receipt(:'mb') as rb \gset

set session authorization tg_listener;
select results_eq('select seq from juris.outbox_pending(10)', array[1::bigint, 2], 'outbox_pending lists the messages, oldest first');
select lives_ok(format('select juris.outbox_mark_sent(array[%L]::uuid[])', :'ma'), 'the listener marks a message sent');
select is((juris.transmission_status() ->> 'sent')::int, 1, 'the status line counts the sent message');
select throws_ok(format('select juris.store_receipt(%L, %L, %L)', :'ma', '{"received": true}', '\x3082'), 'XJ001', null,
    'a receipt that does not name the message (number, NIU, version, digest) is refused');
select throws_ok(format('select juris.store_receipt(%L, %L, %L)', :'ma', :'rb', '\x3082'), 'XJ001', null,
    'the receipt of another message is refused');
select is(juris.store_receipt(:'ma', :'ra', '\x3082'), true, 'a receipt is stored');
select is(juris.store_receipt(:'ma', :'ra', '\x3082'), false, 'a duplicate receipt changes nothing');
select results_eq('select seq from juris.outbox_pending(10)', array[2::bigint], 'an acknowledged message leaves the pending set');
select throws_ok($$select juris.store_receipt('00000000-0000-0000-0000-000000000000', '{}', '\x00')$$, 'XJ004', null,
    'a receipt for an unknown message is refused');
select is(juris.store_rejection(:'mb', 'signer_mismatch', 'Le signataire n''est pas la juridiction annoncée.', '\x3082'), true,
    'a rejection is stored');
select lives_ok($$select juris.quarantine('xmjuris/v1/12345/down', '\xdeadbeef', 'bad_signature')$$, 'what does not open goes to quarantine');
select is(juris.transmission_status() - 'last_contact' - 'oldest_pending',
    '{"pending": 0, "sent": 0, "acknowledged": 1, "rejected": 1, "defective": 0, "quarantined": 1, "extract_requests_pending": 0}'::jsonb, 'transmission_status counts every state');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.sample_fiche()), '42501', null, 'the listener cannot enter fiches');
select throws_ok('select * from court.outbox', '42501', null, 'the listener cannot read the tables directly');
select throws_ok(format('select juris.withdraw_fiche(%s, %L)', :a, 'x'), '42501', null, 'the listener cannot withdraw fiches');
reset session authorization;

select is((select status::text from court.fiche where fiche_id = :a), 'archivee', 'the receipt archived the fiche (status 4)');
select is((select status::text from court.fiche where fiche_id = :b), 'signee', 'a rejected fiche stays signed, awaiting the greffier');
set session authorization tg_greffier;
select results_eq(format('select state, rejection_reason from juris.fiche_transmissions(%s)', :b),
    $$values ('refusé par le CJN', 'Le signataire n''est pas la juridiction annoncée.')$$,
    'the greffier sees the CJN''s refusal and its reason in French');
-- A receipt for an older version does not archive the rectified one.
select juris.propose_rectification(:a, pg_temp.sample_fiche('Kobilla'), 'Erreur sur le nom');
reset session authorization;
select pg_temp.as_user('tg_secretaire', format('select juris.verify_rectification(%s)', :a));
select pg_temp.as_user('tg_greffier', format('select juris.apply_rectification(%s)', :a));
select pg_temp.receipt(message_id) as ra2 from court.outbox where fiche_id = :a and version = 2 \gset
select message_id as ma2 from court.outbox where fiche_id = :a and version = 2 \gset
set session authorization tg_listener;
select is(juris.store_receipt(:'ma', :'ra', '\x00'), false, 'a late duplicate receipt of version 1 changes nothing');
reset session authorization;
select is((select status::text from court.fiche where fiche_id = :a), 'signee', 'the rectified version waits for its own receipt');
set session authorization tg_listener;
select juris.store_receipt(:'ma2', :'ra2', '\x00');
reset session authorization;
select is((select status::text || ' v' || version from court.fiche where fiche_id = :a), 'archivee v2',
    'the receipt of version 2 archives the rectified fiche');

select * from finish();
rollback;
