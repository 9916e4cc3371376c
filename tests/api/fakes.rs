//! Fake Slack Web API and SMTP servers that record what they receive.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One call to the fake Slack.
#[derive(Debug, Clone)]
pub struct SlackCall {
    pub method: String,
    /// The exact request body (for signatures).
    pub raw: String,
    pub signature: Option<String>,
    /// Whether the fake answered it as delivered (`ok: true`).
    pub delivered: bool,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
    /// When the fake received it.
    pub at: std::time::Instant,
}

#[derive(Clone, Default)]
pub struct FakeSlack {
    pub calls: Arc<Mutex<Vec<SlackCall>>>,
    /// How many coming calls are answered HTTP 500 (an outage).
    pub failing: Arc<std::sync::atomic::AtomicUsize>,
    /// How many coming Web API calls are answered 429 with `Retry-After: 1`.
    pub limited: Arc<std::sync::atomic::AtomicUsize>,
    pub port: u16,
}

type SlackState = (
    Arc<Mutex<Vec<SlackCall>>>,
    Arc<std::sync::atomic::AtomicUsize>,
    Arc<std::sync::atomic::AtomicUsize>,
);

/// What the fake records of one request.
fn call(req: &HttpRequest, method: String, body: &[u8], delivered: bool) -> SlackCall {
    SlackCall {
        method,
        raw: String::from_utf8_lossy(body).to_string(),
        signature: header(req, "x-syncwatch-signature"),
        delivered,
        authorization: header(req, "authorization"),
        content_type: header(req, "content-type"),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
        at: std::time::Instant::now(),
    }
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Takes one call of an outage (or rate limit) if one is on.
fn in_outage(failing: &std::sync::atomic::AtomicUsize) -> bool {
    failing
        .fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |n| n.checked_sub(1),
        )
        .is_ok()
}

/// Whether a message breaks Slack's documented limits, which Slack refuses (`invalid_blocks`,
/// `msg_too_long`): more than 50 blocks, a header over 150 characters, section or context text
/// over 3,000, `text` over 40,000.
fn breaks_slack_limits(msg: &Value) -> bool {
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let blocks = msg["blocks"].as_array().cloned().unwrap_or_default();
    blocks.len() > 50
        || chars(&msg["text"]) > 40_000
        || blocks.iter().any(|b| match b["type"].as_str() {
            Some("header") => chars(&b["text"]["text"]) > 150,
            Some("section") => chars(&b["text"]["text"]) > 3_000,
            Some("context") => b["elements"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| chars(&e["text"]) > 3_000)),
            _ => false,
        })
}

