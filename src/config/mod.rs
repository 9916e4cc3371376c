//! `syncwatch.toml`: parsed into raw serde structs (unknown keys rejected), then validated into
//! the typed [`Settings`] the program uses. Validation does no I/O: the files a config names
//! (rules, routing, profiles, runbooks) are loaded and checked by their own modules.

mod interpolate;
pub mod loader;
mod problem;
pub mod yaml_index;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

pub use interpolate::{InterpolateError, interpolate, process_env};
pub use problem::{Problem, Problems, find_line, line_of};

use crate::domain::duration::parse_duration;

/// The environment lookup used for `${VAR}` (the process environment in production).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file; relative paths in it are resolved against its directory.
    pub file: PathBuf,
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub rules: RulesSettings,
    pub alerting: AlertingSettings,
    pub runbooks: RunbooksSettings,
    pub simulator: SimulatorSettings,
    pub providers: Vec<ProviderSettings>,
    pub pipelines: Vec<PipelineSettings>,
    pub api: ApiSettings,
    pub tickets: TicketsSettings,
    pub slo: SloSettings,
    pub assistant: AssistantSettings,
}

/// `[assistant]`: the runbook assistant (README "The assistant").
#[derive(Debug, Clone)]
pub struct AssistantSettings {
    /// An answer whose confidence is under this opens an L1 ticket at once (default 0.3;
    /// 0 never does).
    pub escalate_below: f32,
    /// Resolved tickets older than this are not suggested (default 365d).
    pub ticket_max_age: Duration,
    /// `[assistant.embeddings]`: dense retrieval, fused with BM25.
    pub embeddings: Option<crate::runbooks::openai::ModelEndpoint>,
    /// `[assistant.llm]`: answers written by a model from the retrieved passages.
    pub llm: Option<crate::runbooks::openai::ModelEndpoint>,
}

/// `[slo]`: where the SLO definitions are and the time zone of calendar windows.
#[derive(Debug, Clone)]
pub struct SloSettings {
    /// Globs of SLO files (default `slos/*.yml`), resolved against the config's directory.
    pub files: Vec<String>,
    /// The IANA time zone of calendar weeks, months and quarters (default `UTC`).
    pub timezone: jiff::tz::TimeZone,
}

/// `[tickets]`: the lifecycle's clocks.
#[derive(Debug, Clone)]
pub struct TicketsSettings {
    /// A resolved ticket closes on its own this long after its resolution (default 72h, as
    /// Zendesk closes solved tickets); zero: never.
    pub close_after: Duration,
    pub webhooks: Vec<TicketWebhookSettings>,
}

/// `[[tickets.webhooks]]`: where ticket events are POSTed, signed as the Standard Webhooks
/// specification says.
#[derive(Debug, Clone)]
pub struct TicketWebhookSettings {
    /// Unique; the webhook's place in the feed of ticket events is kept under it.
    pub name: String,
    pub url: crate::domain::Secret,
    /// Standard Webhooks secrets (`whsec_` and base64). Every delivery is signed with each, so
    /// while a secret is rotated a receiver holding the old or the new one verifies it.
    pub secrets: Vec<crate::domain::Secret>,
    /// The event kinds sent (`created`, `acknowledged`, …); empty: every kind.
    pub events: Vec<String>,
    /// One delivery attempt's limit (default 10 s).
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Base of the links in messages and tickets, without a trailing slash.
    pub public_url: String,
}

#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// `sqlite://path` (relative to the config's directory) or `postgres://…`.
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct RulesSettings {
    /// Glob patterns, already resolved against the config's directory.
    pub files: Vec<String>,
    pub evaluation_interval: Duration,
    /// The least time any stored metric is kept (rules' windows extend it per metric).
    pub min_retention: Duration,
    /// Series the rules' store holds at most; more are refused and counted.
    pub max_series: usize,
    /// How often rule files are checked for changes; zero: only on SIGHUP.
    pub watch_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct AlertingSettings {
    pub config: PathBuf,
}

#[derive(Debug, Clone)]
pub struct RunbooksSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct SimulatorSettings {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub scenario: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub name: String,
    pub profile: PathBuf,
    pub base_url: String,
    pub connections: Vec<ConnectionSettings>,
    pub schedule: Duration,
    /// Each run starts up to this much after its slot, at random, so connections of one
    /// provider do not fire together (default: a tenth of the schedule).
    pub jitter: Duration,
    pub pipeline: String,
}

/// One connection of a provider, with its own interval and jitter (the provider's unless the
/// connection sets them).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionSettings {
    pub name: String,
    pub schedule: Duration,
    pub jitter: Duration,
}

impl ProviderSettings {
    pub fn connection_names(&self) -> Vec<String> {
        self.connections.iter().map(|c| c.name.clone()).collect()
    }
}

/// The stage functions a pipeline can chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StageKind {
    Validate,
    Transform,
    Store,
    Export,
}

impl StageKind {
    pub const ALL: [StageKind; 4] = [
        StageKind::Validate,
        StageKind::Transform,
        StageKind::Store,
        StageKind::Export,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Validate => "validate",
            StageKind::Transform => "transform",
            StageKind::Store => "store",
            StageKind::Export => "export",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub name: String,
    pub stages: Vec<StageKind>,
    /// The `transform` stage's field mapping (when the pipeline has that stage).
    pub transform: Option<PathBuf>,
    /// The `validate` stage's JSON Schemas, `<stream>.json` or `<provider>/<stream>.json`
    /// (when the pipeline has that stage; a missing default directory means none).
    pub schemas_dir: Option<PathBuf>,
    /// The directory the `export` stage writes JSON Lines objects under (a `file://` URL).
    pub export_dir: Option<PathBuf>,
    /// The S3 bucket (and prefix) it writes them to instead (an `s3://` URL).
    pub export_s3: Option<S3Target>,
    /// Batches each stage's mailbox holds before senders wait.
    pub queue_capacity_batches: usize,
    /// The `export` stage writes an object once it holds this many records...
    pub export_buffer_records: usize,
    /// ...or once its oldest record has waited this long (Firehose's buffering hints).
    pub export_buffer_interval: Duration,
}

/// Where an `export` stage writes in S3 or an S3-compatible store. Unset fields come from the
/// usual `AWS_*` environment variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct S3Target {
    pub bucket: String,
    /// Keys start with this (no leading or trailing `/`; may be empty).
    pub prefix: String,
    /// An S3-compatible endpoint (MinIO, Ceph, LocalStack...), e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<crate::domain::Secret>,
    /// Allow a plain `http://` endpoint.
    pub allow_http: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    pub tokens: Vec<ApiToken>,
    /// `/metrics` needs a token with `metrics:read` (`api.metrics_auth = "token"`); by default
    /// it stays open for Prometheus to scrape, as `/healthz` and `/readyz` always are.
    pub metrics_need_token: bool,
}

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub name: String,
    /// Lowercase hex SHA-256 of the bearer token (the token itself is never stored).
    pub token_sha256: String,
    pub scopes: Vec<String>,
}

