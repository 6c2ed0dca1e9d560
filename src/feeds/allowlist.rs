//! Allow-lists enforced on egress (SPEC §7): reserved and private ranges,
//! public resolvers, CDNs, top sites, banks' own domains, URL shorteners and
//! shared hosting. Compiled once (hash sets, merged sorted ranges, the
//! compiled-in Public Suffix List) and consulted when a blocklist snapshot is
//! built, never per request. See `allowlists/README.md` for what each list does.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

use crate::model::is_reserved_ip;

/// How a list is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    /// Domain and its subdomains (within the registrable domain) never blocked.
    Exempt,
    /// Exact host names never blocked.
    ExactHost,
    /// The provider's own domain never blocked; customers' subdomains and
    /// URLs are, even when an exempt list covers the provider.
    Shared,
    /// Addresses and ranges.
    Ips,
    /// Hashes.
    Hashes,
}

const SHIPPED: &[(&str, Use, &str)] = &[
    ("tranco10k", Use::Exempt, include_str!("../../allowlists/misp/tranco10k.json")),
    ("bank-website", Use::Exempt, include_str!("../../allowlists/misp/bank-website.json")),
    ("google", Use::Exempt, include_str!("../../allowlists/misp/google.json")),
    ("microsoft", Use::Exempt, include_str!("../../allowlists/misp/microsoft.json")),
    ("crl-hostname", Use::Exempt, include_str!("../../allowlists/misp/crl-hostname.json")),
    ("public-dns-hostname", Use::Exempt, include_str!("../../allowlists/misp/public-dns-hostname.json")),
    ("whats-my-ip", Use::Exempt, include_str!("../../allowlists/misp/whats-my-ip.json")),
    ("rfc6761", Use::Exempt, include_str!("../../allowlists/misp/rfc6761.json")),
    ("cisco_top10k", Use::ExactHost, include_str!("../../allowlists/misp/cisco_top10k.json")),
    ("url-shortener", Use::Shared, include_str!("../../allowlists/misp/url-shortener.json")),
    ("dynamic-dns", Use::Shared, include_str!("../../allowlists/misp/dynamic-dns.json")),
    ("shared-hosting", Use::Shared, include_str!("../../allowlists/tamis/shared-hosting.json")),
    ("rfc1918", Use::Ips, include_str!("../../allowlists/misp/rfc1918.json")),
    ("rfc5735", Use::Ips, include_str!("../../allowlists/misp/rfc5735.json")),
    ("rfc6598", Use::Ips, include_str!("../../allowlists/misp/rfc6598.json")),
    ("rfc3849", Use::Ips, include_str!("../../allowlists/misp/rfc3849.json")),
    ("public-dns-v4", Use::Ips, include_str!("../../allowlists/misp/public-dns-v4.json")),
    ("public-dns-v6", Use::Ips, include_str!("../../allowlists/misp/public-dns-v6.json")),
    ("akamai", Use::Ips, include_str!("../../allowlists/misp/akamai.json")),
    ("cloudflare", Use::Ips, include_str!("../../allowlists/misp/cloudflare.json")),
    ("fastly", Use::Ips, include_str!("../../allowlists/misp/fastly.json")),
    ("parking-domain", Use::Ips, include_str!("../../allowlists/misp/parking-domain.json")),
    ("sinkholes", Use::Ips, include_str!("../../allowlists/misp/sinkholes.json")),
    ("empty-hashes", Use::Hashes, include_str!("../../allowlists/misp/empty-hashes.json")),
    ("common-ioc-false-positive", Use::Hashes, include_str!("../../allowlists/misp/common-ioc-false-positive.json")),
];

/// Why an indicator is kept off blocklists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// A public suffix (`co.uk`, `github.io`) named by a rule of the Public
    /// Suffix List (a name that is a suffix only through a wildcard rule of
    /// its private section, such as a tunnel host, is a customer's and stays
    /// blockable).
    PublicSuffix,
    /// On an exempt list (top site, bank, resolver...).
    Exempt,
    /// A shared service's own domain (URL shortener, dynamic DNS provider,
    /// hosting or cloud platform).
    Shared,
    /// A reserved, private, resolver, CDN or sinkhole address.
    Address,
    /// A known false-positive hash.
    Hash,
}

/// The compiled allow-lists.
#[derive(Default)]
pub struct AllowList {
    exempt: HashSet<String>,
    exact: HashSet<String>,
    shared: HashSet<String>,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    hashes: HashSet<String>,
    /// `(list name, entries)`, for documentation and logs.
    pub sources: Vec<(String, usize)>,
}

