use stem::prelude::*;

#[stem::task]
async fn double(n: u64) -> Result<u64, TaskError> {
    Ok(n * 2)
}

#[stem::task]
async fn tick() -> Result<(), TaskError> {
    Ok(())
}

fn main() {
    let _: DoubleArgs = 21u64;
    let _: TickArgs = ();
    let _: Signature<Double> = Double::call(21);
    let _: Signature<Tick> = Tick::call(());
}
