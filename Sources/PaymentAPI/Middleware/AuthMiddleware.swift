import HTTPTypes
import Hummingbird
import Logging
import PaymentCore

/// Bearer-token authentication for the payment routes when `API_KEYS_FILE` is set. The
/// tenant of the key goes into the context, and from there into every Redis key.
/// Probes and /metrics stay open: kubelet and Prometheus carry no credentials; so does
/// the API's description.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let file: APIKeyFile

    /// Open without a key: the probes and /metrics (exempt from the in-flight cap too) and
    /// the API's description.
    static let openPaths = InflightLimit.exemptPaths.union([OpenAPIController.path])

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        let tenant = try Self.tenant(authorization: request.headers[.authorization], file: file).get()
        var context = context
        context.tenant = tenant
        context.logger[metadataKey: "tenant"] = .string(tenant.name)
        return try await next(request, context)
    }

    /// The tenant of the request's bearer key, or the problem to answer: the one check
    /// of both paths (this middleware, and the event-loop handler for `POST /pay`).
    static func tenant(authorization: String?, file: APIKeyFile) -> Result<Tenant, Problem> {
        guard let keys = file.keys else { return .failure(keysUnavailable(staleAfter: file.staleAfter)) }
        switch keys.authenticate(authorization: authorization) {
        case .tenant(let tenant): return .success(tenant)
        case .missing: return .failure(unauthorized("send Authorization: Bearer <key-id>.<secret>"))
        case .invalid: return .failure(unauthorized("the credentials are not valid"))
        }
    }

    /// The key file has been unreadable for too long: no key can be trusted, valid or not.
    /// 503, not 401: the fault is the server's, and a client whose key is fine should retry
    /// later rather than drop its credential (a 401 says that credential is wrong).
    static func keysUnavailable(staleAfter: Duration) -> Problem {
        .unavailable("the server cannot check API keys: its key file has been unreadable for more than \(staleAfter.components.seconds) s",
                     retryAfterSeconds: 5)
    }

    static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, slug: "unauthorized", title: "Unauthorized", detail: detail,
                headers: [.wwwAuthenticate: #"Bearer realm="payment-api""#])
    }
}
