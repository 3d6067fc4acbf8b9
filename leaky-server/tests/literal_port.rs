//! Why the blog's sum leak does not port literally to tokio.
//!
//! This is the blog's handler, translated line by line: two tasks each send their half's
//! sum on their own channel, and the handler reads only the first. In Go the second
//! goroutine blocks forever on `c2 <- sum`. Here it does not:
//!
//! * a tokio channel has two ends, and the handler owns the receiving end of `c2`;
//! * when the handler returns, that receiver is dropped, which *closes* the channel;
//! * a send waiting on a closed channel fails at once, so the task ends.
//!
//! Go's channel in the blog is *unbuffered*: a send completes only when a receiver takes
//! the value. tokio has no such channel (an `mpsc` channel has room for at least one
//! value, and a send into a free slot completes at once, like a send on Go's
//! `make(chan int, 1)`, which would not leak either). So the port below sends with an
//! acknowledgement: the send completes when the receiver has taken the value, as in Go.
//!
//! Ownership closes the channel for you. To leak, Rust code has to keep the receiving end
//! alive somewhere without reading it; leaky-server's sum handler does exactly that (see
//! `leaky-server/src/sum.rs`, LEAK(L1)).

use std::time::Duration;

use leak_probe::LeakCheck;
use tokio::sync::{mpsc, oneshot};

// ANCHOR: literal_port
/// A Go `chan int`, unbuffered: each value travels with an acknowledgement.
type Chan = mpsc::Sender<(i64, oneshot::Sender<()>)>;

/// `c <- v`: completes once a receiver has taken `v`, like Go's unbuffered send.
/// Returns false if the receiver is gone (then nothing waits: the send fails).
async fn send(c: Chan, v: i64) -> bool {
    let (ack, taken) = oneshot::channel();
    let sent = c.send((v, ack)).await.is_ok();
    // Let go of the sender before waiting: a value that lands in the channel just as the
    // receiver goes stays in it until the last sender is gone too, and it holds `ack`.
    drop(c);
    sent && taken.await.is_ok()
}

/// `func sum(s []int, c chan int)`.
async fn sum(s: Vec<i64>, c: Chan) {
    send(c, s.iter().sum()).await;
}

/// `func sumConcurrent(w, r)`, minus the HTTP parts.
async fn sum_concurrent() -> i64 {
    let s = [7, 2, 8, -9, 4, 0];
    let (c1, mut x_rx) = mpsc::channel(1);
    let (c2, _y_rx) = mpsc::channel(1);
    tokio::spawn(sum(s[..s.len() / 2].to_vec(), c1));
    tokio::spawn(sum(s[s.len() / 2..].to_vec(), c2));
    // x := <-c1. Not reading from c2: in Go, the goroutine writing to c2 blocks for ever.
    let (x, ack) = x_rx.recv().await.unwrap();
    let _ = ack.send(());
    x
    // Here `_y_rx` is dropped: c2 is closed. The value waiting in it is dropped with it,
    // acknowledgement and all, so the second task's send fails and the task ends.
}
// ANCHOR_END: literal_port

// ANCHOR: literal_port_test
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
// ANCHOR_END: literal_port_test

/// The send really waits, as in Go: while the receiver lives and nobody reads, the second
/// task is still there; it ends when the receiver is dropped.
#[test]
fn the_second_send_waits_until_the_receiver_goes() {
    LeakCheck::new()
        .settle(Duration::from_secs(2))
        .run(|| async {
            let (c2, y_rx) = mpsc::channel(1);
            let task = tokio::spawn(sum(vec![-9, 4, 0], c2));
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(!task.is_finished(), "the send waits while nobody reads");
            drop(y_rx);
            task.await.unwrap();
        });
}

// ANCHOR: blocked_send
/// A plain `mpsc` send into a full buffer (two values for a capacity-1 channel) waits
/// too, and is released when the receiver goes: the send returns an error, the task ends.
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
// ANCHOR_END: blocked_send
