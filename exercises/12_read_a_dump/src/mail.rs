//! Confirmation mails: each mail is handed to the mail server, which confirms delivery
//! later (or not at all, if the mail bounces), through `delivered`. Delivered mails are
//! logged.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::Order;

pub(crate) struct Mail {
    handed_over: AtomicUsize,
    /// Delivery confirmations still to come, by order id. At most `limit`: when full, the
    /// oldest order's is given up.
    confirmations: Mutex<BTreeMap<u64, oneshot::Sender<()>>>,
    limit: usize,
    /// The delivery log.
    log: Arc<Mutex<Vec<String>>>,
}

impl Mail {
    pub(crate) fn new(limit: usize) -> Mail {
        Mail {
            handed_over: AtomicUsize::new(0),
            confirmations: Mutex::new(BTreeMap::new()),
            limit: limit.max(1),
            log: Arc::default(),
        }
    }

    /// Hands a confirmation mail to the mail server.
    pub(crate) async fn confirm(&self, order: &Order) {
        let (delivered, confirmation) = oneshot::channel::<()>();
        {
            let mut waiting = self.confirmations.lock().unwrap();
            if waiting.len() >= self.limit {
                waiting.pop_first();
            }
            waiting.insert(order.id, delivered);
        }
        let (to, log) = (order.email.clone(), Arc::clone(&self.log));
        tokio::spawn(async move {
            // Log the delivery once the mail server confirms it.
            if confirmation.await.is_ok() {
                log.lock().unwrap().push(format!("mail to {to} delivered"));
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

    pub(crate) fn awaiting(&self) -> usize {
        self.confirmations.lock().unwrap().len()
    }

    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}
