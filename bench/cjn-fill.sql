-- Bulk fill of a throw-away CJN database for the extract benchmark (`bench/src/bin/extract.rs`
-- runs these steps; each `-- @step` is one statement batch, `person` and `fiche` run in two
-- sessions at once, and so do `person_indexes` and `fiche_indexes`).
--
-- It bypasses cjn.ingest but writes what ingest writes for each fiche: registry.person (one row
-- per normalised identity, identity_key and name_norm as cjn._person_for computes them) and
-- registry.fiche (content = the court's signed fiche as `juris._fiche_content` builds it plus
-- signed_by / signed_by_name / signed_at, and the denormalised columns as cjn._apply fills
-- them). Not written: the messages' signed bytes (one registry.message per court stands for
-- them, the fiches' foreign key needs a row), fiche_event and the person_candidate proposals
-- (cjn.extract reads neither; undecided proposals play no part in it).
--
-- People are drawn deterministically from their number g (hashint8): Cameroonian surnames
-- (often two words; "Ngo ..." for some women) and given names picked with a skew (the first of
-- each list are the most common), so namesakes born the same day exist as in a real register;
-- birth dates from 1940 to 2005, denser in the middle (triangular: about twice the mean per day
-- at the peak), and 3 % born on 1 January ("né vers", a birth record made later), as common in
-- the country's civil status; 1 to 4 fiches each (40 %, 30 %, 20 %, 10 %: two on average), from
-- 200 courts; délits, crimes and contraventions with their sentences; 2 % rectified (version 1
-- superseded by version 2), 1 % withdrawn. The number of people is the setting bench.people.

-- @step setup
create schema if not exists benchgen;
set maintenance_work_mem = '1GB';

-- The lists names are drawn from (immutable: folded into constants when planned).
create or replace function benchgen.list(n text) returns text[]
    language sql immutable parallel safe
return case n
when 'surname' then array['Atangana','Mbarga','Ngono','Essomba','Onana','Fouda','Owona','Mbida','Abena','Ndzana',
  'Manga','Ayissi','Biloa','Ebogo','Zambo','Eto''o','Mvondo','Nkoulou','Belinga','Mballa','Ondoua','Oyono',
  'Kamga','Kamdem','Fotso','Tchakounté','Nguemo','Djoumessi','Kengne','Tagne','Wandji','Simo','Nana','Tchoupo',
  'Fokou','Talla','Tchinda','Nkeng','Ngassa','Feudjio','Moukoko','Ekambi','Ewane','Epée','Din','Ngando',
  'Kotto','Essoh','Mouangue','Ndoumbe','Bassong','Nkot','Mbock','Yomba','Nlend','Mbog','Bikoko','Ngue',
  'Hamadou','Oumarou','Bello','Aboubakar','Issa','Moussa','Adamou','Abdoulaye','Ibrahim','Souleymane','Mohamadou',
  'Alim','Bouba','Amadou','Djibrilla','Haman','Yaya','Saïdou','Mana','Daouda','Ousmane','Garba',
  'Ndi','Fru','Tanyi','Achu','Ngwa','Nji','Tabi','Ayuk','Ebai','Enow','Tambe','Nkwenti','Fon','Che','Awah',
  'Bikoula','Mendomo','Mengue','Obama','Ella','Nkolo','Ateba','Eyenga','Mebenga','Ntsama','Ngah','Bilong',
  'Eloundou','Essama','Messi','Noah','Olinga','Ongolo','Tsala','Ambassa','Zang','Ndongo','Abessolo','Obiang',
  'Meka','Efoua','Mvogo','Akono','Bidzogo','Etoundi','Kobila','Mbassi','Tchatchoua','Ngadjui','Nkengfack','Kuété',
  'Wamba','Sonkeng','Tchuente','Youmbi','Dongmo','Tchamba','Kouam','Yemene','Njoya','Mfopou','Pefoura','Njikam',
  'Mouliom','Ndam','Mfochive','Nsangou','Ngouh','Mbouombouo','Pokam','Tsafack','Fonkou','Nzeukou','Dzeukou',
  'Ngo Bassong','Ngo Nkoumou','Ngo Mbock','Ngo Ngue']
