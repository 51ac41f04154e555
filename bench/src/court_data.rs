//! The names of the court benchmarks' justiciables, and a court register filled fast with
//! set-based SQL (`insert … select … generate_series`) that holds to the schema's constraints:
//! shared by `court` (names) and `gui` (names and the register).

use tokio_postgres::Client;

/// Surnames of the generated justiciables (46: far more repetitive than a real register).
pub const SURNAMES: &[&str] = &[
    "Kobila",
    "Mbarga",
    "Essomba",
    "Ngono",
    "Atangana",
    "Mvondo",
    "Bikoula",
    "Ndzi",
    "Fouda",
    "Onana",
    "Abena",
    "Tchatchoua",
    "Nkoulou",
    "Biya",
    "Eto'o",
    "Kamdem",
    "Nguemo",
    "Moukoko",
    "Ebogo",
    "Zambo",
    "Manga",
    "Mendomo",
    "Owona",
    "Ayissi",
    "Ekambi",
    "Djoumessi",
    "Tchakounté",
    "Nana",
    "Fotso",
    "Kengne",
    "Mbappé",
    "Ewane",
    "Yondo",
    "Belinga",
    "Ngah",
    "Mballa",
    "Ondoua",
    "Oyono",
    "Bassogog",
    "Mbia",
    "Ngadjui",
    "Tagne",
    "Wandji",
    "Simo",
    "Kuété",
    "Nkengfack",
];

/// Given names (27); a justiciable has two.
pub const GIVEN: &[&str] = &[
    "Mangué",
    "Jean",
    "Paul",
    "Rose",
    "Alice",
    "Étienne",
    "François",
    "Kenneth",
    "Fabienne",
    "Hélène",
    "Joseph",
    "Marie",
    "Thérèse",
    "Samuel",
    "Brice",
    "Cédric",
    "Aïcha",
    "Hamadou",
    "Ibrahim",
    "Fadimatou",
    "Oumarou",
    "Gaëlle",
    "Léon",
    "Yannick",
    "Chantal",
    "Martin",
    "Aurélie",
];

/// Adds `count` fiches to the register, numbered after the highest number, with the SQL of a
/// DBA's bulk load (triggers off, as a restore would be; every CHECK and foreign key still
/// holds): varied names (`SURNAMES`, two of `GIVEN`), birth dates, conviction dates spread over
/// 2000–2025, references, offence categories, and the states of a living register: 5 % drafts,
/// 5 % submitted, 5 % verified, 10 % signed, 75 % archived at the CJN (signed and archived
/// ones with a valid NIU). Then the words' dictionary and the planner's statistics.
pub async fn fill(admin: &Client, count: u64) -> Result<(), tokio_postgres::Error> {
    let list = |names: &[&str]| names.join(",").replace('\'', "''");
    admin
        .batch_execute(&format!(
            "set session_replication_role = replica;
             with s as (
                 select g, (select coalesce(max(number), 0) from court.fiche) + g as number,
                        ('{{{surnames}}}'::text[])[1 + (g * 7919) % {ns}] as surname,
                        ('{{{given}}}'::text[])[1 + (g * 104729) % {ng}] || ' '
                            || ('{{{given}}}'::text[])[1 + (g * 13) % {ng}] as given,
                        date '2000-01-01' + ((g * 37) % 9400)::integer as convicted,
                        (array['brouillon', 'soumise', 'verifiee', 'signee', 'signee', 'archivee', 'archivee',
                               'archivee', 'archivee', 'archivee', 'archivee', 'archivee', 'archivee', 'archivee',
                               'archivee', 'archivee', 'archivee', 'archivee', 'archivee', 'archivee']::court.fiche_status[])
                            [1 + g % 20] as status,
                        (array['VOL', 'ATT_PERSONNES', 'HOMICIDE_INVOL', 'VOL', 'ATT_BIENS_PUBLICS'])[1 + g % 5] as category
                   from generate_series(1::bigint, {count}) g)
             insert into court.fiche (number, status, niu, reference, surname, given_names, name_norm, name_tokens,
                 birth_date, birth_place, sex, conviction_date, offence_date, offence_nature, offence_category,
                 offence_class, sentence_type, sentence_months, created_by, updated_by, content_by, content_editors,
                 signed_by, signed_at)
             select number, status,
                    case when status >= 'signee' then
                        (123450000000000 + number)::text || juris._mod97_check((123450000000000 + number)::text) end,
                    (g % 997) || '/SD/Just/' || extract(year from convicted), surname, given,
                    juris._norm(surname || ' ' || given), string_to_array(juris._norm(surname || ' ' || given), ' '),
                    convicted - (6570 + (g * 7) % 18000)::integer, 'Maroua', (array['M', 'F']::court.sex[])[1 + g % 2],
                    convicted, convicted - (30 + g % 300)::integer, 'Vol simple', category, 'delit', 'emprisonnement',
                    1 + g % 36, 'mbarga', 'mbarga', 'mbarga', '{{mbarga}}',
                    case when status >= 'signee' then 'kamdem' end,
                    case when status >= 'signee' then convicted + 20 end
               from s;
             insert into court.name_token (token)
             select distinct unnest(name_tokens) from court.fiche on conflict do nothing;
             set session_replication_role = origin;",
            surnames = list(SURNAMES),
            given = list(GIVEN),
            ns = SURNAMES.len(),
            ng = GIVEN.len(),
        ))
        .await?;
    admin.batch_execute("vacuum analyze court.fiche").await?;
    admin.batch_execute("analyze court.name_token").await
}
