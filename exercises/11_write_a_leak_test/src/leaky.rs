//! The leaky bus: a forwarder ignores that its subscription is gone.

use tokio::sync::{broadcast, mpsc};

/// A message bus.
#[derive(Debug)]
pub struct Bus {
    tx: broadcast::Sender<String>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new()
    }
}

impl Bus {
    /// A bus with no subscribers.
    pub fn new() -> Bus {
        Bus {
            tx: broadcast::Sender::new(64),
        }
    }

    /// Sends `message` to every subscription whose prefix matches.
    pub fn publish(&self, message: &str) {
        let _ = self.tx.send(message.to_owned());
    }

    /// Messages starting with `prefix`, from now on.
    pub fn subscribe(&self, prefix: &str) -> Subscription {
        let mut bus = self.tx.subscribe();
        let (tx, rx) = mpsc::channel(16);
        let prefix = prefix.to_owned();
        tokio::spawn(async move {
            loop {
                match bus.recv().await {
                    Ok(message) if message.starts_with(&prefix) => {
                        // The subscription may be gone; the loop goes on regardless.
                        let _ = tx.send(message).await;
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Subscription { rx }
    }
}

/// Messages of one subscription.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<String>,
}

impl Subscription {
    /// The next matching message.
    pub async fn next(&mut self) -> Option<String> {
        self.rx.recv().await
    }
}
