//! The toolbox conventions: shell completions and man pages generated from the options, and the
//! Debian package that ships them (built by scripts/build-deb, which .ci/run runs first).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{have, portscope, read_all, skip};

fn stdout_of(args: &[&str]) -> String {
    let out = portscope(args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn bash_completion_completes_subcommands_and_options() {
    if !have("bash") {
        skip("bash is not installed");
        return;
    }
    let script = stdout_of(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portscope.bash");
    std::fs::write(&file, script).unwrap();
    // Load the script and ask its completion function what follows `portscope ` and
    // `portscope kill --`, as bash would on TAB.
    let probe = format!(
        r#"source '{}'
complete -p portscope
COMP_WORDS=(portscope ''); COMP_CWORD=1; COMP_LINE='portscope '; COMP_POINT=10
_portscope portscope '' portscope; echo "top: ${{COMPREPLY[*]}}"
COMP_WORDS=(portscope kill --); COMP_CWORD=2; COMP_LINE='portscope kill --'; COMP_POINT=17
_portscope portscope -- kill; echo "kill: ${{COMPREPLY[*]}}""#,
        file.display()
    );
    let out = Command::new("bash").arg("-c").arg(&probe).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("-F _portscope"), "{text}");
    let top = text.lines().find(|l| l.starts_with("top:")).unwrap();
    for word in ["who", "kill", "audit", "completions", "man", "--json"] {
        assert!(top.split_whitespace().any(|w| w == word), "{word} in {top}");
    }
    let kill = text.lines().find(|l| l.starts_with("kill:")).unwrap();
    for word in ["--dry-run", "--signal", "--timeout", "--yes"] {
        assert!(
            kill.split_whitespace().any(|w| w == word),
            "{word} in {kill}"
        );
    }
}

#[test]
fn completions_for_every_shell_and_bad_shell_is_exit_2() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(
            stdout_of(&["completions", shell]).contains("who"),
            "{shell}"
        );
    }
    let out = portscope(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tcsh"), "{err}");
}

#[test]
fn man_pages_render_with_man_and_list_every_option() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH portscope 1"));
    let dir = tempfile::tempdir().unwrap();
    let listed = stdout_of(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    let files: Vec<&str> = listed.lines().collect();
    assert!(files.len() >= 6, "{listed}");
    for sub in ["list", "who", "kill", "audit"] {
        let path = dir.path().join(format!("portscope-{sub}.1"));
        assert!(path.is_file(), "{}", path.display());
    }
    let unknown = portscope(&["man", "frobnicate"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("'frobnicate'"));
    if !have("man") {
        skip("man (man-db) is not installed");
        return;
    }
    // man renders the page without complaint, and it names the options.
    let out = Command::new("man")
        .args(["-l", "--warnings=all"])
        .arg(dir.path().join("portscope-kill.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--dry-run") && text.contains("--timeout"),
        "{text}"
    );
}

/// The newest .deb scripts/build-deb made, if any.
fn built_deb() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debian");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    debs.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    debs.pop()
}

#[test]
fn debian_package_holds_binary_man_pages_and_completions() {
    let Some(deb) = built_deb() else {
        skip("no target/debian/*.deb: run scripts/build-deb first");
        return;
    };
    if !have("dpkg-deb") {
        skip("dpkg-deb is not installed");
        return;
    }
    // Unpacked, not installed: the package's own tree, checked file by file.
    let root = tempfile::tempdir().unwrap();
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(root.path())
        .status()
        .unwrap();
    assert!(status.success());
    let r = root.path();
    for file in [
        "usr/bin/portscope",
        "usr/share/man/man1/portscope.1.gz",
        "usr/share/man/man1/portscope-kill.1.gz",
        "usr/share/bash-completion/completions/portscope",
        "usr/share/zsh/vendor-completions/_portscope",
        "usr/share/fish/vendor_completions.d/portscope.fish",
    ] {
        assert!(
            r.join(file).is_file(),
            "{file} missing from {}",
            deb.display()
        );
    }
    let out = Command::new(r.join("usr/bin/portscope"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        read_all(&out.stdout[..]).starts_with("portscope "),
        "{out:?}"
    );
    let control = Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .args(["Package", "Version"])
        .output()
        .unwrap();
    let control = String::from_utf8_lossy(&control.stdout);
    assert!(control.contains("Package: portscope"), "{control}");
    assert!(
        control.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{control}"
    );
}
