//! Tests of the decoding pass and of the families of issue 10 item 5, each
//! form with a positive and a negative (intelligence that must stay).

use super::*;
use DataCategory::*;

fn found(text: &str) -> Vec<(DataCategory, String)> {
    found_in(text, &Scope::TEXT, &RecordCtx::default())
}

fn found_in(text: &str, scope: &Scope, rec: &RecordCtx) -> Vec<(DataCategory, String)> {
    static D: OnceLock<Detectors> = OnceLock::new();
    let d = D.get_or_init(|| Detectors::new().unwrap());
    let mut out = Vec::new();
    d.scan(text, scope, rec, &mut out);
    out.into_iter()
        .filter_map(|f| match f.kind {
            SpanKind::Data(c) => Some((c, text[f.start..f.end].to_owned())),
            SpanKind::Url => None,
        })
        .collect()
}

fn has(text: &str, cat: DataCategory, s: &str) -> bool {
    let f = found(text);
    let ok = f.iter().any(|(c, t)| *c == cat && t == s);
    if !ok {
        eprintln!("{text:?}: {f:?}");
    }
    ok
}

fn none_of(text: &str, cat: DataCategory) -> bool {
    let f = found(text);
    let ok = f.iter().all(|(c, _)| *c != cat);
    if !ok {
        eprintln!("{text:?}: {f:?}");
    }
    ok
}

#[test]
fn spelled_out_emails_in_eight_languages() {
    assert!(has("from jan dot kowalski at gmail dot com today", Email, "jan dot kowalski at gmail dot com"));
    assert!(has("an hans Klammeraffe web Punkt de", Email, "hans Klammeraffe web Punkt de"));
    assert!(has("écrire à zoe arobase orange point fr", Email, "zoe arobase orange point fr"));
    assert!(has("escribe a pepe arroba telefonica punto net", Email, "pepe arroba telefonica punto net"));
    assert!(has("scrivere a gino chiocciola libero punto it", Email, "gino chiocciola libero punto it"));
    assert!(has("mail naar piet apenstaartje ziggo punt nl", Email, "piet apenstaartje ziggo punt nl"));
    assert!(has("pisz na ola małpa onet kropka pl", Email, "ola małpa onet kropka pl"));
    assert!(has("escreva para rui arroba sapo ponto pt", Email, "rui arroba sapo ponto pt"));
    assert!(has("reply anna [ at ] web [ dot ] de", Email, "anna [ at ] web [ dot ] de"));
    assert!(has("reply anna (at) gmx.de now", Email, "anna (at) gmx.de"));
    // "at" is an English word: no e-mail without a spelled dot
    assert!(none_of("payload hosted at evil-cdn.example.org at 10:00", Email));
    assert!(none_of("The actor struck at night. Attack at dawn.", Email));
}