#[derive(serde::Deserialize)]
struct MispList {
    #[serde(default)]
    list: Vec<String>,
}

impl AllowList {
    /// The lists compiled into the binary.
    pub fn shipped() -> AllowList {
        let mut a = AllowList::default();
        for (name, usage, text) in SHIPPED {
            let list: MispList = serde_json::from_str(text).expect("shipped allow-lists are valid JSON");
            a.add(name, *usage, list.list.iter().map(String::as_str));
        }
        a.finish();
        a
    }

    /// The shipped lists plus a deployment's own (`*.json` in MISP format or
    /// `*.txt` with one domain, IP or CIDR per line): exempt names, or shared
    /// platforms when the file name starts with `shared-`.
    pub fn with_dir(dir: Option<&Path>) -> Result<AllowList, String> {
        let mut a = AllowList::shipped();
        let Some(dir) = dir else { return Ok(a) };
        if !dir.exists() {
            return Ok(a);
        }
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files {
            let name = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let ext = f.extension().and_then(|e| e.to_str());
            if !f.is_file() || !matches!(ext, Some("json" | "txt")) {
                continue; // READMEs, sub-directories (the shipped lists are compiled in)
            }
            let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            let entries: Vec<String> = match ext {
                Some("json") => {
                    serde_json::from_str::<MispList>(&text).map_err(|e| format!("{}: {e}", f.display()))?.list
                }
                Some("txt") => text
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
                    .filter(|l| !l.is_empty())
                    .collect(),
                _ => continue,
            };
            let (ips, names): (Vec<&String>, Vec<&String>) =
                entries.iter().partition(|e| e.parse::<IpAddr>().is_ok() || e.parse::<ipnet::IpNet>().is_ok());
            a.add(&name, Use::Ips, ips.into_iter().map(String::as_str));
            // `shared-*` files name platforms whose customers stay blockable.
            let usage = if name.starts_with("shared-") { Use::Shared } else { Use::Exempt };
            a.add(&name, usage, names.into_iter().map(String::as_str));
        }
        a.finish();
        Ok(a)
    }

