#!/usr/bin/env python3
"""Formats probe: identifier families of common PII detectors, each inside an analyst note.
Values invented here with computed check digits; nothing from any detector's test files."""
import json, os, random, string
random.seed(20261202)
D = string.digits; U = string.ascii_uppercase
def r(chars, n): return "".join(random.choice(chars) for _ in range(n))
def luhn_complete(prefix, length):
    body = prefix + r(D, length - len(prefix) - 1)
    s = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9: d -= 9
        s += d
    return body + str((10 - s % 10) % 10)
def iban(cc, bban):
    num = "".join(str(int(c, 36)) for c in bban + cc + "00")
    chk = 98 - int(num) % 97
    return f"{cc}{chk:02d}{bban}"
BB = {  # country: list of (charset, count)
 "DE": [(D,18)], "FR": [(D,10),(D+U,11),(D,2)], "IT": [(U,1),(D,10),(D+U,12)], "ES": [(D,20)],
 "NL": [(U,4),(D,10)], "BE": [(D,12)], "AT": [(D,16)], "CH": [(D,5),(D+U,12)], "GB": [(U,4),(D,14)],
 "PL": [(D,24)], "PT": [(D,21)], "SE": [(D,20)], "NO": [(D,11)], "DK": [(D,14)], "FI": [(D,14)],
 "IE": [(U,4),(D,14)], "LU": [(D,3),(D+U,13)], "CZ": [(D,20)], "SK": [(D,20)], "HU": [(D,24)],
 "RO": [(U,4),(D+U,16)], "BG": [(U,4),(D,6),(D+U,8)], "HR": [(D,17)], "SI": [(D,15)],
 "GR": [(D,7),(D+U,16)], "CY": [(D,8),(D+U,16)], "MT": [(U,4),(D,5),(D+U,18)], "EE": [(D,16)],
 "LT": [(D,16)], "LV": [(U,4),(D+U,13)], "IS": [(D,22)], "LI": [(D,5),(D+U,12)], "MC": [(D,10),(D+U,11),(D,2)],
 "TR": [(D,5),(D,1),(D+U,16)], "SA": [(D,2),(D+U,18)], "AE": [(D,3),(D,16)], "IL": [(D,19)],
 "BR": [(D,23),(U,1),(D+U,1)], "NO2": None,
}
def make_iban(cc):
    return iban(cc, "".join(r(cs, n) for cs, n in BB[cc]))
def group4(s, sep=" "): return sep.join(s[i:i+4] for i in range(0, len(s), 4))
cases = []
def add(kind, desc, secrets, keep, typ="domain", value=None):
    host = value or f"{kind.split('-')[0]}-{r(string.ascii_lowercase,5)}.example.net"
    if value is None and typ == "domain":
        desc = desc.replace("HOST", host)
    cases.append({"id": f"fmt-{len(cases)+1:03d}", "kind": kind,
        "indicator": {"type": typ, "value": host, "category": "fraud", "description": desc},
        "must_not_appear": [{"pii": kind, "text": s} for s in secrets], "must_appear": [host] + keep})
notes = ["Victim paid to {x} after the call; lure on HOST", "Mule account {x} received the transfer, site HOST",
         "Transfer to {x} flagged by the bank, panel HOST", "payout iban {x} (money mule), kit at HOST",
         "Customer reported {x} as the destination account. Phish HOST"]
for cc in [c for c in BB if BB[c]]:
    ib = make_iban(cc)
    for fmt in range(4):
        x = [ib, group4(ib), group4(ib, "-"), group4(ib).lower()][fmt]
        add(f"iban-{cc.lower()}-{fmt}", random.choice(notes).format(x=x), [ib if fmt != 3 else ib.lower()], [])
# cards
for pre, ln, grp in [("4",16,[4,4,4,4]),("51",16,[4,4,4,4]),("2221",16,[4,4,4,4]),("34",15,[4,6,5]),("37",15,[4,6,5]),
                     ("36",14,[4,6,4]),("6011",16,[4,4,4,4]),("35",16,[4,4,4,4]),("62",19,[4,4,4,4,3]),("6759",18,[4,4,4,4,2]),("1",15,[4,4,4,3]),("4",19,[4,4,4,4,3])]:
    c = luhn_complete(pre, ln)
    parts=[];i=0
    for g in grp: parts.append(c[i:i+g]); i+=g
    for sep in [" ", "-", ""]:
        add(f"card-{pre}-{ln}", f"Card {sep.join(parts)} was used on HOST right after the phishing SMS", [c], [])
        add(f"card-nocue-{pre}-{ln}", f"Carding shop HOST sold {sep.join(parts)} exp 04/29", [c], [])
