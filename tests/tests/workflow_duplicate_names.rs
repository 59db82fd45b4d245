//! Two workflows with one name are an error at worker start naming both
//! places, in source order, as two tasks with one name are.

use stem::prelude::*;

mod orders {
    use super::*;

    #[stem::workflow(name = "fulfil")]
    pub(crate) async fn fulfil_order(wf: WorkflowContext, order: u32) -> Result<u32, WorkflowError> {
        let _ = wf;
        Ok(order)
    }
}

mod legacy {
    use super::*;

    #[stem::workflow(name = "fulfil")]
    pub(crate) async fn old_fulfil(wf: WorkflowContext) -> Result<(), WorkflowError> {
        let _ = wf;
        Ok(())
    }
}

#[test]
fn linked_duplicate_workflows_fail_at_worker_start_with_both_locations() {
    let error = Worker::builder(&Stem::in_memory()).build().expect_err("two workflows are named `fulfil`");
    let message = error.to_string();
    assert!(message.starts_with("two workflows are named `fulfil`"), "{message}");
    let file = "tests/tests/workflow_duplicate_names.rs";
    let (first, second) = (message.find(&format!("{file}:10")), message.find(&format!("{file}:20")));
    assert!(first.is_some() && second.is_some() && first < second, "both places, in source order: {message}");
}
