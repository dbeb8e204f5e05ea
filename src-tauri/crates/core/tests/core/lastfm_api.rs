//! The Last.fm importer against a local mock of `user.getRecentTracks`
//! serving the API's exact JSON shape: `#text` fields, empty MBIDs, string
//! numbers in `@attr`, a now-playing row, and error bodies.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use segue_core::Error;
use segue_core::import::lastfm::{LastfmClient, LastfmError, LastfmImportMode, RetryPolicy, import_lastfm};
use segue_core::progress::NoProgress;
use segue_core::settings::Secret;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::TestLibrary;

const API_KEY: &str = "0123456789abcdef0123456789abcdef";

fn scrobble(artist: &str, title: &str, album: &str, uts: i64, mbid: &str) -> Value {
    json!({
        "artist": {"mbid": "", "#text": artist},
        "streamable": "0",
        "image": [
            {"size": "small", "#text": "https://lastfm.freetls.fastly.net/i/u/34s/x.png"},
            {"size": "extralarge", "#text": "https://lastfm.freetls.fastly.net/i/u/300x300/x.png"}
        ],
        "mbid": mbid,
        "album": {"mbid": "", "#text": album},
        "name": title,
        "url": "https://www.last.fm/music/x/_/y",
        "date": {"uts": uts.to_string(), "#text": "08 Sep 2018, 11:52"}
    })
}

fn now_playing(artist: &str, title: &str) -> Value {
    json!({
        "artist": {"mbid": "", "#text": artist},
        "streamable": "0",
        "image": [],
        "mbid": "",
        "album": {"mbid": "", "#text": ""},
        "name": title,
        "@attr": {"nowplaying": "true"},
        "url": "https://www.last.fm/music/x/_/y"
    })
}

fn page(user: &str, page: u32, total_pages: u32, total: u64, tracks: Vec<Value>) -> Value {
    json!({
        "recenttracks": {
            "track": tracks,
            "@attr": {
                "user": user,
                "totalPages": total_pages.to_string(),
                "page": page.to_string(),
                "perPage": "200",
                "total": total.to_string()
            }
        }
    })
}

fn error_body(code: i64, message: &str) -> Value {
    json!({"message": message, "error": code, "links": []})
}

/// Three pages of history, newest first, with a now-playing row on top.
fn history_pages() -> Vec<Value> {
    vec![
        page(
            "rj",
            1,
            3,
            5,
            vec![
                now_playing("Radiohead", "Reckoner"),
                scrobble("Sigur Rós", "Hoppípolla", "Takk...", 1_536_407_564, ""),
                scrobble(
                    "坂本龍一",
                    "Merry Christmas Mr. Lawrence",
                    "Coda",
                    1_536_407_000,
                    "",
                ),
            ],
        ),
        page(
            "rj",
            2,
            3,
            5,
            vec![
                scrobble(
                    "Björk",
                    "Jóga",
                    "Homogenic",
                    1_536_400_000,
                    "0c2d9af3-fbad-4a1e-a7b1-d9eb4e30a3c5",
                ),
                scrobble("Björk", "Bachelorette", "Homogenic", 1_536_399_000, ""),
            ],
        ),
        page(
            "rj",
            3,
            3,
            5,
            vec![scrobble(
                "Radiohead",
                "Paranoid Android",
                "OK Computer",
                1_536_300_000,
                "",
            )],
        ),
    ]
}

