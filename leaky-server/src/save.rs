//! `GET /save?nums=...` — work accepted, then lost at shutdown.
//!
//! Each request accepts its numbers for saving and answers `202 Accepted` at once; a
//! background task writes them a moment later ([`WRITE_DELAY`], think: batched into one
//! disk write). The server's [`Saves`](scenarios::saves::Saves) counts what was accepted
//! and what was written, and each server prints both when it stops.
//!
//! # How this one leaks: LEAK(L8)
//! The writer is spawned and forgotten: nobody owns it, so nobody waits for it. When the
//! server is told to stop, `serve` waits for the requests in flight (already answered)
//! and returns; `main` returns, the runtime is dropped, and every writer still waiting
//! for its batch is dropped with it, mid-work. Each of those saves was accepted (`202`)
//! and is lost. The same holds for every task leaked by L1–L6: a shutdown that does not
//! track its tasks cannot wait for them, and one that waits for all of them without a
//! deadline never ends (see `server.rs`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use leak_probe::TraceExt as _;
use scenarios::nums::Nums;
use scenarios::saves::{Saves, WRITE_DELAY};

use crate::AppState;

// ANCHOR: save_write
/// The writer: waits for its batch, then writes.
async fn write(saves: Arc<Saves>, _nums: Nums) {
    tokio::time::sleep(WRITE_DELAY).traced().await;
    // (A real server would write the numbers to disk here.)
    saves.written();
}
// ANCHOR_END: save_write

// ANCHOR: save_handler
/// `GET /save?nums=...`: `202`, the numbers are written in the background.
pub async fn handler(State(state): State<AppState>, nums: Nums) -> (StatusCode, String) {
    let count = nums.0.len();
    let saves = Arc::clone(&state.shared.saves);
    saves.accept();
    // LEAK(L8): detached. Shutdown does not know this task exists.
    tokio::spawn(write(saves, nums));
    (
        StatusCode::ACCEPTED,
        format!("accepted {count} number(s)\n"),
    )
}
// ANCHOR_END: save_handler
