pub struct Connection;

#[stem::workflow]
async fn query(wf: stem::Workflow, connection: Connection) -> Result<u32, stem::WorkflowError> {
    let _ = (wf, connection);
    Ok(1)
}

fn main() {}
