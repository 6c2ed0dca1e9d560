use super::*;

fn found(text: &str) -> Vec<(DataCategory, String)> {
    found_with(text, &RecordCtx::default())
}

fn found_with(text: &str, rec: &RecordCtx) -> Vec<(DataCategory, String)> {
    let d = Detectors::new().unwrap();
    let mut out = Vec::new();
    d.scan(text, &Scope::TEXT, rec, &mut out);
    out.into_iter()
        .filter_map(|f| match f.kind {
            SpanKind::Data(c) => Some((c, text[f.start..f.end].to_owned())),
            SpanKind::Url => None,
        })
        .collect()
}

/// The texts of the findings of one category (for the family tests).
pub(super) fn found_of(text: &str, cat: DataCategory) -> Vec<String> {
    found(text).into_iter().filter(|(c, _)| *c == cat).map(|(_, t)| t).collect()
}

/// As [`found_of`], with a record context.
pub(super) fn found_of_with(text: &str, cat: DataCategory, rec: &RecordCtx) -> Vec<String> {
    found_with(text, rec).into_iter().filter(|(c, _)| *c == cat).map(|(_, t)| t).collect()
}

fn has(text: &str, cat: DataCategory, s: &str) -> bool {
    found(text).iter().any(|(c, t)| *c == cat && t == s)
}

#[test]
fn cue_table_parses() {
    // every line, then the upper-case and title-case forms of the phrases
    // with letters outside ASCII (the automaton folds ASCII case only)
    let lines = lexicon::cue_lines().len() + lexicon::id_cue_lines().len();
    assert!(cue_table().len() > lines);
    assert!(cue_table().iter().all(|(p, _)| !p.is_empty() && p.trim() == *p));
    for (upper, title) in
        [("EMŠO", "Emšo"), ("ΗΜΕΡΟΜΗΝΊΑ ΓΈΝΝΗΣΗΣ", "Ημερομηνία γέννησης"), ("RODNÉ ČÍSLO", "Rodné číslo")]
    {
        assert!(cue_table().iter().any(|(p, _)| *p == upper), "{upper}");
        assert!(cue_table().iter().any(|(p, _)| *p == title), "{title}");
    }
}

#[test]
fn emails_plain_encoded_defanged() {
    assert!(has("mail jean.dupont@orange.fr now", DataCategory::Email, "jean.dupont@orange.fr"));
    assert!(has("x=jean%40orange.fr", DataCategory::Email, "jean%40orange.fr"));
    assert!(has("contact: anna[at]web[.]de", DataCategory::Email, "anna[at]web[.]de"));
    assert!(has("mail jean&#64;gmail.com", DataCategory::Email, "jean&#64;gmail.com"));
    assert!(has("mail jean＠gmail.com", DataCategory::Email, "jean＠gmail.com"));
    assert!(has("mail jean(at)gmail(dot)com", DataCategory::Email, "jean(at)gmail(dot)com"));
    assert!(found("version 2.3@build").is_empty());
}

#[test]
fn attacker_domain_email_is_kept() {
    let rec = RecordCtx { host: Some("evil-bank.top".into()), ..Default::default() };
    assert!(found_with("sent from billing@evil-bank.top", &rec).is_empty());
}

#[test]
fn phones_per_locale() {
    use DataCategory::Phone;
    assert!(has("Tel. 06 12 34 56 78", Phone, "06 12 34 56 78")); // FR
    assert!(has("erreichbar unter 0151 23456789", Phone, "0151 23456789")); // DE
    assert!(has("chiamare 339 123 4567", Phone, "339 123 4567")); // IT
    assert!(has("llamar al 612 34 56 78", Phone, "612 34 56 78")); // ES
    assert!(has("bellen 06-12345678", Phone, "06-12345678")); // NL
    assert!(has("tel. 512 345 678", Phone, "512 345 678")); // PL
    assert!(has("numer 612345678 ", Phone, "612345678"));
    assert!(has("nås på 070-123 45 67", Phone, "070-123 45 67")); // SE
    assert!(has("+48 512 345 678", Phone, "+48 512 345 678"));
    assert!(has("ring 0044 7911 123456", Phone, "0044 7911 123456"));
    assert!(has("gsm 0470 12 34 56", Phone, "0470 12 34 56")); // BE
    assert!(has("tel +33 (0)6 12 34 56 78", Phone, "+33 (0)6 12 34 56 78"));
    assert!(has("Tel. (030) 1234567", Phone, "030) 1234567"));
}

