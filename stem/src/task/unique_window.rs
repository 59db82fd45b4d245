//! Ending a unique task's window when the task finishes (see
//! [`unique`](super::unique)): an extension of every worker.

use crate::backend::TaskStatus;
use crate::envelope::Envelope;
use crate::stem::Stem;
use crate::worker::{Extension, FollowUp, LinkedExtension, Recorded};

/// The extension that ends a unique window when its task finishes, in every
/// worker of the binary.
#[derive(Debug, Default)]
struct EndWindows;

inventory::submit! {
    LinkedExtension::new(|| Box::new(EndWindows))
}

impl Extension for EndWindows {
    fn watches(&self, envelope: &Envelope, status: &TaskStatus) -> bool {
        status.state.is_terminal() && super::unique::ends_when_finished(envelope)
    }

    fn recorded(&self, stem: &Stem, outcomes: Vec<Recorded>) -> Option<FollowUp> {
        let stem = stem.clone();
        Some(Box::pin(async move {
            for outcome in outcomes {
                if let Err(error) = super::unique::release(stem.locks().as_ref(), &outcome.envelope).await {
                    // The window then ends when it runs out.
                    tracing::warn!(task = %outcome.envelope.id, %error, "ending a unique window failed");
                }
            }
            Ok(())
        }))
    }
}
