use stem::{EventTopic, WorkflowContext, WorkflowError};

const SHIPPED: EventTopic<u64> = EventTopic::new("shipped");

#[stem::workflow]
async fn ship(wf: WorkflowContext) -> Result<String, WorkflowError> {
    let tracking: String = wf.await_event(SHIPPED).await?;
    Ok(tracking)
}

async fn emit(stem: &stem::Stem) -> stem::Result<usize> {
    stem.emit(SHIPPED, "T-1".to_owned()).await
}

fn main() {
    let _ = emit;
}
