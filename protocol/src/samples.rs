//! Realistic sample outbox payloads (French names and texts), for tests,
//! benchmarks and the fuzz corpus. Fictitious people.

/// A typical fiche, as the court database writes it in the outbox (as written before the
/// bulletin fields `b3_ordered`, `ban`... existed: absent fields must still read).
pub const TYPICAL_OUTBOX_JSON: &str = r#"{
  "message_id": "0b9a1c52-7d3e-4f4e-9a51-3c2f6d8e1a77",
  "kind": "fiche_signed",
  "court_code": "12345",
  "seq": 17,
  "created_at": "2026-11-29T22:51:08.123456Z",
  "niu": "12345202600001726",
  "version": 1,
  "motive": null,
  "audit_head": {"seq": 123, "hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
  "fiche": {
    "number": 19,
    "reference": "103/SD/Just/2018",
    "justiciable": {
      "surname": "Kobila", "given_names": "Mangué", "birth_date": "2007-04-17",
      "birth_place": "Ekouk", "sex": "M", "father": "Bikoula Mendomo",
      "mother": "Atouba Fabienne", "profession": "Agriculteur", "civil_status": "celibataire",
      "domicile": "Tsinga", "nationality": "Camerounaise"
    },
    "condamnation": {
      "conviction_date": "2018-06-18", "offence_date": "2017-09-15",
      "offence_nature": "Détournement de fonds publics", "offence_category": "ATT_BIENS_PUBLICS",
      "offence_class": "crime", "warrants": "Aucun", "road_traffic": null,
      "sentence_type": "emprisonnement", "sentence_months": 24, "suspended_months": 12,
      "fine_amount": 500000, "legal_recidivism": false, "minor": false,
      "excluded_b2": false, "excluded_b3": false
    },
    "signed_by": "greffier12345", "signed_by_name": "Kamdem Jean",
    "signed_at": "2026-11-29T22:51:07.654321Z"
  }
}"#;

/// A long fiche: long names, several offences described, warrants, road
/// traffic details, a rectification motive.
pub const LONG_OUTBOX_JSON: &str = r#"{
  "message_id": "5d0e2f8a-61b4-4c0a-8f3e-2b7d9c1e4a50",
  "kind": "fiche_rectified",
  "court_code": "04217",
  "seq": 123456,
  "created_at": "2026-11-30T08:02:41.500001Z",
  "niu": "04217202600123431",
  "version": 3,
  "motive": "Rectification ordonnée par arrêt de la Cour d'appel du Centre n° 412/CRIM/2026 du 12 novembre 2026 : requalification partielle des faits et réduction de la peine d'emprisonnement prononcée en première instance.",
  "audit_head": {"seq": 98765432, "hash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
  "fiche": {
    "number": 123456,
    "reference": "1287/COR/TGI-Mfoundi/2025-2026",
    "justiciable": {
      "surname": "Ngo Nkoumou épouse Essomba-Mvondo", "given_names": "Marie-Thérèse Béatrice Aïssatou",
      "birth_date": "1979-12-31", "birth_place": "Nkolmetet, arrondissement de Mbalmayo, département du Nyong-et-So'o",
      "sex": "F", "father": "Nkoumou Ateba Jean-Baptiste (décédé)",
      "mother": "Ngo Bassong Françoise Cécile", "profession": "Commerçante grossiste en produits vivriers",
      "civil_status": "marie",
      "domicile": "Quartier Mvog-Mbi, derrière la pharmacie du Soleil, Yaoundé IV",
      "nationality": "Camerounaise"
    },
    "condamnation": {
      "conviction_date": "2026-03-04", "offence_date": "2024-11-20",
      "offence_nature": "Escroquerie aggravée en bande organisée, faux et usage de faux en écriture privée de commerce, abus de confiance portant sur des fonds confiés par une tontine, et blanchiment du produit de ces infractions",
      "offence_category": "ATT_BIENS",
      "offence_class": "delit",
      "warrants": "Mandat de dépôt du 22 novembre 2024 ; mandat d'arrêt décerné contre les coauteurs en fuite",
      "road_traffic": "Conduite d'un véhicule sans permis (immatriculation CE 123 AB), suspension du permis pendant 18 mois",
      "sentence_type": "emprisonnement_amende", "sentence_months": 60, "suspended_months": 24,
      "fine_amount": 12500000, "legal_recidivism": true, "minor": false,
      "excluded_b2": false, "excluded_b3": true, "b3_ordered": false,
      "ban": "Interdiction d'exercer une activité commerciale ou de gérer une société",
      "ban_months": 60, "ban_suspended": false, "revoked_suspension_niu": "04217202300004558"
    },
    "signed_by": "greffier.en.chef", "signed_by_name": "Abessolo Mbarga Pierre-Claver",
    "signed_at": "2026-11-30T08:02:40.000001Z"
  }
}"#;

/// A sentence event (a release recorded after signature), as the court database writes it in
/// the outbox (kind `sentence_event`).
pub const SENTENCE_EVENT_OUTBOX_JSON: &str = r#"{
  "message_id": "7c1d5a3e-2b9f-4e61-8d0a-5f3b2c1e9d47",
  "kind": "sentence_event",
  "court_code": "12345",
  "seq": 18,
  "created_at": "2026-12-01T09:12:44.000001Z",
  "event_id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
  "niu": "12345202600001726",
  "version": 1,
  "event_kind": "sentence_served",
  "event_date": "2022-06-01",
  "remitted_months": null,
  "total": false,
  "cancels": null,
  "reference": "Billet de sortie n° 412/PCY/2022 de la prison centrale de Yaoundé",
  "note": "Libération conditionnelle",
  "recorded_by": "greffier12345",
  "recorded_by_name": "Kamdem Jean",
  "recorded_at": "2026-12-01T09:12:43.654321Z",
  "audit_head": {"seq": 124, "hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
}"#;
