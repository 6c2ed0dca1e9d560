//! A surname alone as the subject of a sentence (`Baker confirmed…`,
//! `Castillo dice que…`, `Fontaine a confirmé…`): many surnames are also
//! words of the vocabulary (baker, castillo, fontaine, visser, sowa), and a
//! capitalised word at a sentence start passes as one. A common noun does
//! not stand bare, with no article, as the subject of a verb of saying or
//! doing a person does; a name does.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::{
    Build, Class, Judged, NOUN, SECURITY, VERY_COMMON, Verdict, cue_words, starts_sentence, vocab, with_lower,
};

/// Verbs (third person, past and present) and participles a person does in
/// a fraud note, in the 8 languages. Written for tamis.
const PERSON_VERBS: &[&str] = &[
    // en: verbs of saying only (notes drop articles: "Caller gave…",
    // "Attachment received…")
    "said",
    "says",
    "confirmed",
    "confirms",
    "stated",
    "told",
    "claimed",
    "claims",
    "denied",
    "denies",
    "explained",
    "insisted",
    "admitted",
    "recalled",
    // de
    "bestätigte",
    "bestätigt",
    "sagte",
    "sagt",
    "erklärte",
    "erklärt",
    "meldete",
    "bestreitet",
    "bestritt",
    "erhielt",
    "zahlte",
    "überwies",
    "klickte",
    "rief",
    "gab",
    "gibt",
    "schilderte",
    // fr
    "confirme",
    "déclare",
    "affirme",
    "indique",
    "explique",
    "nie",
    "dit",
    "conteste",
    "reconnaît",
    "signale",
    "confirmé",
    "déclaré",
    "affirmé",
    "indiqué",
    "expliqué",
    "nié",
    "contesté",
    "reconnu",
    "signalé",
    "rappelé",
    "reçu",
    "payé",
    "cliqué",
    "appelé",
    // es
    "dice",
    "dijo",
    "confirmó",
    "confirma",
    "declaró",
    "declara",
    "afirma",
    "afirmó",
    "indica",
    "indicó",
    "explicó",
    "explica",
    "negó",
    "niega",
    "recibió",
    "pagó",
    "transfirió",
    "denunció",
    "autorizó",
    "reconoce",
    "reconoció",
    "perdió",
    "llamó",
    "asegura",
    "aseguró",
    "confirmado",
    "declarado",
    "llamado",
    // it
    "disse",
    "conferma",
    "confermò",
    "dichiara",
    "dichiarò",
    "afferma",
    "affermò",
    "riferisce",
    "riferì",
    "negò",
    "ricevette",
    "pagò",
    "denunciò",
    "confermato",
    "dichiarato",
    "richiamato",
    "chiamato",
    "riferito",
    "negato",
    "ricevuto",
    "pagato",
    "cliccato",
    // nl
    "bevestigde",
    "bevestigt",
    "zegt",
    "zei",
    "verklaarde",
    "verklaart",
    "meldde",
    "meldt",
    "ontkent",
    "ontkende",
    "betaalde",
    "ontving",
    "belde",
    "bevestigd",
    "verklaard",
    "gemeld",
    "gebeld",
    // pl
    "potwierdził",
    "potwierdziła",
    "powiedział",
    "powiedziała",
    "twierdzi",
    "zgłosił",
    "zgłosiła",
    "zeznał",
    "zeznała",
    "otrzymał",
    "otrzymała",
    "zapłacił",
    "zapłaciła",
    "przelał",
    "przelała",
    "zaprzecza",
    "kliknął",
    "kliknęła",
    "podał",
    "podała",
    "oddzwonił",
    "oddzwoniła",
    "zadzwonił",
    "zadzwoniła",
    // pt
    "confirmou",
    "disse",
    "diz",
    "declarou",
    "afirmou",
    "indicou",
    "explicou",
    "negou",
    "nega",
    "recebeu",
    "pagou",
    "transferiu",
    "denunciou",
    "autorizou",
    "reconheceu",
    "perdeu",
    "ligou",
    "confirmado",
];

fn person_verbs() -> &'static HashSet<&'static str, Build> {
    static V: OnceLock<HashSet<&'static str, Build>> = OnceLock::new();
    V.get_or_init(|| PERSON_VERBS.iter().copied().collect())
}

/// Auxiliaries before a participle of [`PERSON_VERBS`] (`a confirmé`,
/// `ha richiamato`, `hat bestätigt`, `heeft gebeld`, `has confirmed`).
const AUXILIARIES: &[&str] = &["a", "ha", "hat", "heeft", "has", "had", "have", "habe", "hatte", "ist", "è", "é"];

