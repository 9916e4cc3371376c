//! The `RulesActor`: owns the series store, the rule groups and their alert states.
//!
//! It evaluates when a metric changed (a watcher waits on the live store, then waits a few
//! milliseconds more so a burst of changes costs one evaluation) and on every tick of
//! `rules.evaluation_interval` (for `for:` durations and absence). Transitions go to the
//! dispatcher with `send().await`; the handler is atomic, so evaluations queue behind a slow
//! dispatcher instead of piling up.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::file::{RuleGroup, RuleKind};
use super::series::SeriesStore;
use super::state::{ActiveAlert, EvalContext, GroupState, evaluate_group};
use super::template::TemplateEnv;
use crate::domain::{Alert, AlertState, Clock, Labels};
use crate::telemetry::{LiveStore, Metrics};

/// How long a change waits for more changes before it triggers an evaluation.
const COALESCE: Duration = Duration::from_millis(5);
/// Lookback (5 m) plus a margin; the longest rule window is added to it.
const BASE_RETENTION_MS: i64 = 6 * 60 * 1000;

/// Alerts that started firing or resolved, for the dispatcher.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct AlertTransitions(pub Vec<Alert>);

/// Evaluate the rules now.
#[derive(Message)]
#[rtype(result = "()")]
struct Evaluate {
    /// A tick evaluates only groups whose interval has elapsed; a change evaluates all.
    tick: bool,
}

/// The pending and firing alerts of every alerting rule.
#[derive(Message)]
#[rtype(result = "Vec<RuleAlert>")]
pub struct GetAlerts;

/// An active alert with the rule it belongs to.
#[derive(Debug, Clone)]
pub struct RuleAlert {
    pub group: String,
    pub rule: String,
    pub alert: ActiveAlert,
}

/// Gives the runbook link of an alert, when one maps to it.
pub type RunbookLinker = Arc<dyn Fn(&Labels) -> Option<String> + Send + Sync>;

pub struct RulesActor {
    groups: Vec<(RuleGroup, GroupState)>,
    store: SeriesStore,
    live: Arc<LiveStore>,
    clock: Arc<dyn Clock>,
    dispatch: Recipient<AlertTransitions>,
    metrics: Metrics,
    interval: Duration,
    generator_url: String,
    runbook_url: RunbookLinker,
    /// Alert names seen so far, so the `syncwatch_alerts` gauge returns to 0 when they clear.
    alert_names: Vec<String>,
}

impl RulesActor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        groups: Vec<RuleGroup>,
        live: Arc<LiveStore>,
        clock: Arc<dyn Clock>,
        dispatch: Recipient<AlertTransitions>,
        metrics: Metrics,
        interval: Duration,
        generator_url: String,
        runbook_url: RunbookLinker,
    ) -> Self {
        let max_window = groups
            .iter()
            .map(RuleGroup::max_window)
            .max()
            .unwrap_or_default();
        let store = SeriesStore::new(
            BASE_RETENTION_MS + max_window.as_millis() as i64,
            interval.as_millis() as i64,
        );
        let mut alert_names: Vec<String> = groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .filter(|r| matches!(r.kind, RuleKind::Alerting { .. }))
            .map(|r| r.name.clone())
            .collect();
        alert_names.sort();
        alert_names.dedup();
        Self {
            groups: groups
                .into_iter()
                .map(|g| {
                    let s = GroupState::new(&g);
                    (g, s)
                })
                .collect(),
            store,
            live,
            clock,
            dispatch,
            metrics,
            interval,
            generator_url,
            runbook_url,
            alert_names,
        }
    }

    fn evaluate(&mut self, tick: bool) -> Vec<Alert> {
        let now = self.clock.now_ms();
        self.store.ingest(&self.live.snapshot(), now);
        let linker = self.runbook_url.clone();
        let link = move |l: &Labels| linker(l);
        let env = TemplateEnv::default();
        let ctx = EvalContext {
            now_ms: now,
            step_ms: self.interval.as_millis() as i64,
            template_env: &env,
            generator_url: &self.generator_url,
            runbook_url: &link,
        };
        let mut transitions = Vec::new();
        for (group, state) in &mut self.groups {
            let interval = group.interval.unwrap_or(self.interval).as_millis() as i64;
            if tick && state.last_eval_ms.is_some_and(|last| now - last < interval) {
                continue;
            }
            let started = Instant::now();
            let outcome = evaluate_group(group, state, &mut self.store, &ctx);
            for (rule, e) in &outcome.failures {
                tracing::warn!(group = %group.name, rule = %rule, error = %e, "rule evaluation failed");
            }
            self.metrics.rule_group_evaluated(
                &group.name,
                started.elapsed(),
                outcome.failures.len() as u64,
            );
            transitions.extend(outcome.transitions);
        }
        for a in &transitions {
            if a.is_resolved() {
                tracing::info!(alert = %a.name(), labels = %a.labels, "alert resolved");
            } else {
                tracing::info!(alert = %a.name(), labels = %a.labels, "alert firing");
            }
        }
        self.record_alert_gauge();
        transitions
    }

    fn record_alert_gauge(&self) {
        let mut counts: HashMap<(&str, AlertState), usize> = HashMap::new();
        for (_, state) in &self.groups {
            for a in state.alerts.iter().flat_map(|m| m.values()) {
                *counts
                    .entry((a.labels.value("alertname"), a.state))
                    .or_default() += 1;
            }
        }
        for name in &self.alert_names {
            for st in [AlertState::Pending, AlertState::Firing] {
                let n = counts.get(&(name.as_str(), st)).copied().unwrap_or(0);
                self.metrics.alerts(name, st, n);
            }
        }
    }
}

impl Actor for RulesActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.interval, |_, ctx| ctx.notify(Evaluate { tick: true }));
        let live = self.live.clone();
        let addr = ctx.address().downgrade();
        actix::spawn(async move {
            loop {
                live.changed().await;
                tokio::time::sleep(COALESCE).await;
                let Some(addr) = addr.upgrade() else { break };
                if addr.send(Evaluate { tick: false }).await.is_err() {
                    break;
                }
            }
        });
    }
}

impl Handler<Evaluate> for RulesActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: Evaluate, _: &mut Self::Context) -> Self::Result {
        let transitions = self.evaluate(msg.tick);
        let dispatch = self.dispatch.clone();
        AtomicResponse::new(Box::pin(
            async move {
                if !transitions.is_empty()
                    && let Err(e) = dispatch.send(AlertTransitions(transitions)).await
                {
                    tracing::error!(error = %e, "dispatcher unavailable: alert transitions not delivered");
                }
            }
            .into_actor(self),
        ))
    }
}

impl Handler<GetAlerts> for RulesActor {
    type Result = MessageResult<GetAlerts>;

    fn handle(&mut self, _: GetAlerts, _: &mut Self::Context) -> Self::Result {
        let mut out = Vec::new();
        for (group, state) in &self.groups {
            for (rule, alerts) in group.rules.iter().zip(&state.alerts) {
                out.extend(alerts.values().map(|a| RuleAlert {
                    group: group.name.clone(),
                    rule: rule.name.clone(),
                    alert: a.clone(),
                }));
            }
        }
        out.sort_by_key(|a| a.alert.active_at_ms);
        MessageResult(out)
    }
}
