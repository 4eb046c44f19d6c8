//! Settings: defaults, then an optional TOML file, then `APIARY_*` environment variables.
//!
//! Every value is read as text and validated here, so a bad value fails with the name of the
//! setting, the value and the fix, instead of a serde message.

pub mod oidc;
pub mod policy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

use apiary_app::access::Role;

use crate::validation::is_dns_label;

/// The validated settings Apiary runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address the web server binds (`APIARY_LISTEN`).
    pub listen: SocketAddr,
    /// Folder for the SQLite database and local runtime state (`APIARY_DATA_DIR`).
    pub data_dir: PathBuf,
    /// sqlx database URL, `sqlite://…` or `postgres://…` (`APIARY_DATABASE_URL`).
    pub database_url: String,
    /// Folder with the built site: `pkg/bundle-name` and the bundle it names (`pkg/apiary-<hash>.js`,
    /// `_bg.wasm`, `.css`, with brotli and gzip copies) (`APIARY_SITE_DIR`).
    pub site_dir: PathBuf,
    /// OIDC sign-in; `None` runs as the single local admin (`APIARY_OIDC_ISSUER` and the
    /// other `APIARY_OIDC_*` settings).
    pub oidc: Option<oidc::OidcSettings>,
    /// Tracing filter, such as `info` or `apiary_server=debug` (`APIARY_LOG`).
    pub log: String,
    /// The URL clients use to reach Apiary; `http://<listen>` when unset (`APIARY_PUBLIC_URL`).
    pub public_url: Option<String>,
    /// A tool fetch slower than this many milliseconds marks a server slow (`APIARY_HEALTH_SLOW_MS`).
    pub health_slow_ms: i64,
    /// How often every published server's tools are fetched again, in seconds
    /// (`APIARY_REFRESH_INTERVAL_SECS`).
    pub refresh_interval_secs: u64,
    /// How often the gateway's measurements are stored for the console and health, in
    /// seconds (`APIARY_GATEWAY_SAMPLE_SECS`).
    pub gateway_sample_secs: u64,
    /// How many days the gateway's measurements and the fetches' health samples are kept
    /// (`APIARY_MEASUREMENT_RETENTION_DAYS`); each server's newest health sample stays.
    pub measurement_retention_days: u64,
    /// The longest one live tool fetch may take, in seconds (`APIARY_FETCH_TIMEOUT_SECS`).
    pub fetch_timeout_secs: u64,
    /// The longest wait for a request's headers, and the longest an idle connection stays
    /// open, in seconds (`APIARY_HEADER_TIMEOUT_SECS`).
    pub header_timeout_secs: u64,
    /// The schema contract every tool snapshot is checked against (the `[policy]` table of
    /// the settings file; defaults cover secrets, credentials and personal data).
    pub policy: policy::Policy,
    /// Where MCP servers run (`APIARY_RUNTIME`).
    pub runtime: Runtime,
    /// The one namespace the operator watches; `None` watches all (`APIARY_WATCH_NAMESPACE`).
    pub watch_namespace: Option<String>,
    /// The namespace of Apiary's gateway pods, the only ones each server's NetworkPolicy
    /// admits; `None` uses the client's namespace: the pod's own in the cluster, the
    /// kubeconfig context's outside (`APIARY_GATEWAY_NAMESPACE`).
    pub gateway_namespace: Option<String>,
    /// Leader election between replicas in Kubernetes mode.
    pub lease: LeaseConfig,
}

/// Which Lease the replicas of one installation compete for (Kubernetes mode).
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// The Lease's name (`APIARY_LEASE_NAME`, default `apiary-leader`).
    pub name: String,
    /// Its namespace; `None` uses the client's namespace: the pod's own in the cluster, the
    /// kubeconfig context's outside (`APIARY_LEASE_NAMESPACE`).
    pub namespace: Option<String>,
    /// Seconds the Lease stays valid without renewal: how long a follower waits before it
    /// takes over from a leader that died (`APIARY_LEASE_DURATION_SECS`, default 15).
    pub duration_secs: u64,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            name: "apiary-leader".into(),
            namespace: None,
            duration_secs: 15,
        }
    }
}

