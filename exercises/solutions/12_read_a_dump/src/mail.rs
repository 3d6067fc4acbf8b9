//! Confirmation mails: each mail is handed to the mail server, which confirms delivery
//! later (or not at all, if the mail bounces), through `delivered`. Delivered mails are
//! logged.
//!
//! Solution: the dump pointed here, at tasks parked on a `oneshot` receiver whose sender
//! sat in `confirmations`. A bounced mail is never confirmed, so its sender stays in the
//! map and its task waits until the map is full and its entry is pushed out, which on a
//! quiet day is never. Nothing needs to *wait* for a confirmation: keep what the log line
//! needs (the address) and log when `delivered` is called. No task, nothing parked, and
//! the map stays bounded as before. (A timeout on the task's wait would only trade the
//! leak for lost log lines: a confirmation can come late.)

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Order;

pub(crate) struct Mail {
    handed_over: AtomicUsize,
    /// Addresses of mails whose delivery is still to be confirmed, by order id. At most
    /// `limit`: when full, the oldest order's is given up.
    awaiting: Mutex<BTreeMap<u64, String>>,
    limit: usize,
    /// The delivery log.
    log: Mutex<Vec<String>>,
}

impl Mail {
    pub(crate) fn new(limit: usize) -> Mail {
        Mail {
            handed_over: AtomicUsize::new(0),
            awaiting: Mutex::new(BTreeMap::new()),
            limit: limit.max(1),
            log: Mutex::default(),
        }
    }

    /// Hands a confirmation mail to the mail server.
    pub(crate) async fn confirm(&self, order: &Order) {
        {
            let mut awaiting = self.awaiting.lock().unwrap();
            if awaiting.len() >= self.limit {
                awaiting.pop_first();
            }
            awaiting.insert(order.id, order.email.clone());
        }
        self.handed_over.fetch_add(1, Ordering::Relaxed);
    }

    /// The mail server confirms the delivery of order `id`'s mail.
    pub(crate) fn delivered(&self, id: u64) {
        if let Some(to) = self.awaiting.lock().unwrap().remove(&id) {
            self.log
                .lock()
                .unwrap()
                .push(format!("mail to {to} delivered"));
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.handed_over.load(Ordering::Relaxed)
    }

    pub(crate) fn awaiting(&self) -> usize {
        self.awaiting.lock().unwrap().len()
    }

    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}
