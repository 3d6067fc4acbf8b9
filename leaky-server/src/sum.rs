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
//! # How this one leaks: LEAK(L1)
//! Like the blog's, this handler reads only `c1` and answers the first half's sum (`17`
//! for the blog's numbers). Both channels are [`GoChan`]s, Go's shape: one value holding
//! both ends, whose send waits until the value is received, and which never closes. They
//! live in the request's [`SumJob`], shared by the handler and both tasks through an `Arc`.
//! The handler reads `c1` and returns. The task summing the second half is waiting inside
//! `c2.send()` for a receiver that will never come, and nothing can tell it so: the
//! channel has no "closed" state, and the waiting task itself holds the last `Arc` to the
//! job and its channel. One task per request. (Ported with tokio's own channels, nothing
//! would leak: `tests/literal_port.rs` shows why.)

use leak_probe::TraceExt as _;
use scenarios::Reject;
use scenarios::nums::{self, Nums};

// LEAK(L1): Go's channel, in a job the handler and both tasks share through an `Arc`.
use crate::gochan::GoChan;
use std::sync::Arc;

/// Everything one request needs, shared by the handler and both sum tasks.
struct SumJob {
    /// The numbers; the first half is `nums[..split]`.
    nums: Vec<i64>,
    split: usize,
    /// The first half's result. Read by the handler.
    c1: GoChan<Option<i64>>,
    /// LEAK(L1): the second half's result. Nobody ever reads it, and a `GoChan` never
    /// closes, so the task sending on it waits for ever (holding this job alive, too).
    c2: GoChan<Option<i64>>,
}

/// Which half a sum task adds up.
#[derive(Clone, Copy)]
enum Half {
    First,
    Second,
}

impl SumJob {
    /// One half of the numbers, and the channel its sum goes to.
    fn half(&self, half: Half) -> (&[i64], &GoChan<Option<i64>>) {
        match half {
            Half::First => (&self.nums[..self.split], &self.c1),
            Half::Second => (&self.nums[self.split..], &self.c2),
        }
    }
}

// ANCHOR: sum_task
/// `func sum(s []int, c chan int)`: adds up one half and sends the result (`None` if it
/// does not fit in an `i64`: eight bytes a leaked task need not keep).
async fn sum(job: Arc<SumJob>, half: Half) {
    let sum = i64::try_from(nums::partial_sum(job.half(half).0)).ok();
    // `c <- sum`. LEAK(L1): for the second half this never returns.
    job.half(half).1.send(sum).traced().await;
}
// ANCHOR_END: sum_task

// ANCHOR: sum_handler
/// `GET /sum?nums=...`: answers the sum of the *first half* only, like the blog's handler.
pub async fn handler(nums: Nums) -> Result<String, Reject> {
    let split = nums.0.len() / 2;
    let job = Arc::new(SumJob {
        nums: nums.0,
        split,
        c1: GoChan::new(),
        c2: GoChan::new(),
    });

    // go sum(s[:len(s)/2], c1)
    tokio::spawn(sum(Arc::clone(&job), Half::First));
    // LEAK(L1): go sum(s[len(s)/2:], c2) — this task's send is never received.
    tokio::spawn(sum(Arc::clone(&job), Half::Second));

    // x := <-c1. LEAK(L1): c2 is never read.
    let x = job.c1.recv().traced().await;
    Ok(x.ok_or_else(nums::out_of_range)?.to_string())
}
// ANCHOR_END: sum_handler