/// Where MCP servers run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Runtime {
    /// Local processes (the embedded default).
    #[default]
    Local,
    /// A Kubernetes cluster, through the MCPServer operator running inside Apiary.
    Kubernetes,
}

impl Runtime {
    /// Parses `local` or `kubernetes`; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        match text.trim() {
            "local" => Ok(Self::Local),
            "kubernetes" => Ok(Self::Kubernetes),
            _ => Err(ConfigError::Invalid {
                setting: "runtime (APIARY_RUNTIME)",
                value: text.to_owned(),
                fix: "use `local` (processes on this machine) or `kubernetes` (the operator)"
                    .into(),
            }),
        }
    }
}

/// Declares the settings as read, before validation (every field optional text, but the policy
/// table), and [`KEYS`] from one list of names.
macro_rules! raw_settings {
    ($($key:ident),* $(,)?) => {
        /// The settings as read, before validation. Every field is optional text.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawSettings {
            $(#[serde(default, deserialize_with = "scalar_as_text")] $key: Option<String>,)*
            /// Only from the settings file: a table, not text.
            policy: Option<policy::Policy>,
        }

        /// The keys read from the file and, upper-cased with the `APIARY_` prefix, from the
        /// environment. Other `APIARY_*` variables (the command line's `APIARY_CONFIG`, test
        /// harness variables) are not settings.
        const KEYS: &[&str] = &[$(stringify!($key)),*];
    };
}

raw_settings! {
    listen, data_dir, database_url, site_dir, oidc_issuer, oidc_client_id, oidc_client_secret,
    oidc_client_secret_file, oidc_scopes, oidc_roles_claim, oidc_team_prefix, oidc_audience,
    oidc_consumer_groups, oidc_proposer_groups, oidc_owner_groups, oidc_admin_groups,
    session_max_age_secs, session_recheck_secs, log, public_url, health_slow_ms,
    refresh_interval_secs, gateway_sample_secs, measurement_retention_days, fetch_timeout_secs,
    header_timeout_secs, runtime, watch_namespace, gateway_namespace, lease_name, lease_namespace,
    lease_duration_secs
}

/// Reads any scalar as its text: the environment provider parses `APIARY_FETCH_TIMEOUT_SECS=5`
/// as a number and `APIARY_OIDC_CLIENT_ID=12345` too, and every value is validated as text.
fn scalar_as_text<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = Option<String>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("text, a number or true/false")
        }
        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(Some(value.to_owned()))
        }
        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }
        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }
        fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }
    }
    deserializer.deserialize_any(Text)
}

/// A setting that is missing or wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or environment could not be read.
    #[error("cannot read settings: {0}")]
    Read(String),
    /// A value is not valid.
    #[error("invalid setting {setting} = {value:?}: {fix}")]
    Invalid {
        /// The file key and its environment variable.
        setting: &'static str,
        /// What was given.
        value: String,
        /// How to fix it.
        fix: String,
    },
}

/// Loads the settings from defaults, the optional `file` and the environment.
pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
    let mut figment = Figment::new();
    if let Some(file) = file {
        if !file.exists() {
            return Err(ConfigError::Invalid {
                setting: "config (APIARY_CONFIG)",
                value: file.display().to_string(),
                fix: "the settings file does not exist; pass an existing TOML file".into(),
            });
        }
        figment = figment.merge(Toml::file(file));
    }
    let raw: RawSettings = figment
        .merge(Env::prefixed("APIARY_").only(KEYS))
        .extract()
        .map_err(|e| ConfigError::Read(e.to_string()))?;
    validate(raw)
}

