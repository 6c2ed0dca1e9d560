#!/usr/bin/env python3
"""Builds src/privacy/vocab/words.txt.gz, the general and security vocabulary
of the default-deny mode (docs/privacy.md, "Default-deny").

Inputs (none of them is Faker, which generated the test corpora):
  * Debian word lists, unpacked with `apt-get download wamerican wngerman
    wfrench witalian wspanish wportuguese wpolish wdutch` and `dpkg-deb -x`:
    /usr/share/dict/{american-english,ngerman,french,italian,spanish,
    portuguese,polish,dutch} under --dict-root. Case is kept in these lists,
    which is what keeps personal names out: only entries attested in lower
    case are taken (and, for German, capitalised nouns, minus common German
    surnames that are also nouns, tools/german-surname-nouns.txt, and minus
    the first names of the gazetteer, since the German list capitalises proper
    names as well).
    The French and Spanish lists hold no capitalised entry at all: they write
    proper names in lower case too (españa, sevilla, lópez, mathieu), so a
    word of these two lists is dropped when the hunspell dictionary of its
    language (below) writes it only capitalised and it is no inflection of a
    lower-case word (same stem rule as for `f`).
  * Debian hunspell dictionaries, used only as evidence of case and of stems
    (no word is taken from them): `apt-get download hunspell-es
    hunspell-fr-classical hunspell-it hunspell-pt-pt`, `dpkg-deb -x` under
    --hunspell-root: the stems of /usr/share/hunspell/{es_ES,fr,it_IT,
    pt_PT}.dic (affixes are not expanded).
  * wordfreq 3.x (PyPI, data CC-BY-SA 4.0): its ranking keeps the --top most
    frequent forms of each language (the lists hold millions of rare
    inflected forms); and frequent forms a list lacks (Italian and Spanish
    inflections) are added when their Zipf frequency is >= --min-zipf, they
    are not a first name of the gazetteer, no list writes them only
    capitalised (proper names), they are an inflection of a word of that
    language (they share all but their last two letters, the last one for
    words of up to 4 letters, with another lower-case word of the list or
    a lower-case hunspell stem of the language that has at most 3 letters
    more than the shared stem, of at least 2 letters, accents and ß/ss
    aside: surnames such as thomsen, valsecchi, lefebvre, fernández have
    none; 2 letters for the caseless lists' rule above), and no hunspell
    dictionary writes them only capitalised (unless they are the -s/-es
    plural of a lower-case word: `caminos`).
  * MISP galaxy clusters (CC0), as bundled by PyPI `pymispgalaxies`: malware,
    tool, ransomware and threat-actor names with their synonyms. One-word
    names that are first names of the gazetteer (src/privacy/first_names.txt)
    are left out; names of several words become phrases (matched whole).
  * tools/security-words.txt (written for tamis): products, vendors,
    protocols, acronyms and place names analysts write capitalised.

Output: one gzip text file, one entry per line, `<flags> <entry>` in lower
case, flags being letters:
  l  a word of a general vocabulary, attested in lower case
  f  a frequent form no list has (wordfreq only), an inflection of a word of
     its language: accepted in lower case only
  n  a German noun (may stand capitalised mid-sentence)
  s  a security or product word (may stand capitalised anywhere)
  c  a common word (wordfreq Zipf >= 4 in a language that has it in lower case)
  v  a very common word (Zipf >= 5.5): never read as part of a name
  p  a security phrase of several words (space-separated), matched whole

Check: tools/surname-check.txt (common European surnames written for tamis,
not from Faker) is measured, not used: the script prints how many of them
the vocabulary accepts in lower case.

Patches of the committed list (the other inputs unchanged):
  tools/build-vocab.py --patch-security   (after editing security-words.txt)
  tools/build-vocab.py --patch-words      (after editing extra-words.txt)
  tools/build-vocab.py --patch-de-nouns DICT_ROOT HUNSPELL_ROOT

Usage: tools/build-vocab.py --dict-root /tmp/x --hunspell-root /tmp/h
         --galaxy DIR/clusters [--top 120000]
  (DIR: pymispgalaxies/data/misp-galaxy in the venv's site-packages)
"""
import argparse
import glob
import gzip
import json
import os
import re
import sys
import unicodedata

