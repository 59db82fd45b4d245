#[stem::step]
async fn charge(cents: u64) -> Result<u64, stem::StepError> {
    Ok(cents)
}

fn main() {}
