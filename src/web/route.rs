//! The routes: what each path is, which methods it takes, what it needs of
//! the caller, and the template its metrics are labelled with.

/// What a route needs of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Open to anyone who reaches the box (health, metrics, sign-in).
    Nothing,
    /// The read role (or nothing with `access = "lan"`).
    Read,
    /// The admin role.
    Admin,
}

/// How much work a route can make the server do; decides its lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cost {
    /// `/health`, `/metrics`, `/`: served even when every other worker is busy.
    Essential,
    Ordinary,
    /// Runs a model (embedding, LLM): its own, small lane.
    Model,
}

/// The routes; `template` is what the metrics are labelled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Page,
    Health,
    Metrics,
    SignIn,
    SignOut,
    Submissions,
    Submission,
    SubmissionReviewers,
    Assessment,
    /// A submission's figure checks: `GET` the reports, `POST` to check its files (or an uploaded one).
    Figures,
    Reviewers,
    Search,
    Sync,
    Update,
    /// Voice commands: `GET` the last exchanges, `POST` a WAV.
    Voice,
    /// The editors' pages (HTML) and their form actions.
    SubmissionsPage,
    SubmissionPage,
    ScreeningAction,
    /// The submission page's figure-check form (OJS's files, or a file uploaded by hand).
    FiguresAction,
    SearchPage,
    ReviewersPage,
    ReviewerPage,
    SyncAction,
    /// The status page's typed voice command.
    VoiceAction,
    /// The status page's push-to-talk: record a command from the box's microphone.
    ListenAction,
    Other,
}

