#[stem::task(priority = 10)]
async fn urgent() -> Result<(), stem::TaskError> {
    Ok(())
}

fn main() {}
