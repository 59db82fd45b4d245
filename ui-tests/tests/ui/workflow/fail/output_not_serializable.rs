pub struct Connection;

#[stem::workflow]
async fn connect(wf: stem::WorkflowContext) -> Result<Connection, stem::WorkflowError> {
    let _ = wf;
    Ok(Connection)
}

fn main() {}
