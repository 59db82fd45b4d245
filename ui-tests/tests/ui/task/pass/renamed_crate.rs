extern crate stem as jobs;

#[jobs::task(crate = "jobs")]
async fn ping() -> Result<String, jobs::TaskError> {
    Ok("pong".to_owned())
}

fn main() {
    let _: jobs::Signature<Ping> = Ping::call(());
}
