struct Mailer;

impl Mailer {
    #[stem::task]
    async fn send(&self, to: String) -> Result<(), stem::TaskError> {
        let _ = to;
        Ok(())
    }
}

fn main() {}
