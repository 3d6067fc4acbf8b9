//! # Exercise 12: read a task dump
//!
//! **Goal:** go from a dump to the line that leaks, without reading the whole service.
//!
//! A small shop: `checkout` charges the card (`billing`), sends a confirmation mail
//! (`mail`), updates the search index (`search`) and writes an audit record (`audit`).
//! Each of them starts a task per order. One of those tasks never ends.
//!
//! Don't read the modules top to bottom. Run `cargo run -p exercises -- check 12` and
//! read the report, as you would read `/_stack` on a live server: how many tasks, spawned
//! where, how old, waiting on what? Go to that line, and fix what keeps the task alive
//! (the fix is small; there is no TODO marker this time).
//!
//! What the shop promises must survive the fix: every order is charged, mailed and
//! indexed; every delivery the mail server confirms is logged, however late the
//! confirmation comes; the list of confirmations still to come stays within its limit.

mod audit;
mod billing;
mod mail;
mod search;

use std::sync::Arc;

/// An order, as `checkout` gets it.
#[derive(Debug, Clone)]
pub struct Order {
    /// Order number.
    pub id: u64,
    /// Amount in cents.
    pub cents: u64,
    /// Who to mail.
    pub email: String,
}

/// Confirmations the mail service waits for at most, by default.
pub const PENDING_MAIL_LIMIT: usize = 1000;

/// The shop's services.
pub struct Shop {
    billing: billing::Billing,
    mail: mail::Mail,
    search: search::Search,
    audit: audit::Audit,
}

impl Shop {
    /// A shop with empty books.
    pub fn new() -> Arc<Shop> {
        Shop::with_pending_mail_limit(PENDING_MAIL_LIMIT)
    }

    /// A shop whose mail service waits for at most `limit` delivery confirmations.
    pub fn with_pending_mail_limit(limit: usize) -> Arc<Shop> {
        Arc::new(Shop {
            billing: billing::Billing::default(),
            mail: mail::Mail::new(limit),
            search: search::Search::default(),
            audit: audit::Audit,
        })
    }

    /// Takes an order; answers the receipt line.
    pub async fn checkout(self: &Arc<Self>, order: Order) -> String {
        let charged = self.billing.charge(&order).await;
        self.mail.confirm(&order).await;
        self.search.index(&order);
        self.audit.record(&order).await;
        format!("order {} charged {} cents", order.id, charged)
    }

    /// Orders charged so far.
    pub fn charged(&self) -> usize {
        self.billing.count()
    }

    /// The mail server confirms that order `id`'s mail was delivered.
    pub fn mail_delivered(&self, id: u64) {
        self.mail.delivered(id);
    }

    /// Mails handed to the mail server so far.
    pub fn mailed(&self) -> usize {
        self.mail.count()
    }

    /// Mails whose delivery confirmation is still to come.
    pub fn awaiting_confirmation(&self) -> usize {
        self.mail.awaiting()
    }

    /// The delivery log: one line per delivered mail.
    pub fn delivery_log(&self) -> Vec<String> {
        self.mail.log()
    }

    /// Orders in the search index so far.
    pub fn indexed(&self) -> usize {
        self.search.count()
    }
}
