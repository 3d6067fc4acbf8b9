//! The search index: a task per order updates it in the background.

use std::sync::Arc;
use std::sync::Mutex;

use crate::Order;

#[derive(Default)]
pub(crate) struct Search {
    index: Arc<Mutex<Vec<u64>>>,
}

impl Search {
    /// Adds the order to the index, in the background.
    pub(crate) fn index(&self, order: &Order) {
        let index = Arc::clone(&self.index);
        let id = order.id;
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            index.lock().unwrap().push(id);
        });
    }

    pub(crate) fn count(&self) -> usize {
        self.index.lock().unwrap().len()
    }
}
