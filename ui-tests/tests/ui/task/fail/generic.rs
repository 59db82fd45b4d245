#[stem::task]
async fn store<T: serde::Serialize>(value: T) -> Result<(), stem::TaskError> {
    let _ = value;
    Ok(())
}

fn main() {}
