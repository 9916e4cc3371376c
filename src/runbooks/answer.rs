//! Answers in cited steps, from retrieved knowledge only.
//!
//! The retrieved runbooks and past tickets become numbered passages (`R1`, `R2`, … and `T1`,
//! …). A model is asked to answer in JSON, each step citing passage ids; [`check_model_answer`]
//! keeps only the steps whose citations all name passages of the context and whose links are
//! the passages' own, so an answer never points at a runbook, ticket or link that was not
//! retrieved. Without a model, or when its reply is unusable, [`extractive`] answers with the
//! first runbook's Fix steps. Pure: no I/O.

use serde::{Deserialize, Serialize};

use super::file::Runbook;
use super::openai::ChatMessage;
use super::past_tickets::PastTicket;

/// Characters of a runbook or ticket given to the model (about 800 tokens).
const PASSAGE_CHARS: usize = 3_000;

/// One numbered piece of context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passage {
    /// `R1`… for runbooks, `T1`… for tickets.
    pub id: String,
    /// `runbook` or `ticket`.
    pub kind: &'static str,
    /// The runbook's or ticket's id.
    pub ref_id: String,
    pub title: String,
    pub url: String,
    #[serde(skip)]
    pub text: String,
}

/// A step of an answer, with the passages it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub text: String,
    pub citations: Vec<String>,
}

/// What the assistant answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub answer: String,
    pub steps: Vec<Step>,
    pub llm_used: bool,
    /// Why the model's answer was not used (`not_configured`, `timeout`, `http_error`,
    /// `unreachable`, `invalid_reply`, `invalid_json`, `no_valid_citation`); `None` when it
    /// was.
    pub fallback_reason: Option<String>,
    /// Steps of the model's reply dropped for citing nothing or an unknown passage.
    pub dropped_steps: usize,
}

/// The passages for a question: the runbooks (their sections), then the tickets (title,
/// resolution, what else was written), numbered in that order. `url_of(kind, id)` gives
/// each one's link.
pub fn passages(
    runbooks: &[&Runbook],
    tickets: &[PastTicket],
    url_of: impl Fn(&str, &str) -> String,
) -> Vec<Passage> {
    let mut out = Vec::new();
    for (i, rb) in runbooks.iter().enumerate() {
        out.push(Passage {
            id: format!("R{}", i + 1),
            kind: "runbook",
            ref_id: rb.id.clone(),
            title: rb.title.clone(),
            url: url_of("runbook", &rb.id),
            text: truncate(&rb.body, PASSAGE_CHARS),
        });
    }
    for (i, t) in tickets.iter().enumerate() {
        out.push(Passage {
            id: format!("T{}", i + 1),
            kind: "ticket",
            ref_id: t.id.clone(),
            title: t.title.clone(),
            url: url_of("ticket", &t.id),
            text: truncate(
                &format!("Resolution: {}\n{}", t.resolution, t.text.trim()),
                PASSAGE_CHARS,
            ),
        });
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The chat for the model: instructions, the question with its provider and connection, the
/// passages. What is sent is exactly this (README "What the model is sent").
pub fn chat_messages(
    question: &str,
    provider: Option<&str>,
    connection: Option<&str>,
    passages: &[Passage],
) -> Vec<ChatMessage> {
    let system = "You are the tier-0 support assistant of syncwatch, which runs and monitors data \
syncs with dealer-management system providers. Answer the operator's question using only the \
numbered passages (runbooks and resolved tickets). Reply with one JSON object and nothing else: \
{\"answer\": \"one or two sentences\", \"steps\": [{\"text\": \"what to do\", \"citations\": \
[\"R1\"]}]}. Every step cites the ids of the passages it comes from. Do not invent commands, \
links, runbooks or tickets. If the passages do not answer the question, reply with an empty \
steps list.";
    let mut user = format!("Question: {question}\n");
    if let Some(p) = provider {
        user.push_str(&format!("Provider: {p}\n"));
    }
    if let Some(c) = connection {
        user.push_str(&format!("Connection: {c}\n"));
    }
    user.push_str("\nPassages:\n");
    for p in passages {
        user.push_str(&format!(
            "\n[{}] {} {}: {}\n{}\n",
            p.id, p.kind, p.ref_id, p.title, p.text
        ));
    }
    vec![
        ChatMessage {
            role: "system".into(),
            content: system.into(),
        },
        ChatMessage {
            role: "user".into(),
            content: user,
        },
    ]
}

/// Why a model's reply was not used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejected {
    #[error("invalid_json")]
    InvalidJson(String),
    #[error("no_valid_citation")]
    NoValidCitation { dropped: usize },
}

#[derive(Deserialize)]
struct ModelReply {
    #[serde(default)]
    answer: String,
    #[serde(default)]
    steps: Vec<ModelStep>,
}

#[derive(Deserialize)]
struct ModelStep {
    #[serde(default)]
    text: String,
    #[serde(default)]
    citations: Vec<serde_json::Value>,
}

/// The model's reply, checked: JSON (a ```json fence around it is allowed), steps citing at
/// least one passage and only passages of the context (`"R1"`, `"[R1]"` and `"r1"` all name
/// R1), links only those of the passages. A step that fails is dropped; an answer left with no
/// step is [`Rejected::NoValidCitation`]. Links in the summary sentence that are not the
/// passages' are removed.
pub fn check_model_answer(content: &str, passages: &[Passage]) -> Result<Answer, Rejected> {
    let body = content.trim();
    let body = body
        .strip_prefix("```json")
        .or_else(|| body.strip_prefix("```"))
        .and_then(|b| b.strip_suffix("```"))
        .unwrap_or(body)
        .trim();
    let reply: ModelReply =
        serde_json::from_str(body).map_err(|e| Rejected::InvalidJson(e.to_string()))?;
    let known = |c: &str| -> Option<String> {
        let id = c.trim().trim_matches(['[', ']']).trim().to_uppercase();
        passages.iter().find(|p| p.id == id).map(|p| p.id.clone())
    };
    let mut steps = Vec::new();
    let mut dropped = 0;
    for s in reply.steps {
        let cited: Vec<Option<String>> = s
            .citations
            .iter()
            .map(|c| c.as_str().and_then(known))
            .collect();
        let text = s.text.trim().to_string();
        if text.is_empty()
            || cited.is_empty()
            || cited.iter().any(Option::is_none)
            || foreign_link(&text, passages)
        {
            dropped += 1;
            continue;
        }
        let mut citations: Vec<String> = Vec::new();
        for c in cited.into_iter().flatten() {
            if !citations.contains(&c) {
                citations.push(c);
            }
        }
        steps.push(Step { text, citations });
    }
    if steps.is_empty() {
        return Err(Rejected::NoValidCitation { dropped });
    }
    Ok(Answer {
        answer: strip_foreign_links(reply.answer.trim(), passages),
        steps,
        llm_used: true,
        fallback_reason: None,
        dropped_steps: dropped,
    })
}

/// Whether `text` holds an `http(s)://` link that is none of the passages'.
fn foreign_link(text: &str, passages: &[Passage]) -> bool {
    links(text).any(|l| !passages.iter().any(|p| l.starts_with(&p.url)))
}

fn links(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '<' | '>' | '"'))
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
}

