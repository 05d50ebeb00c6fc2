//! The audit rule reference `docs/rules.md`: the built-in rule table, the severity scale, the
//! exposure arithmetic and the checks beyond the port table, rendered into `rules.md.tpl`.
//!
//! The prose lives in the template; this module renders only the parts that come from the domain
//! (counts, tables, rule sections, sources), each as lines without a trailing newline. It must not
//! state a rule id, severity or forwarder name of its own: those come from
//! [`crate::analyze::rules`] and [`crate::analyze::audit`], so the reference cannot drift from
//! the code. The test below keeps `docs/rules.md` byte-identical to the output.

use super::{TemplateError, fill};
use crate::analyze::audit::{FORWARDERS, UNIDENTIFIED_PUBLIC_LISTENER, UNIDENTIFIED_SEVERITY};
use crate::analyze::rules::{
    EXPOSURE_CLASSES, Rule, RuleSet, effective_severity, exposure_steps, source_id,
};
use crate::model::{Severity, Why};

/// The prose of `docs/rules.md`, with `{{name}}` placeholders for the generated parts.
const TEMPLATE: &str = include_str!("rules.md.tpl");

/// The full text of `docs/rules.md`: severity scale, exposure arithmetic, why codes, every rule,
/// the checks beyond the port table and every source.
///
/// # Errors
///
/// [`TemplateError`] when `rules.md.tpl` and this generator disagree on the placeholders; the
/// tests below guarantee they do not.
pub(crate) fn render_markdown(set: &RuleSet) -> Result<String, TemplateError> {
    let counts: Vec<String> = Severity::ALL
        .iter()
        .map(|&level| {
            let count = set.rules().iter().filter(|r| r.severity == level).count();
            format!("{count} {level}")
        })
        .collect();
    let forwarders: Vec<String> = FORWARDERS.iter().map(|n| format!("`{n}`")).collect();
    fill(
        TEMPLATE,
        &[
            ("rule_count", set.rules().len().to_string()),
            ("severity_counts", counts.join(", ")),
            ("ss_sev_link", link(set, "SS-SEV")),
            ("ss_link", link(set, "SS")),
            ("severity_table", severity_table()),
            ("exposure_table", exposure_table()),
            ("why_table", why_table()),
            ("rules_table", rules_table(set)),
            (
                "unidentified_public_listener",
                UNIDENTIFIED_PUBLIC_LISTENER.to_owned(),
            ),
            ("unidentified_severity", UNIDENTIFIED_SEVERITY.to_string()),
            ("forwarders", forwarders.join(", ")),
            ("rules", rule_sections(set)),
            ("sources", source_list(set)),
        ],
    )
}

/// A source reference as a Markdown link to its source (`[CIS-DEB12](url) 2.1.19`), or as written
/// when the table has no such source.
fn link(set: &RuleSet, reference: &str) -> String {
    match set.source(reference) {
        Some(source) => {
            let id = source_id(reference);
            let detail = reference.strip_prefix(id).unwrap_or_default();
            format!("[{id}]({}){detail}", source.url)
        }
        None => reference.to_owned(),
    }
}

/// Each level and what it means.
fn severity_table() -> String {
    let mut lines = vec!["| severity | meaning |".to_owned(), "|---|---|".to_owned()];
    lines.extend(
        Severity::ALL
            .iter()
            .map(|level| format!("| {level} | {} |", level.meaning())),
    );
    lines.join("\n")
}

