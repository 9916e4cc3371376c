//! Clients of the OpenAI-compatible API that local model servers (llama.cpp's `llama-server`,
//! Ollama, vLLM) and hosted ones speak: `POST {url}/embeddings` (`{"model", "input": [..]}` →
//! `data[].embedding`, in input order by `index`) and `POST {url}/chat/completions`
//! (`{"model", "messages", "temperature", "response_format"}` → `choices[0].message.content`).
//! `url` is the API base, e.g. `http://127.0.0.1:8080/v1`. The key, when set, goes in an
//! `Authorization: Bearer` header and never into an error or log.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::Secret;
use crate::domain::secret::redact_url;

/// The largest reply read from `/chat/completions`: an answer an operator reads is a few KB.
pub const CHAT_REPLY_BYTES: usize = 256 * 1024;
/// The largest reply read from `/embeddings` (32 vectors of 3,072 dimensions as JSON fit).
pub const EMBEDDINGS_REPLY_BYTES: usize = 32 * 1024 * 1024;

/// Where a model is served (`[assistant.embeddings]`, `[assistant.llm]`).
#[derive(Debug, Clone)]
pub struct ModelEndpoint {
    /// The API base, without a trailing slash.
    pub url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    /// For the whole request, connection to last byte.
    pub timeout: Duration,
}

/// Why a model gave no usable reply. Display never holds the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("cannot reach {url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("unexpected reply: {0}")]
    Body(String),
}

impl ModelError {
    /// A short, stable word for the reason (`timeout`, `http_error`, `unreachable`,
    /// `invalid_reply`), as `fallback_reason` reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelError::Timeout(_) => "timeout",
            ModelError::Status { .. } => "http_error",
            ModelError::Transport { .. } => "unreachable",
            ModelError::Body(_) => "invalid_reply",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// A client of one endpoint.
#[derive(Debug, Clone)]
pub struct ModelClient {
    endpoint: ModelEndpoint,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct EmbeddingsReply {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct ChatReply {
    choices: Vec<ChatChoice>,
}

#[derive(Deserialize)]
struct ChatChoice {
    message: ChatMessage,
}

impl ModelClient {
    /// A client whose every request is bounded by the endpoint's timeout.
    pub fn new(endpoint: ModelEndpoint) -> Result<Self, ModelError> {
        let http = reqwest::Client::builder()
            .timeout(endpoint.timeout)
            .user_agent(concat!("syncwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ModelError::Transport {
                url: redact_url(&endpoint.url),
                reason: e.to_string(),
            })?;
        Ok(Self { endpoint, http })
    }

    /// The model name sent with each request.
    pub fn model(&self) -> &str {
        &self.endpoint.model
    }

    /// POSTs `body` to `{url}/{path}` and reads a JSON reply of at most `limit` bytes.
    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
        limit: usize,
    ) -> Result<T, ModelError> {
        let url = format!("{}/{path}", self.endpoint.url);
        let mut req = self.http.post(&url).json(body);
        if let Some(key) = &self.endpoint.api_key {
            req = req.bearer_auth(key.expose());
        }
        let shown = redact_url(&url);
        let reply = req.send().await.map_err(|e| self.transport(&shown, e))?;
        let status = reply.status();
        if !status.is_success() {
            return Err(ModelError::Status {
                url: shown,
                status: status.as_u16(),
            });
        }
        let mut reply = reply;
        let mut bytes = Vec::new();
        while let Some(chunk) = reply.chunk().await.map_err(|e| self.transport(&shown, e))? {
            if bytes.len() + chunk.len() > limit {
                return Err(ModelError::Body(format!("reply over {limit} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&bytes).map_err(|e| ModelError::Body(e.to_string()))
    }

    fn transport(&self, url: &str, e: reqwest::Error) -> ModelError {
        if e.is_timeout() {
            ModelError::Timeout(self.endpoint.timeout)
        } else {
            // Without the URL reqwest would print (it is shown redacted instead).
            ModelError::Transport {
                url: url.to_string(),
                reason: e.without_url().to_string(),
            }
        }
    }

    /// One vector per input, in input order.
    pub async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let body = serde_json::json!({"model": self.endpoint.model, "input": inputs});
        let reply: EmbeddingsReply = self
            .post("embeddings", &body, EMBEDDINGS_REPLY_BYTES)
            .await?;
        if reply.data.len() != inputs.len() {
            return Err(ModelError::Body(format!(
                "{} embeddings for {} inputs",
                reply.data.len(),
                inputs.len()
            )));
        }
        let mut out = vec![Vec::new(); inputs.len()];
        for (i, item) in reply.data.into_iter().enumerate() {
            let at = item.index.unwrap_or(i);
            match out.get_mut(at) {
                Some(slot) if slot.is_empty() && !item.embedding.is_empty() => {
                    *slot = item.embedding
                }
                _ => {
                    return Err(ModelError::Body(format!(
                        "embedding index {at} is out of place"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// The content of the first choice. `json`: asks for a JSON object
    /// (`response_format: {"type": "json_object"}`), which servers without it ignore.
    pub async fn chat(&self, messages: &[ChatMessage], json: bool) -> Result<String, ModelError> {
        let mut body = serde_json::json!({
            "model": self.endpoint.model,
            "messages": messages,
            "temperature": 0,
        });
        if json {
            body["response_format"] = serde_json::json!({"type": "json_object"});
        }
        let reply: ChatReply = self
            .post("chat/completions", &body, CHAT_REPLY_BYTES)
            .await?;
        reply
            .choices
            .into_iter()
            .next()
            .map(|c| c.message.content)
            .ok_or_else(|| ModelError::Body("no choices".into()))
    }
}
