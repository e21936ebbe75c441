/// Every error the client throws.
///
/// `kind` is what callers branch on (and the `kind` label of `redis_errors_total`);
/// `message` is for people and never holds command arguments or values.
public struct RedisClientError: Error, Hashable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Could not connect, the connection broke, or the node is in back-off (circuit open).
        case connection
        /// AUTH or SELECT was refused on connect: retrying will not help until the
        /// configuration changes.
        case authentication
        /// No reply before the command's deadline. The command may or may not have run.
        case timeout
        /// Too many commands already in flight on the connection; nothing was sent.
        case overload
        /// Redis answered with an error reply; `message` is Redis's text.
        case server
        /// The bytes from the server were not valid RESP2; the connection was closed.
        case `protocol`
        /// The client has been shut down.
        case shutdown
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// True when nothing reached Redis, so the command can be retried with no risk of
    /// running twice.
    public var commandWasNotSent: Bool {
        kind == .overload || kind == .shutdown || kind == .authentication
    }
}

extension RedisClientError: CustomStringConvertible {
    public var description: String { "redis \(kind.rawValue) error: \(message)" }
}

extension RedisClientError {
    /// Redis's error replies start with a code (`NOSCRIPT`, `WRONGPASS`, `MOVED`, …).
    public var serverErrorCode: Substring? {
        guard kind == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first
    }
}
