//! Sign-in settings: the identity provider, this client, and how its groups map to roles.

use std::collections::BTreeSet;
use std::time::Duration;

use apiary_app::access::Role;

use super::ConfigError;

/// A secret value: never printed, logged or stored.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// How OIDC sign-in works for this Apiary.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// The issuer URL; discovery is read from `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// This client's id at the provider (`APIARY_OIDC_CLIENT_ID`).
    pub client_id: String,
    /// This client's secret (`APIARY_OIDC_CLIENT_SECRET`, or the file named by
    /// `APIARY_OIDC_CLIENT_SECRET_FILE`, such as a mounted Kubernetes Secret).
    pub client_secret: Option<Secret>,
    /// Scopes asked for at sign-in (`APIARY_OIDC_SCOPES`, space separated).
    pub scopes: Vec<String>,
    /// The ID token claim that lists the person's groups (`APIARY_OIDC_ROLES_CLAIM`).
    pub roles_claim: String,
    /// Which groups grant which role.
    pub roles: RoleMapping,
    /// The `aud` bearer tokens for Apiary's API must carry (`APIARY_OIDC_AUDIENCE`); the public
    /// URL when unset.
    pub audience: Option<String>,
    /// Groups that start with this prefix make the person a member of the team named by the
    /// rest (`APIARY_OIDC_TEAM_PREFIX`; `team-search` → team `search`).
    pub team_prefix: String,
    /// A session ends this long after sign-in, however active (`APIARY_SESSION_MAX_AGE_SECS`).
    pub session_max_age: Duration,
    /// How often a session's roles and teams are read again from the provider
    /// (`APIARY_SESSION_RECHECK_SECS`).
    pub session_recheck: Duration,
}

/// The default [`OidcSettings::session_max_age`]: 12 hours.
pub const DEFAULT_SESSION_MAX_AGE: Duration = Duration::from_secs(12 * 60 * 60);
/// The default [`OidcSettings::session_recheck`]: 5 minutes.
pub const DEFAULT_SESSION_RECHECK: Duration = Duration::from_secs(5 * 60);

/// Which provider groups grant which Apiary role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleMapping {
    /// `(role, groups)`, one entry per role.
    pub groups: Vec<(Role, BTreeSet<String>)>,
}

impl Default for RoleMapping {
    fn default() -> Self {
        RoleMapping {
            groups: Role::ALL
                .iter()
                .map(|role| {
                    (
                        *role,
                        BTreeSet::from([format!("apiary-{}s", role.as_str())]),
                    )
                })
                .collect(),
        }
    }
}

impl RoleMapping {
    /// The roles granted by `groups`, lowest first.
    pub fn roles_for<'a>(&self, groups: impl IntoIterator<Item = &'a str> + Clone) -> Vec<Role> {
        self.groups
            .iter()
            .filter(|(_, granting)| groups.clone().into_iter().any(|g| granting.contains(g)))
            .map(|(role, _)| *role)
            .collect()
    }
}

/// The raw text of the sign-in settings, as read from the file or environment.
#[derive(Debug, Default)]
pub struct RawOidc {
    /// `oidc_issuer`.
    pub issuer: Option<String>,
    /// `oidc_client_id`.
    pub client_id: Option<String>,
    /// `oidc_client_secret`.
    pub client_secret: Option<String>,
    /// `oidc_client_secret_file`.
    pub client_secret_file: Option<String>,
    /// `oidc_scopes`.
    pub scopes: Option<String>,
    /// `oidc_roles_claim`.
    pub roles_claim: Option<String>,
    /// `oidc_team_prefix`.
    pub team_prefix: Option<String>,
    /// `oidc_audience`.
    pub audience: Option<String>,
    /// `oidc_<role>_groups`, comma separated, per role.
    pub role_groups: Vec<(Role, Option<String>)>,
}