when 'male' then array['Jean','Paul','Pierre','Joseph','Emmanuel','André','Jacques','François','Martin','Samuel',
  'Daniel','Michel','Christian','Patrice','Alain','Roger','Serge','Thomas','Étienne','Bernard','Hervé','Yannick',
  'Cédric','Brice','Franck','Léon','Achille','Junior','Blaise','Landry','Arouna','Hamadou','Ibrahim','Oumarou',
  'Moussa','Abdoulaye','Aboubakar','Ali','Bachirou','Souleymane','Issa','Adamou','Mohamadou','Amadou','Kenneth',
  'Eric','Divine','Godlove','Emmanuel Junior','Jean-Pierre','Jean-Claude','Jean-Marie','Jean-Baptiste','Marcel',
  'Vincent','Gaston','Hilaire','Ferdinand','Raphaël','Gabriel','Simon','Luc','Marc','Mathieu','Augustin','Norbert',
  'Mangué','Rodrigue','Guy','Valentin','Arnaud','Steve','William','Collins','Fidèle']
when 'female' then array['Marie','Rose','Jeanne','Thérèse','Christine','Françoise','Alice','Hélène','Chantal','Béatrice',
  'Clarisse','Brigitte','Pauline','Odile','Cécile','Martine','Josiane','Sandrine','Fabienne','Aurélie','Gaëlle',
  'Nadège','Sylvie','Carine','Estelle','Mireille','Aïssatou','Fadimatou','Hadja','Aminatou','Hawaou','Mariama',
  'Ramatou','Adama','Zeinabou','Halimatou','Blessing','Comfort','Gladys','Prudence','Marie-Thérèse','Anne-Marie',
  'Marie-Claire','Jacqueline','Véronique','Agathe','Bernadette','Solange','Yvette','Georgette','Delphine','Esther',
  'Ruth','Rebecca','Judith','Madeleine','Germaine','Monique','Colette','Antoinette']
when 'place' then array['Yaoundé','Douala','Garoua','Bamenda','Maroua','Bafoussam','Ngaoundéré','Bertoua','Loum',
  'Kumba','Nkongsamba','Buea','Edéa','Kribi','Ebolowa','Limbé','Dschang','Foumban','Mbouda','Sangmélima',
  'Mbalmayo','Obala','Bafang','Bangangté','Kousséri','Mokolo','Guider','Meiganga','Tibati','Batouri','Abong-Mbang',
  'Yokadouma','Akonolinga','Eséka','Mbanga','Manjo','Tiko','Wum','Kumbo','Nkambé','Mamfé','Fundong','Bafia',
  'Ntui','Nanga-Eboko','Monatélé','Okola','Soa','Mfou','Awaé','Ekouk','Nkolmetet','Zoétélé','Djoum','Ambam',
  'Campo','Lolodorf','Bipindi','Yabassi','Dibombari','Penja','Melong','Kékem','Bandjoun','Baham','Bana','Bazou',
  'Tonga','Foumbot','Koutaba','Magba','Banyo','Tignère','Poli','Figuil','Pitoa','Mora','Kolofata','Yagoua','Kaélé']
when 'quarter' then array['Mvog-Mbi','Biyem-Assi','Mokolo','Briqueterie','Nkolbisson','Mendong','Essos','Mimboman',
  'Ekounou','Nlongkak','Tsinga','Etoudi','Akwa','Bonabéri','New-Bell','Deïdo','Bépanda','Makèpè','Ndokoti',
  'Bonamoussadi','Logbaba','Nyalla','PK 14','Quartier administratif','Centre commercial','Marché central',
  'Camp SIC','Quartier haoussa','Plateau','Village']
