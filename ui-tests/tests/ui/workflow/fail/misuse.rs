#[stem::workflow(queue = 5, retries = 3)]
fn not_async<T>(wf: stem::WorkflowContext, x: T) -> u32 {
    let _ = (wf, x);
    1
}

fn main() {}
