-- Integrity rules found missing by a hostile review (issue 11): money in whole francs, a length
-- limit on every text field, the four-eyes rule on the content, who sees which extract request,
-- each court's listener confined to its own database, transmissions that cannot be faked by an
-- UPDATE, defects the greffier sees, bounded search input.
begin;
select plan(56);
\ir setup.psql

create function pg_temp.with_fine(fine jsonb) returns jsonb language sql as $$
    select jsonb_set(pg_temp.sample_fiche(), '{condamnation,fine_amount}', fine)
$$;

-- 1. Money: whole francs, as the protocol carries them.
set session authorization tg_agent;
select juris.save_fiche(pg_temp.with_fine('50000')) as fine1 \gset
select juris.save_fiche(pg_temp.with_fine('"50 000"')) as fine2 \gset
select juris.save_fiche(pg_temp.with_fine('50000.0')) as fine3 \gset
select is(juris.get_fiche(:fine1) -> 'condamnation' ->> 'fine_amount', '50000', 'a fine of 50 000 is kept as whole francs');
select is(juris.get_fiche(:fine2) -> 'condamnation' ->> 'fine_amount', '50000',
    'a fine typed with a space between thousands is read as 50 000');
select is(juris.get_fiche(:fine3) -> 'condamnation' ->> 'fine_amount', '50000', 'a JSON number 50000.0 is a whole amount');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_fine('"NaN"')), 'XJ001', null, 'a fine of NaN is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_fine('50000.5')), 'XJ001', null, 'a fine with centimes is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_fine('-5')), 'XJ001', null, 'a negative fine is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_fine('"Infinity"')), 'XJ001', null, 'an infinite fine is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_fine('1e13')), 'XJ001', null,
    'a fine of more than 12 digits is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_fine('"1e3"')), 'XJ001', null,
    'a fine written with an exponent is refused');
reset session authorization;
select is(format_type(atttypid, atttypmod), 'bigint', 'court.fiche.fine_amount is a whole number of francs')
  from pg_attribute where attrelid = 'court.fiche'::regclass and attname = 'fine_amount';

-- 2. A limit on every text field, in French at the field, for the API and for direct SQL.
select set_eq($$select field from juris.field_limits()$$,
    array['reference', 'surname', 'given_names', 'birth_place', 'father', 'mother', 'profession', 'domicile',
          'nationality', 'offence_nature', 'warrants', 'road_traffic', 'ban', 'return_comment',
          'rectification_motive', 'withdrawal_motive'],
    'every free text of a fiche has a limit');
select is((select count(*) from information_schema.columns
            where table_schema = 'court' and table_name = 'fiche' and data_type = 'text'
              and column_name not in (select field from juris.field_limits())
              and column_name not in ('niu', 'name_norm', 'offence_category', 'revoked_suspension_niu',
                                      'created_by', 'updated_by', 'submitted_by', 'returned_by', 'verified_by',
                                      'first_verified_by', 'signed_by', 'first_signed_by', 'withdrawn_by', 'content_by')),
    0::bigint, 'no free text column of court.fiche is left without a limit');
set session authorization tg_agent;
select throws_ok(format('select juris.save_fiche(%L)',
        jsonb_set(pg_temp.sample_fiche(), '{justiciable,domicile}', to_jsonb(repeat('x', 500000)))),
    'XJ001', 'Texte trop long pour « domicile » : 500000 caractères, au plus 500.',
    'a 500 000-character domicile is refused at its field, in French');
select lives_ok(format('select juris.save_fiche(%L)',
        jsonb_set(pg_temp.sample_fiche(), '{justiciable,domicile}', to_jsonb(repeat('é', 500)))),
    'a domicile of exactly 500 characters (accented) is accepted');
reset session authorization;
select pg_temp.fiche_at(0) as draft \gset
select throws_like(format($$update court.fiche set father = repeat('x', 201) where fiche_id = %s$$, :draft),
    '%trop long%', 'a superuser''s direct UPDATE is refused by the same limit');
