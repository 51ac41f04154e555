-- Guardrails on the content of fiches, and the immutability of signed fiches, for every client.
begin;
select plan(34);
\ir setup.psql

create function pg_temp.with_field(part text, field text, value jsonb) returns jsonb language sql as $$
    select jsonb_set(pg_temp.sample_fiche(), array[part, field], value)
$$;

set session authorization tg_agent;
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('justiciable', 'birth_date', to_jsonb((current_date + 1)::text))),
    'XJ001', null, 'a birth date in the future is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('condamnation', 'conviction_date', to_jsonb((current_date + 3)::text))),
    'XJ001', null, 'a conviction date in the future is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('condamnation', 'offence_date', '"2019-01-01"')),
    'XJ001', 'Les infractions (01/01/2019) ne peuvent pas être postérieures à la condamnation (18/06/2018).',
    'offences after the conviction are refused, with a French message');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('justiciable', 'birth_date', '"2017-10-01"')),
    'XJ001', null, 'a birth after the offences is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('justiciable', 'birth_date', '"2010-01-01"')),
    'XJ001', 'Au moment des faits, la personne avait 7 ans : l''âge de la responsabilité pénale est de 10 ans.',
    'a person under the age of criminal responsibility is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('justiciable', 'birth_date', '"1987-02-30"')),
    'XJ001', 'Date invalide pour « date de naissance » : « 1987-02-30 » n''existe pas.', 'an impossible date is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('justiciable', 'birth_date', '"17/04/1987"')),
    'XJ001', null, 'a date in another format is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('justiciable', 'sex', '"X"')),
    'XJ001', null, 'an unknown sex is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('condamnation', 'offence_category', '"NOPE"')),
    'XJ001', null, 'an unknown offence category is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('condamnation', 'suspended_months', '30')),
    'XJ001', null, 'a suspended part longer than the sentence is refused');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('justiciable', 'birthdate', '"1987-04-17"')),
    'XJ001', null, 'an unknown field is refused, not ignored');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('condamnation', 'minor', '"oui"')),
    'XJ001', null, 'a non-boolean flag is refused');

-- Incomplete drafts are allowed; submitting them is not.
select juris.save_fiche('{"justiciable": {"surname": "Ndzi"}}') as partial \gset
select is((juris.get_fiche(:partial) ->> 'status')::int, 0, 'an incomplete draft can be saved');
select throws_ok(format('select juris.submit_fiche(%s)', :partial), 'XJ001', null, 'an incomplete fiche cannot be submitted');
select is((juris.get_fiche(:partial) ->> 'status')::int, 0, 'the refused submission changed nothing');
reset session authorization;

-- The database enforces the same rules on direct writes (a DBA with psql, as superuser).
select pg_temp.fiche_at(3) as signed \gset
select throws_ok(format($$update court.fiche set surname = 'Autre' where fiche_id = %s$$, :signed), 'XJ006', null,
    'even a superuser cannot UPDATE a signed fiche');
select throws_ok(format($$update court.fiche set status = 'brouillon', niu = null where fiche_id = %s$$, :signed), 'XJ006', null,
    'a signed fiche cannot go back to draft');
select throws_ok(format('delete from court.fiche where fiche_id = %s', :signed), 'XJ006', null,
    'even a superuser cannot DELETE a signed fiche');
select throws_ok($$insert into court.fiche (number, status, created_by, updated_by) values (999, 'signee', 'x', 'x')$$,
    'XJ003', null, 'a fiche cannot be inserted already signed');
select throws_ok(format($$update court.fiche set birth_date = current_date + 1 where fiche_id = %s$$,
    pg_temp.fiche_at(0)), 'XJ001', null, 'a direct UPDATE of a draft is validated too');

-- The fields the CJN needs for bulletins n°2 and n°3.
set session authorization tg_agent;
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('condamnation', 'ban_months', '36')),
    'XJ001', 'Une durée ou un sursis d''interdiction est indiqué sans la nature de l''interdiction.',
    'a ban duration without the ban is refused');