when 'profession' then array['Cultivateur','Commerçant','Commerçante','Chauffeur','Moto-taximan','Élève','Étudiant',
  'Sans emploi','Mécanicien','Menuisier','Maçon','Couturière','Ménagère','Fonctionnaire','Enseignant',
  'Agent commercial','Éleveur','Pêcheur','Boutiquier','Débrouillard','Vendeur ambulant','Coiffeur',
  'Agriculteur','Transporteur','Comptable','Infirmier','Militaire','Gardien','Docker','Bayam-sellam']
when 'civil' then array['celibataire','celibataire','celibataire','marie','marie','union_libre','divorce','veuf']
when 'jurisdiction' then array['TPI','TGI','CA','TMil']
when 'chamber' then array['COR','CRIM','SD','FD','SIMP']
end;

-- A uniform number in [0, 1) from a person or fiche number and a salt.
create or replace function benchgen.u(g bigint, salt integer) returns double precision
    language sql immutable parallel safe
return (hashint8(g * 131 + salt) & 2147483647)::double precision / 2147483648.0;

-- An item of a list, the first ones more often (skew 1.5: the first of 160 surnames is
-- about 3 % of people).
create or replace function benchgen.pick(items text[], u double precision, skew double precision default 1.5)
    returns text
    language sql immutable parallel safe
return items[1 + floor(cardinality(items) * power(u, skew))::integer];

-- The identity of person g.
create or replace function benchgen.person(g bigint)
    returns table (surname text, given_names text, birth_date date, birth_place text, sex text, father text,
                   mother text, profession text, civil_status text, domicile text, nationality text)
    language sql immutable parallel safe
as $$
    select case when x.sex = 'F' and benchgen.u(g, 3) < 0.2
                then 'Ngo ' || benchgen.pick(benchgen.list('surname'), benchgen.u(g, 4))
                when benchgen.u(g, 5) < 0.4
                then benchgen.pick(benchgen.list('surname'), benchgen.u(g, 4)) || ' '
                     || benchgen.pick(benchgen.list('surname'), benchgen.u(g, 6))
                else benchgen.pick(benchgen.list('surname'), benchgen.u(g, 4)) end,
           case when x.sex = 'M'
                then benchgen.pick(benchgen.list('male'), benchgen.u(g, 7))
                     || case when benchgen.u(g, 8) < 0.5 then ' ' || benchgen.pick(benchgen.list('male'), benchgen.u(g, 9)) else '' end
                else benchgen.pick(benchgen.list('female'), benchgen.u(g, 7))
                     || case when benchgen.u(g, 8) < 0.5 then ' ' || benchgen.pick(benchgen.list('female'), benchgen.u(g, 9)) else '' end
           end,
           case when benchgen.u(g, 10) < 0.03
                then make_date(1940 + floor(benchgen.u(g, 11) * 66)::integer, 1, 1)
                else date '1940-01-01' + floor((benchgen.u(g, 11) + benchgen.u(g, 12)) / 2 * 24106)::integer end,
           benchgen.pick(benchgen.list('place'), benchgen.u(g, 13), 2.0),
           x.sex,
           benchgen.pick(benchgen.list('surname'), benchgen.u(g, 14)) || ' '
             || benchgen.pick(benchgen.list('male'), benchgen.u(g, 15)),
           benchgen.pick(benchgen.list('female'), benchgen.u(g, 16)) || ' '
             || benchgen.pick(benchgen.list('surname'), benchgen.u(g, 17)),
           benchgen.pick(benchgen.list('profession'), benchgen.u(g, 18), 1.0),
           benchgen.pick(benchgen.list('civil'), benchgen.u(g, 19), 1.0),
           benchgen.pick(benchgen.list('quarter'), benchgen.u(g, 20), 1.0) || ', '
             || benchgen.pick(benchgen.list('place'), benchgen.u(g, 21), 2.0),
           case when benchgen.u(g, 22) < 0.96 then 'Camerounaise'
                else (array['Nigériane','Tchadienne','Centrafricaine','Gabonaise','Équato-guinéenne'])[1 + floor(benchgen.u(g, 23) * 5)::integer] end
      from (select case when benchgen.u(g, 1) < 0.85 then 'M' else 'F' end as sex) x