select pg_temp.fiche_at(1) as submitted \gset
set session authorization tg_secretaire;
select throws_ok(format('select juris.return_fiche(%s, %L)', :submitted, repeat('x', 2001)), 'XJ001', null,
    'a return comment over 2 000 characters is refused');
reset session authorization;

-- 3. Four eyes on the content: whoever last changed it does not verify it.
select pg_temp.fiche_at(0) as f4 \gset
set session authorization tg_agent2;
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.sample_fiche('Autre') || jsonb_build_object('id', :f4)),
    'XJ002', null, 'an agent cannot rewrite another agent''s draft');
select throws_ok(format('select juris.erase_fiche(%s)', :f4), 'XJ002', null, 'nor erase it');
reset session authorization;
set session authorization tg_greffier;
select lives_ok(format('select juris.save_fiche(%L)', pg_temp.sample_fiche('Kobilla') || jsonb_build_object('id', :f4)),
    'the greffier may correct an agent''s draft');
select lives_ok(format('select juris.submit_fiche(%s)', :f4), 'and submit it');
select throws_ok(format('select juris.verify_fiche(%s)', :f4), 'XJ002',
    'Vérifier : vous avez modifié cette fiche en dernier ; une autre personne doit la vérifier.',
    'but not verify what he changed last (the review''s four-eyes bypass)');
select is((select allowed from juris.fiche_actions(:f4) where action = 'verify'), false,
    'fiche_actions tells the greffier he may not verify it');
reset session authorization;
select is((select content_by from court.fiche where fiche_id = :f4), 'tg_greffier', 'content_by names the last author of the content');
update court.fiche set content_by = 'tg_agent' where fiche_id = :f4;
select is((select content_by from court.fiche where fiche_id = :f4), 'tg_greffier',
    'content_by cannot be rewritten by an UPDATE (the trigger keeps it)');
set session authorization tg_secretaire;
select lives_ok(format('select juris.verify_fiche(%s)', :f4), 'a secrétaire verifies the greffier''s correction');
reset session authorization;
-- A secrétaire's correction: she may not verify it; the other secrétaire may.
select pg_temp.fiche_at(0) as f5 \gset
set session authorization tg_secretaire;
select juris.save_fiche(pg_temp.sample_fiche('Kobila Jean') || jsonb_build_object('id', :f5));
reset session authorization;
select pg_temp.as_user('tg_agent', format('select juris.submit_fiche(%s)', :f5));
set session authorization tg_secretaire;
select throws_ok(format('select juris.verify_fiche(%s)', :f5), 'XJ002', null, 'the correcting secrétaire may not verify');
reset session authorization;
set session authorization tg_secretaire2;
select lives_ok(format('select juris.verify_fiche(%s)', :f5), 'another secrétaire may');
reset session authorization;

-- fiche_actions: what the database allows each user, with the reason.
select pg_temp.fiche_at(1) as f6 \gset
set session authorization tg_agent;
select results_eq(format('select action, allowed from juris.fiche_actions(%s) order by action', :f6),
    $$values ('apply_rectification', false), ('erase', false), ('print', true), ('record_event', false),
             ('rectify', false), ('return', false), ('return_rectification', false), ('save', false),
             ('sign', false), ('submit', false), ('verify', false), ('verify_rectification', false),
             ('withdraw', false)$$,
    'an agent may only print a submitted fiche');
select is((select reason from juris.fiche_actions(:f6) where action = 'sign'), 'Signer : action réservée au greffier.',
    'and is told why he may not sign, in French');
reset session authorization;
set session authorization tg_secretaire;
select results_eq(format('select action from juris.fiche_actions(%s) where allowed order by action', :f6),
    $$values ('print'), ('return'), ('verify')$$, 'a secrétaire may verify, return or print it');