# US SSN / ITIN / passport / bank / routing / DL
for _ in range(3):
    a = f"{random.randint(100,665):03d}-{random.randint(10,99):02d}-{random.randint(1000,9999):04d}"
    for v in [a, a.replace("-", " "), a.replace("-", "")]:
        add("us-ssn", f"Caller gave SSN {v} to the fake IRS agent; domain HOST", [a.replace("-","")], [])
        add("us-ssn-nocue", f"W-2 form uploaded to HOST lists {v} for the employee", [a.replace("-","")], [])
    t = f"9{random.randint(10,99)}-{random.choice([70,78,80,88,90,94])}-{random.randint(1000,9999)}"
    add("us-itin", f"ITIN {t} entered on HOST tax refund page", [t.replace('-','')], [])
    p = r(D, 9); add("us-passport", f"US passport number {p} scanned and uploaded to HOST", [p], [])
    b = r(D, 12); add("us-bank", f"Victim's checking account {b}, routing 021000021, drained via HOST", [b], [])
    dl = random.choice(U) + r(D, 7); add("us-dl", f"Driver license {dl} (CA) photo sent to HOST", [dl], [])
# UK
def nhs():
    while True:
        d = r(D, 9); s = sum(int(c)*(10-i) for i, c in enumerate(d)); ch = 11 - s % 11
        if ch == 11: ch = 0
        if ch != 10: return d + str(ch)
for _ in range(3):
    n = nhs()
    for v in [n, f"{n[:3]} {n[3:6]} {n[6:]}", f"{n[:3]}-{n[3:6]}-{n[6:]}"]:
        add("uk-nhs", f"Fake NHS refund page HOST asked for NHS number {v}", [n], [])
        add("uk-nhs-nocue", f"Patient record {v} appeared in the dump on HOST", [n], [])
    ni = random.choice("ABCEGHJKLMNOPRSTWXYZ") + random.choice("ABCEGHJKLMNPRSTWXYZ") + r(D, 6) + random.choice("ABCD")
    for v in [ni, f"{ni[:2]} {ni[2:4]} {ni[4:6]} {ni[6:8]} {ni[8]}", ni.lower()]:
        add("uk-nino", f"National Insurance {v} harvested by HOST", [ni if v != ni.lower() else ni.lower()], [])
    dl = "MORGA" + r(D, 6) + "SM9IJ"
    add("uk-dl", f"Driving licence {dl} photo on HOST", [dl], [])
    pp = r(D, 9); add("uk-passport", f"UK passport {pp} in the scan uploaded to HOST", [pp], [])
# AU/IN/SG/KR/TH
for _ in range(2):
    tfn = r(D, 9); add("au-tfn", f"ATO scam HOST asked for the TFN {tfn[:3]} {tfn[3:6]} {tfn[6:]}", [tfn], [])
    med = r(D, 10); add("au-medicare", f"Medicare card {med[:4]} {med[4:9]} {med[9]} on HOST", [med], [])
    pan = r(U, 5) + r(D, 4) + r(U, 1); add("in-pan", f"PAN {pan} and Aadhaar collected by HOST", [pan], [])
    pan2 = r(U, 5) + r(D, 4) + r(U, 1); add("in-pan-nocue", f"KYC form on HOST: {pan2}, address proof attached", [pan2], [])
    aad = str(random.randint(2,9)) + r(D, 11)
    for v in [aad, f"{aad[:4]} {aad[4:8]} {aad[8:]}"]:
        add("in-aadhaar", f"Aadhaar {v} typed into HOST", [aad], [])
    nric = random.choice("STFG") + r(D, 7) + random.choice(U); add("sg-nric", f"Singpass phishing HOST got NRIC {nric}", [nric], [])
    rrn = f"{random.randint(60,99)}{random.randint(1,12):02d}{random.randint(1,28):02d}-{random.randint(1,2)}{r(D,6)}"
    add("kr-rrn", f"Resident registration number {rrn} leaked via HOST", [rrn.replace('-','')], [])
    th = r(D, 13); add("th-id", f"Thai ID {th[0]}-{th[1:5]}-{th[5:10]}-{th[10:12]}-{th[12]} sent to HOST", [th], [])
