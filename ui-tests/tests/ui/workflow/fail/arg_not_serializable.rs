pub struct Connection;

#[stem::workflow]
async fn query(wf: stem::WorkflowContext, connection: Connection) -> Result<u32, stem::WorkflowError> {
    let _ = (wf, connection);
    Ok(1)
}

fn main() {}
