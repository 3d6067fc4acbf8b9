//! Why the blog's sum leak does not port literally to tokio.
//!
//! This is the blog's handler, translated line by line with tokio's ordinary channels: two
//! tasks each send their half's sum on their own channel, and the handler reads only the
//! first. In Go the second goroutine blocks forever on `c2 <- sum`. Here it does not:
//!
//! * a tokio channel has two ends, and the handler owns the receiving end of `c2`;
//! * when the handler returns, that receiver is dropped, which *closes* the channel;
//! * a send on a closed channel fails at once instead of waiting, so the task ends.
//!
//! Ownership closes the channel for you. To leak, Rust code has to keep the receiving end
//! alive somewhere without reading it; leaky-server's sum handler does exactly that (see
//! `leaky-server/src/sum.rs`, LEAK(L1)).

use std::time::Duration;

use leak_probe::LeakCheck;
use tokio::sync::mpsc;

/// `func sum(s []int, c chan int)`.
async fn sum(s: Vec<i64>, c: mpsc::Sender<i64>) {
    let sum = s.iter().sum();
    // `c <- sum`: fails at once if the receiver is gone; nothing waits forever.
    let _ = c.send(sum).await;
}

// ANCHOR: literal_port
/// `func sumConcurrent(w, r)`, minus the HTTP parts.
async fn sum_concurrent() -> i64 {
    let s = [7, 2, 8, -9, 4, 0];
    // tokio has no unbuffered channel; capacity 1 is the closest.
    let (c1, mut x_rx) = mpsc::channel(1);
    let (c2, _y_rx) = mpsc::channel(1);
    tokio::spawn(sum(s[..s.len() / 2].to_vec(), c1));
    tokio::spawn(sum(s[s.len() / 2..].to_vec(), c2));
    // Not reading from c2. In Go, the goroutine writing to c2 is blocked forever.
    x_rx.recv().await.unwrap()
    // Here `_y_rx` is dropped: c2 is closed, and its sender's task ends.
}
// ANCHOR_END: literal_port

/// 50 requests to the literal port, the blog's load test: no task outlives them.
#[test]
fn the_literal_port_of_the_blogs_sum_does_not_leak() {
    LeakCheck::new()
        .settle(Duration::from_secs(2))
        .run(|| async {
            for _ in 0..50 {
                assert_eq!(sum_concurrent().await, 17);
            }
        });
}

/// Even with a full buffer (two values for a capacity-1 channel), the blocked send is
/// released when the receiver goes: the send returns an error, the task ends.
#[test]
fn a_blocked_send_ends_when_its_receiver_is_dropped() {
    LeakCheck::new()
        .settle(Duration::from_secs(2))
        .run(|| async {
            let (c, rx) = mpsc::channel::<i64>(1);
            c.send(1).await.unwrap(); // the buffer is now full
            let blocked = tokio::spawn(async move { c.send(2).await.is_err() });
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(
                !blocked.is_finished(),
                "the send waits while the receiver lives"
            );
            drop(rx);
            assert!(
                blocked.await.unwrap(),
                "dropping the receiver fails the send"
            );
        });
}