/// Bare subjects that are no person's name: teams, institutions, crowds.
const COLLECTIVES: &[&str] = &[
    "staff",
    "support",
    "security",
    "management",
    "team",
    "everyone",
    "nobody",
    "someone",
    "somebody",
    "investigators",
    "analysts",
    "fraud",
    "helpdesk",
    "dispatch",
    "control",
    "operations",
    "compliance",
    "legal",
    "branch",
    "merchant",
    "issuer",
    "acquirer",
    "tech",
    "it",
    "soc",
    "cert",
    "csirt",
    "abuse",
    // roles and kin a note names without an article, in the 8 languages
    "caller",
    "sender",
    "recipient",
    "payee",
    "subscriber",
    "employee",
    "manager",
    "officer",
    "witness",
    "complainant",
    "adviser",
    "advisor",
    "agent",
    "cashier",
    "clerk",
    "teller",
    "applicant",
    "holder",
    "owner",
    "tenant",
    "landlord",
    "seller",
    "buyer",
    "courier",
    "driver",
    "neighbour",
    "neighbor",
    "spouse",
    "husband",
    "wife",
    "son",
    "daughter",
    "mother",
    "father",
    "partner",
    "friend",
    "colleague",
    "appelant",
    "conseiller",
    "employé",
    "témoin",
    "voisin",
    "mari",
    "épouse",
    "fils",
    "fille",
    "mère",
    "père",
    "llamante",
    "asesor",
    "empleado",
    "testigo",
    "vecino",
    "marido",
    "esposa",
    "hijo",
    "hija",
    "madre",
    "padre",
    "titular",
    "chiamante",
    "consulente",
    "impiegato",
    "testimone",
    "vicino",
    "moglie",
    "figlio",
    "figlia",
    "titolare",
    "beller",
    "adviseur",
    "medewerker",
    "getuige",
    "buurman",
    "man",
    "vrouw",
    "zoon",
    "dochter",
    "moeder",
    "vader",
    "dzwoniący",
    "doradca",
    "pracownik",
    "świadek",
    "sąsiad",
    "mąż",
    "żona",
    "syn",
    "córka",
    "matka",
    "ojciec",
    "consultor",
    "funcionário",
    "testemunha",
    "vizinho",
    "filho",
    "filha",
    "mãe",
    "pai",
];

/// A capitalised vocabulary word that starts a sentence and is followed by a
/// verb of [`PERSON_VERBS`] (maybe after an auxiliary) becomes `[NAME]`;
/// German nouns, security words, very common words, cue words (`Kunde`,
/// `Victim`) and [`COLLECTIVES`] stay.
pub(super) fn bare_subjects(j: &mut Judged, at_start: bool) {
    let Judged { text, chunks, verdicts, rewritten, tally, .. } = j;
    let (text, chunks) = (*text, *chunks);
    let core = |k: usize| &text[chunks[k].core.0..chunks[k].core.1];
    // one space, nothing else, between two words
    let joined = |k: usize| {
        chunks[k].core.1 == chunks[k].end
            && chunks[k + 1].core.0 == chunks[k + 1].start
            && chunks[k + 1].start == chunks[k].end + 1
    };
    let verbs = person_verbs();
    let verb = |k: usize| verbs.contains(core(k));
    for i in 0..chunks.len().saturating_sub(1) {
        // the first byte of a capital (ASCII or not) before anything else
        let b0 = text.as_bytes().get(chunks[i].core.0).copied().unwrap_or(0);
        if !(b0.is_ascii_uppercase() || b0 >= 0xC0)
            || !matches!(verdicts[i], Verdict::Keep | Verdict::Weak)
            || !joined(i)
        {
            continue;
        }
        let w = core(i);
        let mut cs = w.chars();
        // cheap tests first: a capitalised word of letters, then the verb
        if !cs.next().is_some_and(char::is_uppercase) || !cs.all(char::is_lowercase) || w.chars().nth(2).is_none() {
            continue;
        }
        if !((i == 0 && at_start) || starts_sentence(text, chunks, i)) {
            continue;
        }
        let followed =
            verb(i + 1) || (AUXILIARIES.contains(&core(i + 1)) && i + 2 < chunks.len() && joined(i + 1) && verb(i + 2));
        if !followed {
            continue;
        }
        let plain = vocab().flags_of(w) & (NOUN | SECURITY | VERY_COMMON) == 0
            && !with_lower(w, |l| COLLECTIVES.contains(&l) || cue_words().contains(l));
        if plain {
            verdicts[i] = Verdict::Replaced;
            rewritten[i] = Some(Class::Name.label().to_owned());
            tally.add(Class::Name);
        }
    }
}