LANGS = {
    "en": "american-english",
    "de": "ngerman",
    "fr": "french",
    "it": "italian",
    "es": "spanish",
    "pt": "portuguese",
    "pl": "polish",
    "nl": "dutch",
}
# hunspell dictionaries read for case and stems (not for words)
HUNSPELL = {"es": "es_ES", "fr": "fr", "it": "it_IT", "pt": "pt_PT"}
# Debian lists that write every entry in lower case, proper names included
NO_CASE = ("es", "fr")
# the stem rule: an inflection differs from its word in its last CUT letters
# (SHORT_CUT for words of up to SHORT letters), the word having at most TAIL
# letters after the shared stem of at least MIN_STEM letters (NAME_TAIL when
# it decides whether a caseless list's word is a proper name: nuestra from
# nuestro stays, lópez from lopeño does not)
CUT, SHORT, SHORT_CUT, TAIL, NAME_TAIL, MIN_STEM = 2, 4, 1, 3, 2, 2
GALAXIES = [
    "malpedia", "mitre-malware", "mitre-tool", "tool", "threat-actor", "mitre-intrusion-set",
    "ransomware", "banker", "rat", "backdoor", "botnet", "exploit-kit", "android", "stealer",
    "cryptominers", "microsoft-activity-group", "mitre-mobile-attack-malware", "branded_vulnerability",
]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORD = re.compile(r"^[^\W\d_]+(?:['’-][^\W\d_]+)*$")


def lines(path):
    with open(path, encoding="utf-8") as fh:
        return [l.strip() for l in fh if l.strip() and not l.startswith("#")]


def nfc(s):
    return unicodedata.normalize("NFC", s)


def dictionary(root, lang):
    """(lower-case entries, capitalised German nouns) of one Debian list."""
    lower, nouns = set(), set()
    for w in lines(os.path.join(root, "usr/share/dict", LANGS[lang])):
        w = nfc(w)
        if not WORD.match(w) or "'" in w and lang == "en":
            continue
        if w == w.lower():
            lower.add(w)
        elif lang == "de" and w[0].isupper() and w[1:] == w[1:].lower():
            nouns.add(w.lower())
    if lang == "de":
        # wngerman lists "zugriff" once, in lower case, when a verb form has
        # the same letters: a capitalised inflection (Zugriffe, Zugriffs)
        # shows it is a noun too
        nouns |= {w for w in lower if any(w + suf in nouns for suf in ("s", "es", "e", "en", "n", "er", "ern"))}
    return lower, nouns


def capitalised(root, lang):
    """Lower-cased forms of the entries a Debian list writes capitalised."""
    out = set()
    for w in lines(os.path.join(root, "usr/share/dict", LANGS[lang])):
        w = nfc(w)
        if WORD.match(w) and w[0].isupper():
            out.add(w.lower())
    return out


def hunspell_stems(root, lang):
    """(lower-case stems, lower-cased capitalised stems) of a hunspell .dic."""
    lower, upper = set(), set()
    with open(os.path.join(root, "usr/share/hunspell", HUNSPELL[lang] + ".dic"), encoding="utf-8") as fh:
        next(fh)  # the entry count
        for line in fh:
            w = nfc(re.split(r"[/\t ]", line.strip(), maxsplit=1)[0])
            if not WORD.match(w):
                continue
            (lower if w == w.lower() else upper).add(w.lower())
    return lower, upper


def fold(w):
    """Without accents, ß as ss: inflections move accents (decisión,
    decisiones; imagen, imágenes) and Swiss German writes ss (grossen)."""
    d = unicodedata.normalize("NFD", w.replace("ß", "ss"))
    return "".join(c for c in d if not unicodedata.combining(c))


def stem_index(words, tail=TAIL):
    """Folded stem -> up to two words that extend it by at most `tail` letters."""
    ix = {}
    for u in words:
        f = fold(u)
        for k in range(tail + 1):
            if len(f) - k >= MIN_STEM:
                s = ix.setdefault(f[: len(f) - k], set())
                if len(s) < 2:
                    s.add(u)
    return ix


def inflected(w, ix):
    """Whether `w` is an inflection of another word of the index."""
    f = fold(w)
    stem = f[: -(SHORT_CUT if len(f) <= SHORT else CUT)]
    return len(stem) >= MIN_STEM and bool(ix.get(stem, set()) - {w})


# hunspell de_DE (igerman98) affix flags of nouns and the ending each adds
DE_NOUN_FLAGS = {"N": "n", "P": "en", "S": "s", "E": "e", "F": "nen"}


