import HTTPTypes
import Hummingbird
import PaymentCore
import StrictJSON

/// An RFC 9457 problem: every error response of this API is one, as
/// `application/problem+json` with `type`, `title`, `status`, `detail` and `request_id`.
public struct Problem: Error, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    /// Names the problem type: `type` is `/problems/<slug>`.
    public let slug: String
    public let title: String
    public let detail: String
    public var headers: HTTPFields
    /// Members beyond RFC 9457's, as strings (`payment_id`).
    public var members: [(name: String, value: String)]

    public init(
        _ status: HTTPResponse.Status, slug: String, title: String, detail: String, headers: HTTPFields = [:],
        members: [(name: String, value: String)] = []
    ) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers
        self.members = members
    }

    public var description: String { "\(status.code) \(slug): \(detail)" }

    func response(requestID: String) -> Response {
        answer(requestID: requestID).response
    }

    func answer(requestID: String) -> HTTPAnswer {
        var writer = JSONWriter()
        writer.object { object in
            object.field("type", string: "/problems/\(slug)")
            object.field("title", string: title)
            object.field("status", integer: Int64(status.code))
            object.field("detail", string: detail)
            for member in members { object.field(member.name, string: member.value) }
            if !requestID.isEmpty { object.field("request_id", string: requestID) }
        }
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        return HTTPAnswer(status: status, headers: headers, body: ByteBuffer(bytes: writer.bytes))
    }
}

extension Problem {
    init(_ error: PaymentRequestError) {
        self.init(.badRequest, slug: error.slug, title: "Invalid payment request", detail: error.description)
    }

    /// Hummingbird's own errors (unknown route, body too large, …) in the same format.
    init(_ error: any HTTPResponseError) {
        let status = error.status
        let slug: String
        let detail: String
        switch status {
        case .notFound: (slug, detail) = ("not-found", "no route matches this path")
        case .methodNotAllowed: (slug, detail) = ("method-not-allowed", "this route does not take this method")
        case .contentTooLarge: (slug, detail) = ("body-too-large", "the request body is larger than the limit")
        default: (slug, detail) = ("http-error", status.reasonPhrase)
        }
        self.init(status, slug: slug, title: status.reasonPhrase, detail: detail)
    }

    static func unavailable(_ detail: String, retryAfterSeconds: Int = 1) -> Problem {
        Problem(.serviceUnavailable, slug: "unavailable", title: "Service unavailable", detail: detail,
                headers: [.retryAfter: String(retryAfterSeconds)])
    }
}
