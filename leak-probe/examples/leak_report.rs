//! Prints what a failed leak check says, for the book (`book/generate.sh` runs it):
//! leaktest's own example, the sleep loop the blog quotes, under `LeakCheck`.
//!
//! ```text
//! cargo run -p leak-probe --example leak_report
//! ```

use std::time::Duration;

use leak_probe::LeakCheck;

// ANCHOR: leaktest_example
/// leaktest's example in Go:
///
/// ```go
/// func TestMyFunc(t *testing.T) {
///     defer leaktest.Check(t)()
///     go func() {
///         for {
///             time.Sleep(time.Second)
///         }
///     }()
/// }
/// ```
fn my_func_leaks() -> Result<(), leak_probe::Leak> {
    LeakCheck::new()
        .settle(Duration::from_millis(500))
        .try_run(|| async {
            tokio::spawn(async {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        })
}
// ANCHOR_END: leaktest_example

fn main() {
    match my_func_leaks() {
        Ok(()) => println!("no leak"),
        Err(leak) => print!("{leak}"),
    }
}