async fn serve_pages(server: &MockServer, pages: &[Value]) {
    for (i, body) in pages.iter().enumerate() {
        Mock::given(method("GET"))
            .and(path("/2.0/"))
            .and(query_param("method", "user.getrecenttracks"))
            .and(query_param("page", (i + 1).to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
            .mount(server)
            .await;
    }
}

fn client(server: &MockServer) -> LastfmClient {
    LastfmClient::with_root(Secret::new(API_KEY), &format!("{}/2.0/", server.uri()))
        .unwrap()
        .with_min_interval(Duration::from_millis(5))
        .with_retry(RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
        })
}

fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn import(
    library: &TestLibrary,
    client: &LastfmClient,
    mode: LastfmImportMode,
) -> segue_core::Result<segue_core::import::ImportReport> {
    import_lastfm(&library.store, client, "rj", "rj", mode, &NoProgress).await
}

#[tokio::test]
async fn a_whole_history_is_imported_page_by_page() {
    let server = MockServer::start().await;
    serve_pages(&server, &history_pages()).await;
    let library = TestLibrary::new().await;
    let report = import(&library, &client(&server), LastfmImportMode::Incremental)
        .await
        .unwrap();
    assert_eq!(report.counts.listens_added, 5);
    assert_eq!(report.counts.not_listens, 1);
    assert_eq!(library.count("SELECT count(*) FROM listens").await, 5);
    assert_eq!(
        library
            .count("SELECT count(*) FROM artists WHERE name = 'Sigur Rós'")
            .await,
        1
    );
    assert_eq!(
        library
            .count("SELECT count(*) FROM tracks WHERE mbid IS NOT NULL")
            .await,
        1
    );
    assert_eq!(library.count("SELECT cursor FROM import_runs").await, 3);
    assert_eq!(library.count("SELECT total FROM import_runs").await, 3);

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(query(request, "format").as_deref(), Some("json"));
        assert_eq!(query(request, "limit").as_deref(), Some("200"));
        assert_eq!(query(request, "user").as_deref(), Some("rj"));
        assert_eq!(query(request, "api_key").as_deref(), Some(API_KEY));
        assert!(
            query(request, "from").is_none(),
            "a first import fetches everything"
        );
        assert!(
            query(request, "to").is_some(),
            "pages are pinned to the import's start"
        );
    }
}

#[tokio::test]
async fn a_second_import_asks_only_for_what_is_newer() {
    let server = MockServer::start().await;
    serve_pages(&server, &history_pages()).await;
    let library = TestLibrary::new().await;
    let client = client(&server);
    import(&library, &client, LastfmImportMode::Incremental)
        .await
        .unwrap();
    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page("rj", 1, 0, 0, vec![])))
        .mount(&server)
        .await;
    let report = import(&library, &client, LastfmImportMode::Incremental)
        .await
        .unwrap();
    assert_eq!(report.counts.listens_added, 0);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(query(&requests[0], "from").as_deref(), Some("1536407565"));
}

#[tokio::test]
async fn a_single_scrobble_comes_as_an_object() {
    let server = MockServer::start().await;
    let mut body = page("rj", 1, 1, 1, vec![]);
    body["recenttracks"]["track"] = scrobble("Nick Drake", "Pink Moon", "Pink Moon", 1_500_000_000, "");
    serve_pages(&server, &[body]).await;
    let library = TestLibrary::new().await;
    let report = import(&library, &client(&server), LastfmImportMode::Full)
        .await
        .unwrap();
    assert_eq!(report.counts.listens_added, 1);
}

async fn import_error(status: u16, body: Value) -> (Error, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    let library = TestLibrary::new().await;
    let error = import(&library, &client(&server), LastfmImportMode::Incremental)
        .await
        .unwrap_err();
    assert!(!error.to_string().contains(API_KEY), "the key leaked: {error}");
    assert_eq!(library.count("SELECT count(*) FROM listens").await, 0);
    (error, server.received_requests().await.unwrap().len())
}