def hunspell_de_nouns(hroot):
    """German nouns the Debian word list misses (it writes "anzeige" and
    "sperre" only in lower case, as verb forms): the capitalised stems of the
    hunspell de_DE dictionary that carry a noun flag (`m` or a declension
    flag) and not `h` (a capitalised non-noun: Ein, Über), each with the
    plural and genitive forms its flags license (Angabe/N -> angaben)."""
    out = set()
    path = os.path.join(hroot, "usr/share/hunspell/de_DE.dic")
    with open(path, encoding="utf-8", errors="replace") as fh:
        next(fh)
        for line in fh:
            w, _, fl = line.strip().partition("/")
            w = nfc(w)
            if "h" in fl or not any(c in fl for c in "mNPSEF"):
                continue
            if len(w) >= 3 and w[0].isupper() and w[1:] == w[1:].lower() and w.isalpha():
                out.add(w.lower())
                out |= {w.lower() + end for c, end in DE_NOUN_FLAGS.items() if c in fl}
    return out


def add_hunspell_de_nouns(entries, zipf, dict_root, hroot, wordfreq):
    """Adds `n` to the hunspell nouns (`hunspell_de_nouns`) of Zipf >= 3.0 in
    German that are no German surname-noun, no first name of the gazetteer,
    no surname of tools/surname-check.txt and no proper name of another
    language's list (written there only capitalised)."""
    first_names = {nfc(l).lower() for l in lines(os.path.join(ROOT, "src/privacy/first_names.txt"))}
    surname_nouns = {nfc(l).lower() for l in lines(os.path.join(HERE, "german-surname-nouns.txt"))}
    surnames = {nfc(l).lower() for l in lines(os.path.join(HERE, "surname-check.txt"))}
    other = [lang for lang in LANGS if lang != "de"]
    proper_other = set().union(*(capitalised(dict_root, lang) for lang in other)) - set().union(
        *(dictionary(dict_root, lang)[0] for lang in other)
    )
    added = 0
    for w in hunspell_de_nouns(hroot) - first_names - surname_nouns - surnames - proper_other:
        z = wordfreq.zipf_frequency(w, "de", wordlist="large")
        if z < 3.0 or "n" in entries.get(w, ""):
            continue
        entries[w] = entries.get(w, "") + "n"
        zipf[w] = max(zipf.get(w, 0.0), z)
        added += 1
    return added


def case_evidence(root, dicts):
    """Drops the proper names of the caseless lists (in place); returns the
    stem index of each language and the forms a hunspell dictionary writes
    only capitalised."""
    hun = {lang: hunspell_stems(root, lang) for lang in HUNSPELL}
    stems = {lang: stem_index(dicts[lang][0] | hun.get(lang, (set(),))[0]) for lang in LANGS}
    for lang in NO_CASE:
        # proper names the caseless list writes in lower case (lópez, sevilla)
        lower, upper = dicts[lang][0], hun[lang][1] - hun[lang][0]
        near = stem_index(lower | hun[lang][0], NAME_TAIL)
        names = {w for w in lower & upper if not inflected(w, near)}
        lower -= names
        print(lang, "proper names left out:", len(names))
    # what a hunspell dictionary writes only capitalised (Díaz, Perrin,
    # Huesca), except the plural of a lower-case word (Caminos)
    hun_lower = set().union(*(d[0] for d in dicts.values()), *(h[0] for h in hun.values()))
    hun_caps = {
        w
        for w in set().union(*(h[1] for h in hun.values())) - hun_lower
        if not (w.endswith("s") and (w[:-1] in hun_lower or w[:-2] in hun_lower))
    }
    return stems, hun_caps


def surname_check(entries):
    """How many check-list surnames are accepted in lower case, by flag."""
    names = {nfc(l).lower() for l in lines(os.path.join(HERE, "surname-check.txt"))}
    acc = {w: entries[w] for w in names if w in entries and set(entries[w]) & set("lnfs")}
    # each by the first of its flags in s, l, n, f (the one that lets it in)
    first = [next(f for f in "slnf" if f in v) for v in acc.values()]
    by = {f: first.count(f) for f in "slnf"}
    print(f"surname check: {len(acc)} of {len(names)} accepted in lower case (by flag {by})")
    print("  f:", " ".join(sorted(w for w, v in acc.items() if not set(v) & set("lns"))))