#[test]
fn numbers_that_are_not_phones() {
    assert!(found("Transfer of 1,250.00 EUR, ref 123456789, ts 1732097531").is_empty());
    assert!(found("seen 2026-11-20 10:32:11 and 1732097531000").is_empty());
    assert!(found("Case OP-P5D8ZN4, invoice 2024-000123").is_empty());
}

#[test]
fn cards_with_separators_and_expiry() {
    let f = found("Card 4165 1728 6233 5734 (exp 09/28)");
    assert!(f.contains(&(DataCategory::Card, "4165 1728 6233 5734".into())), "{f:?}");
    assert!(has("pan 3797-1467-5794-753 used", DataCategory::Card, "3797-1467-5794-753"));
    assert!(found("order 4165172862335735 refused").is_empty(), "Luhn fails");
}

#[test]
fn ibans_with_trailing_words() {
    use DataCategory::Iban;
    assert!(has("to DE89 3704 0044 0532 0130 00 FOR rent", Iban, "DE89 3704 0044 0532 0130 00"));
    assert!(has("to NL91NDXT8833502951.", Iban, "NL91NDXT8833502951"));
    assert!(found("GB00XXXX00000000000000 is not valid").is_empty());
}

#[test]
fn named_personal_numbers_without_a_checksum() {
    use DataCategory::{DateOfBirth, NationalId};
    assert!(has("Kunden Erik, personnummer 850312-1234, ringde", NationalId, "850312-1234")); // SE
    assert!(has("rodné číslo 855312/1234", NationalId, "855312/1234")); // CZ
    assert!(has("CPR-nr. 120385-1234", NationalId, "120385-1234")); // DK
    assert!(has("Klient zadal kartu, nar. 12.3.1985", DateOfBirth, "12.3.1985")); // CZ birth cue
    // a number word alone is not enough
    assert!(found("case number 850312-1234").iter().all(|(k, _)| *k != NationalId));
    assert!(found("Campaign OP-P5D8ZN4, reference 20261120").iter().all(|(k, _)| *k != NationalId));
}

#[test]
fn national_ids_per_country() {
    use DataCategory::NationalId;
    assert!(has("NIR 1 84 12 76 451 089 46", NationalId, "1 84 12 76 451 089 46")); // FR
    assert!(has("CF RSSMRA85T10A562S", NationalId, "RSSMRA85T10A562S")); // IT
    assert!(has("DNI 12345678Z", NationalId, "12345678Z")); // ES
    assert!(has("DNI 12.345.678-Z", NationalId, "12.345.678-Z"));
    assert!(has("NIE X1234567L", NationalId, "X1234567L")); // ES
    assert!(has("BSN 123456782", NationalId, "123456782")); // NL
    assert!(has("PESEL 44051401359", NationalId, "44051401359")); // PL
    assert!(has("NN 85.07.30-033.28", NationalId, "85.07.30-033.28")); // BE
    assert!(has("Steuer-ID 86095742719", NationalId, "86095742719")); // DE
    assert!(has("NINO AB 12 34 56 C", NationalId, "AB 12 34 56 C")); // UK
    // after an order word a checksum is chance (bare PESEL: scan/national.rs)
    assert!(found("order 123456782 and 44051401359").is_empty());
    assert!(found("DNI 12345678A").is_empty(), "wrong letter");
}

#[test]
fn dates_only_as_birth_dates() {
    use DataCategory::DateOfBirth;
    assert!(has("née le 03/12/2004", DateOfBirth, "03/12/2004"));
    assert!(has("geboren am 14.06.1976", DateOfBirth, "14.06.1976"));
    assert!(has("nato il 5 maggio 1980", DateOfBirth, "5 maggio 1980"));
    assert!(has("DOB: 1974-04-27", DateOfBirth, "1974-04-27"));
    assert!(has("born June 14, 1976", DateOfBirth, "June 14, 1976"));
    // words between numbers are not months: the phone is still found
    assert!(has("ruf 06 oder 0612345678 an", DataCategory::Phone, "0612345678"));
    assert!(has("Tel. 06 1234 5678", DataCategory::Phone, "06 1234 5678"));
    assert!(has("tél 06.12.34.56.78", DataCategory::Phone, "06.12.34.56.78"));
    assert!(found("first seen 2026-11-20, expires 20.12.2026").is_empty());
}

