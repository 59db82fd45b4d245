use stem::{StepError, Workflow};

pub struct Connection;

#[stem::step]
async fn connect(wf: &Workflow) -> Result<Connection, StepError> {
    let _ = wf;
    Ok(Connection)
}

fn main() {}
