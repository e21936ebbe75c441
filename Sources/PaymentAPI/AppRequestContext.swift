import Hummingbird
import Logging
import PaymentCore

/// The request context of every route: Hummingbird's core storage plus the request id
/// that logs, problem documents and the `X-Request-ID` header share.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID = ""
    /// Set by `AuthMiddleware` when authentication is on.
    public var tenant: Tenant?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }
}