fn validate(raw: RawSettings) -> Result<Settings, ConfigError> {
    let listen_text = raw.listen.unwrap_or_else(|| "127.0.0.1:3000".into());
    let listen: SocketAddr = listen_text.parse().map_err(|_| ConfigError::Invalid {
        setting: "listen (APIARY_LISTEN)",
        value: listen_text.clone(),
        fix: "use an IP address and port, such as 127.0.0.1:3000 or 0.0.0.0:8080".into(),
    })?;
    let oidc = oidc::RawOidc {
        issuer: raw.oidc_issuer,
        client_id: raw.oidc_client_id,
        client_secret: raw.oidc_client_secret,
        client_secret_file: raw.oidc_client_secret_file,
        scopes: raw.oidc_scopes,
        roles_claim: raw.oidc_roles_claim,
        team_prefix: raw.oidc_team_prefix,
        audience: raw.oidc_audience,
        role_groups: vec![
            (Role::Consumer, raw.oidc_consumer_groups),
            (Role::Proposer, raw.oidc_proposer_groups),
            (Role::Owner, raw.oidc_owner_groups),
            (Role::Admin, raw.oidc_admin_groups),
        ],
    }
    .validate()?;
    let oidc = session_limits(oidc, raw.session_max_age_secs, raw.session_recheck_secs)?;
    if oidc.is_none() && !listen.ip().is_loopback() {
        return Err(ConfigError::Invalid {
            setting: "listen (APIARY_LISTEN)",
            value: listen_text,
            fix: "without sign-in Apiary only binds to loopback (127.0.0.1 or [::1]); \
                  set APIARY_OIDC_ISSUER to serve other machines"
                .into(),
        });
    }
    let data_dir = PathBuf::from(raw.data_dir.unwrap_or_else(|| "./data".into()));
    let database_url = match raw.database_url {
        Some(url) if url.starts_with("sqlite:") || url.starts_with("postgres") => url,
        Some(url) => {
            return Err(ConfigError::Invalid {
                setting: "database_url (APIARY_DATABASE_URL)",
                value: url,
                fix: "use sqlite://path/to/apiary.db or postgres://user@host/db".into(),
            })
        }
        None => format!("sqlite://{}?mode=rwc", data_dir.join("apiary.db").display()),
    };
    let log = raw.log.unwrap_or_else(|| "info".into());
    tracing_subscriber::EnvFilter::try_new(&log).map_err(|e| ConfigError::Invalid {
        setting: "log (APIARY_LOG)",
        value: log.clone(),
        fix: format!("use a tracing filter such as `info` or `apiary_server=debug` ({e})"),
    })?;
    let public_url = raw.public_url.filter(|u| !u.trim().is_empty());
    if let Some(url) = &public_url {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(ConfigError::Invalid {
                setting: "public_url (APIARY_PUBLIC_URL)",
                value: url.clone(),
                fix: "use the URL clients reach Apiary at, such as https://apiary.example.com"
                    .into(),
            });
        }
    }
    if oidc.is_some() && public_url.is_none() {
        return Err(ConfigError::Invalid {
            setting: "public_url (APIARY_PUBLIC_URL)",
            value: String::new(),
            fix: "with sign-in, set the URL people reach Apiary at, such as \
                  https://apiary.example.com; the provider sends them back to {public_url}/auth/callback"
                .into(),
        });
    }
    let health_slow_ms = match raw.health_slow_ms {
        None => 1_000,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|ms| *ms > 0)
            .ok_or_else(|| ConfigError::Invalid {
                setting: "health_slow_ms (APIARY_HEALTH_SLOW_MS)",
                value: text.clone(),
                fix: "use a positive number of milliseconds, such as 1000".into(),
            })?,
    };
    let refresh_interval_secs = positive(
        "refresh_interval_secs (APIARY_REFRESH_INTERVAL_SECS)",
        raw.refresh_interval_secs,
        300,
    )?;
    let gateway_sample_secs = positive(
        "gateway_sample_secs (APIARY_GATEWAY_SAMPLE_SECS)",
        raw.gateway_sample_secs,
        60,
    )?;
    let measurement_retention_days = positive_in(
        "measurement_retention_days (APIARY_MEASUREMENT_RETENTION_DAYS)",
        raw.measurement_retention_days,
        30,
        "days",
    )?;
    let fetch_timeout_secs = positive(
        "fetch_timeout_secs (APIARY_FETCH_TIMEOUT_SECS)",
        raw.fetch_timeout_secs,
        30,
    )?;
    let header_timeout_secs = positive(
        "header_timeout_secs (APIARY_HEADER_TIMEOUT_SECS)",
        raw.header_timeout_secs,
        20,
    )?;
    let runtime = match raw.runtime {
        Some(text) => Runtime::parse(&text)?,
        None => Runtime::default(),
    };
    let watch_namespace = raw.watch_namespace.filter(|s| !s.trim().is_empty());
    let gateway_namespace = match raw.gateway_namespace.map(|s| s.trim().to_owned()) {
        Some(name) if name.is_empty() => None,
        Some(name) if !is_dns_label(&name) => {
            return Err(ConfigError::Invalid {
                setting: "gateway_namespace (APIARY_GATEWAY_NAMESPACE)",
                value: name,
                fix: "use the name of the namespace Apiary's gateway runs in: a DNS label of at \
                      most 63 lower-case letters, digits and '-', such as apiary-system"
                    .into(),
            })
        }
        name => name,
    };
    let defaults = LeaseConfig::default();
    let lease = LeaseConfig {
        name: raw
            .lease_name
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or(defaults.name),
        namespace: raw.lease_namespace.filter(|s| !s.trim().is_empty()),
        duration_secs: positive(
            "lease_duration_secs (APIARY_LEASE_DURATION_SECS)",
            raw.lease_duration_secs,
            defaults.duration_secs,
        )?,
    };
    if lease.duration_secs < 2 {
        return Err(ConfigError::Invalid {
            setting: "lease_duration_secs (APIARY_LEASE_DURATION_SECS)",
            value: lease.duration_secs.to_string(),
            fix: "use at least 2 seconds (the leader renews a third of the way before expiry); 15 is the default".into(),
        });
    }
    Ok(Settings {
        lease,
        policy: raw.policy.unwrap_or_default(),
        refresh_interval_secs,
        gateway_sample_secs,
        measurement_retention_days,
        fetch_timeout_secs,
        header_timeout_secs,
        public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
        health_slow_ms,
        runtime,
        watch_namespace,
        gateway_namespace,
        listen,
        site_dir: raw
            .site_dir
            .map(PathBuf::from)
            .unwrap_or_else(default_site_dir),
        data_dir,
        database_url,
        oidc,
        log,
    })
}