impl FakeSlack {
    /// Starts a server answering `POST /api/{method}` like Slack does for a valid token, and
    /// incoming webhooks (`POST /services/…`) with a plain-text "ok".
    pub fn start() -> Self {
        let calls: Arc<Mutex<Vec<SlackCall>>> = Arc::default();
        let failing: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let limited: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake slack");
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new((calls.clone(), failing.clone(), limited.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                // A giant group's webhook payload is a few MB.
                .app_data(web::PayloadConfig::new(32 << 20))
                // A generic webhook receiver (Alertmanager webhook_configs).
                .route(
                    "/hook",
                    web::post().to(|req: HttpRequest, body: web::Bytes, state: web::Data<SlackState>| async move {
                        let outage = in_outage(&state.1);
                        state.0.lock().unwrap().push(call(&req, "hook".into(), &body, !outage));
                        if outage { HttpResponse::ServiceUnavailable().finish() } else { HttpResponse::Ok().finish() }
                    }),
                )
                // PagerDuty's Events API v2: 202 for a valid event, 400 (as PagerDuty answers)
                // for one missing what it requires.
                .route(
                    "/v2/enqueue",
                    web::post().to(|req: HttpRequest, body: web::Bytes, state: web::Data<SlackState>| async move {
                        let outage = in_outage(&state.1);
                        let e: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let valid = e["routing_key"].as_str().is_some_and(|k| !k.is_empty())
                            && matches!(e["event_action"].as_str(), Some("trigger" | "resolve" | "acknowledge"))
                            && e["payload"]["summary"].as_str().is_some_and(|s| !s.is_empty() && s.chars().count() <= 1024)
                            && matches!(e["payload"]["severity"].as_str(), Some("critical" | "error" | "warning" | "info"))
                            && body.len() <= 512_000;
                        state.0.lock().unwrap().push(call(&req, "pagerduty".into(), &body, !outage && valid));
                        if outage {
                            return HttpResponse::InternalServerError().finish();
                        }
                        if !valid {
                            return HttpResponse::BadRequest().json(json!({"status": "invalid event", "message": "Event object is invalid"}));
                        }
                        HttpResponse::Accepted().json(json!({"status": "success", "message": "Event processed", "dedup_key": e["dedup_key"]}))
                    }),
                )
                // A Teams connector (answers 200 "1") and a Teams workflow (answers 202).
                .route(
                    "/teams/{path:.*}",
                    web::post().to(|req: HttpRequest, body: web::Bytes, state: web::Data<SlackState>| async move {
                        let outage = in_outage(&state.1);
                        let fits = body.len() <= 28_000;
                        state.0.lock().unwrap().push(call(&req, "teams".into(), &body, !outage && fits));
                        if outage {
                            return HttpResponse::BadGateway().finish();
                        }
                        if !fits {
                            return HttpResponse::PayloadTooLarge().finish();
                        }
                        HttpResponse::Ok().body("1")
                    }),
                )
                .route(
                    "/workflows/{path:.*}",
                    web::post().to(|req: HttpRequest, body: web::Bytes, state: web::Data<SlackState>| async move {
                        let fits = body.len() <= 28_000;
                        state.0.lock().unwrap().push(call(&req, "workflow".into(), &body, fits));
                        if fits { HttpResponse::Accepted().finish() } else { HttpResponse::PayloadTooLarge().finish() }
                    }),
                )
                .route(
                    "/services/{path:.*}",
                    web::post().to(|req: HttpRequest, body: web::Bytes, state: web::Data<SlackState>| async move {
                        let outage = in_outage(&state.1);
                        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let broken = breaks_slack_limits(&parsed);
                        state.0.lock().unwrap().push(call(&req, "webhook".into(), &body, !outage && !broken));
                        if outage {
                            return HttpResponse::InternalServerError().body("outage");
                        }
                        if broken {
                            return HttpResponse::BadRequest().body("invalid_blocks");
                        }
                        HttpResponse::Ok().content_type("text/html").body("ok")
                    }),
                )
                .route(
                    "/api/{method}",
                    web::post().to(|req: HttpRequest, method: web::Path<String>, body: web::Bytes, state: web::Data<SlackState>| async move {
                        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let outage = in_outage(&state.1);
                        let limited = !outage && in_outage(&state.2);
                        let authorized = header(&req, "authorization").as_deref() == Some("Bearer xoxb-test-token");
                        let broken = breaks_slack_limits(&parsed);
                        let mut calls = state.0.lock().unwrap();
                        calls.push(call(&req, method.into_inner(), &body, !outage && !limited && authorized && !broken));
                        if outage {
                            return HttpResponse::InternalServerError().body("outage");
                        }
                        if limited {
                            // As Slack answers a rate-limited Web API call.
                            return HttpResponse::TooManyRequests()
                                .insert_header(("Retry-After", "1"))
                                .json(json!({"ok": false, "error": "ratelimited"}));
                        }
                        if !authorized {
                            return HttpResponse::Ok().json(json!({"ok": false, "error": "invalid_auth"}));
                        }
                        if broken {
                            return HttpResponse::Ok().json(json!({"ok": false, "error": "invalid_blocks"}));
                        }
                        // As Slack documents chat.postMessage's answer.
                        let ts = format!("1700000000.{:06}", calls.len());
                        HttpResponse::Ok().json(json!({
                            "ok": true,
                            "channel": "C0123456789",
                            "ts": ts,
                            "message": {"type": "message", "subtype": "bot_message", "text": parsed["text"], "ts": ts, "bot_id": "B0123456789"}
                        }))
                    }),
                )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen fake slack")
        .run();
        actix_web::rt::spawn(server);
        Self {
            calls,
            failing,
            limited,
            port,
        }
    }

    pub fn calls(&self) -> Vec<SlackCall> {
        self.calls.lock().unwrap().clone()
    }

    /// Answers the next `n` calls with HTTP 500.
    pub fn fail_next(&self, n: usize) {
        self.failing.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Answers the next `n` Web API calls with 429 and `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: usize) {
        self.limited.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Messages Slack accepted whose text contains `needle`.
    pub fn delivered(&self, needle: &str) -> Vec<SlackCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.delivered && c.body.to_string().contains(needle))
            .collect()
    }
}

/// A minimal SMTP server (no TLS, no auth) keeping every message's DATA.
#[derive(Clone, Default)]
pub struct FakeSmtp {
    pub messages: Arc<Mutex<Vec<String>>>,
    pub port: u16,
}

impl FakeSmtp {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake smtp");
        let port = listener.local_addr().unwrap().port();
        let messages: Arc<Mutex<Vec<String>>> = Arc::default();
        let store = messages.clone();
        actix_web::rt::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let store = store.clone();
                actix_web::rt::spawn(async move {
                    let (r, mut w) = socket.into_split();
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 fake.smtp ESMTP\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(buf) = data.as_mut() {
                            if line == "." {
                                store.lock().unwrap().push(data.take().unwrap_or_default());
                                let _ = w.write_all(b"250 2.0.0 queued\r\n").await;
                            } else {
                                buf.push_str(&line);
                                buf.push('\n');
                            }
                            continue;
                        }
                        let cmd = line.to_ascii_uppercase();
                        let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                            b"250 fake.smtp\r\n"
                        } else if cmd.starts_with("DATA") {
                            data = Some(String::new());
                            b"354 end with .\r\n"
                        } else if cmd.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 OK\r\n"
                        };
                        let _ = w.write_all(reply).await;
                    }
                });
            }
        });
        Self { messages, port }
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

/// A TCP proxy in front of a server (PostgreSQL in the outage tests) that can be cut: while
/// down it closes every connection it has and every new one at once, as a database refusing
/// connections does to its clients.
pub struct TcpProxy {
    pub port: u16,
    up: tokio::sync::watch::Sender<bool>,
}

impl TcpProxy {
    /// Starts forwarding `127.0.0.1:<port>` to `upstream` on a thread of its own.
    pub fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watch) = tokio::sync::watch::channel(true);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        continue;
                    };
                    let mut watch = watch.clone();
                    if !*watch.borrow() {
                        drop(client);
                        continue;
                    }
                    tokio::spawn(async move {
                        let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = watch.wait_for(|up| !*up) => {}
                        }
                    });
                }
            });
        });
        Self { port, up }
    }

    /// Cuts every connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

/// How the fake model answers chat completions.
#[derive(Debug, Clone)]
pub enum ModelReply {
    /// This text as the first choice's content.
    Content(String),
    /// Answers after this long (longer than the client waits).
    Slow(std::time::Duration),
    /// HTTP 500.
    Fail,
}

/// An OpenAI-compatible model server: `POST /v1/chat/completions` answers with
/// [`ModelReply`]; `POST /v1/embeddings` gives each input a vector that is `[1, 0]` when it
/// holds the word `breaker` or `zebra`, else `[0, 1]` (so a question about zebras is "near" the
/// circuit-breaker runbook and nothing else). Records every request body.
#[derive(Clone)]
pub struct FakeModel {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<(String, Value)>>>,
    pub reply: Arc<Mutex<ModelReply>>,
}

impl FakeModel {
    pub fn start(reply: ModelReply) -> Self {
        let requests: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let reply = Arc::new(Mutex::new(reply));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake model");
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new((requests.clone(), reply.clone()));
        type ModelState = (Arc<Mutex<Vec<(String, Value)>>>, Arc<Mutex<ModelReply>>);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/v1/chat/completions",
                    web::post().to(|body: web::Json<Value>, state: web::Data<ModelState>| async move {
                        state.0.lock().unwrap().push(("chat".into(), body.into_inner()));
                        let reply = state.1.lock().unwrap().clone();
                        match reply {
                            ModelReply::Fail => HttpResponse::InternalServerError()
                                .json(json!({"error": {"message": "model crashed"}})),
                            ModelReply::Slow(d) => {
                                tokio::time::sleep(d).await;
                                HttpResponse::Ok().json(json!({"choices": []}))
                            }
                            ModelReply::Content(c) => HttpResponse::Ok().json(json!({
                                "id": "chatcmpl-1",
                                "object": "chat.completion",
                                "choices": [{"index": 0, "message": {"role": "assistant", "content": c}, "finish_reason": "stop"}]
                            })),
                        }
                    }),
                )
                .route(
                    "/v1/embeddings",
                    web::post().to(|body: web::Json<Value>, state: web::Data<ModelState>| async move {
                        let body = body.into_inner();
                        state.0.lock().unwrap().push(("embeddings".into(), body.clone()));
                        let inputs: Vec<String> = match &body["input"] {
                            Value::String(s) => vec![s.clone()],
                            Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
                            _ => Vec::new(),
                        };
                        let data: Vec<Value> = inputs
                            .iter()
                            .enumerate()
                            .map(|(i, t)| {
                                let t = t.to_lowercase();
                                let v = if t.contains("breaker") || t.contains("zebra") { [1.0, 0.0] } else { [0.0, 1.0] };
                                json!({"object": "embedding", "index": i, "embedding": v})
                            })
                            .collect();
                        HttpResponse::Ok().json(json!({"object": "list", "data": data, "model": body["model"]}))
                    }),
                )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen fake model")
        .run();
        actix_web::rt::spawn(server);
        Self {
            port,
            requests,
            reply,
        }
    }

    pub fn set_reply(&self, reply: ModelReply) {
        *self.reply.lock().unwrap() = reply;
    }

    /// Bodies of the requests to `kind` (`chat`, `embeddings`).
    pub fn bodies(&self, kind: &str) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, b)| b.clone())
            .collect()
    }
}
