-- Requests for extracts: who may ask for which bulletin (data), the checks on the request,
-- the listener's view (pending first, answer, rejection), and the request's state for the staff.
begin;
select plan(31);
\ir setup.psql

select juris.create_listener_login('tg_listener', pg_temp.pw());
create function pg_temp.person(extra jsonb default '{}') returns jsonb language sql as $$
    select '{"surname": "Kobila", "given_names": "Mangué", "birth_date": "1987-04-17", "birth_place": "Ekouk",
             "father": "Bikoula Mendomo", "mother": "Atouba Fabienne"}'::jsonb || extra
$$;

-- Who may ask for which bulletin.
set session authorization tg_agent;
select throws_ok(format('select juris.request_extract(%L, 1, %L)', pg_temp.person(), 'Instruction'), 'XJ002',
    'Demander un bulletin n°1 : action réservée au greffier.', 'an agent cannot ask for a bulletin n°1');
select throws_ok(format('select juris.request_extract(%L, 2, %L)', pg_temp.person(), 'Recrutement'), 'XJ002', null,
    'an agent cannot ask for a bulletin n°2');
select juris.request_extract(pg_temp.person(), 3, 'Demande de l''intéressé, CNI n° 1234567') as b3 \gset
select ok(:b3 > 0, 'an agent asks for a bulletin n°3');
-- The checks on the request.
select throws_ok(format('select juris.request_extract(%L, 4, %L)', pg_temp.person(), 'x'), 'XJ001',
    'Bulletin n°4 inconnu : 1, 2 ou 3.', 'an unknown bulletin is refused');
select throws_ok(format('select juris.request_extract(%L, 3, %L)', pg_temp.person() - 'birth_date', 'x'), 'XJ001',
    'Demande incomplète : nom, prénoms et date de naissance de la personne sont obligatoires.',
    'a request without the birth date is refused');
select throws_ok(format('select juris.request_extract(%L, 3, %L)', pg_temp.person('{"niu": "12345201800000124"}'), 'x'),
    'XJ001', null, 'a request with an invalid NIU is refused');
select throws_ok(format('select juris.request_extract(%L, 3, %L)', pg_temp.person(), '  '), 'XJ001',
    'Le motif de la demande est obligatoire (il est consigné au CJN).', 'the purpose is required');
select throws_ok(format('select juris.request_extract(%L, 3, %L)', pg_temp.person('{"eye_colour": "brun"}'), 'x'),
    'XJ001', null, 'an unknown field is refused');
select throws_ok(format('select juris.request_extract(%L, 3, %L)', pg_temp.person('{"birth_date": "2999-01-01"}'), 'x'),
    'XJ001', null, 'a birth date in the future is refused');
reset session authorization;

set session authorization tg_secretaire;
select juris.request_extract(pg_temp.person(), 2, 'Recrutement dans la fonction publique') as b2 \gset
select ok(:b2 > 0, 'a secrétaire asks for a bulletin n°2');
reset session authorization;
set session authorization tg_greffier;
select juris.request_extract(pg_temp.person('{"niu": "12345201800000143"}'), 1, 'Information judiciaire n° 12/2026') as b1 \gset
select ok(:b1 > 0, 'the greffier asks for a bulletin n°1, with a known NIU');
reset session authorization;

select is((select count(*) from court.audit where action = 'extract_request'), 3::bigint, 'every request is in the audit chain');
select is((select requested_by from court.extract_request where extract_request_id = :b3), 'tg_agent', 'the request names who asked');

-- The listener sends requests before fiche events.
select pg_temp.fiche_at(3) as signed \gset
select message_id as m3 from court.extract_request where extract_request_id = :b3 \gset
select message_id as m2 from court.extract_request where extract_request_id = :b2 \gset
set session authorization tg_listener;
select results_eq('select kind from juris.outbox_pending(10)',
    array['extract_request', 'extract_request', 'extract_request', 'fiche_signed'], 'requests for extracts go first');
select is((select payload -> 'request' from juris.outbox_pending(10) where seq = 1 and kind = 'extract_request'),
    '{"bulletin": "b3", "surname": "Kobila", "given_names": "Mangué", "birth_date": "1987-04-17", "birth_place": "Ekouk",
      "father": "Bikoula Mendomo", "mother": "Atouba Fabienne", "niu": null,
      "purpose": "Demande de l''intéressé, CNI n° 1234567", "requested_by": "tg_agent"}'::jsonb,
    'the request travels with the person, the bulletin, the purpose and who asked');
select lives_ok(format('select juris.outbox_mark_sent(array[%L]::uuid[])', :'m3'), 'a request is marked sent');
select is((juris.transmission_status() ->> 'extract_requests_pending')::int, 3, 'the status line counts pending requests');
reset session authorization;
select is(pg_temp.as_user('tg_agent', format('select state_label from juris.extract_requests() where id = %s', :b3)),
    'envoyé, en attente de la réponse du CJN', 'the staff see the request sent');

set session authorization tg_listener;
select throws_ok(format('select juris.store_extract_answer(%L, %L, %L)', :'m3', '{"entries": []}', '\x3082'), 'XJ001', null,
    'an answer without an extract number is refused');
select is(juris.store_extract_answer(:'m3', '{"extract_number": "B3-2026-000001", "verification_code": "K7QX-2M9P-4TRW",
    "entries": [], "near_matches": [{"surname": "Kobilla"}]}', '\x3082'), true, 'the answer is stored');
select is(juris.store_extract_answer(:'m3', '{"extract_number": "B3-2026-000001", "entries": []}', '\x3082'), false,
    'a duplicate answer changes nothing');
select is(juris.store_rejection(:'m2', 'unauthorized', 'Bulletin n°2 refusé.', '\x3082'), true,
    'a refused request is stored as rejected');
select is(juris.store_rejection(:'m2', 'unauthorized', 'Bulletin n°2 refusé.', '\x3082'), false,
    'a duplicate refusal changes nothing');
select results_eq('select kind from juris.outbox_pending(10)', array['extract_request', 'fiche_signed'],
    'answered and refused requests leave the pending set');
select throws_ok(format('select juris.request_extract(%L, 3, %L)', pg_temp.person(), 'x'), '42501', null,
    'the listener cannot ask for extracts');
select throws_ok(format('select juris.get_extract(%s)', :b3), '42501', null, 'the listener cannot read answers');
reset session authorization;

-- The staff see the answer, within their bulletin's permission.
set session authorization tg_agent;
select is((select state_label || ' / ' || near_matches_count from juris.extract_requests() where id = :b3),
    'reçu : néant / 1', 'the staff see the answer: néant, and one near match to decide');
select is(juris.get_extract(:b3) ->> 'extract_number', 'B3-2026-000001', 'an agent reads a bulletin n°3 answer');
select throws_ok(format('select juris.get_extract(%s)', :b1), 'XJ002', null, 'an agent cannot read a bulletin n°1');
select throws_ok(format('select juris.store_extract_answer(%L, %L, %L)', :'m3', '{}', '\x00'), '42501', null,
    'staff cannot store answers');
reset session authorization;

-- The permission is data: a country may let agents ask for bulletin n°2.
update court.extract_permission set min_privilege = 1 where bulletin = 2;
select lives_ok(format('select pg_temp.as_user(%L, %L)', 'tg_agent',
    format('select juris.request_extract(%L, 2, %L)', pg_temp.person(), 'Concours')),
    'with the permission changed, an agent asks for a bulletin n°2');

select * from finish();
rollback;
