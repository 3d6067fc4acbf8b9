//! `GET /save?nums=...` — work accepted, then lost at shutdown.
//!
//! Each request accepts its numbers for saving and answers `202 Accepted` at once; a
//! background task writes them a moment later ([`WRITE_DELAY`], think: batched into one
//! disk write). The server's [`Saves`](scenarios::saves::Saves) counts what was accepted
//! and what was written, and each server prints both when it stops.
//!
//! # The fix: FIX(L8)
//! The writer is spawned on the server's `TaskTracker`, like every task the server
//! starts. On shutdown the server stops accepting, closes the tracker and waits for it,
//! up to `--shutdown-timeout`: every accepted save is written before `serve` returns
//! (see `server.rs`), and the shutdown line says so.

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
    // FIX(L8): tracked. Shutdown waits for it (within its deadline).
    state.shared.tasks.spawn(write(saves, nums));
    (
        StatusCode::ACCEPTED,
        format!("accepted {count} number(s)\n"),
    )
}
// ANCHOR_END: save_handler
