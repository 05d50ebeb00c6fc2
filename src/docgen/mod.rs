//! Generators of the reference documents derived from the code, kept out of the domain as
//! ripgrep keeps its `flags/doc/`: `docs/rules.md`, rendered from the audit rule table by
//! [`rules`] (in tests), and the man pages and shell completions from the clap definition by
//! [`man`] (printed by `portscope man` and `portscope completions`). The rules generator fills a
//! template kept beside it (the prose) with parts it renders from domain data (the tables and
//! lists), through `fill`; the man pages take their prose from the clap definition itself.
//!
//! It sits above `analyze` and may import from any layer; only the `man` and `completions`
//! commands import from it. It must not decide anything the domain decides (rule ids, severities,
//! wording of findings come from `analyze`) or read the system. The rules generator is compiled
//! for tests only; the test beside it checks (or, with `PORTSCOPE_BLESS=1`, rewrites) its
//! document.

pub(crate) mod man;
#[cfg(test)]
pub(crate) mod rules;

/// Why a template could not be filled: the template and its generator disagree.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    /// The template names a placeholder the generator does not supply.
    #[error("the template has a placeholder {{{{{name}}}}} that the generator does not fill")]
    Unknown {
        /// The placeholder's name.
        name: String,
    },
    /// A `{{` has no closing `}}`.
    #[error("the template has a \"{{{{\" without a closing \"}}}}\" at byte {at}")]
    Unclosed {
        /// Byte offset of the opening braces.
        at: usize,
    },
    /// The generator supplies a part the template never places.
    #[error("the generator fills {{{{{name}}}}}, but the template has no such placeholder")]
    Unused {
        /// The placeholder's name.
        name: String,
    },
}

/// The template with every `{{name}}` replaced by the value of `name` in `values`.
///
/// One pass from left to right: a value is inserted as it is, never searched for placeholders.
///
/// # Errors
///
/// [`TemplateError`] when the template names a placeholder `values` lacks, leaves a `{{`
/// unclosed, or when a value is never placed (so a renamed placeholder cannot silently drop a
/// part).
#[cfg(test)]
pub(crate) fn fill(template: &str, values: &[(&str, String)]) -> Result<String, TemplateError> {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|v| v.1.len()).sum::<usize>());
    let mut used = vec![false; values.len()];
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(TemplateError::Unclosed {
            at: template.len() - rest.len() + open,
        })?;
        let name = &after[..close];
        let (i, (_, value)) = values
            .iter()
            .enumerate()
            .find(|(_, (key, _))| *key == name)
            .ok_or_else(|| TemplateError::Unknown {
                name: name.to_owned(),
            })?;
        out.push_str(value);
        if let Some(flag) = used.get_mut(i) {
            *flag = true;
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    if let Some(((name, _), _)) = values.iter().zip(&used).find(|(_, used)| !**used) {
        return Err(TemplateError::Unused {
            name: (*name).to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|&(k, v)| (k, v.to_owned())).collect()
    }

    #[test]
    fn fill_replaces_every_placeholder_literally() {
        /// A template, the values to fill it with, and the result.
        type Case = (
            &'static str,
            &'static [(&'static str, &'static str)],
            &'static str,
        );
        let cases: &[Case] = &[
            ("no placeholders\n", &[], "no placeholders\n"),
            ("a {{x}} b {{y}}\n", &[("x", "1"), ("y", "2")], "a 1 b 2\n"),
            ("{{x}}{{x}}", &[("x", "ab")], "abab"),
            // A value is inserted as it is, not searched for placeholders.
            ("[{{x}}] {{y}}", &[("x", "{{y}}"), ("y", "2")], "[{{y}}] 2"),
            ("{{x}}", &[("x", "")], ""),
        ];
        for &(template, pairs, want) in cases {
            assert_eq!(
                fill(template, &values(pairs)).as_deref(),
                Ok(want),
                "{template}"
            );
        }
    }

    #[test]
    fn fill_reports_template_and_generator_disagreeing() {
        assert_eq!(
            fill("a {{x}}", &[]),
            Err(TemplateError::Unknown { name: "x".into() })
        );
        assert_eq!(
            fill("ab {{x", &values(&[("x", "1")])),
            Err(TemplateError::Unclosed { at: 3 })
        );
        assert_eq!(
            fill("a", &values(&[("x", "1")])),
            Err(TemplateError::Unused { name: "x".into() })
        );
    }
}
