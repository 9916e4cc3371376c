//! The DMS provider simulator: serves records for tekion, cdk, xtime, mykaarma and dealerfx
//! under `/{provider}/dealers/{connection}/{stream}`, each with its own API style (see
//! [`api`]): auth, pagination and incremental filter. It injects faults from a scenario file and
//! from its admin API, and records every request it answered so tests can check, for example,
//! that nobody called before a Retry-After expired.
//!
//! Admin API: `POST /admin/faults` → `201 {"id"}`, `GET /admin/faults`, `DELETE /admin/faults`,
//! `DELETE /admin/faults/{id}`, `GET /admin/requests?provider=…`.

pub mod api;
pub mod data;
pub mod faults;
pub mod scenario;

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::Clock;
use faults::{Answer, Fault, decide};
use scenario::{FaultSpec, RawFault};

/// How many answered requests are kept per provider.
const REQUEST_LOG_CAPACITY: usize = 10_000;

/// One answered request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestLog {
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub status: u16,
}

#[derive(Debug, Default)]
struct State {
    faults: Vec<Fault>,
    next_id: u64,
    requests: HashMap<String, VecDeque<RequestLog>>,
    /// OAuth2 tokens issued: token → (issued at, expires at).
    tokens: HashMap<String, (i64, i64)>,
}

/// How long an issued OAuth2 token lives.
const TOKEN_LIFETIME_SECS: i64 = 3600;

/// The simulator's shared state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Simulator {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
}

impl Simulator {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::default(),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent across a panic (plain data), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Schedules a fault `spec.at` after now; returns its id.
    pub fn add_fault(&self, spec: &FaultSpec) -> u64 {
        let now = self.clock.now_ms();
        let mut st = self.lock();
        st.next_id += 1;
        let id = st.next_id;
        let from_ms = now + spec.at.as_millis() as i64;
        st.faults.push(Fault {
            id,
            provider: spec.provider.clone(),
            kind: spec.kind,
            from_ms,
            until_ms: from_ms + spec.duration.as_millis() as i64,
            retry_after: spec.retry_after,
            latency: spec.latency,
            ratio: spec.ratio,
        });
        tracing::info!(fault = id, provider = %spec.provider, kind = ?spec.kind, "simulator fault scheduled");
        id
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn remove_fault(&self, id: u64) -> bool {
        let mut st = self.lock();
        let before = st.faults.len();
        st.faults.retain(|f| f.id != id);
        st.faults.len() < before
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.clone()
    }

    pub fn requests(&self, provider: &str) -> Vec<RequestLog> {
        self.lock()
            .requests
            .get(provider)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Issues an OAuth2 token.
    fn issue_token(&self) -> String {
        let now = self.clock.now_ms();
        let mut st = self.lock();
        st.next_id += 1;
        let token = format!("tk-{}-{}", st.next_id, rand::random::<u32>());
        st.tokens
            .insert(token.clone(), (now, now + TOKEN_LIFETIME_SECS * 1000));
        token
    }

    /// Whether an OAuth2 token of `provider` is valid now: issued here, not past its lifetime,
    /// and not issued before a `token_expiry` fault that has started.
    fn token_state(&self, provider: &str, token: &str) -> api::TokenState {
        let now = self.clock.now_ms();
        let st = self.lock();
        let Some((issued, expires)) = st.tokens.get(token).copied() else {
            return api::TokenState::Unknown;
        };
        let revoked = st.faults.iter().any(|f| {
            f.provider == provider
                && f.kind == faults::FaultKind::TokenExpiry
                && f.from_ms <= now
                && issued < f.from_ms
        });
        if revoked || now >= expires {
            api::TokenState::Expired
        } else {
            api::TokenState::Valid
        }
    }

    fn log(&self, provider: &str, entry: RequestLog) {
        let mut st = self.lock();
        let q = st.requests.entry(provider.to_string()).or_default();
        if q.len() == REQUEST_LOG_CAPACITY {
            q.pop_front();
        }
        q.push_back(entry);
    }
}

/// Starts the simulator's HTTP server on an already bound listener.
pub fn start(listener: TcpListener, sim: Simulator) -> std::io::Result<Server> {
    let data = web::Data::new(sim);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|e, _| {
                        let msg = e.to_string();
                        actix_web::error::InternalError::from_response(
                            e,
                            HttpResponse::BadRequest()
                                .json(json!({"error": {"code": "bad_request", "message": msg}})),
                        )
                        .into()
                    }),
            )
            .route(
                "/healthz",
                web::get().to(|| async { HttpResponse::Ok().json(json!({"status": "ok"})) }),
            )
            .route("/admin/faults", web::post().to(post_fault))
            .route("/admin/faults", web::get().to(list_faults))
            .route("/admin/faults", web::delete().to(clear_faults))
            .route("/admin/faults/{id}", web::delete().to(delete_fault))
            .route("/admin/requests", web::get().to(list_requests))
            .route("/{provider}/oauth/token", web::post().to(token))
            .route(
                "/{provider}/dealers/{connection}/{stream}",
                web::get().to(records),
            )
    })
    .workers(1)
    // Keep-alive as long as common API gateways do, longer than clients keep idle connections.
    .keep_alive(std::time::Duration::from_secs(75))
    .disable_signals()
    .listen(listener)?
    .run())
}

