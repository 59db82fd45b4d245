pub struct Oops;

#[stem::workflow]
async fn fails(wf: stem::Workflow) -> Result<u32, Oops> {
    let _ = wf;
    Err(Oops)
}

fn main() {}
