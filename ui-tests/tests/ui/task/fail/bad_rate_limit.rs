#[stem::task(rate_limit = "10/x")]
async fn limited() -> Result<(), stem::TaskError> {
    Ok(())
}

#[stem::task(rate_limit = "0/s")]
async fn never() -> Result<(), stem::TaskError> {
    Ok(())
}

fn main() {}
