#[stem::workflow]
async fn checkout(order: u64) -> Result<u64, stem::WorkflowError> {
    Ok(order)
}

fn main() {}
