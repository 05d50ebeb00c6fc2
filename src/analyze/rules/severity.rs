//! Severity arithmetic of the audit rules: how an exposure class lowers a rule's base severity
//! ([`exposure_steps`], [`effective_severity`]). The levels and reason codes themselves are
//! plain data in [`crate::model`].
//!
//! Pure and closed: it must not know any rule, port or source (that is the rule table in
//! [`crate::analyze::rules`]), decide a socket's exposure (that is [`crate::analyze::exposure`]),
//! read the system or print.

use crate::model::{AddrClass, Severity};

/// How many steps an exposure class lowers a rule's severity, or `None` when a socket of that
/// class gives no finding at all.
///
/// Multicast counts like link-local: a socket bound to a group address only receives datagrams
/// sent to that group, and multicast is rarely routed beyond the local network.
#[must_use]
pub fn exposure_steps(exposure: AddrClass) -> Option<u8> {
    match exposure {
        AddrClass::Public => Some(0),
        AddrClass::Private | AddrClass::Documentation | AddrClass::Reserved => Some(1),
        AddrClass::LinkLocal | AddrClass::Multicast => Some(2),
        AddrClass::Loopback => None,
    }
}

/// Severity of a finding once exposure is known.
///
/// The base holds for `Public`. `Private`, `Documentation` and `Reserved` lower it one step
/// ("reachable from the local network"); `LinkLocal` and `Multicast` two steps. `Loopback`, and
/// `None` (a wildcard bind that currently covers no address), give no finding. Lowering stops at
/// [`Severity::Info`]: a risky service listening beyond loopback is still reported, the user
/// filters by level.
#[must_use]
pub fn effective_severity(base: Severity, exposure: Option<AddrClass>) -> Option<Severity> {
    exposure
        .and_then(exposure_steps)
        .map(|steps| base.lowered(steps))
}

/// Every exposure class, from the one a rule's base severity holds for to the one that gives no
/// finding: the row order of the exposure table in the rule reference.
#[cfg(test)]
pub const EXPOSURE_CLASSES: [AddrClass; 7] = [
    AddrClass::Public,
    AddrClass::Private,
    AddrClass::Documentation,
    AddrClass::Reserved,
    AddrClass::LinkLocal,
    AddrClass::Multicast,
    AddrClass::Loopback,
];

#[cfg(test)]
mod tests {
    use super::*;
    use AddrClass::*;
    use Severity::*;

    #[test]
    fn effective_severity_for_every_level_and_class() {
        // Columns: the base levels Critical, High, Medium, Low, Info.
        let table: &[(Option<AddrClass>, [Option<Severity>; 5])] = &[
            (
                Some(Public),
                [
                    Some(Critical),
                    Some(High),
                    Some(Medium),
                    Some(Low),
                    Some(Info),
                ],
            ),
            (
                Some(Private),
                [Some(High), Some(Medium), Some(Low), Some(Info), Some(Info)],
            ),
            (
                Some(Documentation),
                [Some(High), Some(Medium), Some(Low), Some(Info), Some(Info)],
            ),
            (
                Some(Reserved),
                [Some(High), Some(Medium), Some(Low), Some(Info), Some(Info)],
            ),
            (
                Some(LinkLocal),
                [Some(Medium), Some(Low), Some(Info), Some(Info), Some(Info)],
            ),
            (
                Some(Multicast),
                [Some(Medium), Some(Low), Some(Info), Some(Info), Some(Info)],
            ),
            (Some(Loopback), [None; 5]),
            (None, [None; 5]),
        ];
        assert_eq!(
            table.len(),
            EXPOSURE_CLASSES.len() + 1,
            "every class and None"
        );
        for (class, expected) in table {
            for (base, want) in Severity::ALL.into_iter().zip(expected) {
                assert_eq!(
                    effective_severity(base, *class),
                    *want,
                    "{base} on {class:?}"
                );
            }
        }
    }
}
