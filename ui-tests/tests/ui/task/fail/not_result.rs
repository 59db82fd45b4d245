#[stem::task]
async fn count(text: String) -> u64 {
    text.len() as u64
}

fn main() {}
