-- The fiche workflow: each transition by the right role from the right state, and nothing else.
begin;
select plan(41);
\ir setup.psql

set session authorization tg_agent;
select juris.save_fiche(pg_temp.sample_fiche()) as id \gset
select is((juris.get_fiche(:id) ->> 'status')::int, 0, 'save_fiche creates a draft (status 0)');
select lives_ok(format($$select juris.save_fiche(%L)$$, pg_temp.sample_fiche('Kobilla') || jsonb_build_object('id', :id)),
    'a draft can be updated');
select is(juris.get_fiche(:id) -> 'justiciable' ->> 'surname', 'Kobilla', 'the update is stored');
select throws_ok(format('select juris.verify_fiche(%s)', :id), '42501', null, 'an agent cannot verify');
select lives_ok(format('select juris.submit_fiche(%s)', :id), 'the agent submits the draft');
select is((juris.get_fiche(:id) ->> 'status')::int, 1, 'status 1 soumise');
select throws_ok(format($$select juris.save_fiche(%L)$$, pg_temp.sample_fiche() || jsonb_build_object('id', :id)),
    'XJ003', null, 'a submitted fiche cannot be edited');
select throws_ok(format('select juris.erase_fiche(%s)', :id), 'XJ003', null, 'a submitted fiche cannot be erased');
select throws_ok(format('select juris.submit_fiche(%s)', :id), 'XJ003', null, 'a fiche is not submitted twice');
reset session authorization;

set session authorization tg_secretaire;
select throws_ok(format('select juris.return_fiche(%s, %L)', :id, '  '), 'XJ001', null, 'returning needs a comment');
select throws_ok(format('select juris.sign_fiche(%s)', :id), '42501', null, 'a secrétaire cannot sign');
select lives_ok(format('select juris.return_fiche(%s, %L)', :id, 'Date de naissance à vérifier.'), 'the secrétaire returns the fiche');
select is(juris.get_fiche(:id) -> 'workflow' ->> 'return_comment', 'Date de naissance à vérifier.', 'the comment is kept');
select is((juris.get_fiche(:id) ->> 'status')::int, 0, 'a returned fiche is a draft again');
reset session authorization;
select pg_temp.as_user('tg_agent', format('select juris.submit_fiche(%s)', :id));

set session authorization tg_greffier;
select throws_ok(format('select juris.sign_fiche(%s)', :id), 'XJ003', null, 'a fiche is signed only once verified');
reset session authorization;
set session authorization tg_secretaire;
select lives_ok(format('select juris.verify_fiche(%s)', :id), 'a secrétaire who is not the author verifies');
select is((juris.get_fiche(:id) ->> 'status')::int, 2, 'status 2 vérifiée');
reset session authorization;

set session authorization tg_greffier;
select juris.sign_fiche(:id) as niu \gset
select ok(juris.niu_valid(:'niu'), 'sign_fiche returns a valid NIU');
select matches(:'niu'::text, '^12345' || extract(year from current_date)::text || '000001[0-9]{2}$',
    'the NIU is court code + year + sequence + check');
select is((juris.get_fiche(:id) ->> 'status')::int, 3, 'status 3 signée');
select throws_ok(format('select juris.sign_fiche(%s)', :id), 'XJ003', null, 'a signed fiche is not signed twice');
select throws_ok(format('select juris.erase_fiche(%s)', :id), 'XJ003', null, 'a signed fiche cannot be erased');
select throws_ok(format('select juris.withdraw_fiche(%s, %L)', :id, ''), 'XJ001', null, 'withdrawing needs a motive');
-- A rectification: proposed, verified by another person, applied by the greffier.
select lives_ok(format('select juris.propose_rectification(%s, %L, %L)', :id, pg_temp.sample_fiche('Kobila'),
    'Erreur matérielle sur le nom'), 'the greffier proposes a rectification');
select is(juris.get_fiche(:id) -> 'justiciable' ->> 'surname', 'Kobilla', 'the signed record is unchanged until applied');
select throws_ok(format('select juris.apply_rectification(%s)', :id), 'XJ003', null,
    'an unverified rectification cannot be applied');
select throws_ok(format('select juris.verify_rectification(%s)', :id), 'XJ002', null,
    'its author cannot verify it (four eyes)');
reset session authorization;
set session authorization tg_secretaire;
select lives_ok(format('select juris.verify_rectification(%s)', :id), 'a secrétaire verifies it');
reset session authorization;
set session authorization tg_greffier;
select is(juris.apply_rectification(:id), 2, 'applying it makes version 2');
select is(juris.get_fiche(:id) ->> 'niu', :'niu'::text, 'a rectified fiche keeps its NIU');
select is(juris.get_fiche(:id) -> 'justiciable' ->> 'surname', 'Kobila', 'the rectification is stored');
select lives_ok(format('select juris.withdraw_fiche(%s, %L)', :id, 'Annulation en appel'), 'the greffier withdraws the fiche');
select is((juris.get_fiche(:id) ->> 'status')::int, 5, 'status 5 déclassée');
select throws_ok(format('select juris.propose_rectification(%s, %L, %L)', :id, pg_temp.sample_fiche(), 'x'), 'XJ003', null,
    'a withdrawn fiche cannot be rectified');
reset session authorization;

-- The outbox holds one message per signature, rectification and withdrawal, with gapless sequence.
select results_eq(format('select kind from court.outbox where fiche_id = %s order by seq', :id),
    array['fiche_signed', 'fiche_rectified', 'fiche_withdrawn'], 'sign, rectify and withdraw each write an outbox message');
select results_eq('select seq from court.outbox order by seq', array[1::bigint, 2, 3], 'message sequence numbers are gapless');
select is((select payload -> 'fiche' -> 'justiciable' ->> 'surname' from court.outbox where seq = 1), 'Kobilla',
    'the message carries the fiche content as signed');
select is((select payload ->> 'court_code' from court.outbox where seq = 1), '12345', 'the message carries the court code');
select ok((select (payload -> 'audit_head' ->> 'seq')::bigint > 0 and length(payload -> 'audit_head' ->> 'hash') = 64
             from court.outbox where seq = 2), 'the message carries the audit chain head');

-- Verifying one's own fiche is refused, even for a secrétaire who typed it.
select pg_temp.as_user('tg_secretaire', format('select juris.save_fiche(%L)', pg_temp.sample_fiche())) as own \gset
select pg_temp.as_user('tg_secretaire', format('select juris.submit_fiche(%s)', :own));
set session authorization tg_secretaire;
select throws_ok(format('select juris.verify_fiche(%s)', :own), 'XJ002',
    'Vérifier : vous avez modifié cette fiche en dernier ; une autre personne doit la vérifier.', 'the author cannot verify their own fiche');
reset session authorization;

-- An agent erases only his own drafts.
select pg_temp.fiche_at(0) as draft \gset
set session authorization tg_agent2;
select throws_ok(format('select juris.erase_fiche(%s)', :draft), 'XJ002', null, 'an agent cannot erase another agent''s draft');
reset session authorization;

select * from finish();
rollback;
