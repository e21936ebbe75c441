import Hummingbird
import PaymentCore
import Prometheus
import StrictJSON

/// `/healthz` (liveness: never looks at Redis), `/readyz` (readiness) and `/metrics`.
struct HealthController: Sendable {
    let readiness: Readiness
    let registry: PrometheusCollectorRegistry

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/healthz") { _, _ in
            PaymentResponses.json(Array(#"{"status":"ok"}"#.utf8))
        }
        router.get("/readyz") { _, _ in
            let state = readiness.state
            var writer = JSONWriter()
            writer.object { object in
                object.field("status", string: state.isReady ? "ready" : "not_ready")
                if let reason = state.reason { object.field("reason", string: reason) }
            }
            return PaymentResponses.json(writer.bytes, status: state.isReady ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
    }
}
