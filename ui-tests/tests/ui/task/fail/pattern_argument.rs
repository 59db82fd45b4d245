#[stem::task]
async fn add((a, b): (i64, i64)) -> Result<i64, stem::TaskError> {
    Ok(a + b)
}

fn main() {}
