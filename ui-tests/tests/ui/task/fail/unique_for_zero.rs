#[stem::task(unique_for = "0s")]
async fn once() -> Result<(), stem::TaskError> {
    Ok(())
}

fn main() {}