    fn add<'a>(&mut self, name: &str, usage: Use, entries: impl Iterator<Item = &'a str>) {
        let mut n = 0;
        for e in entries {
            let e = e.trim().trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase();
            if e.is_empty() {
                continue;
            }
            n += 1;
            match usage {
                Use::Exempt => drop(self.exempt.insert(e)),
                Use::ExactHost => drop(self.exact.insert(e)),
                Use::Shared => drop(self.shared.insert(e)),
                Use::Hashes => drop(self.hashes.insert(e)),
                Use::Ips => {
                    let net = match e.parse::<ipnet::IpNet>() {
                        Ok(n) => n,
                        Err(_) => match e.parse::<IpAddr>() {
                            Ok(ip) => ipnet::IpNet::from(ip),
                            Err(_) => continue,
                        },
                    };
                    match net.trunc() {
                        ipnet::IpNet::V4(v) => self.v4.push((u32::from(v.network()), u32::from(v.broadcast()))),
                        ipnet::IpNet::V6(v) => self.v6.push((u128::from(v.network()), u128::from(v.broadcast()))),
                    }
                }
            }
        }
        self.sources.push((name.to_owned(), n));
    }

    fn finish(&mut self) {
        self.v4 = merge(std::mem::take(&mut self.v4));
        self.v6 = merge(std::mem::take(&mut self.v6));
    }

    /// Why a domain must not be blocked by name, if it must not.
    pub fn domain(&self, d: &str) -> Option<Allowed> {
        let d = d.trim_end_matches('.');
        if self.shared.contains(d) {
            return Some(Allowed::Shared);
        }
        if self.exact.contains(d) {
            return Some(Allowed::Exempt);
        }
        let registrable = match psl::domain_str(d) {
            Some(r) => r,
            // The name is itself a suffix: a customer's name when only a
            // wildcard rule of the private section makes it one
            // (`*.at.ply.gg`: every tunnel host is a suffix).
            None if private_wildcard(d) => return None,
            None => return Some(Allowed::PublicSuffix),
        };
        // Walk from the name up to its registrable domain, never above: an
        // exempt `github.io` must not shelter `evil.github.io`. Below a
        // shared platform (`cloudapp.azure.com`, `xsph.ru`) the names are
        // its customers', blockable even when the platform is exempt.
        let mut name = d;
        loop {
            if name.len() < d.len() && self.shared.contains(name) {
                // `www.` of the platform is its own site, not a customer's.
                let own = d.strip_prefix("www.") == Some(name);
                return own.then_some(Allowed::Shared);
            }
            if self.exempt.contains(name) {
                return Some(Allowed::Exempt);
            }
            if name.len() <= registrable.len() {
                break;
            }
            match name.split_once('.') {
                Some((_, parent)) => name = parent,
                None => break,
            }
        }
        None
    }

    /// Why an address must not be blocked, if it must not.
    pub fn ip(&self, ip: IpAddr) -> Option<Allowed> {
        if is_reserved_ip(ip) {
            return Some(Allowed::Address);
        }
        let hit = match ip {
            IpAddr::V4(v) => contains(&self.v4, u32::from(v)),
            IpAddr::V6(v) => match v.to_ipv4_mapped() {
                Some(v4) => contains(&self.v4, u32::from(v4)),
                None => contains(&self.v6, u128::from(v)),
            },
        };
        hit.then_some(Allowed::Address)
    }

    /// Why a network must not be blocked: it overlaps an allowed range.
    pub fn net(&self, net: &ipnet::IpNet) -> Option<Allowed> {
        if is_reserved_ip(net.network()) || is_reserved_ip(net.broadcast()) {
            return Some(Allowed::Address);
        }
        let hit = match net {
            ipnet::IpNet::V4(v) => overlaps(&self.v4, u32::from(v.network()), u32::from(v.broadcast())),
            ipnet::IpNet::V6(v) => overlaps(&self.v6, u128::from(v.network()), u128::from(v.broadcast())),
        };
        hit.then_some(Allowed::Address)
    }

    /// Why a URL must not be blocked: its host is allowed and it points at
    /// the site itself (root path, no query). A specific URL on a shared or
    /// top site stays blockable: that is how shared hosting is blocked.
    pub fn url(&self, url: &str) -> Option<Allowed> {
        let u = url::Url::parse(url).ok()?;
        let at_root = matches!(u.path(), "" | "/") && u.query().is_none();
        match u.host()? {
            url::Host::Domain(d) => {
                let why = self.domain(d)?;
                at_root.then_some(why)
            }
            url::Host::Ipv4(ip) => self.ip(IpAddr::V4(ip)).filter(|_| at_root),
            url::Host::Ipv6(ip) => self.ip(IpAddr::V6(ip)).filter(|_| at_root),
        }
    }

    pub fn hash(&self, h: &str) -> Option<Allowed> {
        self.hashes.contains(h).then_some(Allowed::Hash)
    }
}

/// True when `d` is a public suffix only through a wildcard rule of the
/// Public Suffix List's private section: its parent is not itself a suffix.
fn private_wildcard(d: &str) -> bool {
    let Some(s) = psl::suffix(d.as_bytes()) else { return false };
    if s.typ() != Some(psl::Type::Private) || s.as_bytes() != d.as_bytes() {
        return false;
    }
    match d.split_once('.') {
        Some((_, parent)) => psl::suffix(parent.as_bytes()).is_none_or(|p| p.as_bytes() != parent.as_bytes()),
        None => false,
    }
}

fn merge<T: Ord + Copy + num_like::Succ>(mut v: Vec<(T, T)>) -> Vec<(T, T)> {
    v.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        if let Some(last) = out.last_mut()
            && a <= last.1.succ()
        {
            last.1 = last.1.max(b);
            continue;
        }
        out.push((a, b));
    }
    out
}

fn contains<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    let i = ranges.partition_point(|r| r.0 <= x);
    i > 0 && ranges[i - 1].1 >= x
}

fn overlaps<T: Ord + Copy>(ranges: &[(T, T)], a: T, b: T) -> bool {
    let i = ranges.partition_point(|r| r.0 <= b);
    i > 0 && ranges[i - 1].1 >= a
}

