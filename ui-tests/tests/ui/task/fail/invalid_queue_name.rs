#[stem::task(queue = "high priority")]
async fn urgent() -> Result<(), stem::TaskError> {
    Ok(())
}

fn main() {}
