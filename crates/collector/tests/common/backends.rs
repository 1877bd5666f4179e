//! The collector's tests on both stores: `on_both!` runs a test body on SQLite and on
//! PostgreSQL (a database of its own on the test cluster), [`TestStore`] says where that
//! store is, and [`Operator`] reads the REST API with a fresh API token.

use std::path::Path;

use logward_collector::{create_api_token, open_store, Running, StoreAt, StoreConfig};
use logward_store::CollectorStore;
use logward_test_support::postgres::TestDb;
use serde_json::Value;

/// Where a test's collector keeps its state.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Each `async fn name(b: Backend) { … }` becomes the tests `name::sqlite` and
/// `name::postgres` (skipped without the test cluster, a failure under CI=true). A leading
/// `test = #[…];` names the test attribute (`#[tokio::test]` unless given).
#[allow(unused_macros)] // by the test files on both stores only
macro_rules! on_both {
    (test = #[$t:meta]; $($(#[$m:meta])* async fn $name:ident($b:ident: Backend) $body:block)*) => {
        $(
            $(#[$m])*
            async fn $name($b: $crate::common::Backend) $body

            mod $name {
                #[$t]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }

                #[$t]
                async fn postgres() {
                    super::$name($crate::common::Backend::Postgres).await;
                }
            }
        )*
    };
    ($($rest:tt)*) => {
        $crate::common::on_both! { test = #[tokio::test]; $($rest)* }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both;

/// A test's store on one backend. Keep it until the collector has stopped: its database goes
/// when it is dropped.
pub struct TestStore {
    pub db: Option<TestDb>,
    pub config: StoreConfig,
}

impl TestStore {
    /// The store on `backend`; `None` when PostgreSQL is asked for without a test cluster.
    pub fn on(backend: Backend) -> Option<TestStore> {
        Some(match backend {
            Backend::Sqlite => TestStore {
                db: None,
                config: StoreConfig::Sqlite,
            },
            Backend::Postgres => {
                let db = TestDb::create()?;
                let config = StoreConfig::Postgres {
                    url: db.url().to_owned(),
                    password: None,
                    ca_file: None,
                };
                TestStore {
                    db: Some(db),
                    config,
                }
            }
        })
    }

    /// The `store:` line of a collector YAML for it (none for SQLite, the default).
    pub fn yaml(&self) -> String {
        match &self.config {
            StoreConfig::Postgres { url, .. } => {
                format!("store: {{type: postgres, url: \"{url}\"}}\n")
            }
            StoreConfig::Sqlite => String::new(),
        }
    }

    /// The store of a collector whose state directory is `state_dir`.
    pub fn at(&self, state_dir: &Path) -> StoreAt {
        StoreAt {
            state_dir: state_dir.to_path_buf(),
            store: self.config.clone(),
        }
    }
}

/// Runs `f` on a connection of its own to the store `at`, off the async runtime (PostgreSQL's
/// client blocks).
pub async fn with_store<T: Send + 'static>(
    at: &StoreAt,
    f: impl FnOnce(&mut dyn CollectorStore) -> T + Send + 'static,
) -> T {
    let at = at.clone();
    tokio::task::spawn_blocking(move || f(open_store(at).unwrap().as_mut()))
        .await
        .unwrap()
}

/// An operator of `run` with an API token, as `logward collector token` makes one.
pub struct Operator {
    pub base: String,
    pub client: reqwest::Client,
    pub token: String,
}

impl Operator {
    pub async fn new(run: &Running) -> Operator {
        let at = StoreAt::from(&run.state.config);
        let (_, token) =
            tokio::task::spawn_blocking(move || create_api_token(at, "ci", 1).unwrap())
                .await
                .unwrap();
        Operator {
            base: format!("http://{}", run.addr),
            client: reqwest::Client::new(),
            token,
        }
    }

    /// The JSON answer to a GET of `path` with the token; asserts a 200.
    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(Value::Null)
    }

    /// A POST of `body` to `path` with the token; the answer, whatever its status.
    pub async fn post(&self, path: &str, body: &'static str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .body(body)
            .send()
            .await
            .unwrap()
    }
}
