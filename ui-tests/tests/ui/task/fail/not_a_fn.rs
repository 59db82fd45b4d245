#[stem::task]
struct SendEmail;

fn main() {}
