#[stem::task(unique_for = "1h")]
async fn deduplicated(order: u64) -> Result<(), stem::TaskError> {
    let _ = order;
    Ok(())
}

fn main() {}
