#[stem::workflow]
struct Checkout;

#[stem::step]
const STEP: u32 = 1;

fn main() {}
