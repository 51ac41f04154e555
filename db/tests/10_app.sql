-- What the desktop application reads (60_app.sql): the court's transmissions page by page with
-- their states, the bulletins a user may ask for, a fiche by its number, a receipt as printed.
begin;
select plan(22);
\ir setup.psql

select juris.create_listener_login('tg_listener', pg_temp.pw());
select pg_temp.fiche_at(3) as a \gset
select pg_temp.fiche_at(3) as b \gset
select pg_temp.fiche_at(3) as c \gset
select pg_temp.fiche_at(3) as d \gset
select message_id as ma, seq as sa from court.outbox where fiche_id = :a \gset
select seq as sc from court.outbox where fiche_id = :c \gset
select seq as sd from court.outbox where fiche_id = :d \gset
select message_id as mb from court.outbox where fiche_id = :b \gset
select message_id as mc from court.outbox where fiche_id = :c \gset
select number as number_b, niu as niu_b, version as version_b from court.fiche where fiche_id = :b \gset

select jsonb_build_object('message_id', message_id, 'seq', seq, 'niu', niu, 'version', version,
                          'stored_at', '2026-05-04T10:15:00Z', 'signed_hash', repeat('ab', 32)) as ra
  from court.outbox where fiche_id = :a \gset

-- a: archived; b: refused; c: blocked (sent once, then found defective); d: waiting.
set session authorization tg_listener;
select juris.outbox_mark_sent(array[:'ma', :'mb', :'mc']::uuid[]);
select juris.store_receipt(:'ma', :'ra', '\x3082aa');
select juris.store_rejection(:'mb', 'signer_mismatch', 'Le signataire n''est pas la juridiction annoncée.', '\x3082');
select juris.outbox_mark_defective(:'mc', 'Message trop grand une fois scellé.');
select throws_ok('select * from juris.transmissions()', '42501', null,
    'the listener does not read the staff''s list');
reset session authorization;

set session authorization tg_agent;
select results_eq('select fiche_id, state from juris.transmissions()',
    format($$values (%s::bigint, 'waiting'), (%s, 'blocked'), (%s, 'refused'), (%s, 'archived')$$, :d, :c, :b, :a),
    'every staff member lists the court''s transmissions, newest first, with their state');
select results_eq(format('select fiche_number, niu, surname, kind, version from juris.transmissions() where fiche_id = %s', :b),
    format($$values (%s::bigint, %L::text, 'Kobila'::text, 'fiche_signed'::text, %s::integer)$$, :number_b, :'niu_b', :version_b),
    'each message names its fiche: number, NIU, names, kind and version');
select is((select state_label from juris.transmissions() where fiche_id = :a), 'archivé au CJN',
    'the state is told in French');
select is((select rejection_reason from juris.transmissions() where fiche_id = :b),
    'Le signataire n''est pas la juridiction annoncée.', 'a refusal carries the CJN''s reason');
select is((select defect from juris.transmissions() where fiche_id = :c), 'Message trop grand une fois scellé.',
    'a blocked message carries its defect');
select is((select state_label from juris.transmissions() where fiche_id = :c),
    (select state from juris.fiche_transmissions(:c)), 'the list and the fiche''s own transmissions say the same');
select is((select attempts from juris.transmissions() where fiche_id = :b), 1, 'how often a message was sent');
select results_eq($$select fiche_id from juris.transmissions('pending')$$,
    format('values (%s::bigint), (%s)', :d, :c), 'the backlog: what still waits for the CJN, blocked included');
select results_eq($$select fiche_id from juris.transmissions('refused')$$, format('values (%s::bigint)', :b),
    'the refused messages');
select results_eq($$select fiche_id from juris.transmissions('blocked')$$, format('values (%s::bigint)', :c),
    'the blocked messages');
select results_eq($$select fiche_id from juris.transmissions('archived')$$, format('values (%s::bigint)', :a),
    'the archived messages');
select results_eq(format('select fiche_id from juris.transmissions(null, %s, 2)', :sc),
    format('values (%s::bigint), (%s)', :b, :a), 'the next page starts below the last message shown');
select throws_ok($$select * from juris.transmissions('tout')$$, 'XJ001', null, 'an unknown filter is refused');

-- The bulletins an agent may ask for: n°3 only (court.extract_permission).
select results_eq('select bulletin::int, allowed from juris.extract_permissions()',
    $$values (1, false), (2, false), (3, true)$$, 'an agent may ask for bulletin n°3 only');
select is(juris.fiche_id_by_number(:number_b), :b::bigint, 'a fiche is found by its number');
select is(juris.fiche_id_by_number(999999), null::bigint, 'an unknown number finds nothing');

-- The receipt, as printed.
select throws_ok(format('select juris.receipt_document(%s)', :sd),
    'XJ003', null, 'a message without receipt has nothing to print');
select is(juris.receipt_document(:sa) #>> '{receipt,received_at}', '2026-05-04T10:15:00Z',
    'the receipt says when the CJN stored the message');
select is(juris.receipt_document(:sa) #>> '{receipt,signature_digest}', encode(sha256('\x3082aa'::bytea), 'hex'),
    'the printed digest is that of the sealed receipt the court keeps');
select is(juris.receipt_document(:sa) #>> '{court,code}', '12345', 'the receipt names the court');
reset session authorization;

set session authorization tg_greffier;
select results_eq('select bulletin::int, allowed from juris.extract_permissions()',
    $$values (1, true), (2, true), (3, true)$$, 'the greffier may ask for every bulletin');
reset session authorization;

select * from finish();
rollback;