# DE
for _ in range(2):
    sv = f"{random.randint(10,99)}{random.randint(1,28):02d}{random.randint(1,12):02d}{random.randint(50,99)}{random.choice(U)}{r(D,3)}"
    for v in [sv, f"{sv[:2]} {sv[2:8]} {sv[8]} {sv[9:]}"]:
        add("de-sv", f"Rentenversicherungsnummer {v} im Formular auf HOST", [sv], [])
    kv = random.choice(U) + r(D, 9); add("de-kvnr", f"Krankenversichertennummer {kv} auf HOST eingegeben", [kv], [])
    st = f"{random.randint(10,99)}/{random.randint(100,999)}/{random.randint(10000,99999)}"
    add("de-steuernummer", f"Steuernummer {st} wurde auf HOST abgefragt", [st.replace('/','')], [])
    plate = f"{random.choice(['B','M','HH','K','F'])}-{r(U,2)} {random.randint(100,9999)}"
    add("de-kfz", f"Fahrzeug mit Kennzeichen {plate} beim Betrugsversuch, Seite HOST", [plate.replace('-', ' ').replace(' ','')], [])
    fs = random.choice(U) + r(D, 3) + r(U+D, 6) + r(D, 1)
    add("de-fuehrerschein", f"Führerscheinnummer {fs} auf HOST hochgeladen", [fs], [])
    lanr = r(D, 9); add("de-lanr", f"Arztnummer LANR {lanr} in gefälschtem Rezept von HOST", [lanr], [])
# ES / IT / PL / FI / SE
L = "TRWAGMYFPDXBNJZSQVHLCKE"
for _ in range(2):
    n = random.randint(10000000, 99999999); dni = f"{n}{L[n % 23]}"
    for v in [dni, f"{n}-{L[n%23]}", dni.lower()]:
        add("es-dni", f"La víctima dio su DNI {v} en HOST", [dni.lower() if v == dni.lower() else dni], [])
    m = random.randint(0, 9999999); pre = random.choice("XYZ"); num = int("XYZ".index(pre).__str__() + f"{m:07d}")
    nie = f"{pre}{m:07d}{L[num % 23]}"; add("es-nie", f"NIE {nie} usado en HOST", [nie], [])
    pas = r(U, 3) + r(D, 6); add("es-passport", f"Pasaporte {pas} escaneado, subido a HOST", [pas], [])
def pesel():
    y, mth, d = random.randint(50, 99), random.randint(1, 12), random.randint(1, 28)
    b = f"{y:02d}{mth:02d}{d:02d}{r(D,4)}"; w = [1,3,7,9,1,3,7,9,1,3]
    return b + str((10 - sum(int(c)*w[i] for i, c in enumerate(b)) % 10) % 10)
for _ in range(3):
    p = pesel(); add("pl-pesel", f"Ofiara podała PESEL {p} na stronie HOST", [p], [])
    p2 = pesel(); add("pl-pesel-nocue", f"W logach HOST: {p2} oraz numer zamówienia", [p2], [])
def hetu():
    d, m, y = random.randint(1, 28), random.randint(1, 12), random.randint(50, 99); ind = random.randint(2, 899)
    n = int(f"{d:02d}{m:02d}{y:02d}{ind:03d}"); return f"{d:02d}{m:02d}{y:02d}-{ind:03d}{'0123456789ABCDEFHJKLMNPRSTUVWXY'[n % 31]}"
for _ in range(3):
    h = hetu(); add("fi-hetu", f"Henkilötunnus {h} syötettiin sivulle HOST", [h], [])
    h2 = hetu(); add("fi-hetu-nocue", f"Lomake HOST: {h2}", [h2], [])
def pnr():
    b = f"{random.randint(50,99):02d}{random.randint(1,12):02d}{random.randint(1,28):02d}{r(D,3)}"
    s = 0
    for i, c in enumerate(b):
        v = int(c) * (2 if i % 2 == 0 else 1); s += v // 10 + v % 10
    return b + str((10 - s % 10) % 10)
