//! The upstream service `/upstream` calls, simulated: it accepts every call and never
//! answers, like a remote host that accepted the connection and went silent. (reqwest,
//! like Go's `http.Client`, has *no* timeout by default: such a call waits for ever.)

use std::time::Duration;

use tokio::sync::Notify;

/// How long `/upstream` waits for an answer before it answers `504`.
pub const TIMEOUT: Duration = Duration::from_millis(100);

/// A simulated upstream service that accepts every call and never answers.
#[derive(Debug, Default)]
pub struct Upstream {
    /// Would be notified when an answer arrives. Nothing ever notifies it.
    answered: Notify,
}

impl Upstream {
    /// Calls the upstream. Never returns.
    pub async fn call(&self) -> String {
        self.answered.notified().await;
        "answer".into()
    }
}
