//! The demo's receivers (syncwatch extensions of the Alertmanager format): `console_configs`
//! print notifications to standard output, `eml_configs` write each as an `.eml` file that any
//! mail client opens.

pub mod config;

use async_trait::async_trait;
use lettre::{AsyncFileTransport, AsyncTransport, Tokio1Executor};

use super::email::build_message;
use super::render::text;
use super::{FailureReason, Notification, Notifier, NotifyError};
use config::{ConsoleConfig, EmlConfig};

pub struct ConsoleNotifier(pub ConsoleConfig);

#[async_trait]
impl Notifier for ConsoleNotifier {
    fn integration(&self) -> &'static str {
        "console"
    }

    fn send_resolved(&self) -> bool {
        self.0.send_resolved
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let rule = "=".repeat(72);
        println!("{rule}\n{}{rule}", text(n));
        Ok(())
    }
}

pub struct EmlNotifier {
    config: EmlConfig,
    transport: AsyncFileTransport<Tokio1Executor>,
}

impl EmlNotifier {
    pub fn new(config: EmlConfig) -> Self {
        Self {
            transport: AsyncFileTransport::new(&config.dir),
            config,
        }
    }
}

#[async_trait]
impl Notifier for EmlNotifier {
    fn integration(&self) -> &'static str {
        "eml"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        tokio::fs::create_dir_all(&self.config.dir)
            .await
            .map_err(|e| {
                NotifyError::new(
                    FailureReason::ClientError,
                    format!("cannot create {}: {e}", self.config.dir.display()),
                )
            })?;
        let msg = build_message(&self.config.from, &self.config.to, n)?;
        self.transport.send(msg).await.map(|_| ()).map_err(|e| {
            NotifyError::new(
                FailureReason::ClientError,
                format!("cannot write .eml: {e}"),
            )
        })
    }
}
