pub struct Connection;

#[stem::workflow]
async fn connect(wf: stem::Workflow) -> Result<Connection, stem::WorkflowError> {
    let _ = wf;
    Ok(Connection)
}

fn main() {}