reset session authorization;
select pg_temp.fiche_at(0, pg_temp.sample_fiche() #- '{justiciable,birth_place}') as f7 \gset
set session authorization tg_agent;
select alike((select reason from juris.fiche_actions(:f7) where action = 'submit'), '%lieu de naissance%',
    'submitting an incomplete draft is not allowed, and the missing field is named');
reset session authorization;

-- 4. Agents do not see requests for bulletins they may not read.
set session authorization tg_greffier;
select juris.request_extract('{"surname": "Kobila", "given_names": "Mangué", "birth_date": "1987-04-17"}', 1, 'Instruction');
select juris.request_extract('{"surname": "Kobila", "given_names": "Mangué", "birth_date": "1987-04-17"}', 2, 'Recrutement');
select juris.request_extract('{"surname": "Kobila", "given_names": "Mangué", "birth_date": "1987-04-17"}', 3, 'Intéressé');
reset session authorization;
set session authorization tg_agent;
select results_eq('select bulletin from juris.extract_requests() order by bulletin', array[3::smallint],
    'an agent lists only the bulletin n°3 requests');
reset session authorization;
set session authorization tg_secretaire;
select results_eq('select bulletin from juris.extract_requests() order by bulletin', array[2::smallint, 3::smallint],
    'a secrétaire lists n°2 and n°3, not n°1');
reset session authorization;

-- 5. Each court's listener, and only it, acts on its database; CONNECT is per login.
select juris.create_listener_login('tg_listener', pg_temp.pw());
create role tg_other_listener login in role juris_listener;
set session authorization tg_other_listener;
select throws_ok('select * from juris.outbox_pending(10)', 'XJ002', null,
    'another court''s listener (a member of juris_listener) cannot read this court''s outbox');
select throws_ok($$select juris.store_rejection('00000000-0000-0000-0000-000000000000', 'x', 'x', '\x00')$$, 'XJ002', null,
    'nor mark a message rejected');
reset session authorization;
select ok(has_database_privilege('tg_listener', current_database(), 'connect'), 'this court''s listener may connect');
select ok(not has_database_privilege('tg_other_listener', current_database(), 'connect'), 'another court''s listener may not');
select ok(has_database_privilege('tg_agent', current_database(), 'connect'), 'this court''s staff may connect');
select ok(not has_database_privilege('agent', current_database(), 'connect')
          and not has_database_privilege('greffier', current_database(), 'connect')
          and not has_database_privilege('juris_listener', current_database(), 'connect'),
    'the cluster-wide group roles give no CONNECT (another court''s staff are members too)');

-- 6. No signed record changes by an UPDATE alone: a rectification needs its message, an archive
-- its receipt (checked at commit; made immediate here to see it inside the test).
select pg_temp.fiche_at(3) as f8 \gset
set constraints all immediate;
select throws_ok(format($$update court.fiche set surname = 'Autre', version = version + 1 where fiche_id = %s$$, :f8),
    'XJ006', null, 'a superuser''s rectification without its message to the CJN is refused');
select throws_ok(format($$update court.fiche set status = 'archivee' where fiche_id = %s$$, :f8),
    'XJ006', null, 'archiving without the CJN''s receipt is refused');
set constraints all deferred;
select pg_temp.fiche_at(2) as f9 \gset
set session authorization tg_greffier;
select juris.sign_fiche(:f9);
-- Fires the deferred check now, as at the greffier's commit: outside the API call.
select lives_ok('set constraints all immediate',
    'the commit-time check runs for the greffier too (as the functions'' owner, outside the API call)');
set constraints all deferred;
reset session authorization;

-- 7. Defects: a message the listener cannot send is shown to the greffier and counted.
select message_id as m8 from court.outbox where fiche_id = :f8 \gset
set session authorization tg_listener;
select is(juris.outbox_mark_defective(:'m8', 'Le message scellé compte 400000 octets'), true, 'the listener records a defect');
select is(juris.outbox_mark_defective(:'m8', 'Le message scellé compte 400000 octets'), false, 'once');
select is((juris.transmission_status() ->> 'defective')::int, 1, 'the status line counts it');
select is((select count(*) from juris.outbox_pending(10) where message_id = :'m8'), 1::bigint,
    'the message stays pending (its sequence number must reach the CJN)');
reset session authorization;
set session authorization tg_greffier;
select results_eq(format('select state, defect from juris.fiche_transmissions(%s)', :f8),
    $$values ('bloqué : ne peut pas être transmis en l''état (voir le défaut)', 'Le message scellé compte 400000 octets')$$,
    'the greffier sees the defect on the fiche, in French');
reset session authorization;
set session authorization tg_listener;
select juris.outbox_mark_sent(array[:'m8']::uuid[]);
select is((juris.transmission_status() ->> 'defective')::int, 0, 'a message sent after all is no longer defective');
reset session authorization;

-- 9. Four eyes over every author of the version, not only the last one.
select pg_temp.fiche_at(0) as f10 \gset
set session authorization tg_secretaire;
select juris.save_fiche(jsonb_set(pg_temp.sample_fiche(), '{condamnation,sentence_months}', '2')
    || jsonb_build_object('id', :f10, 'condamnation', (pg_temp.sample_fiche() -> 'condamnation')
    || '{"sentence_months": 2, "suspended_months": 2}'));
reset session authorization;
select pg_temp.as_user('tg_agent', format('select juris.save_fiche(%L)',
    jsonb_set(pg_temp.sample_fiche(), '{justiciable,domicile}', '"Tsinga."') || jsonb_build_object('id', :f10)));
select pg_temp.as_user('tg_agent', format('select juris.submit_fiche(%s)', :f10));
set session authorization tg_secretaire;
select throws_ok(format('select juris.verify_fiche(%s)', :f10), 'XJ002', null,
    'a secrétaire who changed the content earlier in the version may not verify it, even if the agent changed it after');
reset session authorization;

-- 10. The audit trail's meaning: a change behind the triggers is found.
select pg_temp.fiche_at(3) as f11 \gset
select results_eq('select ok from juris.audit_verify()', array[true], 'the journal is whole before tampering');
set session_replication_role = replica;
update court.fiche set sentence_months = 30 where fiche_id = :f11;
set session_replication_role = origin;
select alike((select problem from juris.audit_verify()), '%diffère de sa dernière trace%',
    'a superuser''s change made with the triggers off is found: the fiche differs from its last audit row');

-- 11. Every text a court keeps for ever is bounded; a request not yet answered can be cancelled.
set session authorization tg_agent;
select throws_ok(format('select juris.request_extract(%L, 3, %L)',
        jsonb_build_object('surname', repeat('kobila ', 150000), 'given_names', 'Mangué', 'birth_date', '1987-04-17'),
        'Emploi'), 'XJ001', null, 'the names of a person asked for are bounded like a fiche''s');
select juris.request_extract('{"surname": "Kobila", "given_names": "Mangué", "birth_date": "1987-04-17"}', 3, 'Emploi')
    as req \gset
select lives_ok(format('select juris.cancel_extract_request(%s)', :req), 'its author cancels a pending request');
select is((select state from juris.extract_requests() where id = :req), 'rejected', 'which is no longer sent');
reset session authorization;
set session authorization tg_greffier;
select throws_ok(format('select juris.create_user(%L, %L, %L, 1)', 'longname', repeat('Nom ', 100), pg_temp.pw()),
    'XJ001', null, 'a staff member''s name is bounded (it is printed and sent in every message)');
reset session authorization;

-- 8. Bounded search input.
set session authorization tg_agent;
select throws_ok($$select * from juris.search_fiches(by_name => repeat('kobila ', 20000))$$, 'XJ001', null,
    'a name of 20 000 words is refused at once');
reset session authorization;

select * from finish();
rollback;
