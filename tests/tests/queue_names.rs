//! One rule for queue names (`stem::queue::RULE`), checked wherever a name
//! enters: at enqueue, when a worker is built, and when a workflow starts.

use stem::prelude::*;

#[stem::task]
async fn ping() -> Result<(), TaskError> {
    Ok(())
}

#[tokio::test]
async fn a_bad_queue_name_is_refused_naming_the_rule() {
    let stem = Stem::in_memory();
    for bad in ["", "two words", "a/b", "{tag}", &"x".repeat(65)] {
        let error = Ping::call(()).queue(bad).enqueue(&stem).await.expect_err(bad).to_string();
        assert!(error.contains(stem::queue::RULE), "{error}");
        let error = Worker::builder(&stem).queue(bad).build().map(drop).expect_err(bad).to_string();
        assert!(error.contains(stem::queue::RULE), "{error}");
    }
    let good = Ping::call(()).queue("billing.v2-high_1").enqueue(&stem).await;
    assert!(good.is_ok(), "{good:?}");
}
