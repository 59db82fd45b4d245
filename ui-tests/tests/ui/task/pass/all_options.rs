use std::time::Duration;

use stem::prelude::*;

#[stem::task(
    name = "mail.send",
    queue = "emails",
    max_retries = 7,
    retry_backoff = "2s",
    retry_backoff_max = "5m",
    retry_jitter = false,
    time_limit = "1m30s",
    soft_time_limit = "45s",
    visibility_timeout = "2m",
    priority = 9,
    rate_limit = "100/m",
    rate_limit_key = "tenant",
    unique_for = "10m",
    unique_until_finished = false,
    track_started = false,
    ignore_result = true,
)]
async fn send(to: String) -> Result<(), TaskError> {
    let _ = to;
    Ok(())
}

fn main() {
    let o = Send::OPTIONS;
    assert_eq!(Send::NAME, "mail.send");
    assert_eq!(o.queue, "emails");
    assert_eq!(o.max_retries, 7);
    assert_eq!(o.retry.backoff, Duration::from_secs(2));
    assert_eq!(o.retry.backoff_max, Duration::from_secs(300));
    assert!(!o.retry.jitter);
    assert_eq!(o.time_limit, Some(Duration::from_secs(90)));
    assert_eq!(o.soft_time_limit, Some(Duration::from_secs(45)));
    assert_eq!(o.visibility_timeout, Some(Duration::from_secs(120)));
    assert_eq!(o.priority, 9);
    assert_eq!(o.rate_limit, Some(stem::Rate::per_minute(100)));
    assert_eq!(o.rate_limit_key, Some("tenant"));
    assert_eq!(o.unique_for, Some(Duration::from_secs(600)));
    assert!(!o.unique_until_finished);
    assert!(!o.track_started);
    assert!(stem::TaskOptions::DEFAULT.track_started);
    assert!(o.ignore_result);
    assert!(!stem::TaskOptions::DEFAULT.ignore_result);
}
