import HTTPTypes
import Logging
import PaymentCore

/// The routes served on the event loop, and what serving them shares with the router:
/// the same in-flight count, authentication, request timers and logger.
struct FastRoutes: Sendable {
    enum Route: Sendable {
        case pay
        case healthz
        case readyz

        /// The route of a request head, nil for every other (the router's).
        init?(_ head: HTTPRequest) {
            let path = head.path.map { path in path.firstIndex(of: "?").map { path[..<$0] } ?? path[...] }
            switch (head.method, path) {
            case (.post, "/pay"): self = .pay
            case (.get, "/healthz"), (.head, "/healthz"): self = .healthz
            case (.get, "/readyz"), (.head, "/readyz"): self = .readyz
            default: return nil
            }
        }

        /// The `route` label of the request timer: the path, as the router's pattern is.
        var path: String {
            switch self {
            case .pay: "/pay"
            case .healthz: "/healthz"
            case .readyz: "/readyz"
            }
        }
    }

    /// The paths served here with their methods, so the router answers 405 (with `Allow`)
    /// for the others.
    static let served: [(path: String, methods: [HTTPRequest.Method])] = [
        ("/pay", [.post]), ("/healthz", [.get, .head]), ("/readyz", [.get, .head]),
    ]

    let payments: PaymentEndpoint
    let readiness: Readiness
    let inflight: InflightLimit
    /// nil: authentication is off.
    let keyFile: APIKeyFile?
    let timers: RequestTimers
    let logger: Logger
    /// nil: tracing is off, and no span is made.
    let tracing: RequestTracing?
}
