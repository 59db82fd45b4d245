#[stem::workflow(max_run_time = "soon", lease = "1s", lease = "2s")]
async fn flow(wf: stem::WorkflowContext) -> Result<u32, stem::WorkflowError> {
    let _ = wf;
    Ok(1)
}

#[stem::step(max_retries = "3", retry_backoff = "fast", attempts = 2)]
async fn step(wf: &stem::WorkflowContext) -> Result<u32, stem::StepError> {
    let _ = wf;
    Ok(1)
}

fn main() {}
