#[stem::task(rate_limit = "10/s")]
async fn limited() -> Result<(), stem::TaskError> {
    Ok(())
}

fn main() {}