/// For each exposure class, the steps it lowers a severity by and what each base level becomes.
fn exposure_table() -> String {
    let mut header = "| exposure | steps |".to_owned();
    for level in Severity::ALL {
        header.push_str(&format!(" {level} |"));
    }
    let mut lines = vec![
        header,
        format!("|---|---|{}", "---|".repeat(Severity::ALL.len())),
    ];
    for class in EXPOSURE_CLASSES {
        let steps =
            exposure_steps(class).map_or_else(|| "no finding".to_owned(), |s| s.to_string());
        let mut line = format!("| {} | {steps} |", class.as_str());
        for level in Severity::ALL {
            let cell = effective_severity(level, Some(class)).map_or("-", Severity::as_str);
            line.push_str(&format!(" {cell} |"));
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// Each why code and what it means.
fn why_table() -> String {
    let mut lines = vec!["| code | meaning |".to_owned(), "|---|---|".to_owned()];
    lines.extend(
        Why::ALL
            .iter()
            .map(|why| format!("| {why} | {} |", why.meaning())),
    );
    lines.join("\n")
}

/// One row per rule, linking to its section.
fn rules_table(set: &RuleSet) -> String {
    let mut lines = vec![
        "| rule | ports | service | severity | why |".to_owned(),
        "|---|---|---|---|---|".to_owned(),
    ];
    lines.extend(set.rules().iter().map(|rule| {
        format!(
            "| [{id}](#{id}) | {} | {} | {} | {} |",
            rule.ports_label(),
            rule.service.replace('|', "\\|"),
            rule.severity,
            why_list(&rule.why),
            id = rule.id,
        )
    }));
    lines.join("\n")
}

/// One section per rule, separated by blank lines.
fn rule_sections(set: &RuleSet) -> String {
    let section = |rule: &Rule| {
        let sources: Vec<String> = rule.sources.iter().map(|r| link(set, r)).collect();
        let alternative = rule
            .alternative
            .as_ref()
            .map(|a| format!("\n\n**Secure alternative:** {a}"))
            .unwrap_or_default();
        let identified = if rule.services.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = rule.services.iter().map(|s| format!("`{s}`")).collect();
            format!(
                "\n\n**Also on any port when identified as:** {}",
                names.join(", ")
            )
        };
        format!(
            "### {}\n\n**{}** · {} · **{}** · {}\n\n{}\n\n**Fix:** {}{alternative}{identified}\n\n**Sources:** {}",
            rule.id,
            rule.ports_label(),
            rule.service,
            rule.severity,
            why_list(&rule.why),
            rule.summary,
            rule.fix,
            sources.join("; ")
        )
    };
    set.rules()
        .iter()
        .map(section)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// One list item per source, by id.
fn source_list(set: &RuleSet) -> String {
    set.sources()
        .iter()
        .map(|(id, source)| {
            let mut item = format!("- **{id}**: {}. <{}>", source.title, source.url);
            for url in &source.also {
                item.push_str(&format!(", <{url}>"));
            }
            item
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The why codes of a rule, comma-separated, or `-` for none.
fn why_list(why: &[Why]) -> String {
    if why.is_empty() {
        return "-".to_owned();
    }
    why.iter()
        .map(|w| w.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> &'static RuleSet {
        match RuleSet::try_builtin() {
            Ok(set) => set,
            Err(e) => panic!("src/analyze/rules.toml does not load: {e}"),
        }
    }

    fn render(set: &RuleSet) -> String {
        render_markdown(set).unwrap_or_else(|e| panic!("src/docgen/rules.md.tpl: {e}"))
    }

    #[test]
    fn markdown_mentions_every_rule_and_source() {
        let set = builtin();
        let text = render(set);
        for rule in set.rules() {
            assert!(
                text.contains(&format!("\n### {}\n", rule.id)),
                "{}",
                rule.id
            );
            assert!(text.contains(&rule.fix), "{}", rule.id);
        }
        for source in set.sources().values() {
            assert!(text.contains(&source.url), "{}", source.url);
        }
        assert!(
            text.contains("[CIS-DEB12](https://github.com/ansible-lockdown/DEBIAN12-CIS) 2.1.19")
        );
        assert!(text.contains("| link_local | 2 | medium | low | info | info | info |"));
        assert!(text.contains("| loopback | no finding | - | - | - | - | - |"));
        assert!(text.contains("\n### unidentified-public-listener\n"));
        assert!(text.contains("route_localnet") && text.contains("`docker-proxy`"));
    }

    /// docs/rules.md must be exactly what `render_markdown` makes of the built-in table.
    /// `PORTSCOPE_BLESS=1` rewrites the file instead of comparing.
    #[test]
    fn docs_rules_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md");
        let expected = render(builtin());
        if std::env::var_os("PORTSCOPE_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(path, &expected).unwrap();
            return;
        }
        let regenerate = "regenerate it with: PORTSCOPE_BLESS=1 cargo test --lib docgen::rules";
        let actual = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}; {regenerate}"));
        if actual != expected {
            let line = actual
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
            panic!(
                "docs/rules.md is out of date with src/analyze/rules.toml or src/docgen/rules.md.tpl \
                 (first difference at line {}); {regenerate}",
                line + 1
            );
        }
    }
}