#[test]
fn victim_ips_but_not_attacker_ips() {
    let rec = RecordCtx { value_ip: "47.89.17.225".parse().ok(), ..Default::default() };
    let f = found_with("C2 beacon seen from customer router 89.75.18.43 to 47.89.17.225.", &rec);
    assert_eq!(f, vec![(DataCategory::Ip, "89.75.18.43".into())]);
    assert!(found("C2 server 185.220.101.4 answered").is_empty());
    assert!(found("the kit redirects to 185.220.101.4 next").is_empty());
    let f = found("Beacon C2 z routera klienta 89.75.18.43 do 47.89.17.225");
    assert!(f.iter().any(|x| x.1 == "89.75.18.43"), "{f:?}");
    assert!(found("hash 070c415ed7e70cad19461922995d84016e51c6b36d6f3c9f0ac9056a4ad683cb").is_empty());
}

#[test]
fn names_after_cues_in_eu_languages() {
    use DataCategory::Name;
    assert!(has("Customer Vittoria Galvani (x)", Name, "Vittoria Galvani"));
    assert!(has("Le client Jean-Luc Moreau a saisi", Name, "Jean-Luc Moreau"));
    assert!(has("Kunde Zbigniew Brzęczyszczykiewicz hat", Name, "Zbigniew Brzęczyszczykiewicz"));
    assert!(has("la vittima Ottavio Quaranta ha", Name, "Ottavio Quaranta"));
    assert!(has("el cliente Íñigo Zubizarreta pagó", Name, "Íñigo Zubizarreta"));
    assert!(has("de klant Joost van der Berg heeft", Name, "Joost van der Berg"));
    assert!(has("poszkodowana Grażyna Wiśniewska zgłosiła", Name, "Grażyna Wiśniewska"));
    assert!(has("Opfer Hans-Theo Conradi, geboren", Name, "Hans-Theo Conradi"));
    assert!(has("le client M. Jean DUPONT a", Name, "Jean DUPONT"));
    assert!(has("Client DUPONT Jean, tel", Name, "DUPONT Jean"));
    assert!(has("Holder: MARIE CURIE.", Name, "MARIE CURIE"));
    assert!(has("zákazník Bohumil Hrabal uvedl", Name, "Bohumil Hrabal"));
    let f = found("Customer IBAN DE89 3704 0044 0532 0130 00");
    assert!(!f.iter().any(|f| f.0 == Name), "{f:?}");
}

#[test]
fn names_from_gazetteer_and_email_echo() {
    use DataCategory::Name;
    assert!(has("attachment opened by Simão Antunes yesterday", Name, "Simão Antunes"));
    let rec = RecordCtx { local_parts: vec!["qxwertyzorblat".into()], ..Default::default() };
    let f = found_with("reported by Qxwerty Zorblat today", &rec);
    assert!(f.contains(&(Name, "Qxwerty Zorblat".into())), "{f:?}");
}

#[test]
fn malware_and_campaigns_are_not_names() {
    assert!(found("Emotet loader, Cobalt Strike beacon, Lazarus Group, campaign OP-P5D8ZN4").is_empty());
    assert!(found("Malicious attachment. Campaign Kampagne").is_empty());
}

#[test]
fn addresses_across_languages() {
    use DataCategory::Address;
    assert!(has("domicilié 93, rue Denis. Dossier", Address, "93, rue Denis"));
    assert!(has("wohnt Köhlergasse 4, 26492 Arnstadt.", Address, "Köhlergasse 4, 26492 Arnstadt"));
    assert!(has("abita in Via Clelia 12, 20100 Milano.", Address, "Via Clelia 12, 20100 Milano"));
    assert!(has("vive en Calle de Alcalá 45, Madrid.", Address, "Calle de Alcalá 45, Madrid"));
    let f = found("ul. Szafirowa 12, 00-950 Warszawa");
    assert!(f.contains(&(Address, "ul. Szafirowa 12, 00-950 Warszawa".into())), "{f:?}");
    assert!(found("sent via SMS 3 times, route 66 blocked").is_empty());
    // a payment's address lines in capitals
    let f = found(":50K:/X\n61 CHEMIN DES VIGNES\n44000 NANTES");
    assert!(f.iter().any(|(c, t)| *c == Address && t.starts_with("61 CHEMIN DES VIGNES")), "{f:?}");
    assert!(found("SEE RFC 1918 AND RUE 12").iter().all(|(c, _)| *c != Address));
}

#[test]
fn credentials_after_cues() {
    use DataCategory::Credential;
    assert!(has("password: hunter2!", Credential, "hunter2!"));
    assert!(has("Passwort Sommer2024 benutzt", Credential, "Sommer2024"));
    assert!(has("login=jdupont", Credential, "jdupont"));
    assert!(found("the password was changed").is_empty());
}