def galaxy_names(gdir, first_names):
    words, phrases = set(), set()
    for g in GALAXIES:
        path = os.path.join(gdir, g + ".json")
        if not os.path.exists(path):
            continue
        for v in json.load(open(path, encoding="utf-8")).get("values", []):
            names = [v.get("value", "")] + list((v.get("meta") or {}).get("synonyms", []) or [])
            for n in names:
                n = nfc(n).strip().lower()
                n = re.sub(r"\s*\(.*?\)\s*", " ", n).strip()
                toks = [t for t in re.split(r"[\s]+", n) if t]
                if not toks or len(toks) > 4 or any(len(t) > 40 for t in toks):
                    continue
                if len(toks) == 1:
                    t = toks[0]
                    if len(t) >= 3 and t not in first_names and WORD.match(t.replace(".", "")) is not None:
                        words.add(t)
                else:
                    phrases.add(" ".join(toks))
    return words, phrases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dict-root", required=True)
    ap.add_argument("--hunspell-root", required=True, help="hunspell-{es,fr-classical,it,pt-pt} unpacked")
    ap.add_argument("--galaxy", required=True, help="misp-galaxy clusters/ directory")
    ap.add_argument("--top", type=int, default=120000)
    ap.add_argument("--min-zipf", type=float, default=2.5, help="frequency floor for forms missing from a list")
    ap.add_argument("--out", default=os.path.join(ROOT, "src/privacy/vocab/words.txt.gz"))
    a = ap.parse_args()
    import wordfreq  # ranking only

    first_names = {nfc(l).lower() for l in lines(os.path.join(ROOT, "src/privacy/first_names.txt"))}
    surname_nouns = {nfc(l).lower() for l in lines(os.path.join(HERE, "german-surname-nouns.txt"))}
    entries = {}
    zipf = {}
    dicts = {lang: dictionary(a.dict_root, lang) for lang in LANGS}
    stems, hun_caps = case_evidence(a.hunspell_root, dicts)
    all_lower = set().union(*(d[0] for d in dicts.values()))
    # entries the lists write only capitalised: proper names (and German nouns)
    caps = {lang: capitalised(a.dict_root, lang) for lang in LANGS}
    caps_only = set().union(*caps.values()) - all_lower
    # proper names: capitalised in a list of a language that does not
    # capitalise nouns (Williams, Ferrari): never a German noun
    caps_other = set().union(*(c for lang, c in caps.items() if lang != "de"))
    freq_only = set()
    for lang in LANGS:
        lower, nouns = dicts[lang]
        top = {nfc(w) for w in wordfreq.top_n_list(lang, a.top, wordlist="large")}
        # frequent forms the (sometimes thin) list lacks, e.g. Italian
        # inflections: alphabetic, not a first name, not a word the lists
        # only write capitalised (a proper name), not a surname-noun, an
        # inflection of a word of the language (thomsen, valsecchi are not)
        for w in top:
            if (
                w not in lower
                and WORD.match(w)
                and wordfreq.zipf_frequency(w, lang, wordlist="large") >= a.min_zipf
                and w not in first_names
                and w not in caps_only
                and w not in surname_nouns
                and w == w.lower()
                and w not in hun_caps
                and inflected(w, stems[lang])
            ):
                freq_only.add(w)
        for w in (freq_only - lower) & top:
            if w not in entries:
                entries[w] = "f"
                zipf[w] = max(zipf.get(w, 0.0), wordfreq.zipf_frequency(w, lang, wordlist="large"))
        freq_only.clear()
        for w in lower & top:
            if entries.get(w) == "f":
                entries[w] = "l"
            entries.setdefault(w, "l")
            zipf[w] = max(zipf.get(w, 0.0), wordfreq.zipf_frequency(w, lang, wordlist="large"))
        # wngerman capitalises proper names too: a capitalised entry that is a
        # first name of the gazetteer is a name, not a noun
        for w in (nouns & top) - surname_nouns - first_names - caps_other:
            # the German list capitalises surnames too (Vollmer): a noun must
            # also be reasonably frequent
            if wordfreq.zipf_frequency(w, lang, wordlist="large") >= 3.0:
                entries[w] = entries.get(w, "") + "n"
                zipf[w] = max(zipf.get(w, 0.0), wordfreq.zipf_frequency(w, lang, wordlist="large"))
        print(lang, len(lower & top), len((nouns & top) - surname_nouns))
    print("de nouns from hunspell:", add_hunspell_de_nouns(entries, zipf, a.dict_root, a.hunspell_root, wordfreq))
    gwords, phrases = galaxy_names(a.galaxy, first_names)
    for w in lines(os.path.join(HERE, "security-words.txt")):
        w = nfc(w).lower()
        if " " in w:
            phrases.add(w)
        else:
            gwords.add(w)
    for w in gwords:
        entries[w] = entries.get(w, "") + "s"
    apply_extra_words(entries, phrases)
    for w, z in zipf.items():
        if z >= 4.0:
            entries[w] += "c"
        if z >= 5.5:
            entries[w] += "v"
    out = [f"{f} {w}" for w, f in sorted(entries.items())] + [f"p {p}" for p in sorted(phrases)]
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with gzip.GzipFile(a.out, "wb", mtime=0, compresslevel=9) as fh:
        fh.write(("\n".join(out) + "\n").encode("utf-8"))
    print(len(entries), "words,", len(phrases), "phrases ->", a.out)
    print("entries with flag:", {f: sum(1 for v in entries.values() if f in v) for f in "lfnscv"})
    surname_check(entries)


