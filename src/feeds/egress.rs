//! Egress views (SPEC §6, §7): each participant belongs to audiences; the
//! deployment's default policy says, per audience, which types, categories,
//! TLP levels, confidence and fields it may receive. Anything not admitted
//! by some view of the participant is withheld (fail closed).

use time::OffsetDateTime;

use crate::identity::Participant;
use crate::model::Indicator;
use crate::policy::EgressView;
use crate::policy_set::PolicySet;

/// The views that apply to `p`, from the default policy.
pub fn views_for(p: &Participant, policies: &PolicySet) -> Vec<EgressView> {
    let Some(s) = policies.by_id.get(&policies.default) else {
        return Vec::new();
    };
    let egress = &s.policy().egress;
    p.audiences().iter().filter_map(|a| egress.get(a).cloned()).collect()
}

/// The first view admitting `ind`, if any.
pub fn admitting<'a>(views: &'a [EgressView], ind: &Indicator) -> Option<&'a EgressView> {
    views.iter().find(|v| v.admits(ind.kind, ind.category, ind.tlp, ind.confidence))
}

/// True when the indicator is past its `valid_until`.
pub fn expired(ind: &Indicator, now: OffsetDateTime) -> bool {
    ind.valid_until.is_some_and(|t| t <= now)
}

/// What the holder of `views` may see of `ind`: `None` when withheld, else
/// a copy without the fields its view does not allow.
pub fn project(views: &[EgressView], ind: &Indicator) -> Option<Indicator> {
    let view = admitting(views, ind)?;
    let mut out = ind.clone();
    if !view.allows_field("description") {
        out.description = None;
    }
    if !view.allows_field("attributes") {
        out.attributes.clear();
    }
    if !view.allows_field("tags") {
        out.tags.clear();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_default_policy_has_views_for_every_audience() {
        let p = crate::policy::Policy::parse("default.toml", crate::deploy::SHIPPED_POLICIES[0].1).unwrap();
        for a in ["law-enforcement", "isps", "isp-blocking-agreement", "banks"] {
            assert!(p.egress.contains_key(a), "{a}: {:?}", p.egress.keys().collect::<Vec<_>>());
        }
    }
}
