//! Session environments people log in to with SSH: what the session gateway may know (the [`directory`] the
//! controller publishes), the session pod made from an environment's PodTemplate ([`pod`]), and the gateway itself
//! ([`gateway`]), which runs one pod per SSH session and removes it when the session ends.
//!
//! Who may log in is never decided here from the YAML: the gateway asks the RBAC authorizer (SubjectAccessReview)
//! for verb `use` on `environments.tollgate.dev/<name>` as each identity the directory gives the user.

pub mod directory;
pub mod gateway;
pub mod pod;
pub mod publish;