def patch_de_nouns():
    """`--patch-de-nouns DICT_ROOT HUNSPELL_ROOT`: applies only
    `add_hunspell_de_nouns` to the committed words.txt.gz (flags `c`/`v` of a
    new entry from its Zipf frequency, as `main` sets them), for when the
    other inputs (galaxies, wordfreq version) should not move."""
    import wordfreq

    entries, phrases = read_vocab()
    zipf = {}
    before = dict(entries)
    print("de nouns from hunspell:", add_hunspell_de_nouns(entries, zipf, sys.argv[2], sys.argv[3], wordfreq))
    for w, f in entries.items():
        if w not in before:
            entries[w] = f + ("c" if zipf[w] >= 4.0 else "") + ("v" if zipf[w] >= 5.5 else "")
    write_vocab(entries, phrases)


VOCAB = os.path.join(ROOT, "src/privacy/vocab/words.txt.gz")


def read_vocab(path=VOCAB):
    """The committed list: word entries (word -> flags) and phrases."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [l.rstrip("\n").split(" ", 1) for l in fh if l.strip()]
    return {w: f for f, w in rows if f != "p"}, {w for f, w in rows if f == "p"}


def write_vocab(entries, phrases, path=VOCAB):
    out = [f"{f} {w}" for w, f in sorted(entries.items())] + [f"p {p}" for p in sorted(phrases)]
    with gzip.GzipFile(path, "wb", mtime=0, compresslevel=9) as fh:
        fh.write(("\n".join(out) + "\n").encode("utf-8"))


def apply_extra_words(entries, phrases):
    """tools/extra-words.txt onto `entries`/`phrases`; returns how many
    entries it added or flagged."""
    added = 0
    for line in lines(os.path.join(HERE, "extra-words.txt")):
        flags, w = line.split(" ", 1)
        w = nfc(w.strip()).lower()
        if " " in w:
            added += w not in phrases
            phrases.add(w)
            continue
        have = entries.get(w, "")
        new = have + "".join(f for f in flags if f not in have)
        if new != have:
            entries[w] = new
            added += 1
    return added


def patch_security():
    """`--patch-security`: applies only tools/security-words.txt to the
    committed words.txt.gz (flag `s` on its words, its phrases added), for
    when the other inputs should not move."""
    entries, phrases = read_vocab()
    added = 0
    for w in lines(os.path.join(HERE, "security-words.txt")):
        w = nfc(w).lower()
        if " " in w:
            added += w not in phrases
            phrases.add(w)
        elif "s" not in entries.get(w, ""):
            entries[w] = entries.get(w, "") + "s"
            added += 1
    write_vocab(entries, phrases)
    print(added, "security words and phrases added ->", VOCAB)


def patch_words():
    """`--patch-words`: applies only tools/extra-words.txt to the committed
    words.txt.gz: ordinary words of the eight languages that analysts write
    and no list of the build holds (inflections, compounds, loanwords).
    Each line is `<flags> <word>`: `l` a word (lower case), `n` a German
    noun (capitalised mid-sentence), `s` a product or brand word."""
    entries, phrases = read_vocab()
    added = apply_extra_words(entries, phrases)
    write_vocab(entries, phrases)
    print(added, "words added or flagged ->", VOCAB)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--patch-security"]:
        patch_security()
    elif sys.argv[1:2] == ["--patch-words"]:
        patch_words()
    elif sys.argv[1:2] == ["--patch-de-nouns"]:
        patch_de_nouns()
    else:
        main()
