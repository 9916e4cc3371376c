//! `syncwatch rules test` agrees with `promtool test rules` on every test file we ship.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::helpers::{repo, skip_or_fail};

fn test_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["rules/tests", "tests/promql"] {
        for e in std::fs::read_dir(repo().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with("_test.yml"))
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn syncwatch_passes(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_syncwatch"))
        .args(["rules", "test"])
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

/// `None` when promtool is not installed (skipped, or failed in strict mode).
fn promtool_passes(file: &Path) -> Option<(bool, String)> {
    match Command::new("promtool")
        .args(["test", "rules"])
        .arg(file)
        .output()
    {
        Ok(out) => Some((
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )),
        Err(_) => {
            skip_or_fail("promtool is not installed (apt-get install prometheus)");
            None
        }
    }
}

#[test]
fn every_shipped_rule_test_passes_under_both_syncwatch_and_promtool() {
    let files = test_files();
    assert!(files.len() >= 7, "{files:?}");
    for f in &files {
        let (ok, out) = syncwatch_passes(f);
        assert!(ok, "syncwatch rules test {}:\n{out}", f.display());
        if let Some((ok, out)) = promtool_passes(f) {
            assert!(ok, "promtool test rules {}:\n{out}", f.display());
        }
    }
}

#[test]
fn a_wrong_expectation_fails_under_both() {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("tests/promql");
    std::fs::copy(
        src.join("empty_rules.yml"),
        dir.path().join("empty_rules.yml"),
    )
    .unwrap();
    let text = std::fs::read_to_string(src.join("operators_test.yml")).unwrap();
    // Claim a wrong value for the first sample of `capacity + 1`.
    let case = text
        .find("expr: 'capacity + 1'")
        .expect("the case to break exists");
    let at = case + text[case..].find("value: ").expect("an expected sample") + "value: ".len();
    let end = at + text[at..].find('\n').unwrap_or(text.len() - at);
    let wrong = format!("{}12345{}", &text[..at], &text[end..]);
    let file = dir.path().join("operators_test.yml");
    std::fs::write(&file, wrong).unwrap();
    let (ok, out) = syncwatch_passes(&file);
    assert!(!ok, "{out}");
    assert!(out.contains("expr: \"capacity + 1\""), "{out}");
    if let Some((ok, out)) = promtool_passes(&file) {
        assert!(!ok, "{out}");
    }
}