fn strip_foreign_links(text: &str, passages: &[Passage]) -> String {
    let mut out = text.to_string();
    for l in links(text).filter(|l| !passages.iter().any(|p| l.starts_with(&p.url))) {
        out = out.replace(l, "");
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The answer without a model: the first runbook's Fix steps (each citing it), or, with no
/// runbook, the first past ticket's resolution; with neither, no step.
pub fn extractive(runbooks: &[&Runbook], passages: &[Passage], reason: &str) -> Answer {
    let mut answer = Answer {
        answer: "No runbook or resolved ticket matches this question.".into(),
        steps: Vec::new(),
        llm_used: false,
        fallback_reason: Some(reason.to_string()),
        dropped_steps: 0,
    };
    if let (Some(rb), Some(p)) = (
        runbooks.first(),
        passages.iter().find(|p| p.kind == "runbook"),
    ) {
        answer.answer = format!("Runbook \u{201c}{}\u{201d}: follow its fix.", rb.title);
        answer.steps = list_items(rb.section("Fix").unwrap_or_default())
            .into_iter()
            .map(|text| Step {
                text,
                citations: vec![p.id.clone()],
            })
            .collect();
    } else if let Some(p) = passages.iter().find(|p| p.kind == "ticket") {
        answer.answer = format!("A past ticket like this one: \u{201c}{}\u{201d}.", p.title);
        let resolution = p
            .text
            .strip_prefix("Resolution: ")
            .and_then(|t| t.lines().next())
            .unwrap_or_default();
        answer.steps = vec![Step {
            text: resolution.to_string(),
            citations: vec![p.id.clone()],
        }];
    }
    answer
}

/// The items of a markdown list (`1.` or `-`/`*`), continuation lines joined; a section
/// without a list is one step.
pub fn list_items(markdown: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    let mut in_item = false;
    for line in markdown.lines() {
        let t = line.trim();
        let marker = t
            .split_once(". ")
            .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            .map(|(_, rest)| rest)
            .or_else(|| t.strip_prefix("- "))
            .or_else(|| t.strip_prefix("* "));
        let top_level = line.len() - line.trim_start().len() < 2;
        match marker {
            Some(rest) if top_level => {
                items.push(rest.trim().to_string());
                in_item = true;
            }
            _ if t.is_empty() => in_item = false,
            _ if in_item => {
                if let Some(last) = items.last_mut() {
                    last.push(' ');
                    last.push_str(t);
                }
            }
            _ => {}
        }
    }
    if items.is_empty() && !markdown.trim().is_empty() {
        items.push(markdown.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbooks::file::parse_runbook;
    use std::path::Path;

    fn runbook() -> Runbook {
        parse_runbook(
            Path::new("x.md"),
            "---\nid: auth\ntitle: Provider rejects credentials\n---\n## Symptoms\n401.\n## Diagnosis\nx\n## Fix\n1. Rotate the key in the\n   provider's portal.\n2. Run `syncwatch check`.\n   - a sub-point\n\nAfter the list.\n## Escalate when\nz\n",
        )
        .unwrap()
    }

    fn context() -> Vec<Passage> {
        let rb = runbook();
        let mut t = crate::domain::ticket::question_ticket(
            "t-1".into(),
            "k".to_string().into(),
            "Tekion 401".into(),
            "summary".into(),
            Default::default(),
            0,
        );
        t.status = crate::domain::ticket::TicketStatus::Resolved;
        t.resolved_at_ms = Some(10);
        t.resolution = Some("Rotated the client secret".into());
        let past = PastTicket::of(&t, &[]).unwrap();
        passages(&[&rb], &[past], |k, id| format!("http://sw/{k}/{id}"))
    }

    #[test]
    fn steps_citing_known_passages_are_kept_and_the_others_dropped() {
        let reply = r#"```json
{"answer": "Rotate the key, see http://sw/runbook/auth and http://evil.example/x",
 "steps": [
   {"text": "Rotate the key.", "citations": ["R1", "[t1]"]},
   {"text": "Call the vendor.", "citations": ["R7"]},
   {"text": "Reboot.", "citations": []},
   {"text": "Read http://evil.example/guide", "citations": ["R1"]}
 ]}
```"#;
        let a = check_model_answer(reply, &context()).unwrap();
        assert_eq!(
            a.steps,
            vec![Step {
                text: "Rotate the key.".into(),
                citations: vec!["R1".into(), "T1".into()]
            }]
        );
        assert_eq!(a.dropped_steps, 3);
        assert_eq!(a.answer, "Rotate the key, see http://sw/runbook/auth and");
        assert!(a.llm_used);
    }

    #[test]
    fn garbage_or_no_valid_citation_is_rejected() {
        assert!(matches!(
            check_model_answer("I think you should rotate the key.", &context()),
            Err(Rejected::InvalidJson(_))
        ));
        assert_eq!(
            check_model_answer(
                r#"{"answer": "x", "steps": [{"text": "y", "citations": ["R9"]}]}"#,
                &context()
            ),
            Err(Rejected::NoValidCitation { dropped: 1 })
        );
        assert_eq!(
            check_model_answer(r#"{"answer": "x", "steps": []}"#, &context()),
            Err(Rejected::NoValidCitation { dropped: 0 })
        );
    }

    #[test]
    fn the_extractive_answer_is_the_fix_list_of_the_first_runbook() {
        let rb = runbook();
        let a = extractive(&[&rb], &context(), "not_configured");
        let texts: Vec<&str> = a.steps.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Rotate the key in the provider's portal.",
                "Run `syncwatch check`. - a sub-point"
            ]
        );
        assert!(a.steps.iter().all(|s| s.citations == vec!["R1"]));
        assert_eq!(a.fallback_reason.as_deref(), Some("not_configured"));
        // Only a ticket: its resolution.
        let tickets: Vec<Passage> = context()
            .into_iter()
            .filter(|p| p.kind == "ticket")
            .collect();
        let a = extractive(&[], &tickets, "timeout");
        assert_eq!(a.steps[0].text, "Rotated the client secret");
        assert_eq!(a.steps[0].citations, vec!["T1"]);
        // Nothing: no step.
        assert!(extractive(&[], &[], "timeout").steps.is_empty());
    }

    #[test]
    fn the_prompt_numbers_every_passage() {
        let m = chat_messages("why 401?", Some("tekion"), None, &context());
        assert_eq!(m.len(), 2);
        assert!(
            m[1].content
                .contains("[R1] runbook auth: Provider rejects credentials")
        );
        assert!(m[1].content.contains("[T1] ticket t-1: Tekion 401"));
        assert!(m[1].content.contains("Provider: tekion"));
    }
}