$$;

-- An offence of a class, 'CATEGORY:nature', from a uniform number.
create or replace function benchgen.offence(class text, u double precision) returns text
    language sql immutable parallel safe
return (case class
    when 'crime' then array['VOL:Vol avec violence et port d''arme', 'HOMICIDE:Meurtre',
        'HOMICIDE:Assassinat', 'MOEURS:Viol', 'ATT_BIENS_PUBLICS:Détournement de biens publics',
        'ETAT:Hostilité contre la patrie']
    when 'contravention' then array['CIRCULATION:Défaut de carte grise', 'AUTRE:Tapage nocturne',
        'VIOLENCES:Voies de fait légères', 'AUTRE:Divagation d''animaux']
    else array['VOL:Vol simple', 'VOL:Vol aggravé commis en réunion', 'VOL:Recel de choses volées',
        'ESCROQUERIE:Escroquerie', 'ESCROQUERIE:Abus de confiance',
        'VIOLENCES:Coups et blessures volontaires', 'STUPEFIANTS:Détention et consommation de stupéfiants',
        'FAUX:Faux et usage de faux en écriture privée', 'ATT_BIENS_PUBLICS:Détournement de deniers publics',
        'CORRUPTION:Corruption active', 'FAMILLE:Abandon de foyer',
        'CIRCULATION:Conduite sans permis et blessures involontaires',
        'ENVIRONNEMENT:Détention de trophées d''espèces protégées', 'VOL:Vol simple'] end)
    [1 + floor(u * case class when 'crime' then 6 when 'contravention' then 4 else 14 end)::integer];

-- The courts (200) and one message each, standing for the signed messages of the bulk fill.
create or replace function benchgen.court_code(i integer) returns text
    language sql immutable parallel safe
return lpad((10007 + i * 331)::text, 5, '0');

create or replace function benchgen.message_id(i integer) returns uuid
    language sql immutable parallel safe
return ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid;

insert into registry.court (code, name, region, departement, arrondissement)
select benchgen.court_code(i),
       format('%s de %s', (array['Tribunal de première instance','Tribunal de grande instance','Cour d''appel'])[1 + i % 3],
              benchgen.pick(benchgen.list('place'), (i + 0.5) / 200.0, 1.0)),
       'REGION ' || (i % 10), 'DEPARTEMENT ' || (i % 58), 'ARRONDISSEMENT ' || i
  from generate_series(0, 199) i
on conflict do nothing;
insert into registry.envelope (signed_hash, signed) values (sha256('\x00'), '\x00') on conflict do nothing;
insert into registry.message (message_id, court_code, seq, kind, created_at, niu, version, payload_hash, signed_hash,
                              applied_at)
select benchgen.message_id(i), benchgen.court_code(i), 1, 'fiche_signed', now(), '', 1, sha256('\x00'),
       sha256('\x00'), now()
  from generate_series(0, 199) i
on conflict do nothing;

-- The indexes and constraints of person and fiche, saved, then dropped: rebuilt after the fill.
create table if not exists benchgen.saved (kind text, tbl text, name text, def text, ord serial);
truncate benchgen.saved;
insert into benchgen.saved (kind, tbl, name, def)
select case c.contype when 'f' then 'fkey' else 'key' end, c.conrelid::regclass::text, c.conname,
       pg_get_constraintdef(c.oid)
  from pg_constraint c
 where c.contype in ('p', 'u', 'f')
   and (c.conrelid in ('registry.person'::regclass, 'registry.fiche'::regclass)
        or c.confrelid in ('registry.person'::regclass, 'registry.fiche'::regclass))
 order by c.contype = 'f', c.conname;
insert into benchgen.saved (kind, tbl, name, def)
select 'index', i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
  from pg_index i
 where i.indrelid in ('registry.person'::regclass, 'registry.fiche'::regclass)
   and not exists (select from pg_constraint c where c.conindid = i.indexrelid);