#[tokio::test]
async fn permanent_api_errors_stop_at_once_with_a_clear_message() {
    let (error, requests) = import_error(
        403,
        error_body(10, "Invalid API key - You must be granted a valid key by last.fm"),
    )
    .await;
    assert!(
        matches!(error, Error::Lastfm(LastfmError::InvalidApiKey)),
        "{error}"
    );
    assert!(error.to_string().contains("API key"));
    assert_eq!(requests, 1, "a bad key is not retried");

    let (error, _) = import_error(404, error_body(6, "User not found")).await;
    assert!(
        matches!(error, Error::Lastfm(LastfmError::UserNotFound { .. })),
        "{error}"
    );
    assert!(error.to_string().contains("'rj'"));

    let (error, _) = import_error(403, error_body(17, "Login: User required to be logged in")).await;
    assert!(
        matches!(error, Error::Lastfm(LastfmError::PrivateUser { .. })),
        "{error}"
    );

    let (error, _) = import_error(403, error_body(26, "Suspended API key")).await;
    assert!(
        matches!(error, Error::Lastfm(LastfmError::SuspendedApiKey)),
        "{error}"
    );
    assert_eq!(error.code(), "lastfm_suspended_api_key");
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff() {
    let server = MockServer::start().await;
    let pages = history_pages();
    // Page 2 fails twice (a 500, then error 29 "rate limit exceeded") before it succeeds.
    Mock::given(method("GET"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>Internal Server Error</html>"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(429).set_body_json(error_body(29, "Rate Limit Exceeded")))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    serve_pages(&server, &pages).await;
    let library = TestLibrary::new().await;
    let report = import(&library, &client(&server), LastfmImportMode::Incremental)
        .await
        .unwrap();
    assert_eq!(report.counts.listens_added, 5);
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}

#[tokio::test]
async fn an_import_that_failed_at_a_page_resumes_at_that_page() {
    let server = MockServer::start().await;
    let pages = history_pages();
    Mock::given(method("GET"))
        .and(query_param("page", "3"))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(1)
        .mount(&server)
        .await;
    serve_pages(&server, &pages).await;
    let library = TestLibrary::new().await;
    let client = client(&server);
    let error = import(&library, &client, LastfmImportMode::Incremental)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Lastfm(LastfmError::GaveUp {
                page: 3,
                attempts: 3,
                ..
            })
        ),
        "{error}"
    );
    assert_eq!(library.count("SELECT cursor FROM import_runs").await, 2);
    assert_eq!(library.count("SELECT count(*) FROM listens").await, 4);
    let pinned_to = library.count("SELECT range_to FROM import_runs").await;

    server.reset().await;
    serve_pages(&server, &pages).await;
    let report = import(&library, &client, LastfmImportMode::Incremental)
        .await
        .unwrap();
    assert_eq!(report.resumed_at, 2);
    assert_eq!(report.counts.listens_added, 5);
    let requests = server.received_requests().await.unwrap();
    let pages_fetched: Vec<String> = requests.iter().filter_map(|r| query(r, "page")).collect();
    assert_eq!(pages_fetched, ["3"]);
    assert_eq!(query(&requests[0], "to").unwrap(), pinned_to.to_string());
    assert_eq!(library.count("SELECT count(*) FROM import_runs").await, 1);
    assert_eq!(library.count("SELECT count(*) FROM listens").await, 5);
}

#[tokio::test]
async fn a_network_that_goes_down_loses_nothing_and_leaks_no_key() {
    // Not from wiremock's pool: dropping this server must really close it.
    let server = MockServer::builder().start().await;
    let pages = history_pages();
    serve_pages(&server, &pages[..1]).await;
    let library = TestLibrary::new().await;
    let client = client(&server);
    // Page 2 is not served: a 404 without an API error body is not retried...
    let error = import(&library, &client, LastfmImportMode::Incremental)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Lastfm(LastfmError::Api { code: 404, .. })),
        "{error}"
    );
    // ...and with the server gone, connection errors are retried, then reported.
    drop(server);
    let error = import(&library, &client, LastfmImportMode::Incremental)
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, Error::Lastfm(LastfmError::GaveUp { page: 2, .. })),
        "{message}"
    );
    assert!(!message.contains(API_KEY), "the key leaked: {message}");
    assert_eq!(library.count("SELECT count(*) FROM listens").await, 2);

    // The network is back (the run's state is in the store, not the client).
    let server = MockServer::start().await;
    serve_pages(&server, &pages).await;
    let report = import(&library, &self::client(&server), LastfmImportMode::Incremental)
        .await
        .unwrap();
    assert_eq!(report.resumed_at, 1);
    assert_eq!(library.count("SELECT count(*) FROM listens").await, 5);
}

/// Records when each request arrived.
struct Stamp(Arc<Mutex<Vec<Instant>>>, Value);

impl Respond for Stamp {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        self.0.lock().unwrap().push(Instant::now());
        ResponseTemplate::new(200).set_body_json(self.1.clone())
    }
}

#[tokio::test]
async fn requests_are_spaced_to_five_per_second() {
    let server = MockServer::start().await;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    for (i, body) in history_pages().into_iter().enumerate() {
        Mock::given(query_param("page", (i + 1).to_string()))
            .respond_with(Stamp(arrivals.clone(), body))
            .mount(&server)
            .await;
    }
    let library = TestLibrary::new().await;
    let client = LastfmClient::with_root(Secret::new(API_KEY), &format!("{}/2.0/", server.uri())).unwrap();
    import(&library, &client, LastfmImportMode::Incremental)
        .await
        .unwrap();
    let arrivals = arrivals.lock().unwrap();
    assert_eq!(arrivals.len(), 3);
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        // 200 ms apart at the sender; allow a little scheduling jitter at the receiver.
        assert!(gap >= Duration::from_millis(190), "requests only {gap:?} apart");
    }
}
