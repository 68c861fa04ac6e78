import Hummingbird

extension AdminServer {
    /// `GET /`, `/dashboard.js` and `/dashboard.css`: the dashboard, one page over the saga API
    /// (no build step, nothing fetched from elsewhere).
    static func addDashboard(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ -> Response in Self.asset(DashboardPage.html, type: "text/html; charset=utf-8") }
        router.get("dashboard.js") { _, _ -> Response in Self.asset(DashboardPage.script, type: "text/javascript; charset=utf-8") }
        router.get("dashboard.css") { _, _ -> Response in Self.asset(DashboardPage.style, type: "text/css; charset=utf-8") }
    }

    /// Scripts and styles from this server only, no inline code, no framing: text from the
    /// store that slipped into the markup could not run.
    static let dashboardPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    private static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: type, .contentSecurityPolicy: dashboardPolicy, .xContentTypeOptions: "nosniff",
                .cacheControl: "no-cache",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }
}
