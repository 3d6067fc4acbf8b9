//! The audit log: records go through a channel to a writer task per record batch.

use tokio::sync::mpsc;

use crate::Order;

#[derive(Default)]
pub(crate) struct Audit;

impl Audit {
    /// Writes an audit record for the order.
    pub(crate) async fn record(&self, order: &Order) {
        let (records, mut writer) = mpsc::channel::<String>(4);
        let batch = tokio::spawn(async move {
            let mut written = 0;
            while let Some(record) = writer.recv().await {
                written += record.len();
            }
            written
        });
        let _ = records
            .send(format!("order {} paid {}", order.id, order.cents))
            .await;
        drop(records);
        let _ = batch.await;
    }
}
