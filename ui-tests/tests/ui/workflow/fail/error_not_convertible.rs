pub struct Oops;

#[stem::workflow]
async fn fails(wf: stem::WorkflowContext) -> Result<u32, Oops> {
    let _ = wf;
    Err(Oops)
}

fn main() {}
