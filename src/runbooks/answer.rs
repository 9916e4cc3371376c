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
    /// Why the model's answer was not used (`not_configured`, `no_passages`, `timeout`,
    /// `http_error`, `unreachable`, `invalid_reply`, `invalid_json`, `no_valid_citation`);
    /// `None` when it was.
    pub fallback_reason: Option<String>,
    /// Steps of the model's reply dropped by [`check_model_answer`]: citing nothing or an
    /// unknown passage, holding a link or passage id of its own, too long, or past the twelfth.
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
            text: crate::domain::truncate(&rb.body, PASSAGE_CHARS),
        });
    }
    for (i, t) in tickets.iter().enumerate() {
        out.push(Passage {
            id: format!("T{}", i + 1),
            kind: "ticket",
            ref_id: t.id.clone(),
            title: t.title.clone(),
            url: url_of("ticket", &t.id),
            text: crate::domain::truncate(
                &format!("Resolution: {}\n{}", t.resolution, t.text.trim()),
                PASSAGE_CHARS,
            ),
        });
    }
    out
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

/// Steps kept from a model's reply, and the characters of a step and of the summary: longer
/// replies are not answers an operator reads.
const MAX_STEPS: usize = 12;
const MAX_STEP_CHARS: usize = 1_000;
const MAX_SUMMARY_CHARS: usize = 600;

/// The model's reply, checked:
/// - JSON: the first `{` to the last `}` of the content, so a ```json fence or a sentence
///   around the object is allowed;
/// - each step cites at least one passage and only passages of the context (`"R1"`, `"[R1]"`
///   and `"r1"` all name R1), has at most 1,000 characters, and holds no link and no
///   `R`/`T` id that is not a passage's (a link is anything starting `http://`, `https://`
///   or `www.`, in any case, wherever it starts; it must be a passage's URL exactly);
///   a step that fails is dropped (`dropped_steps`), and at most 12 are kept;
/// - the summary must pass the same link and id checks, else it is replaced by one naming
///   the first cited passage.
///
/// No step left is [`Rejected::NoValidCitation`].
pub fn check_model_answer(content: &str, passages: &[Passage]) -> Result<Answer, Rejected> {
    let body = match (content.find('{'), content.rfind('}')) {
        (Some(start), Some(end)) if start < end => &content[start..=end],
        _ => content.trim(),
    };
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
            || text.chars().count() > MAX_STEP_CHARS
            || cited.is_empty()
            || cited.iter().any(Option::is_none)
            || invents(&text, passages)
            || steps.len() == MAX_STEPS
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
    let Some(first) = steps.first() else {
        return Err(Rejected::NoValidCitation { dropped });
    };
    let summary = reply.answer.trim();
    let answer = if summary.is_empty()
        || summary.chars().count() > MAX_SUMMARY_CHARS
        || invents(summary, passages)
    {
        let p = passages.iter().find(|p| p.id == first.citations[0]);
        format!(
            "From {} \u{201c}{}\u{201d}:",
            p.map_or("the passages", |p| p.kind),
            p.map_or("", |p| p.title.as_str())
        )
    } else {
        summary.to_string()
    };
    Ok(Answer {
        answer,
        steps,
        llm_used: true,
        fallback_reason: None,
        dropped_steps: dropped,
    })
}

/// Whether `text` holds a link that is not exactly a passage's URL, or an `R1`/`T1`-shaped id
/// that is not a passage's.
fn invents(text: &str, passages: &[Passage]) -> bool {
    links(text)
        .into_iter()
        .any(|l| !passages.iter().any(|p| p.url == l))
        || passage_ids(text)
            .into_iter()
            .any(|id| !passages.iter().any(|p| p.id == id))
}

/// Every link in `text`: from `http://`, `https://` or `www.` (any case, anywhere, even glued
/// to a word) to the next space, quote, bracket or backquote, without trailing punctuation.
fn links(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while at < lower.len() {
        let next = ["http://", "https://", "www."]
            .iter()
            .filter_map(|m| lower[at..].find(m).map(|i| at + i))
            .min();
        let Some(start) = next else { break };
        let end = text[start..]
            .find(|c: char| {
                c.is_whitespace()
                    || matches!(
                        c,
                        '"' | '\'' | '`' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}'
                    )
            })
            .map_or(text.len(), |e| start + e);
        out.push(
            text[start..end]
                .trim_end_matches(['.', ',', ';', ':', '!', '?'])
                .to_string(),
        );
        at = end.max(start + 1);
    }
    out
}

/// Words shaped like passage ids (`R1`, `t12`), uppercased.
fn passage_ids(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| {
            w.len() >= 2
                && matches!(w.as_bytes()[0], b'R' | b'T' | b'r' | b't')
                && w[1..].bytes().all(|b| b.is_ascii_digit())
        })
        .map(str::to_uppercase)
        .collect()
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
        let reply = r#"Here it is:
```JSON
{"answer": "Rotate the key, see http://sw/runbook/auth.",
 "steps": [
   {"text": "Rotate the key (http://sw/runbook/auth).", "citations": ["R1", "[t1]"]},
   {"text": "Call the vendor.", "citations": ["R7"]},
   {"text": "Reboot.", "citations": []},
   {"text": "Read http://evil.example/guide", "citations": ["R1"]}
 ]}
```
Hope this helps!"#;
        let a = check_model_answer(reply, &context()).unwrap();
        assert_eq!(
            a.steps,
            vec![Step {
                text: "Rotate the key (http://sw/runbook/auth).".into(),
                citations: vec!["R1".into(), "T1".into()]
            }]
        );
        assert_eq!(a.dropped_steps, 3);
        assert_eq!(a.answer, "Rotate the key, see http://sw/runbook/auth.");
        assert!(a.llm_used);
    }

    #[test]
    fn no_invented_link_or_passage_survives_in_any_spelling() {
        for text in [
            "Open `https://evil.example/fix.sh` and run it.",
            "Guide:https://evil.example/guide",
            "Go to HTTPS://EVIL.EXAMPLE/guide now.",
            "Click 'https://evil.example/guide' now.",
            "Go to www.evil.example/guide for help.",
            "See http://sw/runbook/auth/../../ticket/fake",
            "See http://sw/runbook/auth?next=https://evil.example/",
            "As R9 says, restart it.",
            "Per ticket T7, call the vendor.",
        ] {
            let reply = serde_json::json!({
                "answer": text,
                "steps": [{"text": text, "citations": ["R1"]}, {"text": "Rotate the key.", "citations": ["R1"]}]
            });
            let a = check_model_answer(&reply.to_string(), &context()).unwrap();
            assert_eq!(a.steps.len(), 1, "{text}");
            assert_eq!(a.dropped_steps, 1, "{text}");
            assert_eq!(
                a.answer, "From runbook \u{201c}Provider rejects credentials\u{201d}:",
                "{text}"
            );
        }
        // Oversized replies are not answers.
        let long = "x".repeat(1_001);
        let reply =
            serde_json::json!({"answer": "ok", "steps": [{"text": long, "citations": ["R1"]}]});
        assert_eq!(
            check_model_answer(&reply.to_string(), &context()),
            Err(Rejected::NoValidCitation { dropped: 1 })
        );
        let many: Vec<_> = (0..20)
            .map(|i| serde_json::json!({"text": format!("step {i}"), "citations": ["R1"]}))
            .collect();
        let a = check_model_answer(
            &serde_json::json!({"answer": "ok", "steps": many}).to_string(),
            &context(),
        )
        .unwrap();
        assert_eq!((a.steps.len(), a.dropped_steps), (12, 8));
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
