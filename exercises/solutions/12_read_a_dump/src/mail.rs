//! Confirmation mails: each mail is handed to the mail server, which confirms delivery
//! later (or not at all, if the mail bounces), through `delivered`.
//!
//! Solution: the dump pointed here, at tasks parked on a `oneshot` receiver whose sender
//! sat in `confirmations`. A bounced mail is never confirmed, so its sender stays in the
//! map and its task waits for ever. Nothing needs to *wait* for a confirmation: keep
//! what the log line needs (the address) and log when `delivered` is called. No task,
//! nothing parked. (A bounce still leaves a map entry: a real service would expire them.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Order;

#[derive(Default)]
pub(crate) struct Mail {
    handed_over: AtomicUsize,
    /// Addresses of mails whose delivery is still to be confirmed, by order id.
    awaiting: Mutex<HashMap<u64, String>>,
}

impl Mail {
    /// Hands a confirmation mail to the mail server.
    pub(crate) async fn confirm(&self, order: &Order) {
        self.awaiting
            .lock()
            .unwrap()
            .insert(order.id, order.email.clone());
        self.handed_over.fetch_add(1, Ordering::Relaxed);
    }

    /// The mail server confirms the delivery of order `id`'s mail.
    pub(crate) fn delivered(&self, id: u64) {
        if let Some(to) = self.awaiting.lock().unwrap().remove(&id) {
            println!("mail to {to} delivered");
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.handed_over.load(Ordering::Relaxed)
    }
}