do $$
declare
    s record;
begin
    for s in select * from benchgen.saved where kind = 'fkey' loop
        execute format('alter table %s drop constraint %I', s.tbl, s.name);
    end loop;
    for s in select * from benchgen.saved where kind = 'key' loop
        execute format('alter table %s drop constraint %I', s.tbl, s.name);
    end loop;
    for s in select * from benchgen.saved where kind = 'index' loop
        execute format('drop index %s', s.name);
    end loop;
end
$$;

-- @step person
begin;
truncate registry.person;
insert into registry.person (person_id, surname, given_names, birth_date, birth_place, sex, father, mother,
                             identity_key, name_norm)
overriding system value
select g, p.surname, p.given_names, p.birth_date, p.birth_place, p.sex, p.father, p.mother,
       concat_ws('|', cjn._norm(p.surname), cjn._norm(p.given_names), p.birth_date::text, cjn._norm(p.birth_place),
                 cjn._norm(p.father), cjn._norm(p.mother)),
       cjn._norm(concat_ws(' ', p.surname, p.given_names))
  from generate_series(1, current_setting('bench.people')::bigint) g
 cross join lateral (select * from benchgen.person(g) offset 0) p;
commit;

-- @step fiche
-- Fiche number ord = 4 g + i (i-th fiche of person g); its court (200) and the court's sequence
-- number are a bijection of ord (court = 7919 ord mod 200, sequence = ord / 200), so NIUs are
-- unique; the NIU's year is the year of signature and its check digits are ISO 7064 MOD 97-10.
begin;
truncate registry.fiche;
insert into registry.fiche (niu, version, court_code, state, person_id, content, sex, birth_date, conviction_date,
    offence_date, offence_category, offence_class, sentence_type, sentence_months, suspended_months, fine_amount,
    minor, message_id, signed_at, withdrawn_at, withdrawal_motive)
