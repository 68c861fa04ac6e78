import Hummingbird

extension AdminServer {
    /// `GET /`: the dashboard, one self-contained page over the saga API (no build step, no
    /// assets to ship, nothing fetched from elsewhere).
    static func addDashboard(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [
                    .contentType: "text/html; charset=utf-8",
                    // The page only talks to this server; inline script and style are its own.
                    .contentSecurityPolicy:
                        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
                ],
                body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardPage.html))
            )
        }
    }
}
