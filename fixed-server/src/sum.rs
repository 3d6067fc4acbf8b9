//! `GET /sum` — the blog's first leak: "writing into a channel without a receiver".
//!
//! ```go
//! func sum(s []int, c chan int) {
//!     sum := 0
//!     for _, v := range s {
//!         sum += v
//!     }
//!     c <- sum // send sum to c
//! }
//!
//! func sumConcurrent(w http.ResponseWriter, r *http.Request) {
//!     s := []int{7, 2, 8, -9, 4, 0}
//!     c1 := make(chan int)
//!     c2 := make(chan int)
//!     go sum(s[:len(s)/2], c1)
//!     go sum(s[len(s)/2:], c2)
//!     x := <-c1
//!     // write the response.
//!     fmt.Fprintf(w, strconv.Itoa(x))
//! }
//! ```
//!
//! The handler starts two tasks, one per half of the numbers (`?nums=`, the blog's
//! `[7, 2, 8, -9, 4, 0]` by default), each sending its sum on a channel of its own.
//!
//! # The fix: FIX(L1)
//! The same two tasks; what changed is *who owns what*. leaky-server kept Go's shape, one
//! `GoChan` value holding both ends of each channel, shared by everyone, so a waiting
//! sender kept its own receiver alive. Here each channel is split the tokio way: the
//! *task* owns only its sending end, the *handler* owns the receiving ends and reads
//! **both** (the blog's fix, `x, y := <-c1, <-c2`), and answers the whole sum (`12` for
//! the blog's numbers). No timeout is needed: a sum task cannot wait on anything, and
//! the request as a whole is bounded by the server's request timeout. Whatever happens next, no task can outlive the request: a `oneshot` send never waits,
//! and if the handler is gone (timed out, or dropped because the client left) its
//! receivers are dropped with it and the send fails at once. The tasks are tracked by the
//! server's `TaskTracker` too, so shutdown sees them (FIX(L8)).

use leak_probe::TraceExt as _;
use scenarios::Reject;
use scenarios::nums::{self, Nums};

// FIX(L1): each task owns its own sender; the state holds the task tracker (FIX(L8)).
use crate::AppState;

// ANCHOR: sum_task
/// `func sum(s []int, c chan int)`: adds up one half and sends the result.
async fn sum(nums: Vec<i64>, c: tokio::sync::oneshot::Sender<i128>) {
    // `c <- sum`. FIX(L1): the task owns only the sending end; `send` never waits, and if
    // the handler is gone it fails. The task ends either way.
    let _ = c.send(nums::partial_sum(&nums));
}
// ANCHOR_END: sum_task

// ANCHOR: sum_handler
/// `GET /sum?nums=...`: answers the sum of *both* halves.
pub async fn handler(
    // FIX(L1): the server's state, for its task tracker (FIX(L8)).
    axum::extract::State(state): axum::extract::State<AppState>,
    nums: Nums,
) -> Result<String, Reject> {
    let (first, second) = nums.halves();
    let (c1, x) = tokio::sync::oneshot::channel();
    let (c2, y) = tokio::sync::oneshot::channel();

    // go sum(s[:len(s)/2], c1)
    state.shared.tasks.spawn(sum(first, c1));
    // FIX(L1): go sum(s[len(s)/2:], c2) — its result is read below, by this handler,
    // which owns the receiver.
    state.shared.tasks.spawn(sum(second, c2));

    // x, y := <-c1, <-c2 — FIX(L1): both results.
    match (x.traced().await, y.traced().await) {
        (Ok(x), Ok(y)) => Ok(nums::answer(x + y)?.to_string()),
        // A sum task that panicked dropped its sender.
        _ => Err(Reject::Failed("a sum task failed".into())),
    }
}
// ANCHOR_END: sum_handler
