//! ToolHive's resources (`toolhive.stacklok.dev`) as Apiary reads them: the types, the CRDs
//! generated from them, and what of a spec Apiary can honour. The operator reconciles them,
//! the gateway enforces their inbound security, onboarding and the registry read them.
//!
//! - [`crd`]: the custom resources as Rust types;
//! - [`remote_crd`], [`virtual_crd`]: ToolHive's remote server kinds, `MCPGroup` and
//!   `VirtualMCPServer`, which Apiary serves without pods ([`crate::onboarding`] follows them);
//! - [`manifests`]: the CRDs generated from those types, and their YAML;
//! - [`unsupported`]: the fields Apiary keeps but does not act on, named in the status;
//! - [`oidc`]: the inbound OIDC a server declares, which the gateway enforces;
//! - [`authz`]: the Cedar policies a server declares, which the gateway evaluates;
//! - [`overrides`]: the `resourceOverrides` labels and annotations.

pub mod authz;
pub mod crd;
pub mod manifests;
pub mod oidc;
pub mod overrides;
pub mod remote_crd;
pub mod unsupported;
pub mod virtual_crd;

/// A spec that cannot be rendered; `field` is the JSON path at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidSpec {
    /// The field at fault, such as `spec.permissionProfile.name`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidSpec {
    /// `field` is wrong for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
