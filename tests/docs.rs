//! `rtbench completions SHELL` and `rtbench man`: generated from the command
//! line itself, so they name the real commands and flags.

use testkit::child::stderr;

fn stdout_of(args: &[&str]) -> String {
    let o = testkit::rtbench!().run(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    String::from_utf8(o.stdout).expect("utf-8")
}

#[test]
fn completions_name_the_commands_and_flags_in_every_shell() {
    let bash = stdout_of(&["completions", "bash"]);
    assert!(bash.contains("complete -F"), "a bash completion script");
    for word in ["load", "bench", "--transport", "--threshold", "completions"] {
        assert!(bash.contains(word), "bash completes {word}");
    }
    assert!(!bash.contains("supervise"), "internal commands stay hidden");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        assert!(
            script.contains("load") && script.contains("transport"),
            "{shell}"
        );
    }
    let o = testkit::rtbench!().run(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("bash"),
        "lists the shells: {}",
        stderr(&o)
    );
}

#[test]
fn man_prints_roff_and_writes_a_page_per_command() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH rtbench 1"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    assert!(page.contains("rtbench\\-load(1)"), "{page}");
    assert!(!page.contains("supervise"), "{page}");

    let dir = testkit::rtbench!().scratch("man-pages");
    let o = testkit::rtbench!()
        .command()
        .args(["man", "--out"])
        .arg(&dir)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    for name in [
        "rtbench",
        "rtbench-load",
        "rtbench-bench",
        "rtbench-profile-check",
    ] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.1")))
            .unwrap_or_else(|e| panic!("{name}.1: {e}"));
        assert!(text.contains(&format!(".TH {name} 1")), "{name}: {text}");
    }
    let load = std::fs::read_to_string(dir.join("rtbench-load.1")).expect("page");
    assert!(load.contains("\\-\\-transport"), "{load}");
    assert!(!dir.join("rtbench-supervise.1").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