fn error(
    status: actix_web::http::StatusCode,
    code: &str,
    message: impl Into<String>,
) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": {"code": code, "message": message.into()}}))
}

async fn post_fault(sim: web::Data<Simulator>, body: web::Json<RawFault>) -> HttpResponse {
    match body.validate() {
        Ok(spec) => HttpResponse::Created().json(json!({"id": sim.add_fault(&spec)})),
        Err(m) => error(actix_web::http::StatusCode::BAD_REQUEST, "invalid_fault", m),
    }
}

async fn list_faults(sim: web::Data<Simulator>) -> HttpResponse {
    HttpResponse::Ok().json(sim.faults())
}

async fn clear_faults(sim: web::Data<Simulator>) -> HttpResponse {
    sim.clear_faults();
    HttpResponse::NoContent().finish()
}

async fn delete_fault(sim: web::Data<Simulator>, id: web::Path<u64>) -> HttpResponse {
    if sim.remove_fault(*id) {
        HttpResponse::NoContent().finish()
    } else {
        error(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("no fault {id}"),
        )
    }
}

#[derive(Deserialize)]
struct RequestsQuery {
    provider: String,
}

async fn list_requests(sim: web::Data<Simulator>, q: web::Query<RequestsQuery>) -> HttpResponse {
    HttpResponse::Ok().json(sim.requests(&q.provider))
}

/// `POST /{provider}/oauth/token`: OAuth2 client credentials (form body).
async fn token(
    sim: web::Data<Simulator>,
    req: HttpRequest,
    provider: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let at_ms = sim.clock.now_ms();
    let answer = api::token_answer(&form, || sim.issue_token());
    let resp = match answer {
        Ok(body) => HttpResponse::Ok().json(body),
        Err((status, body)) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
        )
        .json(body),
    };
    sim.log(
        &provider,
        RequestLog {
            at_ms,
            method: "POST".into(),
            path: req.uri().path().to_string(),
            status: resp.status().as_u16(),
        },
    );
    resp
}

async fn records(
    sim: web::Data<Simulator>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let (provider, connection, stream) = path.into_inner();
    let at_ms = sim.clock.now_ms();
    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let respond = |resp: HttpResponse| {
        sim.log(
            &provider,
            RequestLog {
                at_ms,
                method: "GET".into(),
                path: path_q.clone(),
                status: resp.status().as_u16(),
            },
        );
        resp
    };
    let Some(style) = api::style(&provider) else {
        return error(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("unknown provider {provider}"),
        );
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let credentials = api::Credentials {
        authorization: header("authorization"),
        api_key_header: header("x-api-key"),
        api_key_query: q.get("api_key").cloned(),
    };
    if let Err(body) = api::check_auth(&style, &credentials, |t| sim.token_state(&provider, t)) {
        return respond(
            HttpResponse::Unauthorized()
                .content_type("application/json")
                .body(body),
        );
    }
    let answer = decide(&sim.faults(), &provider, at_ms, rand::random::<f64>());
    let mut malformed_ratio = None;
    let mut drift_ratio = None;
    match answer {
        Answer::Status {
            status,
            retry_after,
            body,
        } => {
            let mut r = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status)
                    .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
            );
            if let Some(ra) = retry_after {
                r.insert_header(("Retry-After", ra.as_secs().max(1).to_string()));
            }
            return respond(r.content_type("application/json").body(body));
        }
        Answer::Slow(latency) => tokio::time::sleep(latency).await,
        Answer::Malformed { ratio } => malformed_ratio = Some(ratio),
        Answer::Drifted { ratio } => drift_ratio = Some(ratio),
        Answer::Normal => {}
    }
    let since = q.get(style.since_param).map(String::as_str);
    let mut recs = data::records(&provider, &connection, &stream, since, at_ms);
    let mut page = match api::paginate(&style, &q, &mut recs, req.uri().path()) {
        Ok(p) => p,
        Err(msg) => {
            return respond(error(
                actix_web::http::StatusCode::BAD_REQUEST,
                "bad_request",
                msg,
            ));
        }
    };
    let mut records = std::mem::take(&mut page.records);
    for (ratio, damage) in [
        (
            malformed_ratio,
            data::malform as fn(serde_json::Value) -> serde_json::Value,
        ),
        (drift_ratio, data::drift),
    ] {
        let Some(ratio) = ratio else { continue };
        for r in records.iter_mut() {
            if rand::random::<f64>() < ratio {
                *r = damage(r.take());
            }
        }
    }
    let mut resp = HttpResponse::Ok();
    if let Some(link) = &page.link {
        resp.insert_header(("Link", link.as_str()));
    }
    respond(resp.json(api::body(&style, records, &page)))
}
