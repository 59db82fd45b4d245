use stem::{StepError, WorkflowContext};

pub struct Connection;

#[stem::step]
async fn connect(wf: &WorkflowContext) -> Result<Connection, StepError> {
    let _ = wf;
    Ok(Connection)
}

fn main() {}
