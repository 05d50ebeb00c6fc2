//! The translation of recorded `iptables-save` / `ip6tables-save` output (iptables 1.8.9,
//! Debian 12, recorded in a network namespace; the rules are listed in
//! `analyze/firewall/tests.rs`, which evaluates them).

use super::*;

const V4: &str = include_str!("../../analyze/firewall/iptables_save_v4.txt");
const V6: &str = include_str!("../../analyze/firewall/iptables_save_v6.txt");

#[test]
fn chains_policies_and_numbering() {
    let rs = Ruleset::from_iptables_save(Some(V4), Some(V6)).unwrap();
    assert_eq!(rs.source, RulesetSource::Iptables);
    let input = rs.chain(NftFamily::Ip, "filter", "INPUT").unwrap();
    let base = input.base.as_ref().unwrap();
    assert_eq!(
        (
            base.hook.as_str(),
            base.kind.as_str(),
            base.priority,
            &base.policy
        ),
        ("input", "filter", 0, &Verdict::Drop)
    );
    let handles: Vec<u64> = input.rules.iter().map(|r| r.handle).collect();
    assert_eq!(handles, (1..=9).collect::<Vec<_>>());
    // A user chain is a regular chain; OUTPUT and FORWARD never see input.
    assert!(
        rs.chain(NftFamily::Ip, "filter", "SVC")
            .unwrap()
            .base
            .is_none()
    );
    assert!(
        rs.chain(NftFamily::Ip, "filter", "OUTPUT")
            .unwrap()
            .base
            .is_none()
    );
    let nat = rs.chain(NftFamily::Ip, "nat", "PREROUTING").unwrap();
    assert_eq!(nat.base.as_ref().unwrap().kind, "nat");
    assert_eq!(nat.rules.len(), 1);
    let in6 = rs.chain(NftFamily::Ip6, "filter", "INPUT").unwrap();
    assert_eq!(in6.base.as_ref().unwrap().policy, Verdict::Accept);
    assert_eq!(in6.rules.len(), 2);
}

#[test]
fn rules_translate_to_the_model() {
    let rs = Ruleset::from_iptables_save(Some(V4), None).unwrap();
    let input = rs.chain(NftFamily::Ip, "filter", "INPUT").unwrap();
    let m = |left: Key, op: MatchOp, right: Value| Expr::Match { left, op, right };
    let tcp = || {
        m(
            Key::L4Proto { v6: None },
            MatchOp::Eq,
            Value::Text("tcp".into()),
        )
    };
    let dport = |op, right| {
        m(
            Key::Dport {
                proto: Some(Proto::Tcp),
            },
            op,
            right,
        )
    };
    let n = Value::Number;
    let range = |a, b| Value::Range(Box::new(n(a)), Box::new(n(b)));
    // (rule number, expressions)
    let cases: Vec<(usize, Vec<Expr>)> = vec![
        (
            1,
            vec![
                m(Key::Iifname, MatchOp::Eq, Value::Text("lo".into())),
                Expr::Verdict(Verdict::Accept),
            ],
        ),
        (
            2,
            vec![
                m(
                    Key::CtState,
                    MatchOp::In,
                    Value::Set(vec![
                        Value::Text("related".into()),
                        Value::Text("established".into()),
                    ]),
                ),
                Expr::Verdict(Verdict::Accept),
            ],
        ),
        (
            4,
            vec![
                tcp(),
                dport(
                    MatchOp::Eq,
                    Value::Set(vec![n(80), n(443), range(8000, 8010)]),
                ),
                Expr::Verdict(Verdict::Jump("SVC".into())),
            ],
        ),
        (
            5,
            vec![
                m(
                    Key::Daddr { v6: false },
                    MatchOp::Eq,
                    Value::Prefix {
                        addr: "10.9.0.0".parse().unwrap(),
                        len: 16,
                    },
                ),
                m(
                    Key::L4Proto { v6: None },
                    MatchOp::Eq,
                    Value::Text("udp".into()),
                ),
                m(
                    Key::Dport {
                        proto: Some(Proto::Udp),
                    },
                    MatchOp::Eq,
                    n(53),
                ),
                Expr::Verdict(Verdict::Accept),
            ],
        ),
        (
            6,
            vec![
                tcp(),
                dport(MatchOp::Eq, n(9000)),
                Expr::Verdict(Verdict::Reject),
            ],
        ),
        (
            9,
            vec![
                tcp(),
                dport(MatchOp::Ne, range(9003, 9010)),
                Expr::Passive("log".into()),
            ],
        ),
    ];
    for (number, want) in cases {
        assert_eq!(input.rules[number - 1].exprs, want, "rule {number}");
    }
    // -s is not modelled: an unknown match, worded as iptables shows it.
    let rule7 = &input.rules[6].exprs;
    assert!(
        matches!(&rule7[0], Expr::Match { left: Key::Other { text, v6: Some(false), .. }, .. } if text == "-s 192.168.0.0/16"),
        "{rule7:?}"
    );
    // The comment (quoted, with escaped quotes) is passive; -i eth+ is a wildcard.
    let rule8 = &input.rules[7].exprs;
    assert_eq!(
        rule8[0],
        m(Key::Iifname, MatchOp::Eq, Value::Text("eth*".into()))
    );
    assert!(
        rule8.contains(&Expr::Passive("comment".into())),
        "{rule8:?}"
    );
    // DNAT is a NAT statement with its target.
    let nat = rs.chain(NftFamily::Ip, "nat", "PREROUTING").unwrap();
    assert!(
        nat.rules[0].exprs.contains(&Expr::Nat(NatTarget {
            redirect: false,
            addr: Some("10.9.0.5".parse().unwrap()),
            port: Some(22),
        })),
        "{:?}",
        nat.rules[0].exprs
    );
}

#[test]
fn bad_text_is_an_error() {
    assert!(Ruleset::from_iptables_save(None, None).is_err());
    let err = Ruleset::from_iptables_save(Some("-A INPUT -j DROP\n"), None).unwrap_err();
    assert!(err.contains("iptables-save line 1"), "{err}");
    let err =
        Ruleset::from_iptables_save(None, Some("*filter\n-A NOPE -j DROP\nCOMMIT\n")).unwrap_err();
    assert!(err.contains("ip6tables-save line 2: chain NOPE"), "{err}");
    assert_eq!(split_words(r#"a "b \"c\" d" e"#), ["a", r#"b "c" d"#, "e"]);
}
