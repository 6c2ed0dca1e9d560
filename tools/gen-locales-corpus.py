"""Writes tests/data/pii-adversarial-locales.jsonl: names of people of other locales and scripts
(invented here, not from Faker) in eight places an analyst or a phishing kit puts them."""
import json, os, random, base64, urllib.parse
random.seed(7)
names = ["Jiří Dvořák","Zoltán Nagy","Nagy Zoltán","Γιώργος Παπαδόπουλος","Ayşe Yılmaz","Иван Петров","Ольга Смирнова","Mohammed Al-Farsi",
 "Wang Wei","王伟","佐藤 由紀","Nguyễn Văn An","Priya Raghunathan","Sigrún Jónsdóttir","Łukasz Żółkiewski","Ştefan Dumitrescu",
 "Björn Lindqvist","Mette Kjærgaard","Aino Virtanen","Kwame Mensah","Chidi Okonkwo","Hiroshi Tanaka",
 "Julia Washington","Sofia Florence","Peter Bauer","Maria Fischer",
 "Jean Martin","Daniel Brown","Lisa Rose","Sergio Ramos","Diego Costa","Chiara Ferrari","Luca Bianchi","Marta Lopez",
 "Ruth Baker","Jan de Vries","Anneke van den Berg","Hanna Kowalczyk","Ewa Wiśniewska",
 "Yusuf Demir","Fatima Zahra Bennani","Ahmed Hassan","Siddharth Iyer","Kim Min-jun","Olumide Adeyemi"]
cases=[]
def add(kind, ind, secrets, keep):
    cases.append({"id": f"loc-{len(cases)+1:03d}", "kind": kind, "indicator": ind,
                  "must_not_appear": [{"pii":"name","text":s} for s in secrets], "must_appear": keep})
for n in names:
    host = f"secure-{random.randint(100,999)}.example.top"
    parts = n.split()
    add("free-text", {"type":"domain","value":host,"category":"phishing","description":f"Customer {n} entered credentials on {host}. Transfer of 900 EUR."}, [n], [host])
    add("recipient", {"type":"sha256","value":"ab"*32,"category":"malware","description":f"Attachment received by {n} on 2026-11-20 10:32:11."}, [n], ["ab"*32])
    add("attr", {"type":"domain","value":host,"category":"phishing","attributes":{"account_holder":n,"kit":"16shop"}}, [n], [host])
    add("card", {"type":"domain","value":host,"category":"fraud","description":f"Card belonging to {n} used on {host}."}, [n], [host])
    low = n.lower()
    add("free-lower", {"type":"domain","value":host,"category":"phishing","description":f"victim {low} called the helpdesk about {host}"}, [low], [host])
    e = f"{parts[0].lower()}.{parts[-1].lower()}@example-mail.com"
    b = base64.b64encode(n.encode()).decode()
    add("url-b64", {"type":"url","value":f"https://{host}/r?u={b}","category":"phishing"}, [n, b], [host])
    add("url-enc", {"type":"url","value":f"https://{host}/welcome?name={urllib.parse.quote(n)}","category":"phishing"}, [n], [host])
    q = urllib.parse.quote(n.replace(' ','_'))
    add("url-path", {"type":"url","value":f"https://{host}/docs/{q}.pdf","category":"phishing"}, [n.replace(' ','_'), q], [host])
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests/data/pii-adversarial-locales.jsonl"),"w") as fh:
    for c in cases: fh.write(json.dumps(c, ensure_ascii=False)+"\n")
print(len(cases))
