//! The shared corpus of public Alertmanager configs (`../shared/conformance/realworld/
//! alertmanager/`): `syncwatch check` accepts exactly the files `amtool check-config` (0.25)
//! accepts, except the few listed in [`NOT_YET`] with the feature each still needs.

use std::path::{Path, PathBuf};
use std::process::Command;

use syncwatch::config::loader::Mode;

use super::helpers::{repo, skip_or_fail};

/// Files amtool accepts that syncwatch refuses, and why. A file leaves the list when its feature
/// lands (the test fails while it is listed and accepted).
const NOT_YET: &[(&str, &str)] = &[(
    "prometheus__alertmanager__config_testdata_conf.good@v0.25.0.yml",
    "opsgenie_configs, victorops_configs and pushover_configs, which syncwatch refuses by design",
)];

fn corpus() -> Option<PathBuf> {
    let dir = repo().join("../shared/conformance/realworld/alertmanager");
    dir.is_dir().then_some(dir)
}

fn amtool_accepts(file: &Path) -> bool {
    Command::new("amtool")
        .arg("check-config")
        .arg(file)
        .output()
        .expect("amtool runs")
        .status
        .success()
}

#[test]
fn syncwatch_accepts_the_public_configs_amtool_accepts() {
    let Some(dir) = corpus() else {
        return skip_or_fail("the shared conformance corpus is not beside the repository");
    };
    if Command::new("amtool").arg("--version").output().is_err() {
        return skip_or_fail("amtool (Debian's prometheus-alertmanager) is not installed");
    }
    let no_env = |_: &str| None;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus has {} files", files.len());
    let mut wrong = Vec::new();
    let mut accepted = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let theirs = amtool_accepts(f);
        let ours = syncwatch::alerting::config::load_with(f, &no_env, Mode::Check);
        let listed = NOT_YET.iter().find(|(n, _)| *n == name);
        match (theirs, &ours, listed) {
            (true, Ok(_), None) => accepted += 1,
            (false, Err(_), None) => {}
            (true, Err(_), Some(_)) => {}
            (true, Ok(_), Some((_, why))) => wrong.push(format!(
                "{name}: accepted now; remove it from NOT_YET ({why})"
            )),
            (true, Err(p), None) => {
                wrong.push(format!("{name}: amtool accepts, syncwatch refuses:\n{p}"))
            }
            (false, Ok(_), _) => wrong.push(format!("{name}: amtool refuses, syncwatch accepts")),
            (false, Err(_), Some(_)) => {
                wrong.push(format!("{name}: listed in NOT_YET but amtool refuses it"))
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    eprintln!(
        "{accepted} of {} corpus files accepted as amtool accepts them",
        files.len()
    );
}
