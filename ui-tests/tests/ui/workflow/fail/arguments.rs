use stem::{StepError, WorkflowContext, WorkflowError};

#[stem::workflow]
async fn late(order: u64, wf: WorkflowContext) -> Result<u64, WorkflowError> {
    let _ = wf;
    Ok(order)
}

#[stem::workflow]
async fn pattern(wf: WorkflowContext, (a, b): (u64, u64)) -> Result<u64, WorkflowError> {
    let _ = wf;
    Ok(a + b)
}

#[stem::step]
async fn owned(wf: WorkflowContext, n: u64) -> Result<u64, StepError> {
    let _ = wf;
    Ok(n)
}

pub struct Service;

impl Service {
    #[stem::workflow]
    async fn method(&self, wf: WorkflowContext) -> Result<u64, WorkflowError> {
        let _ = wf;
        Ok(1)
    }
}

fn main() {}
