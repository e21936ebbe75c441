import Hummingbird
import PaymentCore
import Prometheus
import StrictJSON

/// `/healthz` (liveness), `/readyz` (readiness) and `/metrics`.
struct HealthController: Sendable {
    let registry: PrometheusCollectorRegistry

    /// `/metrics` only: the probes are answered on the event loop (`FastRouteHandler`),
    /// from `healthz` and `readyz` below.
    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
    }

    /// Liveness: never looks at Redis.
    static let healthz = HTTPAnswer.json(Array(#"{"status":"ok"}"#.utf8))

    static func readyz(_ readiness: Readiness) -> HTTPAnswer {
        let state = readiness.state
        var writer = JSONWriter()
        writer.object { object in
            object.field("status", string: state.isReady ? "ready" : "not_ready")
            if let reason = state.reason { object.field("reason", string: reason) }
        }
        return HTTPAnswer.json(writer.bytes, status: state.isReady ? .ok : .serviceUnavailable)
    }
}