impl RawOidc {
    /// Validates the settings; `None` when no issuer is set (local mode).
    pub fn validate(self) -> Result<Option<OidcSettings>, ConfigError> {
        let Some(issuer) = self.issuer.filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let issuer = issuer.trim().trim_end_matches('/').to_owned();
        if !issuer.starts_with("https://") && !issuer.starts_with("http://") {
            return Err(ConfigError::Invalid {
                setting: "oidc_issuer (APIARY_OIDC_ISSUER)",
                value: issuer,
                fix: "use the provider's issuer URL, such as https://login.example.com/realms/acme"
                    .into(),
            });
        }
        let client_secret = match (self.client_secret, self.client_secret_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    setting: "oidc_client_secret_file (APIARY_OIDC_CLIENT_SECRET_FILE)",
                    value: "(both set)".into(),
                    fix: "set either APIARY_OIDC_CLIENT_SECRET or APIARY_OIDC_CLIENT_SECRET_FILE, not both"
                        .into(),
                })
            }
            (Some(secret), None) => Some(Secret::new(secret.trim())),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                    setting: "oidc_client_secret_file (APIARY_OIDC_CLIENT_SECRET_FILE)",
                    value: path.clone(),
                    fix: format!("the file cannot be read ({e}); mount the client secret there"),
                })?;
                Some(Secret::new(text.trim()))
            }
            (None, None) => None,
        };
        let scopes: Vec<String> = self
            .scopes
            .unwrap_or_else(|| "openid profile email".into())
            .split_whitespace()
            .map(String::from)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(ConfigError::Invalid {
                setting: "oidc_scopes (APIARY_OIDC_SCOPES)",
                value: scopes.join(" "),
                fix: "include the `openid` scope, such as \"openid profile email groups\"".into(),
            });
        }
        let mut roles = RoleMapping::default();
        for (role, text) in self.role_groups {
            let Some(text) = text else { continue };
            let groups: BTreeSet<String> = text
                .split(',')
                .map(|g| g.trim().to_owned())
                .filter(|g| !g.is_empty())
                .collect();
            if let Some(entry) = roles.groups.iter_mut().find(|(r, _)| *r == role) {
                entry.1 = groups;
            }
        }
        Ok(Some(OidcSettings {
            issuer,
            client_id: self
                .client_id
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "apiary".into()),
            client_secret,
            scopes,
            roles_claim: self
                .roles_claim
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "groups".into()),
            roles,
            team_prefix: self.team_prefix.unwrap_or_else(|| "team-".into()),
            audience: self.audience.filter(|a| !a.trim().is_empty()),
            session_max_age: DEFAULT_SESSION_MAX_AGE,
            session_recheck: DEFAULT_SESSION_RECHECK,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_groups_grant_one_role_each() {
        let mapping = RoleMapping::default();
        assert_eq!(
            mapping.roles_for(["apiary-owners", "team-search"]),
            [Role::Owner]
        );
        assert_eq!(
            mapping.roles_for(["apiary-admins", "apiary-consumers"]),
            [Role::Consumer, Role::Admin]
        );
        assert!(mapping.roles_for(["staff"]).is_empty());
    }

    #[test]
    fn configured_groups_replace_the_defaults() {
        let raw = RawOidc {
            issuer: Some("https://idp.example.com/".into()),
            role_groups: vec![(Role::Admin, Some("platform-leads, sre".into()))],
            ..RawOidc::default()
        };
        let settings = raw.validate().expect("valid").expect("oidc on");
        assert_eq!(settings.issuer, "https://idp.example.com");
        assert_eq!(settings.roles.roles_for(["sre"]), [Role::Admin]);
        assert!(settings.roles.roles_for(["apiary-admins"]).is_empty());
    }

    #[test]
    fn scopes_without_openid_are_refused() {
        let raw = RawOidc {
            issuer: Some("https://idp.example.com".into()),
            scopes: Some("profile email".into()),
            ..RawOidc::default()
        };
        let message = raw.validate().expect_err("must fail").to_string();
        assert!(message.contains("APIARY_OIDC_SCOPES"), "{message}");
    }

    #[test]
    fn secrets_never_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(redacted)");
    }
}
