import Foundation

/// `PROCESSOR_URL` and what goes with it: where the HTTP processor is and how to reach it.
public struct ProcessorConfiguration: Sendable, Hashable {
    /// `{PROCESSOR_URL}/charges`.
    public var chargesURL: String
    /// `PROCESSOR_TIMEOUT_MS`: the deadline of one charge request, connect included.
    public var timeout: Duration = .milliseconds(2_000)
    /// `PROCESSOR_TOKEN_FILE`: the bearer credential, re-read when the file changes.
    public var tokenFile: String?
    /// `PROCESSOR_TLS_CA_FILE`: PEM roots to trust for an `https` processor (default: the system's).
    public var caFile: String?
    /// `PROCESSOR_MAX_CONNECTIONS`: pooled keep-alive connections to the processor.
    public var maxConnections = 64

    /// Checks `url`: http or https, a host, no credentials, query or fragment.
    public init(url: String) throws(ProcessorURLError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https" else {
            throw ProcessorURLError("must be an http:// or https:// URL")
        }
        guard let host = components.host, !host.isEmpty else { throw ProcessorURLError("has no host") }
        guard components.user == nil, components.password == nil else {
            throw ProcessorURLError("must not carry credentials: use PROCESSOR_TOKEN_FILE")
        }
        guard components.query == nil, components.fragment == nil else {
            throw ProcessorURLError("must not have a query or fragment")
        }
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        chargesURL = base + "/charges"
    }
}

public struct ProcessorURLError: Error, Hashable, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}