/// The scopes a token can hold: a read and a write scope per resource (`admin` holds them all),
/// and `metrics:read` for a `/metrics` behind a token. Which route needs which is
/// `api::auth::ROUTES`.
pub const SCOPES: [&str; 16] = [
    "admin",
    "alerts:read",
    "alerts:write",
    "tickets:read",
    "tickets:write",
    "sla:read",
    "silences:read",
    "silences:write",
    "providers:read",
    "providers:write",
    "runbooks:read",
    "events:write",
    "dlq:read",
    "dlq:write",
    "status:read",
    "metrics:read",
];

// ---------------------------------------------------------------------------------------------
// Raw file format

type S = Spanned<String>;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    rules: RawRules,
    #[serde(default)]
    alerting: RawAlerting,
    #[serde(default)]
    runbooks: RawRunbooks,
    #[serde(default)]
    simulator: RawSimulator,
    #[serde(default)]
    providers: Vec<Spanned<RawProvider>>,
    #[serde(default)]
    pipelines: Vec<Spanned<RawPipeline>>,
    #[serde(default)]
    api: RawApi,
    #[serde(default)]
    tickets: RawTickets,
    #[serde(default)]
    slo: RawSlo,
    #[serde(default)]
    assistant: RawAssistant,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAssistant {
    escalate_below: Option<Spanned<f64>>,
    ticket_max_age: Option<S>,
    embeddings: Option<Spanned<RawModel>>,
    llm: Option<Spanned<RawModel>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    url: S,
    model: S,
    api_key: Option<S>,
    timeout: Option<S>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSlo {
    files: Option<Vec<S>>,
    timezone: Option<S>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTickets {
    close_after: Option<S>,
    #[serde(default)]
    webhooks: Vec<Spanned<RawTicketWebhook>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTicketWebhook {
    name: S,
    url: S,
    secrets: Vec<S>,
    #[serde(default)]
    events: Vec<S>,
    timeout: Option<S>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<S>,
    public_url: Option<S>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    url: Option<S>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRules {
    files: Option<Vec<S>>,
    evaluation_interval: Option<S>,
    min_retention: Option<S>,
    max_series: Option<Spanned<i64>>,
    watch_interval: Option<S>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlerting {
    config: Option<S>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRunbooks {
    dir: Option<S>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSimulator {
    enabled: Option<bool>,
    listen: Option<S>,
    scenario: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: S,
    profile: Option<S>,
    base_url: S,
    connections: Vec<Spanned<RawConnection>>,
    schedule: Option<S>,
    jitter: Option<S>,
    pipeline: S,
}

/// A connection: its name, or a table with its name and its own `schedule` and `jitter`.
#[derive(Debug)]
enum RawConnection {
    Name(S),
    Table(RawConnectionTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnectionTable {
    name: S,
    schedule: Option<S>,
    jitter: Option<S>,
}

impl<'de> Deserialize<'de> for RawConnection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawConnection;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a connection name or a table { name = \"…\", schedule = \"…\", jitter = \"…\" }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawConnection, E> {
                // The string's own position is not known here; the caller's Spanned has it.
                Ok(RawConnection::Name(Spanned::new(0..0, v.to_string())))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawConnection, A::Error> {
                RawConnectionTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawConnection::Table)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    endpoint: Option<S>,
    region: Option<S>,
    access_key_id: Option<S>,
    secret_access_key: Option<S>,
    allow_http: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    name: S,
    stages: Vec<S>,
    queue_capacity: Option<Spanned<i64>>,
    transform: Option<S>,
    schemas: Option<S>,
    export_url: Option<S>,
    export_s3: Option<Spanned<RawS3>>,
    export_buffer_records: Option<Spanned<i64>>,
    export_buffer_interval: Option<S>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApi {
    #[serde(default)]
    tokens: Vec<Spanned<RawToken>>,
    metrics_auth: Option<S>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: S,
    token_sha256: S,
    scopes: Vec<S>,
}

// ---------------------------------------------------------------------------------------------
// Loading and validation

/// Reads and validates a config file. Every problem is reported, not just the first.
pub fn load(path: &Path, env: Env<'_>) -> Result<Settings, Problems> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(path, None, format!("cannot read config: {e}")))?;
    parse(path, &text, env)
}

/// Validates config text that was read from `path`.
pub fn parse(path: &Path, text: &str, env: Env<'_>) -> Result<Settings, Problems> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| Problem::from_toml(path, text, &e))?;
    let mut v = Validator {
        file: path,
        text,
        env,
        base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        problems: Vec::new(),
    };
    let settings = v.settings(raw);
    Problems::or_ok(v.problems, settings)
}

struct Validator<'a> {
    file: &'a Path,
    text: &'a str,
    env: Env<'a>,
    base: PathBuf,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn problem(&mut self, offset: usize, message: String) {
        self.problems
            .push(Problem::at_offset(self.file, self.text, offset, message));
    }

    /// The interpolated string value of a field.
    fn string(&mut self, key: &str, v: &S) -> String {
        match interpolate(v.get_ref(), self.env) {
            Ok(s) => s,
            Err(e) => {
                self.problem(v.span().start, format!("{key}: {e}"));
                String::new()
            }
        }
    }

    fn opt_string(&mut self, key: &str, v: &Option<S>, default: &str) -> (String, usize) {
        match v {
            Some(s) => (self.string(key, s), s.span().start),
            None => (default.to_string(), 0),
        }
    }

    fn path(&mut self, key: &str, v: &Option<S>, default: &str) -> PathBuf {
        let (s, _) = self.opt_string(key, v, default);
        self.resolve(&s)
    }

    /// A list of file globs, each resolved against the config's directory; `default` without.
    fn globs(&mut self, key: &str, list: &Option<Vec<S>>, default: &str) -> Vec<String> {
        match list {
            Some(list) => list
                .iter()
                .map(|f| {
                    let s = self.string(key, f);
                    self.resolve(&s).display().to_string()
                })
                .collect(),
            None => vec![self.resolve(default).display().to_string()],
        }
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() || self.base.as_os_str().is_empty() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// A count from 1 to `max` (`default` when absent; 1 when invalid, the problem recorded).
    fn count(&mut self, key: &str, v: &Option<Spanned<i64>>, max: i64, default: usize) -> usize {
        match v {
            Some(c) if !(1..=max).contains(c.get_ref()) => {
                self.problem(
                    c.span().start,
                    format!("{key}: must be between 1 and {max}"),
                );
                1
            }
            Some(c) => *c.get_ref() as usize,
            None => default,
        }
    }

    /// `None` when the value is invalid (the problem is recorded).
    fn duration(&mut self, key: &str, v: &Option<S>, default: &str) -> Option<Duration> {
        let (s, at) = self.opt_string(key, v, default);
        match parse_duration(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(at, format!("{key}: {e}"));
                None
            }
        }
    }

    /// A sync interval (default 30 s, at least 100 ms).
    fn schedule(&mut self, key: &str, v: &Option<S>, fallback_at: usize) -> Duration {
        let schedule = self.duration(key, v, "30s");
        if schedule.is_some_and(|s| s < Duration::from_millis(100)) {
            let at = v.as_ref().map_or(fallback_at, |s| s.span().start);
            self.problem(at, format!("{key}: must be at least 100ms"));
        }
        schedule.unwrap_or(Duration::from_secs(30))
    }

    /// The jitter of runs on `schedule` (default a tenth of it, always shorter than it).
    fn jitter(&mut self, key: &str, v: &Option<S>, schedule: Duration) -> Duration {
        let Some(j) = v else {
            return schedule / 10;
        };
        let jitter = self.duration(key, v, "0s").unwrap_or_default();
        if jitter >= schedule {
            self.problem(
                j.span().start,
                format!("{key}: must be shorter than the schedule"),
            );
        }
        jitter
    }

    fn addr(&mut self, key: &str, v: &Option<S>, default: &str) -> SocketAddr {
        let (s, at) = self.opt_string(key, v, default);
        match s.parse() {
            Ok(a) => a,
            Err(_) => {
                self.problem(
                    at,
                    format!("{key}: {s:?} is not an address of the form ip:port, e.g. \"127.0.0.1:8080\""),
                );
                SocketAddr::from(([127, 0, 0, 1], 0))
            }
        }
    }

    fn url(&mut self, key: &str, s: String, at: usize) -> String {
        if !(s.starts_with("http://") || s.starts_with("https://")) {
            self.problem(
                at,
                format!("{key}: {s:?} must start with http:// or https://"),
            );
        }
        s.trim_end_matches('/').to_string()
    }

    fn name(&mut self, key: &str, v: &S) -> String {
        let s = self.string(key, v);
        if s.is_empty()
            || !s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            self.problem(
                v.span().start,
                format!("{key}: {s:?} must be non-empty lowercase letters, digits, '-' or '_'"),
            );
        }
        s
    }

    fn settings(&mut self, raw: RawConfig) -> Settings {
        let listen = self.addr("server.listen", &raw.server.listen, "127.0.0.1:8080");
        let (public_url, at) = self.opt_string(
            "server.public_url",
            &raw.server.public_url,
            &format!("http://{listen}"),
        );
        let public_url = self.url("server.public_url", public_url, at);

        let (storage_url, at) = self.opt_string(
            "storage.url",
            &raw.storage.url,
            "sqlite://data/syncwatch.db",
        );
        let storage_url = if let Some(path) = storage_url.strip_prefix("sqlite://") {
            format!("sqlite://{}", self.resolve(path).display())
        } else if storage_url.starts_with("postgres://") || storage_url.starts_with("postgresql://")
        {
            storage_url
        } else {
            self.problem(
                at,
                "storage.url: must start with sqlite:// or postgres://".to_string(),
            );
            storage_url
        };

        let files = self.globs("rules.files", &raw.rules.files, "rules/*.yml");
        let evaluation_interval = self
            .duration(
                "rules.evaluation_interval",
                &raw.rules.evaluation_interval,
                "1s",
            )
            .unwrap_or(Duration::from_secs(1));
        if evaluation_interval.is_zero() {
            let at = raw
                .rules
                .evaluation_interval
                .as_ref()
                .map_or(0, |s| s.span().start);
            self.problem(
                at,
                "rules.evaluation_interval: must be greater than 0".into(),
            );
        }

        let min_retention = self
            .duration("rules.min_retention", &raw.rules.min_retention, "10m")
            .unwrap_or(Duration::from_secs(600));
        let watch_interval = self
            .duration("rules.watch_interval", &raw.rules.watch_interval, "2s")
            .unwrap_or(Duration::from_secs(2));
        let max_series = match &raw.rules.max_series {
            Some(n) if *n.get_ref() < 1 => {
                self.problem(
                    n.span().start,
                    "rules.max_series: must be at least 1".into(),
                );
                1
            }
            Some(n) => *n.get_ref() as usize,
            None => 200_000,
        };
        let alerting = AlertingSettings {
            config: self.path("alerting.config", &raw.alerting.config, "alerting.yml"),
        };
        let runbooks = RunbooksSettings {
            dir: self.path("runbooks.dir", &raw.runbooks.dir, "runbooks"),
        };
        let simulator = SimulatorSettings {
            enabled: raw.simulator.enabled.unwrap_or(false),
            listen: self.addr("simulator.listen", &raw.simulator.listen, "127.0.0.1:9100"),
            scenario: raw.simulator.scenario.as_ref().map(|s| {
                let v = self.string("simulator.scenario", s);
                self.resolve(&v)
            }),
        };

        let pipelines = self.pipelines(&raw.pipelines);
        let providers = self.providers(&raw.providers, &pipelines);
        let api = self.api(&raw.api);
        let tickets = TicketsSettings {
            close_after: self
                .duration("tickets.close_after", &raw.tickets.close_after, "72h")
                .unwrap_or(Duration::from_secs(72 * 3600)),
            webhooks: self.ticket_webhooks(&raw.tickets.webhooks),
        };
        let slo = SloSettings {
            files: self.globs("slo.files", &raw.slo.files, "slos/*.yml"),
            timezone: match &raw.slo.timezone {
                Some(tz) => {
                    let name = self.string("slo.timezone", tz);
                    jiff::tz::TimeZone::get(&name).unwrap_or_else(|_| {
                        self.problem(
                            tz.span().start,
                            format!("slo.timezone: {name:?} is not an IANA time zone (e.g. \"Europe/Berlin\")"),
                        );
                        jiff::tz::TimeZone::UTC
                    })
                }
                None => jiff::tz::TimeZone::UTC,
            },
        };

        let assistant = self.assistant(&raw.assistant);

        Settings {
            file: self.file.to_path_buf(),
            server: ServerSettings { listen, public_url },
            storage: StorageSettings { url: storage_url },
            rules: RulesSettings {
                files,
                evaluation_interval,
                min_retention,
                max_series,
                watch_interval,
            },
            alerting,
            runbooks,
            simulator,
            providers,
            pipelines,
            api,
            tickets,
            slo,
            assistant,
        }
    }

    fn assistant(&mut self, raw: &RawAssistant) -> AssistantSettings {
        let escalate_below = match &raw.escalate_below {
            Some(v) if !(0.0..=1.0).contains(v.get_ref()) => {
                self.problem(
                    v.span().start,
                    "assistant.escalate_below: must be between 0 and 1".into(),
                );
                0.3
            }
            Some(v) => *v.get_ref() as f32,
            None => 0.3,
        };
        let ticket_max_age = self
            .duration("assistant.ticket_max_age", &raw.ticket_max_age, "365d")
            .unwrap_or(Duration::from_secs(365 * 86_400));
        AssistantSettings {
            escalate_below,
            ticket_max_age,
            embeddings: raw
                .embeddings
                .as_ref()
                .map(|m| self.model("assistant.embeddings", m, "10s")),
            llm: raw
                .llm
                .as_ref()
                .map(|m| self.model("assistant.llm", m, "5s")),
        }
    }

    /// An OpenAI-compatible endpoint: `url` (the API base, e.g. `http://127.0.0.1:8080/v1`),
    /// `model`, optional `api_key` (`${ENV}` allowed), `timeout`.
    fn model(
        &mut self,
        key: &str,
        raw: &Spanned<RawModel>,
        timeout: &str,
    ) -> crate::runbooks::openai::ModelEndpoint {
        let r = raw.get_ref();
        let url = self.string(&format!("{key}.url"), &r.url);
        let url = self.url(&format!("{key}.url"), url, r.url.span().start);
        let model = self.string(&format!("{key}.model"), &r.model);
        if model.trim().is_empty() {
            self.problem(
                r.model.span().start,
                format!("{key}.model: must not be empty"),
            );
        }
        let api_key = r
            .api_key
            .as_ref()
            .map(|k| crate::domain::Secret::new(self.string(&format!("{key}.api_key"), k)))
            .filter(|k| !k.expose().is_empty());
        let timeout = self
            .duration(&format!("{key}.timeout"), &r.timeout, timeout)
            .unwrap_or(Duration::from_secs(5));
        if timeout.is_zero() {
            let at = r
                .timeout
                .as_ref()
                .map_or(raw.span().start, |t| t.span().start);
            self.problem(at, format!("{key}.timeout: must be greater than 0"));
        }
        crate::runbooks::openai::ModelEndpoint {
            url,
            model,
            api_key,
            timeout,
        }
    }

    fn pipelines(&mut self, raw: &[Spanned<RawPipeline>]) -> Vec<PipelineSettings> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, p) in raw.iter().enumerate() {
            let key = format!("pipelines[{i}]");
            let name = self.name(&format!("{key}.name"), &p.get_ref().name);
            if !seen.insert(name.clone()) {
                self.problem(
                    p.span().start,
                    format!("{key}.name: duplicate pipeline {name:?}"),
                );
            }
            let mut stages = Vec::new();
            for s in &p.get_ref().stages {
                let v = self.string(&format!("{key}.stages"), s);
                match StageKind::ALL.into_iter().find(|k| k.as_str() == v) {
                    Some(k) if stages.contains(&k) => self.problem(
                        s.span().start,
                        format!("{key}.stages: stage {v:?} listed twice"),
                    ),
                    Some(k) => stages.push(k),
                    None => self.problem(
                        s.span().start,
                        format!(
                            "{key}.stages: unknown stage {v:?} (available: {})",
                            StageKind::ALL.map(StageKind::as_str).join(", ")
                        ),
                    ),
                }
            }
            if stages.is_empty() && p.get_ref().stages.is_empty() {
                self.problem(
                    p.span().start,
                    format!("{key}.stages: at least one stage is required"),
                );
            }
            let queue_capacity_batches = self.count(
                &format!("{key}.queue_capacity"),
                &p.get_ref().queue_capacity,
                100_000,
                16,
            );
            let transform = if stages.contains(&StageKind::Transform) {
                Some(self.path(
                    &format!("{key}.transform"),
                    &p.get_ref().transform,
                    &format!("transforms/{name}.toml"),
                ))
            } else {
                if let Some(t) = &p.get_ref().transform {
                    self.problem(
                        t.span().start,
                        format!("{key}.transform: the pipeline has no \"transform\" stage"),
                    );
                }
                None
            };
            let raw_schemas = &p.get_ref().schemas;
            let schemas_dir = if stages.contains(&StageKind::Validate) {
                let dir = self.path(&format!("{key}.schemas"), raw_schemas, "schemas");
                if let Some(s) = raw_schemas
                    && !dir.is_dir()
                {
                    self.problem(
                        s.span().start,
                        format!("{key}.schemas: {} is not a directory", dir.display()),
                    );
                }
                Some(dir)
            } else {
                if let Some(s) = raw_schemas {
                    self.problem(
                        s.span().start,
                        format!("{key}.schemas: the pipeline has no \"validate\" stage"),
                    );
                }
                None
            };
            let raw_export = &p.get_ref().export_url;
            let raw_s3 = &p.get_ref().export_s3;
            let (mut export_dir, mut export_s3) = (None, None);
            if stages.contains(&StageKind::Export) {
                let (url, at) = self.opt_string(
                    &format!("{key}.export_url"),
                    raw_export,
                    &format!("file://data/export/{name}"),
                );
                if let Some(dir) = url.strip_prefix("file://").filter(|d| !d.is_empty()) {
                    export_dir = Some(self.resolve(dir));
                } else if let Some(rest) = url.strip_prefix("s3://") {
                    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                    if bucket.is_empty() {
                        self.problem(at, format!("{key}.export_url: {url:?} names no bucket"));
                    }
                    export_s3 = Some(S3Target {
                        bucket: bucket.to_string(),
                        prefix: prefix.trim_matches('/').to_string(),
                        ..S3Target::default()
                    });
                } else {
                    self.problem(
                        at,
                        format!("{key}.export_url: {url:?} is neither a file:// nor an s3:// URL"),
                    );
                }
            } else if let Some(e) = raw_export {
                self.problem(
                    e.span().start,
                    format!("{key}.export_url: the pipeline has no \"export\" stage"),
                );
            }
            if let Some(raw) = raw_s3 {
                let k = format!("{key}.export_s3");
                match &mut export_s3 {
                    Some(t) => {
                        let r = raw.get_ref();
                        let mut opt = |field: &str, v: &Option<S>| {
                            v.as_ref()
                                .map(|_| self.opt_string(&format!("{k}.{field}"), v, "").0)
                        };
                        t.endpoint = opt("endpoint", &r.endpoint);
                        t.region = opt("region", &r.region);
                        t.access_key_id = opt("access_key_id", &r.access_key_id);
                        t.secret_access_key = opt("secret_access_key", &r.secret_access_key)
                            .map(crate::domain::Secret::new);
                        t.allow_http = r.allow_http.unwrap_or(false);
                    }
                    None => self.problem(
                        raw.span().start,
                        format!("{k}: export_url is not an s3:// URL"),
                    ),
                }
            }
            let export_buffer_records = self.count(
                &format!("{key}.export_buffer_records"),
                &p.get_ref().export_buffer_records,
                1_000_000,
                10_000,
            );
            let raw_interval = &p.get_ref().export_buffer_interval;
            let export_buffer_interval = self
                .duration(&format!("{key}.export_buffer_interval"), raw_interval, "1s")
                .unwrap_or(Duration::from_secs(1));
            if let Some(at) = raw_interval.as_ref().map(|s| s.span().start)
                && export_buffer_interval > Duration::from_secs(30)
            {
                // Buffered records count in the stage's iterator age: longer would trip the
                // default StageIteratorAgeHigh (60 s) on an idle trickle.
                self.problem(
                    at,
                    format!("{key}.export_buffer_interval: must be at most 30s (buffered records count in the stage's iterator age)"),
                );
            }
            if !stages.contains(&StageKind::Export) {
                let extra = p
                    .get_ref()
                    .export_buffer_records
                    .as_ref()
                    .map(|c| (c.span().start, "export_buffer_records"))
                    .or(raw_interval
                        .as_ref()
                        .map(|s| (s.span().start, "export_buffer_interval")));
                if let Some((at, field)) = extra {
                    self.problem(
                        at,
                        format!("{key}.{field}: the pipeline has no \"export\" stage"),
                    );
                }
            }
            out.push(PipelineSettings {
                name,
                stages,
                transform,
                schemas_dir,
                export_dir,
                export_s3,
                queue_capacity_batches,
                export_buffer_records,
                export_buffer_interval,
            });
        }
        out
    }

    fn providers(
        &mut self,
        raw: &[Spanned<RawProvider>],
        pipelines: &[PipelineSettings],
    ) -> Vec<ProviderSettings> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, p) in raw.iter().enumerate() {
            let key = format!("providers[{i}]");
            let r = p.get_ref();
            let name = self.name(&format!("{key}.name"), &r.name);
            if !seen.insert(name.clone()) {
                self.problem(
                    r.name.span().start,
                    format!("{key}.name: duplicate provider {name:?}"),
                );
            }
            let profile = self.path(
                &format!("{key}.profile"),
                &r.profile,
                &format!("providers/{name}.toml"),
            );
            let base_url = self.string(&format!("{key}.base_url"), &r.base_url);
            let base_url = self.url(
                &format!("{key}.base_url"),
                base_url,
                r.base_url.span().start,
            );
            let schedule = self.schedule(&format!("{key}.schedule"), &r.schedule, p.span().start);
            let jitter = self.jitter(&format!("{key}.jitter"), &r.jitter, schedule);
            let mut connections: Vec<ConnectionSettings> = Vec::new();
            for (j, c) in r.connections.iter().enumerate() {
                let ckey = format!("{key}.connections[{j}]");
                let (name, c_schedule, c_jitter) = match c.get_ref() {
                    RawConnection::Name(n) => {
                        (Spanned::new(c.span(), n.get_ref().clone()), None, None)
                    }
                    RawConnection::Table(t) => {
                        (t.name.clone(), t.schedule.as_ref(), t.jitter.as_ref())
                    }
                };
                let c_name = self.name(&format!("{key}.connections"), &name);
                if connections.iter().any(|o| o.name == c_name) {
                    self.problem(
                        name.span().start,
                        format!("{key}.connections: duplicate connection {c_name:?}"),
                    );
                }
                let (schedule, jitter) = match (c_schedule, c_jitter) {
                    (None, None) => (schedule, jitter),
                    (sch, jit) => {
                        let sch = match sch {
                            Some(v) => self.schedule(
                                &format!("{ckey}.schedule"),
                                &Some(v.clone()),
                                c.span().start,
                            ),
                            None => schedule,
                        };
                        // Without its own jitter, the connection keeps the provider's unless that
                        // is too long for its interval.
                        let jit = match jit {
                            Some(v) => {
                                self.jitter(&format!("{ckey}.jitter"), &Some(v.clone()), sch)
                            }
                            None if r.jitter.is_some() && jitter < sch => jitter,
                            None => sch / 10,
                        };
                        (sch, jit)
                    }
                };
                connections.push(ConnectionSettings {
                    name: c_name,
                    schedule,
                    jitter,
                });
            }
            if connections.is_empty() {
                self.problem(
                    p.span().start,
                    format!("{key}.connections: at least one connection is required"),
                );
            }
            let pipeline = self.string(&format!("{key}.pipeline"), &r.pipeline);
            if !pipelines.iter().any(|pl| pl.name == pipeline) {
                self.problem(
                    r.pipeline.span().start,
                    format!("{key}.pipeline: no [[pipelines]] entry is named {pipeline:?}"),
                );
            }
            out.push(ProviderSettings {
                name,
                profile,
                base_url,
                connections,
                schedule,
                jitter,
                pipeline,
            });
        }
        out
    }

    fn ticket_webhooks(&mut self, raw: &[Spanned<RawTicketWebhook>]) -> Vec<TicketWebhookSettings> {
        let mut out: Vec<TicketWebhookSettings> = Vec::new();
        for (i, w) in raw.iter().enumerate() {
            let key = format!("tickets.webhooks[{i}]");
            let r = w.get_ref();
            let name = self.string(&format!("{key}.name"), &r.name);
            if name.is_empty() || out.iter().any(|o| o.name == name) {
                self.problem(
                    r.name.span().start,
                    format!("{key}.name: {name:?} must be non-empty and unique"),
                );
            }
            let url = self.string(&format!("{key}.url"), &r.url);
            if url::Url::parse(&url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .is_none()
            {
                self.problem(
                    r.url.span().start,
                    format!("{key}.url: must be an http(s) URL with a host"),
                );
            }
            if r.secrets.is_empty() {
                self.problem(
                    w.span().start,
                    format!("{key}.secrets: at least one secret (whsec_ and base64) signs the deliveries"),
                );
            }
            let mut secrets = Vec::new();
            for s in &r.secrets {
                let v = self.string(&format!("{key}.secrets"), s);
                match standardwebhooks::Webhook::new(&v) {
                    Ok(_) if !v.trim_start_matches("whsec_").is_empty() => {}
                    _ => self.problem(
                        s.span().start,
                        format!(
                            "{key}.secrets: not a Standard Webhooks secret (\"whsec_\" and base64, e.g. from `openssl rand -base64 32`)"
                        ),
                    ),
                }
                secrets.push(crate::domain::Secret::new(v));
            }
            let mut events = Vec::new();
            for e in &r.events {
                let v = self.string(&format!("{key}.events"), e);
                if !crate::domain::ticket::EVENT_KINDS.contains(&v.as_str()) {
                    self.problem(
                        e.span().start,
                        format!(
                            "{key}.events: unknown event {v:?} (known: {})",
                            crate::domain::ticket::EVENT_KINDS.join(", ")
                        ),
                    );
                }
                events.push(v);
            }
            let timeout = self
                .duration(&format!("{key}.timeout"), &r.timeout, "10s")
                .unwrap_or(Duration::from_secs(10));
            out.push(TicketWebhookSettings {
                name,
                url: crate::domain::Secret::new(url),
                secrets,
                events,
                timeout,
            });
        }
        out
    }

    fn api(&mut self, raw: &RawApi) -> ApiSettings {
        let mut tokens = Vec::new();
        for (i, t) in raw.tokens.iter().enumerate() {
            let key = format!("api.tokens[{i}]");
            let r = t.get_ref();
            let name = self.string(&format!("{key}.name"), &r.name);
            let hash = self
                .string(&format!("{key}.token_sha256"), &r.token_sha256)
                .to_ascii_lowercase();
            if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                self.problem(
                    r.token_sha256.span().start,
                    format!("{key}.token_sha256: expected 64 hex digits (sha256sum of the token)"),
                );
            }
            let mut scopes = Vec::new();
            for s in &r.scopes {
                let v = self.string(&format!("{key}.scopes"), s);
                if !SCOPES.contains(&v.as_str()) {
                    self.problem(
                        s.span().start,
                        format!(
                            "{key}.scopes: unknown scope {v:?} (known: {})",
                            SCOPES.join(", ")
                        ),
                    );
                }
                scopes.push(v);
            }
            tokens.push(ApiToken {
                name,
                token_sha256: hash,
                scopes,
            });
        }
        let (metrics_auth, at) = self.opt_string("api.metrics_auth", &raw.metrics_auth, "open");
        let metrics_need_token = match metrics_auth.as_str() {
            "open" => false,
            "token" => true,
            _ => {
                self.problem(
                    at,
                    "api.metrics_auth: expected \"open\" or \"token\"".to_string(),
                );
                false
            }
        };
        let scrapers = tokens
            .iter()
            .any(|t| t.scopes.iter().any(|s| s == "metrics:read" || s == "admin"));
        if metrics_need_token && !scrapers {
            self.problem(
                at,
                "api.metrics_auth: \"token\" needs an [[api.tokens]] entry with scope metrics:read (or admin); with none, /metrics would be open".to_string(),
            );
        }
        ApiSettings {
            tokens,
            metrics_need_token,
        }
    }
}

impl Settings {
    pub fn provider(&self, name: &str) -> Option<&ProviderSettings> {
        self.providers.iter().find(|p| p.name == name)
    }

    pub fn pipeline(&self, name: &str) -> Option<&PipelineSettings> {
        self.pipelines.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse_str(text: &str) -> Result<Settings, Problems> {
        parse(Path::new("conf/syncwatch.toml"), text, &no_env)
    }

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8080"

[[pipelines]]
name = "dms"
stages = ["validate", "store"]

[[providers]]
name = "tekion"
base_url = "http://127.0.0.1:9100/tekion"
connections = ["dealer-001"]
schedule = "30s"
pipeline = "dms"
"#;

    #[test]
    fn tickets_close_after_defaults_to_72h_and_a_bad_one_names_its_line() {
        assert_eq!(
            parse_str(GOOD).unwrap().tickets.close_after,
            Duration::from_secs(72 * 3600)
        );
        let set = parse_str(&format!("{GOOD}\n[tickets]\nclose_after = \"0s\"\n")).unwrap();
        assert!(set.tickets.close_after.is_zero());
        let err = parse_str(&format!("{GOOD}\n[tickets]\nclose_after = \"soon\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("syncwatch.toml:17: tickets.close_after: invalid duration"),
            "{err}"
        );
    }

    #[test]
    fn slo_files_and_time_zone_default_and_a_bad_zone_names_its_line() {
        let s = parse_str(GOOD).unwrap();
        assert_eq!(s.slo.files, ["conf/slos/*.yml"]);
        assert_eq!(s.slo.timezone, jiff::tz::TimeZone::UTC);
        let berlin = parse_str(&format!("{GOOD}\n[slo]\ntimezone = \"Europe/Berlin\"\n")).unwrap();
        assert_eq!(berlin.slo.timezone.iana_name(), Some("Europe/Berlin"));
        let lines = GOOD.lines().count();
        let err = parse_str(&format!("{GOOD}\n[slo]\ntimezone = \"Mars/Base\"\n")).unwrap_err();
        assert_eq!(err.0[0].line, Some(lines + 3));
        assert!(err.0[0].message.contains("not an IANA time zone"), "{err}");
    }

    #[test]
    fn ticket_webhooks_are_read_and_each_bad_field_names_its_line() {
        let good = format!(
            "{GOOD}\n[[tickets.webhooks]]\nname = \"desk\"\nurl = \"https://desk.example.com/hook\"\n\
             secrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\nevents = [\"created\", \"resolved\"]\n"
        );
        let w = &parse_str(&good).unwrap().tickets.webhooks[0];
        assert_eq!(
            (w.name.as_str(), w.url.expose()),
            ("desk", "https://desk.example.com/hook")
        );
        assert_eq!(w.events, ["created", "resolved"]);
        assert_eq!(w.timeout, Duration::from_secs(10));
        let bad = format!(
            "{GOOD}\n[[tickets.webhooks]]\nname = \"desk\"\nurl = \"ftp://x\"\n\
             secrets = [\"not base64!\"]\nevents = [\"exploded\"]\n\n\
             [[tickets.webhooks]]\nname = \"desk\"\nurl = \"http://x\"\nsecrets = []\n"
        );
        let err = parse_str(&bad).unwrap_err().to_string();
        for want in [
            "syncwatch.toml:18: tickets.webhooks[0].url: must be an http(s) URL",
            "syncwatch.toml:19: tickets.webhooks[0].secrets: not a Standard Webhooks secret",
            "syncwatch.toml:20: tickets.webhooks[0].events: unknown event \"exploded\"",
            "syncwatch.toml:23: tickets.webhooks[1].name: \"desk\" must be non-empty and unique",
            "tickets.webhooks[1].secrets: at least one secret",
        ] {
            assert!(err.contains(want), "{want}\nin\n{err}");
        }
    }

    #[test]
    fn a_minimal_config_gets_defaults_and_resolved_paths() {
        let s = parse_str(GOOD).unwrap();
        assert_eq!(s.server.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.rules.evaluation_interval, Duration::from_secs(1));
        assert_eq!(s.storage.url, "sqlite://conf/data/syncwatch.db");
        assert_eq!(
            s.providers[0].profile,
            PathBuf::from("conf/providers/tekion.toml")
        );
        assert_eq!(
            s.pipelines[0].stages,
            vec![StageKind::Validate, StageKind::Store]
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let text = "[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n";
        let err = parse_str(text).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].line, Some(3));
        assert!(
            err.0[0].message.contains("unknown field `lisen`"),
            "{}",
            err
        );
    }

    #[test]
    fn every_validation_problem_is_reported_with_key_and_line() {
        let text = GOOD
            .replace("schedule = \"30s\"", "schedule = \"30 seconds\"")
            .replace("pipeline = \"dms\"", "pipeline = \"nope\"")
            .replace("\"store\"]", "\"store\", \"bogus\"]");
        let err = parse_str(&text).unwrap_err();
        let all = err.to_string();
        assert_eq!(err.0.len(), 3, "{all}");
        assert!(
            all.contains("conf/syncwatch.toml:13: providers[0].schedule: invalid duration"),
            "{all}"
        );
        assert!(
            all.contains(":14: providers[0].pipeline: no [[pipelines]] entry is named \"nope\""),
            "{all}"
        );
        assert!(
            all.contains(":7: pipelines[0].stages: unknown stage \"bogus\""),
            "{all}"
        );
    }

    #[test]
    fn env_variables_are_interpolated_and_missing_ones_named() {
        let env = |n: &str| (n == "HOST").then(|| "10.0.0.1".to_string());
        let text = GOOD.replace("http://127.0.0.1:9100", "http://${HOST}:9100");
        let s = parse(Path::new("c.toml"), &text, &env).unwrap();
        assert_eq!(s.providers[0].base_url, "http://10.0.0.1:9100/tekion");
        let err = parse_str(&text).unwrap_err();
        assert!(
            err.to_string()
                .contains("environment variable HOST is not set")
        );
    }

    #[test]
    fn token_hashes_and_scopes_are_checked() {
        let text = format!(
            "{GOOD}\n[[api.tokens]]\nname = \"desk\"\ntoken_sha256 = \"abc\"\nscopes = [\"tickets:read\", \"root\"]\n"
        );
        let err = parse_str(&text).unwrap_err().to_string();
        assert!(
            err.contains("token_sha256: expected 64 hex digits"),
            "{err}"
        );
        assert!(err.contains("unknown scope \"root\""), "{err}");
        // A /metrics behind tokens with no token that may scrape would be open: refused.
        let hash = "a".repeat(64);
        let text = format!(
            "{GOOD}\n[api]\nmetrics_auth = \"token\"\n[[api.tokens]]\nname = \"desk\"\ntoken_sha256 = \"{hash}\"\nscopes = [\"tickets:read\"]\n"
        );
        let err = parse_str(&text).unwrap_err().to_string();
        assert!(err.contains("api.metrics_auth: \"token\" needs"), "{err}");
        assert!(parse_str(&text.replace("\"tickets:read\"", "\"metrics:read\"")).is_ok());
    }

    #[test]
    fn a_connection_may_set_its_own_schedule_and_jitter() {
        let text = GOOD.replace(
            r#"connections = ["dealer-001"]"#,
            r#"connections = ["dealer-001", { name = "dealer-002", schedule = "5m" }, { name = "dealer-003", schedule = "10s", jitter = "2s" }]
jitter = "1s""#,
        );
        let s = parse_str(&text).unwrap();
        let c = &s.providers[0].connections;
        let secs = Duration::from_secs;
        let got: Vec<(&str, Duration, Duration)> = c
            .iter()
            .map(|c| (c.name.as_str(), c.schedule, c.jitter))
            .collect();
        assert_eq!(
            got,
            vec![
                ("dealer-001", secs(30), secs(1)),
                ("dealer-002", secs(300), secs(1)),
                ("dealer-003", secs(10), secs(2)),
            ]
        );
        // Without any jitter set, an overridden schedule gets a tenth of its own.
        let text = GOOD.replace(
            r#"connections = ["dealer-001"]"#,
            r#"connections = [{ name = "dealer-001", schedule = "5m" }]"#,
        );
        assert_eq!(
            parse_str(&text).unwrap().providers[0].connections[0].jitter,
            secs(30)
        );
    }

    #[test]
    fn bad_connections_are_named_with_their_line() {
        let text = GOOD.replace(
            r#"connections = ["dealer-001"]"#,
            "connections = [\n  \"dealer-001\",\n  { name = \"dealer-001\" },\n  { name = \"Bad\" },\n  { name = \"d2\", schedule = \"10ms\" },\n  { name = \"d3\", schedule = \"1s\", jitter = \"1s\" },\n]",
        );
        let err = parse_str(&text).unwrap_err().to_string();
        for expected in [
            ":14: providers[0].connections: duplicate connection \"dealer-001\"",
            ":15: providers[0].connections: \"Bad\" must be",
            ":16: providers[0].connections[3].schedule: must be at least 100ms",
            ":17: providers[0].connections[4].jitter: must be shorter than the schedule",
        ] {
            assert!(err.contains(expected), "{expected} in {err}");
        }
        let text = GOOD.replace(
            r#"connections = ["dealer-001"]"#,
            r#"connections = [{ name = "d1", every = "1m" }]"#,
        );
        let err = parse_str(&text).unwrap_err().to_string();
        assert!(
            err.contains(":12:") && err.contains("unknown field `every`"),
            "{err}"
        );
    }

    #[test]
    fn a_transform_stage_reads_its_mapping_file() {
        let text = GOOD.replace(
            r#"["validate", "store"]"#,
            r#"["transform", "validate", "store"]"#,
        );
        let s = parse_str(&text).unwrap();
        assert_eq!(
            s.pipelines[0].transform,
            Some(PathBuf::from("conf/transforms/dms.toml"))
        );
        assert_eq!(s.pipelines[0].stages[0], StageKind::Transform);
        let text = GOOD.replace(
            r#"stages = ["validate", "store"]"#,
            "stages = [\"validate\", \"store\"]\ntransform = \"t.toml\"",
        );
        let err = parse_str(&text).unwrap_err().to_string();
        assert!(
            err.contains(":8: pipelines[0].transform: the pipeline has no \"transform\" stage"),
            "{err}"
        );
    }

    #[test]
    fn an_export_stage_writes_under_a_file_url() {
        let with = |stages: &str, extra: &str| {
            GOOD.replace(
                r#"stages = ["validate", "store"]"#,
                &format!("stages = {stages}\n{extra}"),
            )
        };
        let s = parse_str(&with(r#"["validate", "store", "export"]"#, "")).unwrap();
        assert_eq!(
            s.pipelines[0].export_dir,
            Some(PathBuf::from("conf/data/export/dms"))
        );
        let s = parse_str(&with(
            r#"["validate", "store", "export"]"#,
            r#"export_url = "file:///var/export""#,
        ))
        .unwrap();
        assert_eq!(
            s.pipelines[0].export_dir,
            Some(PathBuf::from("/var/export"))
        );
        let s = parse_str(&with(
            r#"["validate", "store", "export"]"#,
            "export_url = \"s3://exports/dms/raw/\"\nexport_s3 = { endpoint = \"http://127.0.0.1:9000\", region = \"eu-west-1\", allow_http = true }",
        ))
        .unwrap();
        assert_eq!(s.pipelines[0].export_dir, None);
        assert_eq!(
            s.pipelines[0].export_s3,
            Some(S3Target {
                bucket: "exports".into(),
                prefix: "dms/raw".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("eu-west-1".into()),
                access_key_id: None,
                secret_access_key: None,
                allow_http: true,
            })
        );
        let err = parse_str(&with(
            r#"["validate", "store", "export"]"#,
            r#"export_url = "gs://bucket/x""#,
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(":8: pipelines[0].export_url: \"gs://bucket/x\" is neither a file:// nor an s3:// URL"),
            "{err}"
        );
        let err = parse_str(&with(
            r#"["validate", "store", "export"]"#,
            "export_s3 = { region = \"eu-west-1\" }",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(":8: pipelines[0].export_s3: export_url is not an s3:// URL"),
            "{err}"
        );
        let err = parse_str(&with(r#"["validate"]"#, r#"export_url = "file:///x""#))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the pipeline has no \"export\" stage"),
            "{err}"
        );
    }

    #[test]
    fn export_buffering_hints_have_defaults_and_bounds() {
        let with = |extra: &str| {
            GOOD.replace(
                r#"stages = ["validate", "store"]"#,
                &format!("stages = [\"validate\", \"store\", \"export\"]\n{extra}"),
            )
        };
        let s = parse_str(&with("")).unwrap();
        assert_eq!(s.pipelines[0].export_buffer_records, 10_000);
        assert_eq!(
            s.pipelines[0].export_buffer_interval,
            Duration::from_secs(1)
        );
        let s = parse_str(&with(
            "export_buffer_records = 500\nexport_buffer_interval = \"20s\"",
        ))
        .unwrap();
        assert_eq!(s.pipelines[0].export_buffer_records, 500);
        assert_eq!(
            s.pipelines[0].export_buffer_interval,
            Duration::from_secs(20)
        );
        let err = parse_str(&with("export_buffer_records = 0"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(":8: pipelines[0].export_buffer_records: must be between 1 and 1000000"),
            "{err}"
        );
        let err = parse_str(&with("export_buffer_interval = \"1m\""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(":8: pipelines[0].export_buffer_interval: must be at most 30s"),
            "{err}"
        );
        let err = parse_str(&GOOD.replace(
            r#"stages = ["validate", "store"]"#,
            "stages = [\"validate\", \"store\"]\nexport_buffer_records = 5",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(
                ":8: pipelines[0].export_buffer_records: the pipeline has no \"export\" stage"
            ),
            "{err}"
        );
    }
}
