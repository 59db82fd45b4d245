pub struct Opaque;

#[stem::task]
async fn fetch(url: String) -> Result<String, Opaque> {
    let _ = url;
    Err(Opaque)
}

fn main() {}
