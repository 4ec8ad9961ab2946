//! The LAN web server: status page, JSON API, `/health`, `/metrics`.
//! Only this module knows HTTP.

use crate::service::AppContext;
use crate::system::Shutdown;
use std::sync::Arc;

/// Answers requests from `server` on `ctx.config.web.workers` threads until `shutdown`.
pub fn serve(server: Arc<tiny_http::Server>, ctx: Arc<AppContext>, shutdown: Shutdown) {
    let _ = (server, ctx, shutdown);
    todo!("web::serve")
}