for _ in range(3):
    p = pnr()
    for v in [f"{p[:6]}-{p[6:]}", f"19{p[:6]}-{p[6:]}", f"19{p}"]:
        add("se-pnr", f"Offret angav personnummer {v} på HOST", [p[6:] and v.replace('-','')], [])
# phones, dates of birth, e-mails, MAC (appended)
phones = [
 ("us", lambda: f"({random.randint(201,989)}) {random.randint(200,999)}-{r(D,4)}"),
 ("us2", lambda: f"+1 {random.randint(201,989)}-{random.randint(200,999)}-{r(D,4)}"),
 ("us3", lambda: f"{random.randint(201,989)}.{random.randint(200,999)}.{r(D,4)}"),
 ("uk", lambda: f"020 {random.randint(7000,8999)} {r(D,4)}"),
 ("uk2", lambda: f"07{random.randint(400,999)} {r(D,6)}"),
 ("uk3", lambda: f"+44 7{random.randint(400,999)} {r(D,3)} {r(D,3)}"),
 ("de", lambda: f"030 {r(D,8)}"), ("de2", lambda: f"+49 (0)151 {r(D,8)}"), ("de3", lambda: f"0171/{r(D,7)}"),
 ("fr", lambda: f"06 {r(D,2)} {r(D,2)} {r(D,2)} {r(D,2)}"), ("fr2", lambda: f"+33 6 {r(D,2)} {r(D,2)} {r(D,2)} {r(D,2)}"),
 ("il", lambda: f"050-{r(D,7)}"), ("in", lambda: f"+91 9{r(D,4)} {r(D,5)}"), ("in2", lambda: f"09{r(D,9)}"),
 ("br", lambda: f"(11) 9{r(D,4)}-{r(D,4)}"), ("ca", lambda: f"1-{random.randint(201,989)}-{random.randint(200,999)}-{r(D,4)}"),
 ("tr", lambda: f"0532 {r(D,3)} {r(D,2)} {r(D,2)}"), ("tr2", lambda: f"+90 (532) {r(D,3)} {r(D,2)} {r(D,2)}"),
 ("ph", lambda: f"0917 {r(D,3)} {r(D,4)}"), ("ph2", lambda: f"+63 917 {r(D,3)} {r(D,4)}"), ("ph3", lambda: f"09{r(D,9)}"),
]
import re as _re
for k, f in phones:
    for tmpl in ["The scammer called the victim from HOST's support line; victim's number {x}",
                 "Smishing from HOST reached {x} on Monday",
                 "Victim cell: {x}. Fake bank site HOST"]:
        x = f(); digits = _re.sub(r"\D", "", x)
        add(f"phone-{k}", tmpl.format(x=x), [digits[-9:]], [])
months = ["January","February","March","April","May","June","July","August","September","October","November","December"]
for _ in range(3):
    d, m, y = random.randint(1, 28), random.randint(1, 12), random.randint(1950, 2002)
    for v, cue in [(f"{d:02d}/{m:02d}/{y}", "DOB"), (f"{months[m-1]} {d}, {y}", "born on"), (f"{y}-{m:02d}-{d:02d}", "date of birth:"),
                   (f"{d}.{m}.{y}", "geb."), (f"{d:02d}-{months[m-1][:3]}-{y}", "D.O.B."), (f"{d} {months[m-1]} {y}", "birthday")]:
        add("dob", f"Victim ({cue} {v}) entered card details on HOST", [v], [])
for _ in range(4):
    u = r(string.ascii_lowercase, 6) + "." + r(string.ascii_lowercase, 7)
    for dom in ["gmail.com", "web.de", "orange.fr", "libero.it"]:
        add("email", f"Phishing kit on HOST mailed results to the victim copy {u}@{dom}", [f"{u}@{dom}"], [])
for _ in range(3):
    mac = ":".join(r("0123456789abcdef", 2) for _ in range(6))
    for v in [mac, mac.replace(":", "-").upper(), f"{mac.replace(':','')[:4]}.{mac.replace(':','')[4:8]}.{mac.replace(':','')[8:]}"]:
        add("mac", f"Victim laptop MAC {v} seen in the DHCP log while HOST was contacted", [v], [])
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests/data/pii-adversarial-formats.jsonl"), "w") as fh:
    for c in cases: fh.write(json.dumps(c, ensure_ascii=False) + "\n")
print(len(cases))