select n.niu, v.version, n.court_code,
       case when v.version < v.versions then 'superseded'::registry.fiche_state
            when s.withdrawn then 'withdrawn' else 'active' end,
       g, c.content, p.sex, p.birth_date, d.conviction_date, d.offence_date, o.category, o.nature_class, s.sentence_type,
       s.sentence_months + v.version - v.versions, s.suspended_months, s.fine_amount, d.minor,
       benchgen.message_id(n.court_i), d.signed_at,
       case when s.withdrawn then d.signed_at + interval '400 days' end,
       case when s.withdrawn then 'Annulation par arrêt de la Cour d''appel' end
  from generate_series(1, current_setting('bench.people')::bigint) g
 cross join lateral (select * from benchgen.person(g) offset 0) p
 cross join lateral (
    select 1 + (case when benchgen.u(g, 40) < 0.4 then 0 when benchgen.u(g, 40) < 0.7 then 1
                     when benchgen.u(g, 40) < 0.9 then 2 else 3 end) as nk,
           benchgen.u(g, 41) < 0.04 as minor_first offset 0) k
 cross join lateral generate_series(0, k.nk - 1) i
 cross join lateral (
    select g * 4 + i as ord,
           (p.birth_date + case when i = 0 and k.minor_first then interval '16 years' else interval '18 years' end)::date as start offset 0) a
 cross join lateral (
    select x.conviction_date, x.conviction_date - (20 + floor(benchgen.u(a.ord, 51) * 700)::integer) as offence_date,
           i = 0 and k.minor_first and x.conviction_date < (p.birth_date + interval '18 years')::date as minor,
           ((x.conviction_date + 10 + floor(benchgen.u(a.ord, 54) * 90)::integer + time '08:00'
             + make_interval(secs => floor(benchgen.u(a.ord, 55) * 36000))) at time zone 'UTC') as signed_at
      from (select a.start + floor(least(current_date - 180 - a.start, 30 * 365)
                                   * (i + benchgen.u(a.ord, 50)) / k.nk)::integer as conviction_date offset 0) x offset 0) d
 cross join lateral (
    select x.class as nature_class, split_part(x.o, ':', 1) as category, split_part(x.o, ':', 2) as nature
      from (select y.class, benchgen.offence(y.class, benchgen.u(a.ord, 61)) as o
              from (select case when benchgen.u(a.ord, 60) < 0.12 then 'crime' when benchgen.u(a.ord, 60) < 0.9
                                then 'delit' else 'contravention' end as class offset 0) y offset 0) x offset 0) o
 cross join lateral (
    select t.sentence_type,
           case when t.sentence_type in ('emprisonnement', 'emprisonnement_amende') then t.months end as sentence_months,
           case when t.sentence_type in ('emprisonnement', 'emprisonnement_amende') then
                case when o.nature_class = 'crime' or benchgen.u(a.ord, 64) < 0.45 then 0
                     when benchgen.u(a.ord, 64) < 0.75 then t.months
                     else floor(t.months * benchgen.u(a.ord, 65))::integer end end as suspended_months,
           case when t.sentence_type in ('amende', 'emprisonnement_amende')
                then (25000 * (1 + floor(benchgen.u(a.ord, 66) * 80)))::numeric(14, 2) end as fine_amount,
           i > 0 and benchgen.u(a.ord, 52) < 0.25 as recidivism,
           benchgen.u(a.ord, 53) < 0.01 as withdrawn
      from (select case
                when o.nature_class = 'crime' then
                    case when benchgen.u(a.ord, 62) < 0.03 then 'perpetuite' when benchgen.u(a.ord, 62) < 0.035 then 'mort'
                         else 'emprisonnement' end
                when o.nature_class = 'contravention' then
                    case when benchgen.u(a.ord, 62) < 0.85 then 'amende' else 'emprisonnement' end
                else case when benchgen.u(a.ord, 62) < 0.55 then 'emprisonnement'
                          when benchgen.u(a.ord, 62) < 0.75 then 'amende'
                          when benchgen.u(a.ord, 62) < 0.95 then 'emprisonnement_amende'
                          else 'travaux_interet_general' end end as sentence_type,
                   case when o.nature_class = 'crime' then 60 + floor(benchgen.u(a.ord, 63) * 180)::integer
                        when o.nature_class = 'contravention' then 1
                        else 1 + floor(power(benchgen.u(a.ord, 63), 2) * 60)::integer end as months offset 0) t offset 0) s
 cross join lateral (
    select benchgen.court_code(x.court_i) as court_code, x.court_i, x.seq,
           x.b || lpad((98 - (x.b::numeric * 100 % 97))::text, 2, '0') as niu
      from (select y.court_i, y.seq,
                   benchgen.court_code(y.court_i) || to_char(d.signed_at, 'YYYY') || lpad(y.seq::text, 6, '0') as b
              from (select ((a.ord * 7919) % 200)::integer as court_i, a.ord / 200 as seq offset 0) y offset 0) x offset 0) n
 cross join lateral (
    select vv as version, x.versions
      from (select case when benchgen.u(a.ord, 71) < 0.02 then 2 else 1 end as versions offset 0) x
     cross join lateral generate_series(1, x.versions) vv) v
 cross join lateral (
    select jsonb_build_object(
        'number', n.seq,
        'reference', format('%s/%s/%s-%s/%s', 1 + floor(benchgen.u(a.ord, 72) * 2500)::integer,
                            benchgen.pick(benchgen.list('chamber'), benchgen.u(a.ord, 73), 1.0),
                            benchgen.pick(benchgen.list('jurisdiction'), benchgen.u(a.ord, 74), 1.0),
                            benchgen.pick(benchgen.list('place'), (n.court_i + 0.5) / 200.0, 1.0),
                            extract(year from d.conviction_date)),
        'justiciable', jsonb_build_object(
            'surname', p.surname, 'given_names', p.given_names, 'birth_date', p.birth_date,
            'birth_place', p.birth_place, 'sex', p.sex, 'father', p.father, 'mother', p.mother,
            'profession', p.profession, 'civil_status', p.civil_status, 'domicile', p.domicile,
            'nationality', p.nationality),
        'condamnation', jsonb_build_object(
            'conviction_date', d.conviction_date, 'offence_date', d.offence_date,
            'offence_nature', o.nature, 'offence_category', o.category, 'offence_class', o.nature_class,
            'warrants', case when benchgen.u(a.ord, 75) < 0.5 then 'Aucun'
                             else 'Mandat de dépôt du ' || to_char(d.offence_date + 2, 'DD/MM/YYYY') end,
            'road_traffic', null,
            'sentence_type', s.sentence_type, 'sentence_months', s.sentence_months + v.version - v.versions,
            'suspended_months', s.suspended_months, 'fine_amount', s.fine_amount,
            'legal_recidivism', s.recidivism, 'minor', d.minor,
            'excluded_b2', benchgen.u(a.ord, 76) < 0.02, 'excluded_b3', benchgen.u(a.ord, 77) < 0.01,
            'b3_ordered', s.sentence_type = 'emprisonnement' and benchgen.u(a.ord, 78) < 0.03,
            'ban', case when benchgen.u(a.ord, 79) < 0.05 then 'Interdiction de séjour' end,
            'ban_months', case when benchgen.u(a.ord, 79) < 0.05 then 12 + floor(benchgen.u(a.ord, 80) * 48)::integer end,
            'ban_suspended', case when benchgen.u(a.ord, 79) < 0.05 then false end,
            'revoked_suspension_niu', null),
        'signed_by', 'g' || n.court_code,
        'signed_by_name', 'Greffier en chef ' || benchgen.pick(benchgen.list('surname'), benchgen.u(n.court_i, 81)),
        'signed_at', to_char(d.signed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) as content) c;
commit;

-- @step dedupe
-- Two people drawn with the very same identity (names, date, place, parents) are one person
-- for ingest: keep the first, move the other's fiches to it.
create temporary table dup as
select p.person_id, first_value(p.person_id) over (partition by p.identity_key order by p.person_id) as keep
  from registry.person p
 where p.identity_key in (select identity_key from registry.person group by identity_key having count(*) > 1);
delete from dup where person_id = keep;
update registry.fiche f set person_id = d.keep from dup d where f.person_id = d.person_id;
delete from registry.person p using dup d where p.person_id = d.person_id;
select setval(pg_get_serial_sequence('registry.person', 'person_id'), (select max(person_id) from registry.person));
select count(*) as duplicates_merged from dup;

-- @step person_indexes
set maintenance_work_mem = '2GB';
do $$
declare
    s record;
begin
    for s in select * from benchgen.saved where kind = 'key' and tbl = 'registry.person' order by ord loop
        execute format('alter table %s add constraint %I %s', s.tbl, s.name, s.def);
    end loop;
    for s in select * from benchgen.saved where kind = 'index' and tbl = 'registry.person' order by ord loop
        execute s.def;
    end loop;
end
$$;

-- @step fiche_indexes
set maintenance_work_mem = '2GB';
do $$
declare
    s record;
begin
    for s in select * from benchgen.saved where kind = 'key' and tbl = 'registry.fiche' order by ord loop
        execute format('alter table %s add constraint %I %s', s.tbl, s.name, s.def);
    end loop;
    for s in select * from benchgen.saved where kind = 'index' and tbl = 'registry.fiche' order by ord loop
        execute s.def;
    end loop;
end
$$;

-- @step foreign_keys
set maintenance_work_mem = '2GB';
do $$
declare
    s record;
begin
    for s in select * from benchgen.saved where kind = 'fkey' order by ord loop
        execute format('alter table %s add constraint %I %s', s.tbl, s.name, s.def);
    end loop;
end
$$;

-- @step analyze
vacuum (analyze) registry.person;
vacuum (analyze) registry.fiche;
analyze;