/// Sets the session limits on the sign-in settings; refuses them without sign-in, where
/// there are no sessions to limit.
fn session_limits(
    oidc: Option<oidc::OidcSettings>,
    max_age: Option<String>,
    recheck: Option<String>,
) -> Result<Option<oidc::OidcSettings>, ConfigError> {
    const MAX_AGE: &str = "session_max_age_secs (APIARY_SESSION_MAX_AGE_SECS)";
    const RECHECK: &str = "session_recheck_secs (APIARY_SESSION_RECHECK_SECS)";
    let Some(mut oidc) = oidc else {
        if let Some((setting, value)) = [(MAX_AGE, max_age), (RECHECK, recheck)]
            .into_iter()
            .find_map(|(setting, value)| Some((setting, value?)))
        {
            return Err(ConfigError::Invalid {
                setting,
                value,
                fix: "sessions exist only with sign-in: set APIARY_OIDC_ISSUER, or remove this"
                    .into(),
            });
        }
        return Ok(None);
    };
    oidc.session_max_age = std::time::Duration::from_secs(positive(
        MAX_AGE,
        max_age,
        oidc::DEFAULT_SESSION_MAX_AGE.as_secs(),
    )?);
    oidc.session_recheck = std::time::Duration::from_secs(positive(
        RECHECK,
        recheck,
        oidc::DEFAULT_SESSION_RECHECK.as_secs(),
    )?);
    Ok(Some(oidc))
}

/// Parses a whole number of seconds above zero, or takes the default.
fn positive(
    setting: &'static str,
    value: Option<String>,
    default: u64,
) -> Result<u64, ConfigError> {
    positive_in(setting, value, default, "seconds")
}

/// `value` as a whole number of `unit` above zero, `default` when unset.
fn positive_in(
    setting: &'static str,
    value: Option<String>,
    default: u64,
    unit: &str,
) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ConfigError::Invalid {
                setting,
                value: text.clone(),
                fix: format!("use a whole number of {unit} above zero, such as {default}"),
            }),
    }
}

