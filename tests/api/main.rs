//! Integration tests: one binary. `helpers::spawn_app` starts syncwatch on port 0 with a fresh
//! SQLite file, the provider simulator, a fake Slack Web API and a fake SMTP server.

mod alertmanager_corpus;
mod alertmanager_fields;
mod alertmanager_parity;
mod assistant;
mod auth;
mod check_cli;
mod crash;
mod dashboards;
mod dlq;
mod end_to_end;
mod events;
mod fakes;
mod health;
mod helpers;
mod http_config;
mod notifications;
mod openapi;
mod outbox;
mod pipeline;
mod prometheus;
mod promql_conformance;
mod providers;
mod retrieval;
mod rules_cli;
mod rules_corpus;
mod rules_engine;
mod runbooks;
mod secrets;
mod shutdown;
mod sla;
pub mod smtp;
mod store;
mod store_tables;
mod template_parity;
mod ticket_webhooks;
mod tickets;