#[test]
fn entities_escapes_percent_and_concatenation() {
    assert!(has("to ana&commat;outlook&period;com x", Email, "ana&commat;outlook&period;com"));
    assert!(has("to ana&#x40;hotmail&#46;com x", Email, "ana&#x40;hotmail&#46;com"));
    assert!(has(r#"{"u":"ana\u0040web.de"}"#, Email, r"ana\u0040web.de"));
    assert!(has("Referer: m=ana.b%2540tiscali.it end", Email, "ana.b%2540tiscali.it"));
    let f = found(r#"var to = "ana.b" + "@" + "yahoo.co.uk";"#);
    assert!(f.iter().any(|(c, t)| *c == Email && t.contains("ana.b") && t.contains("yahoo")), "{f:?}");
    assert!(has("mail ana\u{200b}@\u{200b}bt.com", Email, "ana\u{200b}@\u{200b}bt.com"));
    // entities of plain text are not data
    assert!(found("Tom &amp; Jerry &lt;script&gt; 50&#37; off").is_empty());
}

#[test]
fn blobs_jwt_and_basic() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let url = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let tok = b64("jan.kowalski@wp.pl");
    assert!(has(&format!("data {tok} end"), Email, &tok));
    let hex = hex::encode("jan.kowalski@wp.pl");
    assert!(has(&format!("payload {hex}"), Email, &hex));
    let basic = b64("jdoe:Secret123");
    assert!(has(&format!("Authorization: Basic {basic}"), Credential, &basic));
    let jwt = format!("{}.{}.sig_sig_sig", url(r#"{"alg":"HS256"}"#), url(r#"{"sub":"1","name":"X Y"}"#));
    assert!(has(&format!("Authorization: Bearer {jwt}"), Credential, &jwt));
    let jwt2 = format!("{}.{}.sig", url(r#"{"alg":"HS256"}"#), url(r#"{"e":"ana@gmail.com"}"#));
    // a JWT is also a bearer secret (`secrets.rs`): either label removes it whole
    let cookie = format!("session={jwt2}; path=/");
    assert!(has(&cookie, Email, &jwt2) || has(&cookie, Credential, &jwt2), "{:?}", found(&cookie));
    // hashes, harmless base64 and ids stay
    assert!(found("sha256 9f2b5c0e4d1a7b3c8e6f0a2d4b6c8e0f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b").is_empty());
    assert!(found("md5 d41d8cd98f00b204e9800998ecf8427e, b64 VGhpcyBpcyBhIHRlc3Q=").is_empty());
    let jwt3 = format!("{}.{}.sig", url(r#"{"alg":"HS256"}"#), url(r#"{"exp":1732097531}"#));
    assert!(none_of(&format!("token {jwt3}"), Email));
}

#[test]
fn decoding_is_bounded_and_fails_closed() {
    // four levels of percent-encoding: more than the depth, removed anyway
    let f = found("x ana%2525252540web.de y");
    assert!(!f.is_empty(), "{f:?}");
    // a JWT whose payload does not decode is removed
    assert!(has("Bearer eyJhbGciOiJIUzI1NiJ9.AAAA_x-8.sig", Credential, "eyJhbGciOiJIUzI1NiJ9.AAAA_x-8.sig"));
    // long input: decoding work stays bounded
    let long = "QUFBQUFBQUFBQUFBQUFB ".repeat(2000);
    let _ = found(&long);
}

#[test]
fn logins_after_cues_with_a_space_or_quotes() {
    assert!(has("Benutzerkennung mkrause77 eingegeben", Credential, "mkrause77"));
    assert!(has("utenza g.rossi_81 inserita", Credential, "g.rossi_81"));
    assert!(has("inlognaam j.devries2 buit", Credential, "j.devries2"));
    assert!(has("identyfikator 73645128 podany", Credential, "73645128"));
    assert!(has("compte \"g.lheureux75\" volé", Credential, "g.lheureux75"));
    assert!(has("identifiant « glheureux » volé", Credential, "glheureux"));
    assert!(has("ww: Tulpen!88", Credential, "Tulpen!88"));
    assert!(has("PW Sonnenblume77 found", Credential, "Sonnenblume77"));
    assert!(has("user/pass admin/Zima2024! tried", Credential, "admin/Zima2024!"));
    assert!(has("combo ana.b@outlook.com:Nordlys#2024 x", Credential, "Nordlys#2024"));
    // prose and indicators stay
    assert!(none_of("the login page https://x.example/login.php and User-Agent: Mozilla/5.0", Credential));
    assert!(none_of("account takeover attempts: 45, user 5 times", Credential));
    assert!(none_of("C2 server evil.example.com:8443", Credential));
}

#[test]
fn userinfo_in_decoded_redirects() {
    let f = found_in("https://bruno:Marisco99@webmail.example.pt/inbox", &Scope::URL_PART, &RecordCtx::default());
    assert!(f.iter().any(|(c, t)| *c == Credential && t.starts_with("bruno:Marisco99")), "{f:?}");
}

#[test]
fn birth_dates_in_more_forms() {
    assert!(has("geb. 12.03.85, Vorgang", DateOfBirth, "12.03.85"));
    assert!(has("DOB 3 Mar '79, lure", DateOfBirth, "3 Mar '79"));
    assert!(has("nacida el 5 de mayo de 1981, x", DateOfBirth, "5 de mayo de 1981"));
    assert!(has("born on the 21st of October 1968", DateOfBirth, "21st of October 1968"));
    assert!(has("D.O.B: March 3rd, 1985 per", DateOfBirth, "March 3rd, 1985"));
    assert!(has("geb. 14-Feb-1990 x", DateOfBirth, "14-Feb-1990"));
    assert!(has("data urodzenia 19770915, x", DateOfBirth, "19770915"));
    assert!(has("naiss. 07/11/1972 x", DateOfBirth, "07/11/1972"));
    assert!(has("* 23.08.1966 in Celle", DateOfBirth, "23.08.1966"));
    assert!(has("F. nac. 02/04/1988", DateOfBirth, "02/04/1988"));
    assert!(has("ur. 30.01.1959 w Radomiu", DateOfBirth, "30.01.1959"));
    assert!(has("DDN : 09/09/1961 ;", DateOfBirth, "09/09/1961"));
    // a birth year alone, a day and a month in digits
    assert!(has("Jahrgang 1947, wohnhaft", DateOfBirth, "1947"));
    assert!(has("the caller, born in 1953, said", DateOfBirth, "1953"));
    assert!(has("rocznik 1947, ur. 3.08 w Radomiu", DateOfBirth, "1947"));
    assert!(has("rocznik 1947, ur. 3.08 w Radomiu", DateOfBirth, "3.08"));
    assert!(has("née en 1953 à Lyon", DateOfBirth, "1953"));
    assert!(has("geboortejaar: 1962", DateOfBirth, "1962"));
    assert!(none_of("born in 1953-era code, geboren 12345", DateOfBirth));
    // month first, partial dates, US order with a two-digit year
    assert!(has("date of birth: May 1st. Credentials", DateOfBirth, "May 1st"));
    assert!(has("(DOB May-21)", DateOfBirth, "May-21"));
    assert!(has("DOB 21-May, x", DateOfBirth, "21-May"));
    assert!(has("date of birth 05/2021 x", DateOfBirth, "05/2021"));
    assert!(has("Geburtsdatum des Opfers: 05/21/21.", DateOfBirth, "05/21/21"));
    assert!(has("Geboortedatum van het slachtoffer: 1972. Inlog", DateOfBirth, "1972"));
    assert!(has("Data de nascimento da vítima: 5/2021. x", DateOfBirth, "5/2021"));
    assert!(has("Date de naissance de la victime : 5/21. x", DateOfBirth, "5/21"));
    // timestamps and dates without a birth cue stay
    assert!(none_of("seen 2026-11-20T10:32:11Z, ts 20261120, expires 20.12.26", DateOfBirth));
}

#[test]
fn phones_in_links() {
    assert!(has("join wa.me/34612987345 now", Phone, "34612987345"));
    assert!(has("t.me/+447700912345", Phone, "+447700912345"));
    assert!(has("tel:0612983476", Phone, "0612983476"));
    assert!(has("callto:0049151298765432", Phone, "0049151298765432"));
    assert!(has("sms:393471298765", Phone, "393471298765"));
    assert!(has("whatsapp://send?phone=4915129876543", Phone, "4915129876543"));
    assert!(has("dest=%2B48601298745", Phone, "%2B48601298745"));
    // numbers in other URL paths stay
    assert!(none_of("https://evil.example.com/item/33612345678", Phone));
}

#[test]
fn accounts_lower_case_nbsp_line_breaks_domestic() {
    assert!(has("payee de89 3704 0044 0532 0130 00 x", Iban, "de89 3704 0044 0532 0130 00"));
    assert!(has(
        "auf DE89\u{a0}3704\u{a0}0044\u{a0}0532\u{a0}0130\u{a0}00 x",
        Iban,
        "DE89\u{a0}3704\u{a0}0044\u{a0}0532\u{a0}0130\u{a0}00"
    ));
    assert!(has("an\nFR76 3000 6000\n0112 3456 7890 189\nx", Iban, "FR76 3000 6000\n0112 3456 7890 189"));
    assert!(has("RIB 30006 00001 12345678901 89 x", Iban, "30006 00001 12345678901 89"));
    assert!(has("cuenta 2100 0418 45 0200051332 x", Iban, "2100 0418 45 0200051332"));
    assert!(has("NIB 0002 0123 12345678901 54 x", Iban, "0002 0123 12345678901 54"));
    assert!(has("na 61 1090 1014 0000 0712 1981 2874, x", Iban, "61 1090 1014 0000 0712 1981 2874"));
    assert!(has("Kontonummer 2918374650, BLZ 37040044", Iban, "2918374650"));
    assert!(has("Kontonummer 2918374650, BLZ 37040044", Iban, "37040044"));
    // hashes and long reference numbers stay
    assert!(found("ab12cd34ef56ab78cd90ef12ab34cd56").is_empty());
    assert!(none_of("order 2024 0000 1234 5678 9012", Iban));
}

#[test]
fn addresses_without_street_words() {
    assert!(has("Lieferung Am Lindenhof 7, 31675 Bückeburg.", Address, "Am Lindenhof 7, 31675 Bückeburg"));
    assert!(has(
        "livraison lieu-dit Les Granges Basses, 24560 Issigeac.",
        Address,
        "lieu-dit Les Granges Basses, 24560 Issigeac"
    ));
    assert!(has(
        "consegna in località Case Sparse 14, 06034 Foligno.",
        Address,
        "località Case Sparse 14, 06034 Foligno"
    ));
    assert!(has(
        "entrega en Urbanización Los Almendros 23, Benahavís.",
        Address,
        "Urbanización Los Almendros 23, Benahavís"
    ));
    assert!(has("paczka: Kraków przy Długiej 5 x", Address, "przy Długiej 5"));
    let f = found("parcel for Bramble Cottage, Mill Lane, Little Snoring, NR21 0JB (x)");
    assert!(
        f.iter().any(|(c, t)| *c == Address && t.starts_with("Bramble Cottage") && t.contains("NR21 0JB")),
        "{f:?}"
    );
    // "Am Montag 12 Uhr", "Im Jahr 2024" are not addresses
    assert!(none_of("Am Montag 12 Uhr, Im Jahr 2024 gesehen. White House, Washington.", Address));
}

#[test]
fn victim_and_non_global_ips() {
    assert!(has("victim host ::ffff:89.75.18.43 beaconed", Ip, "::ffff:89.75.18.43"));
    assert!(has("from 89-75-18-43.dynamic.chello.pl seen", Ip, "89-75-18-43.dynamic.chello.pl"));
    assert!(has("client dsl-594b122b.pool.kabelnet.example seen", Ip, "dsl-594b122b.pool.kabelnet.example"));
    assert!(has("Opfer über p5b712d07.dip0.t-ipconnect.de", Ip, "p5b712d07.dip0.t-ipconnect.de"));
    assert!(has("victim ip5f5a3b2c.dynamic.kabel.example online", Ip, "ip5f5a3b2c.dynamic.kabel.example"));
    assert!(has("C2 server contacted; my ip 91.64.23.187 was scanned", Ip, "91.64.23.187"));
    for private in ["10.20.30.41", "192.168.77.12", "127.0.0.1", "fe80::1ff:fe23:4567:890a%eth0", "2001:db8::1", "::1"]
    {
        assert!(has(&format!("C2 server {private} seen"), Ip, private), "{private}");
    }
    // attacker infrastructure stays
    assert!(found("C2 server 185.220.101.44").is_empty());
    assert!(none_of("C2 185-220-101-44.example-hoster.net", Ip));
    let rec = RecordCtx { host: Some("1-2-3-4.evil.example".into()), ..Default::default() };
    assert!(found_in("beacon 1-2-3-4.evil.example", &Scope::TEXT, &rec).is_empty());
}

#[test]
fn idn_emails_and_long_cards() {
    assert!(has("to ivan@xn--80a1acny.xn--p1ai x", Email, "ivan@xn--80a1acny.xn--p1ai"));
    assert!(has("to franz@münchen.de x", Email, "franz@münchen.de"));
    assert!(has("card 4111 1111 1111 1111 110 x", Card, "4111 1111 1111 1111 110"));
    assert!(has("Mir 2200 0000 0000 0004 x", Card, "2200 0000 0000 0004"));
    assert!(has("UnionPay 6200000000000005 x", Card, "6200000000000005"));
    assert!(none_of("ts 1732097531000 and 1732097531000000", Card));
}
