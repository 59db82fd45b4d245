//! Autoscaling a worker's pool between two sizes: it grows towards the top
//! while deliveries wait for a slot (by as many as wait, each look), and
//! shrinks by one towards the bottom each time the pool has had no delivery
//! waiting and no spare work for the idle period. It looks every 200 ms.
//! The prefetch (deliveries held at once) follows the top, so that a
//! backlog shows as deliveries waiting.

use std::time::{Duration, Instant};

use super::WorkerControl;

/// How often the autoscaler looks.
const LOOK: Duration = Duration::from_millis(200);

/// Scales the pool of `control`'s worker between `bottom` and `top` until
/// dropped.
pub(super) async fn run(control: WorkerControl, bottom: usize, top: usize, idle: Duration) {
    let mut quiet_since = Instant::now();
    let mut every = tokio::time::interval(LOOK);
    loop {
        every.tick().await;
        let (size, waiting) = (control.concurrency(), control.waiting());
        if waiting > 0 {
            quiet_since = Instant::now();
            if size < top {
                let to = control.grow(waiting.min(top - size));
                tracing::debug!(from = size, to, waiting, "autoscaling: the pool grows");
            }
        } else if control.in_flight() >= size {
            // Every slot busy: not idle, but nothing to grow for.
            quiet_since = Instant::now();
        } else if size > bottom && quiet_since.elapsed() >= idle {
            let to = control.shrink(1);
            tracing::debug!(from = size, to, "autoscaling: the pool shrinks");
            quiet_since = Instant::now();
        }
    }
}
