pub struct Handle;

#[stem::task]
async fn open(path: String) -> Result<Handle, stem::TaskError> {
    let _ = path;
    Ok(Handle)
}

fn main() {}
