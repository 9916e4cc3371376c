//! The route tree walk, as Alertmanager does it: depth first, a child that matches takes the
//! alert unless it says `continue`, and a node whose children all miss takes it itself.

use super::config::Route;
use crate::domain::Labels;
use crate::domain::matcher::all_match;

/// The routes that take an alert with these labels (at least the root).
pub fn matching_routes<'r>(root: &'r Route, labels: &Labels) -> Vec<&'r Route> {
    let mut out = Vec::new();
    walk(root, labels, &mut out);
    if out.is_empty() {
        out.push(root);
    }
    out
}

fn walk<'r>(route: &'r Route, labels: &Labels, out: &mut Vec<&'r Route>) -> bool {
    if !all_match(&route.matchers, labels) {
        return false;
    }
    let mut matched_child = false;
    for child in &route.routes {
        if walk(child, labels, out) {
            matched_child = true;
            if !child.continue_ {
                break;
            }
        }
    }
    if !matched_child {
        out.push(route);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::config::parse;
    use std::path::Path;

    const TREE: &str = r#"route:
  receiver: default
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - matchers: ['provider=~"cdk|tekion"']
      receiver: dms-team
      routes:
        - matchers: ['connection="dealer-001"']
          receiver: vip
    - matchers: ['provider="cdk"']
      receiver: never-reached
receivers:
  - name: default
  - name: pager
  - name: dms-team
  - name: vip
  - name: never-reached
"#;

    fn receivers(labels: &[(&str, &str)]) -> Vec<String> {
        let cfg = parse(Path::new("t.yml"), TREE, &|_| None).unwrap();
        let labels: Labels = labels.iter().copied().collect();
        matching_routes(&cfg.route, &labels)
            .iter()
            .map(|r| r.receiver.clone())
            .collect()
    }

    #[test]
    fn no_child_matches_so_the_root_takes_it() {
        assert_eq!(receivers(&[("provider", "xtime")]), vec!["default"]);
    }

    #[test]
    fn first_match_wins_and_stops() {
        assert_eq!(receivers(&[("provider", "cdk")]), vec!["dms-team"]);
    }

    #[test]
    fn continue_lets_later_siblings_match_too() {
        assert_eq!(
            receivers(&[("severity", "critical"), ("provider", "cdk")]),
            vec!["pager", "dms-team"]
        );
    }

    #[test]
    fn the_deepest_matching_node_takes_it() {
        assert_eq!(
            receivers(&[("provider", "tekion"), ("connection", "dealer-001")]),
            vec!["vip"]
        );
    }
}
