//! The man pages and shell completions, generated from the clap definition in `cli` so they can
//! never fall out of step with the options: `portscope man` and `portscope completions SHELL`
//! print them, and the Debian package ships what they print (scripts/build-deb).
//!
//! It renders; it must not read the system or decide anything about sockets.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The man page of portscope (section 1), or of one subcommand (`portscope-who(1)`) when
/// `subcommand` names one.
///
/// # Errors
/// When `subcommand` is not a subcommand's name, or the page cannot be written.
pub(crate) fn man_page(subcommand: Option<&str>, out: &mut dyn Write) -> io::Result<()> {
    let root = Cli::command();
    let page = match subcommand {
        None => root,
        Some(name) => sub_page(&root, name).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("'{name}' is not a subcommand of portscope"),
            )
        })?,
    };
    let mut buffer = Vec::new();
    clap_mangen::Man::new(page).render(&mut buffer)?;
    out.write_all(&buffer)
}

/// The subcommand `name` as a command of its own, named `portscope-NAME` as its page is.
fn sub_page(root: &clap::Command, name: &str) -> Option<clap::Command> {
    let sub = root.find_subcommand(name)?.clone();
    let version = root.get_version().unwrap_or_default().to_owned();
    Some(sub.name(format!("portscope-{name}")).version(version))
}

/// Every page: `portscope.1` and `portscope-SUB.1` for each visible subcommand, as (file name,
/// roff text) pairs.
///
/// # Errors
/// When a page cannot be rendered.
pub(crate) fn man_pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    let root = Cli::command();
    let mut names = vec![None];
    names.extend(
        root.get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| Some(s.get_name().to_owned())),
    );
    let mut pages = Vec::with_capacity(names.len());
    for name in names {
        let file = match &name {
            None => "portscope.1".to_owned(),
            Some(n) => format!("portscope-{n}.1"),
        };
        let mut page = Vec::new();
        man_page(name.as_deref(), &mut page)?;
        pages.push((file, page));
    }
    Ok(pages)
}

/// The completion script for `shell`.
///
/// # Errors
/// When the script cannot be written.
pub(crate) fn completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "portscope", &mut buffer);
    out.write_all(&buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(sub: Option<&str>) -> String {
        let mut out = Vec::new();
        man_page(sub, &mut out).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn main_page_names_every_subcommand_and_option() {
        let text = page(None);
        assert!(text.starts_with(".ie \\n(.g .ds Aq"), "{}", &text[..80]);
        assert!(text.contains(".TH portscope 1"));
        for sub in [
            "list",
            "who",
            "kill",
            "audit",
            "check",
            "explain",
            "completions",
        ] {
            assert!(text.contains(&format!("portscope\\-{sub}(1)")), "{sub}");
        }
        for option in ["\\-\\-json", "\\-\\-proc\\-root", "\\-\\-exposure"] {
            assert!(text.contains(option), "{option}");
        }
    }

    #[test]
    fn subcommand_pages_carry_their_own_options() {
        let kill = page(Some("kill"));
        assert!(kill.contains(".TH portscope-kill 1"), "{}", &kill[..200]);
        assert!(kill.contains("\\-\\-dry\\-run"));
        let audit = page(Some("audit"));
        assert!(audit.contains("\\-\\-fail\\-on"));
        let mut out = Vec::new();
        let err = man_page(Some("nope"), &mut out).expect_err("unknown");
        assert!(err.to_string().contains("'nope'"));
    }

    #[test]
    fn one_page_per_visible_subcommand() {
        let pages = man_pages().expect("render");
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "portscope.1");
        for sub in ["list", "who", "kill", "audit", "completions", "man"] {
            assert!(
                names.contains(&format!("portscope-{sub}.1").as_str()),
                "{sub}"
            );
        }
        assert!(pages.iter().all(|(_, text)| text.starts_with(b".ie")));
    }

    #[test]
    fn every_shell_gets_a_script_that_names_the_subcommands() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out).expect("render");
            let text = String::from_utf8(out).expect("utf-8");
            for word in ["who", "kill", "audit", "proc-root"] {
                assert!(text.contains(word), "{shell:?} lacks {word}");
            }
        }
    }
}