impl Route {
    /// The routes a 404 lists.
    pub(crate) const LISTED: &'static [&'static str] = &[
        "/",
        "/health",
        "/metrics",
        "/signin",
        "/signout",
        "/api/submissions",
        "/api/submissions/{id}",
        "/api/submissions/{id}/reviewers",
        "/api/submissions/{id}/assessment",
        "/api/submissions/{id}/figures",
        "/api/reviewers",
        "/api/search",
        "/api/sync",
        "/api/update",
        "/api/voice",
        "/submissions",
        "/submissions/{id}",
        "/search",
        "/reviewers",
        "/reviewers/{id}",
    ];

    pub(crate) fn of_path(path: &str) -> Route {
        match path {
            "/" => Route::Page,
            "/health" => Route::Health,
            "/metrics" => Route::Metrics,
            "/signin" => Route::SignIn,
            "/signout" => Route::SignOut,
            "/api/submissions" => Route::Submissions,
            "/api/reviewers" => Route::Reviewers,
            "/api/search" => Route::Search,
            "/api/sync" => Route::Sync,
            "/api/update" => Route::Update,
            "/api/voice" => Route::Voice,
            "/voice" => Route::VoiceAction,
            "/voice/listen" => Route::ListenAction,
            "/submissions" => Route::SubmissionsPage,
            "/search" => Route::SearchPage,
            "/reviewers" => Route::ReviewersPage,
            "/sync" => Route::SyncAction,
            p if one_segment(p, "/reviewers/") => Route::ReviewerPage,
            p if one_segment(p, "/submissions/") => Route::SubmissionPage,
            p if p.starts_with("/submissions/") => {
                match p.split('/').collect::<Vec<_>>().as_slice() {
                    ["", "submissions", id, "screening"] if !id.is_empty() => {
                        Route::ScreeningAction
                    }
                    ["", "submissions", id, "figures"] if !id.is_empty() => Route::FiguresAction,
                    _ => Route::Other,
                }
            }
            p => match p.strip_prefix("/api/submissions/") {
                Some(id) if !id.is_empty() && !id.contains('/') => Route::Submission,
                Some(rest) => match rest.split_once('/') {
                    Some((id, "reviewers")) if !id.is_empty() => Route::SubmissionReviewers,
                    Some((id, "assessment")) if !id.is_empty() => Route::Assessment,
                    Some((id, "figures")) if !id.is_empty() => Route::Figures,
                    _ => Route::Other,
                },
                _ => Route::Other,
            },
        }
    }

    /// The `{id}` of `/api/submissions/{id}[/…]`, `/submissions/{id}[/…]`,
    /// `/reviewers/{id}`.
    pub(crate) fn id(self, path: &str) -> &str {
        ["/api/submissions/", "/submissions/", "/reviewers/"]
            .iter()
            .find_map(|p| path.strip_prefix(p))
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
    }

    pub(crate) fn template(self) -> &'static str {
        match self {
            Route::Page => "/",
            Route::Health => "/health",
            Route::Metrics => "/metrics",
            Route::SignIn => "/signin",
            Route::SignOut => "/signout",
            Route::Submissions => "/api/submissions",
            Route::Submission => "/api/submissions/{id}",
            Route::SubmissionReviewers => "/api/submissions/{id}/reviewers",
            Route::Assessment => "/api/submissions/{id}/assessment",
            Route::Figures => "/api/submissions/{id}/figures",
            Route::Reviewers => "/api/reviewers",
            Route::Search => "/api/search",
            Route::Sync => "/api/sync",
            Route::Update => "/api/update",
            Route::Voice => "/api/voice",
            Route::VoiceAction => "/voice",
            Route::ListenAction => "/voice/listen",
            Route::SubmissionsPage => "/submissions",
            Route::SubmissionPage => "/submissions/{id}",
            Route::ScreeningAction => "/submissions/{id}/screening",
            Route::FiguresAction => "/submissions/{id}/figures",
            Route::SearchPage => "/search",
            Route::ReviewersPage => "/reviewers",
            Route::ReviewerPage => "/reviewers/{id}",
            Route::SyncAction => "/sync",
            Route::Other => "other",
        }
    }

    /// The `Allow` header value.
    pub(crate) fn allow(self) -> &'static str {
        match self {
            Route::Sync
            | Route::Update
            | Route::Assessment
            | Route::Figures
            | Route::SignIn
            | Route::Voice => "GET, HEAD, POST",
            Route::SignOut
            | Route::ScreeningAction
            | Route::FiguresAction
            | Route::SyncAction
            | Route::VoiceAction
            | Route::ListenAction => "POST",
            _ => "GET, HEAD",
        }
    }

    pub(crate) fn allows(self, method: &str) -> bool {
        match method {
            "GET" | "HEAD" => !matches!(
                self,
                Route::SignOut
                    | Route::ScreeningAction
                    | Route::FiguresAction
                    | Route::SyncAction
                    | Route::VoiceAction
                    | Route::ListenAction
            ),
            "POST" => matches!(
                self,
                Route::Sync
                    | Route::Update
                    | Route::Assessment
                    | Route::Figures
                    | Route::SignIn
                    | Route::SignOut
                    | Route::ScreeningAction
                    | Route::FiguresAction
                    | Route::SyncAction
                    | Route::Voice
                    | Route::VoiceAction
                    | Route::ListenAction
            ),
            _ => false,
        }
    }

    pub(crate) fn need(self, method: &str) -> Need {
        match (self, method) {
            (Route::Health | Route::Metrics | Route::SignIn | Route::SignOut, _) => Need::Nothing,
            (Route::Sync | Route::Assessment | Route::Figures | Route::Voice, "POST") => {
                Need::Admin
            }
            (
                Route::ScreeningAction
                | Route::FiguresAction
                | Route::SyncAction
                | Route::VoiceAction
                | Route::ListenAction,
                _,
            ) => Need::Admin,
            // What is installed, from where, and the failures: the admin's business.
            (Route::Update, _) => Need::Admin,
            _ => Need::Read,
        }
    }

    pub(crate) fn cost(self, method: &str) -> Cost {
        match (self, method) {
            (Route::Health | Route::Metrics | Route::Page, _) => Cost::Essential,
            (
                Route::SubmissionReviewers
                | Route::Search
                | Route::SubmissionPage
                | Route::SearchPage,
                _,
            ) => Cost::Model,
            (Route::Assessment | Route::Voice, "POST") => Cost::Model,
            (Route::VoiceAction | Route::ListenAction, _) => Cost::Model,
            _ => Cost::Ordinary,
        }
    }
}

/// Whether `path` is `prefix` followed by one non-empty segment.
fn one_segment(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

impl Route {
    /// An HTML page (or a page's form action): errors are answered as pages.
    pub(crate) fn is_page(self) -> bool {
        matches!(
            self,
            Route::Page
                | Route::SubmissionsPage
                | Route::SubmissionPage
                | Route::ScreeningAction
                | Route::FiguresAction
                | Route::SearchPage
                | Route::ReviewersPage
                | Route::ReviewerPage
                | Route::SyncAction
                | Route::VoiceAction
                | Route::ListenAction
        )
    }

    /// The largest body the route reads (`web.max_body_bytes` for the rest).
    pub(crate) fn max_body(self, configured: usize) -> usize {
        match self {
            Route::Voice => configured.max(super::voice::MAX_UPLOAD_BYTES),
            Route::Figures | Route::FiguresAction => {
                configured.max(super::figures::MAX_UPLOAD_BYTES)
            }
            _ => configured,
        }
    }
}