/// `site/` beside the binary's target folder (`target/release/apiary` → `target/site`), where
/// the build puts it; `./target/site` otherwise.
fn default_site_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("site")))
        .filter(|dir| dir.join("pkg").is_dir())
        .unwrap_or_else(|| PathBuf::from("target/site"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default settings as read, changed by `set`.
    fn raw_with(set: impl FnOnce(&mut RawSettings)) -> RawSettings {
        let mut raw = RawSettings::default();
        set(&mut raw);
        raw
    }

    fn raw_with_listen(listen: &str) -> RawSettings {
        raw_with(|r| r.listen = Some(listen.into()))
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        let settings = validate(RawSettings::default()).expect("defaults are valid");
        assert_eq!(settings.listen, "127.0.0.1:3000".parse().expect("address"));
        assert_eq!(settings.database_url, "sqlite://./data/apiary.db?mode=rwc");
        assert!(settings.oidc.is_none());
    }

    #[test]
    fn measurements_are_kept_thirty_days_unless_set_and_never_zero() {
        let settings = validate(RawSettings::default()).expect("defaults are valid");
        assert_eq!(settings.measurement_retention_days, 30);
        let raw = raw_with(|r| r.measurement_retention_days = Some("0".into()));
        let message = validate(raw).expect_err("zero keeps nothing").to_string();
        assert!(
            message.contains("APIARY_MEASUREMENT_RETENTION_DAYS")
                && message.contains("whole number of days above zero"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_listen_value_names_the_setting_and_the_fix() {
        let error = validate(raw_with_listen("localhost:abc")).expect_err("must fail");
        let message = error.to_string();
        assert!(message.contains("APIARY_LISTEN"), "{message}");
        assert!(message.contains("localhost:abc"), "{message}");
        assert!(message.contains("127.0.0.1:3000"), "{message}");
    }

    #[test]
    fn a_public_bind_without_sign_in_is_refused() {
        let error = validate(raw_with_listen("0.0.0.0:3000")).expect_err("must fail");
        assert!(error.to_string().contains("APIARY_OIDC_ISSUER"));
        let mut raw = raw_with_listen("0.0.0.0:3000");
        raw.oidc_issuer = Some("https://idp.example.com".into());
        let message = validate(raw).expect_err("needs a public URL").to_string();
        assert!(message.contains("APIARY_PUBLIC_URL"), "{message}");
        let mut raw = raw_with_listen("0.0.0.0:3000");
        raw.oidc_issuer = Some("https://idp.example.com".into());
        raw.public_url = Some("https://apiary.example.com".into());
        assert!(validate(raw).is_ok());
    }

    #[test]
    fn the_runtime_is_local_by_default_and_checked() {
        let settings = validate(RawSettings::default()).expect("defaults are valid");
        assert_eq!(settings.runtime, Runtime::Local);
        assert_eq!(settings.watch_namespace, None);
        let raw = RawSettings {
            runtime: Some("kubernetes".into()),
            watch_namespace: Some("team-a".into()),
            ..RawSettings::default()
        };
        let settings = validate(raw).expect("valid");
        assert_eq!(settings.runtime, Runtime::Kubernetes);
        assert_eq!(settings.watch_namespace.as_deref(), Some("team-a"));
        let raw = raw_with(|r| r.runtime = Some("docker".into()));
        let message = validate(raw).expect_err("must fail").to_string();
        assert!(message.contains("APIARY_RUNTIME"), "{message}");
        assert!(message.contains("kubernetes"), "{message}");
    }

    #[test]
    fn the_gateway_namespace_is_a_dns_label() {
        let settings = validate(RawSettings::default()).expect("defaults are valid");
        assert_eq!(settings.gateway_namespace, None, "the client's namespace");
        let raw = raw_with(|r| r.gateway_namespace = Some(" apiary-gw ".into()));
        let settings = validate(raw).expect("valid");
        assert_eq!(settings.gateway_namespace.as_deref(), Some("apiary-gw"));
        for bad in ["Apiary", "apiary_system", "-apiary", "a.b", &"a".repeat(64)] {
            let raw = raw_with(|r| r.gateway_namespace = Some(bad.to_owned()));
            let message = validate(raw).expect_err(bad).to_string();
            assert!(message.contains("APIARY_GATEWAY_NAMESPACE"), "{message}");
            assert!(message.contains("DNS label"), "{message}");
        }
    }

    #[test]
    fn numbers_are_read_as_numbers_or_text() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("apiary.toml");
        std::fs::write(
            &file,
            "fetch_timeout_secs = 5\nlease_duration_secs = \"8\"\nlease_name = \"apiary-a\"\n",
        )
        .expect("write settings");
        let settings = load(Some(&file)).expect("valid settings");
        assert_eq!(settings.fetch_timeout_secs, 5);
        assert_eq!(settings.lease.duration_secs, 8);
        assert_eq!(settings.lease.name, "apiary-a");
    }

    #[test]
    fn a_lease_shorter_than_two_seconds_is_refused() {
        let raw = raw_with(|r| r.lease_duration_secs = Some("1".into()));
        let message = validate(raw).expect_err("must fail").to_string();
        assert!(message.contains("APIARY_LEASE_DURATION_SECS"), "{message}");
        assert!(message.contains("at least 2"), "{message}");
    }

    #[test]
    fn session_limits_default_are_checked_and_need_sign_in() {
        let signed_in = || RawSettings {
            oidc_issuer: Some("https://idp.example.com".into()),
            public_url: Some("https://apiary.example.com".into()),
            ..RawSettings::default()
        };
        let oidc = validate(signed_in()).expect("valid").oidc.expect("sign-in");
        assert_eq!(oidc.session_max_age.as_secs(), 12 * 60 * 60);
        assert_eq!(oidc.session_recheck.as_secs(), 5 * 60);
        let raw = RawSettings {
            session_max_age_secs: Some("3600".into()),
            session_recheck_secs: Some("60".into()),
            ..signed_in()
        };
        let oidc = validate(raw).expect("valid").oidc.expect("sign-in");
        assert_eq!(oidc.session_max_age.as_secs(), 3600);
        assert_eq!(oidc.session_recheck.as_secs(), 60);
        let raw = RawSettings {
            session_max_age_secs: Some("0".into()),
            ..signed_in()
        };
        let message = validate(raw).expect_err("zero").to_string();
        assert!(message.contains("APIARY_SESSION_MAX_AGE_SECS"), "{message}");
        let raw = raw_with(|r| r.session_recheck_secs = Some("60".into()));
        let message = validate(raw).expect_err("no sessions").to_string();
        assert!(message.contains("APIARY_SESSION_RECHECK_SECS"), "{message}");
        assert!(message.contains("APIARY_OIDC_ISSUER"), "{message}");
    }

    #[test]
    fn an_unknown_database_scheme_is_refused() {
        let raw = raw_with(|r| r.database_url = Some("mysql://db".into()));
        let message = validate(raw).expect_err("must fail").to_string();
        assert!(message.contains("APIARY_DATABASE_URL"), "{message}");
    }

    #[test]
    fn the_policy_comes_from_the_settings_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("apiary.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:3100\"\n[policy]\nmax_description_chars = 200\nforbidden_property_patterns = [\"^internal_\"]\n",
        )
        .expect("write settings");
        let settings = load(Some(&file)).expect("valid settings");
        assert_eq!(settings.policy.max_description_chars, 200);
        let patterns: Vec<_> = settings
            .policy
            .forbidden_property_patterns
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        assert_eq!(patterns, ["^internal_"]);
        assert_eq!(
            settings.policy.max_schema_bytes,
            16 * 1024,
            "unset fields keep defaults"
        );

        std::fs::write(
            &file,
            "[policy]\nforbidden_property_patterns = [\"(unclosed\"]\n",
        )
        .expect("write");
        let message = load(Some(&file))
            .expect_err("a bad pattern fails")
            .to_string();
        assert!(message.contains("policy"), "{message}");
    }
}
