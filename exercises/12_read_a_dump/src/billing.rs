//! Charging cards: a task per charge talks to the payment provider.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::Order;

#[derive(Default)]
pub(crate) struct Billing {
    charges: AtomicUsize,
}

impl Billing {
    /// Charges the order's amount; answers it.
    pub(crate) async fn charge(&self, order: &Order) -> u64 {
        let (done, charged) = oneshot::channel();
        let cents = order.cents;
        tokio::spawn(async move {
            // The payment provider takes a moment.
            tokio::time::sleep(Duration::from_millis(2)).await;
            let _ = done.send(cents);
        });
        let cents = charged.await.unwrap_or(0);
        self.charges.fetch_add(1, Ordering::Relaxed);
        cents
    }

    pub(crate) fn count(&self) -> usize {
        self.charges.load(Ordering::Relaxed)
    }
}