mod num_like {
    pub trait Succ {
        fn succ(self) -> Self;
    }
    impl Succ for u32 {
        fn succ(self) -> Self {
            self.saturating_add(1)
        }
    }
    impl Succ for u128 {
        fn succ(self) -> Self {
            self.saturating_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        let a = AllowList::shipped();
        assert_eq!(a.domain("github.io"), Some(Allowed::PublicSuffix));
        assert_eq!(a.domain("evil-login.github.io"), None, "a customer of a shared suffix stays blockable");
        assert_eq!(a.domain("github.com"), Some(Allowed::Exempt));
        assert_eq!(a.domain("gist.github.com"), Some(Allowed::Exempt));
        assert_eq!(a.domain("co.uk"), Some(Allowed::PublicSuffix));
        assert!(a.domain("bit.ly").is_some());
        assert_eq!(a.domain("0000004.xyz"), Some(Allowed::Shared), "a dynamic-DNS provider");
        assert_eq!(a.domain("victim-pc.0000004.xyz"), None, "its customers stay blockable");
        assert_eq!(a.domain("example.com"), Some(Allowed::Exempt));
        assert_eq!(a.domain("secure-login-paypa1.top"), None);
        assert_eq!(a.domain("google.com"), Some(Allowed::Exempt));
    }

    #[test]
    fn customers_of_hosting_platforms_and_tunnels_stay_blockable() {
        let a = AllowList::shipped();
        // Cloud and hosting platforms: the platform is protected, its customers are not.
        assert_eq!(a.domain("mpr23-421-c2.westus2.cloudapp.azure.com"), None);
        assert!(a.domain("cloudapp.azure.com").is_some());
        assert_eq!(a.domain("azure.com"), Some(Allowed::Exempt));
        assert_eq!(a.domain("portal.azure.com"), Some(Allowed::Exempt), "the provider's other names stay exempt");
        assert_eq!(a.domain("loader-panel.xsph.ru"), None);
        assert!(a.domain("xsph.ru").is_some());
        assert_eq!(a.domain("support-apple-en-freeupspace.medium.com"), None);
        assert!(a.domain("medium.com").is_some());
        assert!(a.domain("www.medium.com").is_some(), "www is the platform's own");
        // A tunnel host is a public suffix only through a private wildcard rule (`*.at.ply.gg`).
        assert_eq!(a.domain("ample-minutes.at.ply.gg"), None);
        // Suffixes named by an explicit rule stay protected.
        assert_eq!(a.domain("github.io"), Some(Allowed::PublicSuffix));
        assert_eq!(a.domain("herokuapp.com"), Some(Allowed::PublicSuffix));
    }

    #[test]
    fn urls_block_specific_pages_on_shared_hosts_only() {
        let a = AllowList::shipped();
        assert!(a.url("https://bit.ly/3xYzAbc").is_none(), "a shortened link is blockable");
        assert!(a.url("https://bit.ly/").is_some(), "the shortener itself is not");
        assert!(a.url("https://docs.google.com/forms/d/e/1FAIpQ/viewform").is_none());
        assert!(a.url("https://www.google.com/").is_some());
        assert!(a.url("http://paypal-verify.top/login").is_none());
    }

    #[test]
    fn addresses() {
        let a = AllowList::shipped();
        for ip in ["8.8.8.8", "1.1.1.1", "10.1.2.3", "100.64.1.1", "2001:db8::1", "104.16.0.1"] {
            assert!(a.ip(ip.parse().unwrap()).is_some(), "{ip}");
        }
        assert!(a.ip("185.220.101.4".parse().unwrap()).is_none());
        assert!(a.net(&"8.8.8.0/24".parse().unwrap()).is_some());
        assert!(a.net(&"185.220.101.0/24".parse().unwrap()).is_none());
    }
}

#[cfg(test)]
mod dir_tests {
    use super::*;

    #[test]
    fn a_deployment_adds_its_own_lists_and_other_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("README.md"), "not a list").unwrap();
        std::fs::create_dir(dir.path().join("misp")).unwrap();
        std::fs::write(dir.path().join("own.txt"), "# our partners\nmy-bank-partner.example\n5.188.10.0/24\n").unwrap();
        std::fs::write(dir.path().join("shared-local.txt"), "sites.my-hoster.example\n").unwrap();
        let a = AllowList::with_dir(Some(dir.path())).unwrap();
        assert!(a.domain("login.my-bank-partner.example").is_some());
        assert_eq!(a.domain("sites.my-hoster.example"), Some(Allowed::Shared));
        assert_eq!(a.domain("phish.sites.my-hoster.example"), None, "a `shared-` file names a platform");
        assert!(AllowList::shipped().ip("5.188.10.9".parse().unwrap()).is_none());
        assert!(a.ip("5.188.10.9".parse().unwrap()).is_some());
        std::fs::write(dir.path().join("bad.json"), "{").unwrap();
        assert!(AllowList::with_dir(Some(dir.path())).is_err(), "a broken list refuses to load");
    }
}