select throws_ok(format('select juris.save_fiche(%L)',
        jsonb_set(pg_temp.with_field('condamnation', 'ban', '"Interdiction de séjour"'), '{condamnation,ban_months}', '0')),
    'XJ001', null, 'a ban of zero months is refused (empty means for life)');
select throws_ok(format('select juris.save_fiche(%L)', pg_temp.with_field('condamnation', 'revoked_suspension_niu', '"12345201800000124"')),
    'XJ001', null, 'a revoked suspension naming an invalid NIU (check digits) is refused');
select throws_ok(format('select juris.save_fiche(%L)',
        jsonb_set(pg_temp.with_field('condamnation', 'b3_ordered', 'true'), '{condamnation,sentence_type}', '"amende"')),
    'XJ001', 'L''inscription au bulletin n°3 ne s''ordonne que pour une peine d''emprisonnement.',
    'ordering a fine onto bulletin n°3 is refused');
select juris.save_fiche(jsonb_set(pg_temp.sample_fiche(), '{condamnation}', (pg_temp.sample_fiche() -> 'condamnation')
    || '{"b3_ordered": true, "ban": "Interdiction de séjour à Garoua", "ban_months": 60, "ban_suspended": true,
         "revoked_suspension_niu": "12345201800000143"}')) as banned \gset
reset session authorization;
select is((select juris._fiche_content(f) -> 'condamnation' ->> 'ban_months' from court.fiche f where fiche_id = :banned), '60',
    'the ban, its duration and suspension are stored and part of the signed content');
select is((select revoked_suspension_niu from court.fiche where fiche_id = :banned), '12345201800000143',
    'the revoked suspension is stored');
select throws_ok(format('update court.fiche set ban = null where fiche_id = %s', :banned), 'XJ001',
    'Une durée ou un sursis d''interdiction est indiqué sans la nature de l''interdiction.',
    'even at psql, a ban duration without its nature is refused, in French');
-- (The deferred checks of the signatures above run now: ALTER TABLE refuses pending events.)
set constraints all immediate;
alter table court.fiche disable trigger user;
select throws_ok(format('update court.fiche set ban = null where fiche_id = %s', :banned), '23514', null,
    'and the CHECK constraint behind the trigger holds on its own');
alter table court.fiche enable trigger user;
set constraints all deferred;

-- A refused transition changes nothing.
select pg_temp.fiche_at(1) as submitted \gset
select audit_count from (select count(*) as audit_count from court.audit) c \gset
set session authorization tg_greffier;
select throws_ok(format('select juris.sign_fiche(%s)', :submitted), 'XJ003', null, 'signing a submitted (unverified) fiche fails');
reset session authorization;
select is((select status::text from court.fiche where fiche_id = :submitted), 'soumise', 'the failed signature left the state');
select is((select count(*) from court.audit), :audit_count::bigint, 'the failed signature wrote no audit row');
select is((select count(*) from court.counter where name = 'niu'), 1::bigint, 'the failed signature consumed no NIU');

-- Gapless numbering: a rolled-back signature or creation leaves no hole.
select pg_temp.fiche_at(2) as v1 \gset
select pg_temp.fiche_at(2) as v2 \gset
savepoint before_sign;
select pg_temp.as_user('tg_greffier', format('select juris.sign_fiche(%s)', :v1)) as niu1 \gset
rollback to savepoint before_sign;
select pg_temp.as_user('tg_greffier', format('select juris.sign_fiche(%s)', :v2)) as niu2 \gset
select is(:'niu2'::text, :'niu1'::text, 'a rolled-back signature leaves no hole in the NIU sequence');
savepoint before_save;
select pg_temp.fiche_at(0) as gone \gset
select number as gone_number from court.fiche where fiche_id = :gone \gset
rollback to savepoint before_save;
select pg_temp.fiche_at(0) as again \gset
select is((select number from court.fiche where fiche_id = :again), :gone_number::bigint,
    'a rolled-back creation leaves no hole in the fiche numbers');

select * from finish();
rollback;
