#[stem::task(rate_limit_key = "tenant")]
async fn per_tenant() -> Result<(), stem::TaskError> {
    Ok(())
}

#[stem::task(unique_until_finished = false)]
async fn kept() -> Result<(), stem::TaskError> {
    Ok(())
}

fn main() {}