#[test]
fn ascii_tokens_match_the_character_tokens() {
    for text in [
        "",
        "a",
        "-a",
        "a-",
        "a-b",
        "a--b",
        "l'homme d'Anna",
        "x' y",
        "abc123def",
        "e-mail: anna-maria@x.eu",
        "O'Neil,Smith-Jones.'quote'",
        "ab-'cd",
        "  two  words  ",
        "A-1-b'c'-d",
    ] {
        assert_eq!(super::ascii_tokens(text.as_bytes()), super::char_tokens(text), "{text:?}");
    }
}

#[test]
fn addresses_and_dates_in_brackets_are_seen() {
    // a bracket before the digits does not hand them to the number pattern
    assert!(has("the router (10.0.0.5) answered", DataCategory::Ip, "10.0.0.5"));
    assert!(has("customer router (89.75.18.43) seen", DataCategory::Ip, "89.75.18.43"));
    // and a phone with its area code in brackets is still one phone
    assert_eq!(found_of("call (030) 1234567", DataCategory::Phone), ["030) 1234567"]);
}

#[test]
fn a_card_in_dotted_groups_is_no_cisco_mac() {
    assert!(has("Carte 4556.7375.8210.4425 saisie", DataCategory::Card, "4556.7375.8210.4425"));
    // after a device cue the same shape stays a MAC
    assert!(has("MAC 0050.5600.0001 of the box", DataCategory::DeviceId, "0050.5600.0001"));
}

#[test]
fn a_password_after_its_verb_a_pin_and_a_card_code_go_a_password_state_stays() {
    for (text, want) in [
        ("La contraseña era girasol y la introdujo", "girasol"),
        ("wachtwoord is zonnebloem volgens de melder", "zonnebloem"),
        ("hasło to słoneczko, wpisane", "słoneczko"),
        ("mot de passe est tournesol", "tournesol"),
        ("PIN 5531 am Automaten", "5531"),
        ("security code 713 on the page", "713"),
        ("La psw è girasole, inserita", "girasole"),
        ("Elle a donné son code CVV 4 8 1 -> carte bloquée", "4 8 1"),
        ("PIN 5 5 3 1 am Automaten", "5 5 3 1"),
    ] {
        assert_eq!(found_of(text, DataCategory::Credential), [want], "{text}");
    }
    for text in [
        "the password was changed yesterday",
        "Passwort ist abgelaufen",
        "the password is required for login",
        "password policy requires 12 chars",
        "the pass 443 rule",
    ] {
        assert!(found_of(text, DataCategory::Credential).is_empty(), "{text}");
    }
}

#[test]
fn an_address_listed_with_a_host_name_or_after_a_hosting_verb_is_infrastructure() {
    for text in [
        "C2 over HTTPS to ms-teams-setup.top and 91.215.85.142.",
        "dominio agenzia-entrate-avviso.top, IP 194.26.29.113, attiva",
        "servidor de mando en actualizacion-banco.top:6606 y 45.88.67.190.",
        "o kit recolhe dados, alojado em 103.150.186.210.",
        "session cookies replayed from 103.75.201.4 within 4 minutes",
    ] {
        assert!(found_of(text, DataCategory::Ip).is_empty(), "{text}: {:?}", found(text));
    }
    // a victim word nearer wins; a lone address with no context still goes
    for (text, ip) in [
        ("the victim's router fritz.box and 84.86.201.19 were scanned", "84.86.201.19"),
        ("logged in from 84.86.201.19 yesterday", "84.86.201.19"),
    ] {
        assert_eq!(found_of(text, DataCategory::Ip), [ip], "{text}");
    }
}

#[test]
fn dotted_and_slashed_phones_of_belgium_and_france() {
    use DataCategory::Phone;
    for (text, want) in [
        ("Klant (tel. 0466/45.59.58) belde", "0466/45.59.58"),
        ("Caller ID also shown as 0468/09.78.81.", "0468/09.78.81"),
        ("rappeler le 0464.51.60.35 demain", "0464.51.60.35"),
        ("tel 0466-45.59.58 x", "0466-45.59.58"),
        ("appeler 06.74.24.24.00 svp", "06.74.24.24.00"),
    ] {
        let f = found(text);
        assert!(f.contains(&(Phone, want.into())), "{text}: {f:?}");
    }
}
