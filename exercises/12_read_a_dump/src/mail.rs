//! Confirmation mails: each mail is handed to the mail server, which confirms delivery
//! later (or not at all, if the mail bounces), through `delivered`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;

use crate::Order;

#[derive(Default)]
pub(crate) struct Mail {
    handed_over: AtomicUsize,
    /// Delivery confirmations still to come, by order id.
    confirmations: Mutex<HashMap<u64, oneshot::Sender<()>>>,
}

impl Mail {
    /// Hands a confirmation mail to the mail server.
    pub(crate) async fn confirm(&self, order: &Order) {
        let (delivered, confirmation) = oneshot::channel::<()>();
        self.confirmations
            .lock()
            .unwrap()
            .insert(order.id, delivered);
        let to = order.email.clone();
        tokio::spawn(async move {
            // Log the delivery once the mail server confirms it.
            if confirmation.await.is_ok() {
                println!("mail to {to} delivered");
            }
        });
        self.handed_over.fetch_add(1, Ordering::Relaxed);
    }

    /// The mail server confirms the delivery of order `id`'s mail.
    pub(crate) fn delivered(&self, id: u64) {
        if let Some(confirmation) = self.confirmations.lock().unwrap().remove(&id) {
            let _ = confirmation.send(());
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.handed_over.load(Ordering::Relaxed)
    }
}
