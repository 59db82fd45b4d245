pub struct Connection;

#[stem::task]
async fn query(connection: Connection) -> Result<u32, stem::TaskError> {
    let _ = connection;
    Ok(1)
}

fn main() {}
