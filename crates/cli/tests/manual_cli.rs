//! `logward completions` and `logward man`: the bash script is valid bash and completes the
//! real subcommands, zsh and fish scripts name them too, and `man --dir` writes a page for
//! every command and subcommand `--help` lists, each of which groff renders without a warning.
#![allow(clippy::disallowed_methods)] // the test runs the binary under test, bash and groff
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_logward");

fn logward(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "logward {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands `--help` lists under "Commands:" (clap's `help` excepted).
fn subcommands(path: &[&str]) -> Vec<String> {
    let mut args = path.to_vec();
    args.push("--help");
    let help = logward(&args);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command path: `[]`, `["scan"]`, `["collector", "token"]`, `["collector", "token",
/// "create"]` …
fn command_paths() -> Vec<Vec<String>> {
    let mut all = vec![Vec::new()];
    let mut i = 0;
    while i < all.len() {
        let path: Vec<String> = all[i].clone();
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        for sub in subcommands(&refs) {
            let mut p = path.clone();
            p.push(sub);
            all.push(p);
        }
        i += 1;
    }
    all
}

#[test]
fn bash_completion_is_valid_and_completes_subcommands() {
    let script = logward(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("logward.bash");
    std::fs::write(&file, &script).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        syntax.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // Load it the way bash-completion does and ask it what `logward co<TAB>` and
    // `logward collector to<TAB>` offer.
    let ask = |words: &str| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
             _logward logward \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut got: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.trim().to_owned())
            .collect();
        got.sort();
        got
    };
    assert_eq!(ask("logward co"), ["collector", "completions"]);
    assert_eq!(ask("logward collector to"), ["token"]);
    assert_eq!(ask("logward schema a"), ["agent"]);
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand() {
    let zsh = logward(&["completions", "zsh"]);
    let fish = logward(&["completions", "fish"]);
    assert!(zsh.starts_with("#compdef logward"), "{}", &zsh[..80]);
    for sub in subcommands(&[]) {
        assert!(zsh.contains(&format!("'{sub}:")), "zsh lacks {sub}");
        assert!(fish.contains(&format!("-a \"{sub}\"")), "fish lacks {sub}");
    }
    // Shells that are installed check their own syntax.
    for (shell, script) in [("zsh", &zsh), ("fish", &fish)] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(shell);
        std::fs::write(&file, script).unwrap();
        if let Ok(out) = Command::new(shell).arg("-n").arg(&file).output() {
            assert!(
                out.status.success(),
                "{shell} -n: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn every_command_has_a_man_page_that_renders() {
    let dir = tempfile::tempdir().unwrap();
    let listed = logward(&["man", "--dir", dir.path().to_str().unwrap()]);
    let paths = command_paths();
    assert!(paths.len() > 30, "{paths:?}");
    for path in &paths {
        let name = std::iter::once("logward")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("-");
        let page = dir.path().join(format!("{name}.8"));
        assert!(page.exists(), "no page for `logward {}`", path.join(" "));
        assert!(listed.contains(&format!("{name}.8")), "{listed}");
        render(&page, &name);
    }
    let pages = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(
        pages,
        paths.len(),
        "pages for commands --help does not list"
    );
    // Without --dir: logward(8) on stdout, its SEE ALSO-style list naming the subpages.
    let main = logward(&["man"]);
    assert!(
        main.starts_with(".ie") || main.contains(".TH logward 8"),
        "{main}"
    );
    assert!(main.contains("logward\\-collector(8)"), "{main}");
}

/// groff renders the page with every warning on and says nothing; the NAME section names it
/// (`-k`: UTF-8 through preconv, as man(1) does; plain text: no overstriking, no escapes).
fn render(page: &Path, name: &str) {
    let out = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-P", "-cbou"])
        .arg(page)
        .env("LC_ALL", "C.UTF-8")
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            logward_test_support::skipped(format_args!(
                "groff is not installed ({e}): checking the roff structure only"
            ));
            // Without groff: the roff structure at least.
            let text = std::fs::read_to_string(page).unwrap();
            assert!(text.contains(".TH") && text.contains(".SH NAME"), "{text}");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "{name}: {stderr}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!("{name} - ")) || flat.contains(&format!("{name} ")),
        "{flat}"
    );
}
